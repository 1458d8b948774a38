/**
 * kubectl: found on the PATH, new enough for our kustomizations, and `kubectl kustomize` of an overlay parsed
 * into objects.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import type { K8sObject } from "./objects.js";

export const KUBECTL_MISSING =
  "kubectl is not installed: install Debian's kubernetes-client (apt-get install kubernetes-client; .ci/run's " +
  "ensure_kubectl does it) or any kubectl 1.27 or later";

/** Our kustomizations use `labels`, `components` and `patches` with selectors: kustomize v5 (kubectl 1.27+). */
export const MIN_KUSTOMIZE_MAJOR = 5;

export interface KubectlInfo {
  path: string;
  kubectl: string;
  /** Embedded kustomize, `v5.5.0`; kubectl before 1.24 does not say (1.14-1.20 embed v2.0.3, 1.21-1.23 v4). */
  kustomize: string | undefined;
}

/** kubectl on the PATH and its versions, or an explanation of why it cannot be used. */
export function kubectlInfo(): KubectlInfo | { error: string } {
  const r = spawnSync("kubectl", ["version", "--client", "-o", "json"], { encoding: "utf8" });
  if (r.error !== undefined) {
    return { error: (r.error as NodeJS.ErrnoException).code === "ENOENT" ? KUBECTL_MISSING : String(r.error) };
  }
  if (r.status !== 0) return { error: `kubectl version failed: ${r.stderr.trim()}` };
  let v: { clientVersion?: { gitVersion?: string }; kustomizeVersion?: string };
  try {
    v = JSON.parse(r.stdout);
  } catch {
    return { error: `kubectl version printed no JSON: ${r.stdout.slice(0, 200)}` };
  }
  return { path: "kubectl", kubectl: v.clientVersion?.gitVersion ?? "unknown", kustomize: v.kustomizeVersion };
}

/** Why this kubectl's kustomize cannot render k8s/, or undefined when it can. */
export function kustomizeTooOld(info: KubectlInfo): string | undefined {
  const m = /^v?(\d+)\./.exec(info.kustomize ?? "");
  const major = m === null ? 0 : Number(m[1]);
  if (major >= MIN_KUSTOMIZE_MAJOR) return undefined;
  return (
    `kubectl ${info.kubectl} embeds kustomize ${info.kustomize ?? "v4 or older"}; k8s/ needs kustomize ` +
    `v${MIN_KUSTOMIZE_MAJOR} (kubectl 1.27 or later). Debian 12's kubernetes-client is 1.20: install a newer kubectl.`
  );
}

export interface Rendered {
  objects: K8sObject[];
  /** What kustomize printed on stderr (deprecation warnings and the like). */
  warnings: string;
}

/** `kubectl kustomize DIR`, parsed. Throws with kustomize's message when it fails. */
export function kustomize(dir: string): Rendered {
  // An overlay whose secretGenerator reads development certificates makes them first (never committed).
  const makeCerts = join(dir, "make-dev-certs.sh");
  if (existsSync(makeCerts)) {
    const g = spawnSync("bash", [makeCerts], { encoding: "utf8" });
    if (g.status !== 0) throw new Error(`${makeCerts} failed: ${g.stderr || g.stdout}`);
  }
  const r = spawnSync("kubectl", ["kustomize", dir], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error !== undefined) throw r.error;
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${r.stderr}`);
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(r.stdout)) {
    if (doc.errors.length > 0) throw new Error(`kubectl kustomize ${dir}: bad YAML: ${doc.errors[0].message}`);
    const o = doc.toJS() as K8sObject | null;
    if (o !== null) objects.push(o);
  }
  return { objects, warnings: r.stderr.trim() };
}
