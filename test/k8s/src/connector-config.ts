/**
 * The connector's YAML in each connector's ConfigMap, read by the connector's own schema (@fixmesh/connector
 * parseConfig) the way the pod would read it: with the Deployment's environment, and every file it names found
 * under one of the container's mounts (Secret or ConfigMap keys; written to a temporary directory for the
 * parse). Then what the YAML and the manifests must agree on: ports, the Lease, the store.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConnectorConfig, ConnectorConfigError, parseConfig } from "@fixmesh/connector";
import type { IContainer } from "kubernetes-models/v1/Container";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { dataOf, find, type K8sObject, ref, type Workload } from "./objects.js";
import { connectorWorkloads, leaseNames, rolesOf } from "./policy.js";

export interface ConfigReport {
  problems: string[];
  /** Things worth saying that are not failures (a key the connector's schema does not know yet). */
  notes: string[];
}

/** The election section the manifests rely on (issue 8's connector YAML). */
interface ElectionSection {
  kind?: string;
  lease?: { namespace?: string; name?: string };
}

/** The value of `--config` in the container's arguments. */
export function configPath(c: IContainer): string | undefined {
  const args = [...(c.command ?? []), ...(c.args ?? [])];
  const i = args.indexOf("--config");
  return i >= 0 ? args[i + 1] : undefined;
}

/** The container's environment as the kubelet would set it (downward API values made up). */
export function containerEnv(objects: readonly K8sObject[], w: Workload, c: IContainer): Record<string, string> {
  // The kubelet sets these in every container (enableServiceLinks: false leaves them): the Lease API's address.
  const env: Record<string, string> = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };
  for (const from of c.envFrom ?? []) {
    const cm = from.configMapRef?.name ? find(objects, "ConfigMap", from.configMapRef.name) : undefined;
    const secret = from.secretRef?.name ? find(objects, "Secret", from.secretRef.name) : undefined;
    for (const o of [cm, secret]) {
      if (o === undefined) continue;
      const keys = Object.keys({ ...(o.data as object), ...(o.stringData as object) });
      for (const k of keys) env[`${from.prefix ?? ""}${k}`] = dataOf(o, k) ?? "";
    }
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef !== undefined) {
      const field = e.valueFrom.fieldRef.fieldPath;
      env[e.name] =
        field === "metadata.namespace"
          ? (w.object.metadata.namespace ?? "default")
          : `${w.object.metadata.name}-7d9f8b6c5-x2x7q`;
    } else if (e.valueFrom?.secretKeyRef !== undefined) {
      const s = find(objects, "Secret", e.valueFrom.secretKeyRef.name ?? "");
      env[e.name] = dataOf(s, e.valueFrom.secretKeyRef.key) ?? "secret-created-outside";
    } else if (e.valueFrom?.configMapKeyRef !== undefined) {
      const cm = find(objects, "ConfigMap", e.valueFrom.configMapKeyRef.name ?? "");
      env[e.name] = dataOf(cm, e.valueFrom.configMapKeyRef.key) ?? "";
    }
  }
  return env;
}

/** Where a file path of the pod comes from: the mount it is under and the key in its volume. */
export function resolveMount(c: IContainer, path: string): { volume: string; key: string } | undefined {
  const mounts = [...(c.volumeMounts ?? [])].sort((a, b) => b.mountPath.length - a.mountPath.length);
  for (const m of mounts) {
    const dir = m.mountPath.endsWith("/") ? m.mountPath : `${m.mountPath}/`;
    if (!path.startsWith(dir)) continue;
    const key = path.slice(dir.length);
    if (m.subPath !== undefined) return undefined;
    return { volume: m.name, key };
  }
  return undefined;
}

/** The content a key of a mounted volume would have, or a reason why there is no such file. */
export function fileContent(
  objects: readonly K8sObject[],
  w: Workload,
  volumeName: string,
  key: string,
): string | Error {
  const v = (w.pod.volumes ?? []).find((x) => x.name === volumeName);
  if (v === undefined) return new Error(`no volume ${volumeName}`);
  const items = v.secret?.items ?? v.configMap?.items;
  const sourceKey = items === undefined ? key : items.find((i) => i.path === key)?.key;
  if (sourceKey === undefined) return new Error(`volume ${volumeName} does not project ${key}`);
  if (v.secret !== undefined) {
    const s = find(objects, "Secret", v.secret.secretName ?? "");
    // A Secret created outside the manifests (prod): its keys are documented, not rendered. Certificate keys get
    // a certificate made for the test, since the schema parses them (grpc.tls).
    if (s === undefined) return standInCertificate(sourceKey) ?? "secret created outside the manifests\n";
    return dataOf(s, sourceKey) ?? new Error(`Secret ${v.secret.secretName} has no key ${sourceKey}`);
  }
  if (v.configMap !== undefined) {
    const cm = find(objects, "ConfigMap", v.configMap.name ?? "");
    if (cm === undefined) return new Error(`no ConfigMap ${v.configMap.name}`);
    return dataOf(cm, sourceKey) ?? new Error(`ConfigMap ${v.configMap.name} has no key ${sourceKey}`);
  }
  return new Error(`volume ${volumeName} is neither a Secret nor a ConfigMap`);
}

let standIn: Record<string, string> | undefined;

/**
 * `tls.crt`, `tls.key`, `ca.crt` of a Secret created outside the manifests: a CA and a certificate it signed, made
 * once per run with openssl (valid for a day), so the connector's schema can parse what the real Secret will hold.
 */
function standInCertificate(key: string): string | undefined {
  if (key !== "tls.crt" && key !== "tls.key" && key !== "ca.crt") return undefined;
  if (standIn === undefined) {
    const dir = mkdtempSync(join(tmpdir(), "fixmesh-k8s-cert-"));
    try {
      const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
      const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
      ssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=stand-in CA");
      ssl("req", ...ec, "-keyout", "tls.key", "-out", "tls.csr", "-subj", "/CN=stand-in");
      ssl(
        "x509",
        "-req",
        "-in",
        "tls.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "tls.crt",
        "-days",
        "1",
      );
      standIn = Object.fromEntries(
        ["tls.crt", "tls.key", "ca.crt"].map((k) => [k, readFileSync(join(dir, k), "utf8")]),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return standIn[key];
}

/** Keys of the connector's YAML that name a file (`PasswordFile`, `passwordFile`, `certFile`, `caFile`, …). */
const FILE_KEY = /File$/;

/** Replaces every file path in `value` (in place) by `rewrite(path, where)`. */
export function rewriteFiles(value: unknown, rewrite: (path: string, where: string) => string, where = ""): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      rewriteFiles(v, rewrite, `${where}[${i}]`);
    });
    return;
  }
  if (value === null || typeof value !== "object") return;
  const o = value as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    const at = where ? `${where}.${k}` : k;
    if (FILE_KEY.test(k) && typeof v === "string") o[k] = rewrite(v, at);
    else rewriteFiles(v, rewrite, at);
  }
}

function parseWithSchema(
  text: string,
  env: Record<string, string>,
  source: string,
): { config?: ConnectorConfig; error?: ConnectorConfigError } {
  try {
    return { config: parseConfig(text, { env, source, cwd: "/", baseDir: "/" }) };
  } catch (e) {
    if (e instanceof ConnectorConfigError) return { error: e };
    throw e;
  }
}

/** Checks the connector YAML of every connector Deployment of a render. */
export function connectorConfigReport(objects: readonly K8sObject[]): ConfigReport {
  const problems: string[] = [];
  const notes: string[] = [];
  for (const w of connectorWorkloads(objects)) {
    const at = ref(w.object);
    const c = w.pod.containers.find((x) => x.name === "connector") ?? w.pod.containers[0];
    const path = configPath(c);
    if (path === undefined) {
      problems.push(`${at}: no --config in the container's arguments`);
      continue;
    }
    const mount = resolveMount(c, path);
    const text = mount && fileContent(objects, w, mount.volume, mount.key);
    if (typeof text !== "string") {
      problems.push(`${at}: --config ${path} is not in a mounted ConfigMap (${text?.message ?? "no mount"})`);
      continue;
    }
    const doc = parseYaml(text) as Record<string, unknown>;
    const tmp = mkdtempSync(join(tmpdir(), "fixmesh-k8s-"));
    try {
      rewriteFiles(doc, (file, where) => {
        const m = resolveMount(c, file);
        const content = m && fileContent(objects, w, m.volume, m.key);
        if (typeof content !== "string") {
          problems.push(
            `${at}: ${where}: ${file} is not a file the pod has (${content?.message ?? "not under a mount"})`,
          );
          return file;
        }
        const dir = join(tmp, (m as { volume: string }).volume);
        mkdirSync(dir, { recursive: true });
        const out = join(dir, (m as { key: string }).key);
        writeFileSync(out, content);
        return out;
      });
      const env = containerEnv(objects, w, c);
      const election = doc.election as ElectionSection | undefined;
      let parsed = parseWithSchema(stringifyYaml(doc), env, `${at} ${path}`);
      const electionUnknown = parsed.error?.issues.every(
        (i) => i.field.startsWith("election") && i.reason.startsWith("unknown setting"),
      );
      if (parsed.error !== undefined && electionUnknown && election !== undefined) {
        // The connector reads `election` once leader election is wired in (issue 8); until then its schema
        // refuses the key. Check the rest, and the election section against the manifests below.
        notes.push(`${at}: the connector's schema does not know \`election\` yet; checked without it`);
        const { election: _, ...rest } = doc;
        parsed = parseWithSchema(stringifyYaml(rest), env, `${at} ${path}`);
      }
      if (parsed.error !== undefined) {
        for (const i of parsed.error.issues) problems.push(`${at}: ${path}: ${i.field}: ${i.reason}`);
        continue;
      }
      problems.push(...agreement(objects, w, c, parsed.config as ConnectorConfig, election));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return { problems, notes };
}

/** What the YAML and the manifests must agree on. */
function agreement(
  objects: readonly K8sObject[],
  w: Workload,
  c: IContainer,
  cfg: ConnectorConfig,
  election: ElectionSection | undefined,
): string[] {
  const problems: string[] = [];
  const at = ref(w.object);
  const port = (name: string) => (c.ports ?? []).find((p) => p.name === name)?.containerPort;
  const anyHost = (h: string) => h === "0.0.0.0" || h === "::";
  if (cfg.grpc.port !== port("grpc"))
    problems.push(`${at}: grpc.port ${cfg.grpc.port} is not the container's grpc port ${port("grpc")}`);
  if (!anyHost(cfg.grpc.host))
    problems.push(`${at}: grpc.host ${cfg.grpc.host}: the probes and the Service cannot reach it`);
  // The kubelet's grpc probes speak plaintext only: with TLS they need the health-only port.
  const healthPort = (cfg.grpc as { healthPort?: number }).healthPort;
  if (cfg.grpc.tls !== undefined && healthPort === undefined) {
    problems.push(`${at}: gRPC with TLS and no grpc.healthPort: the kubelet's grpc probes speak plaintext only`);
  }
  if (healthPort !== undefined && healthPort !== port("grpc-health")) {
    problems.push(
      `${at}: grpc.healthPort ${healthPort} is not the container's grpc-health port ${port("grpc-health")}`,
    );
  }
  if (cfg.metrics.port !== port("metrics")) {
    problems.push(`${at}: metrics.port ${cfg.metrics.port} is not the container's metrics port ${port("metrics")}`);
  }
  if (!anyHost(cfg.metrics.host)) problems.push(`${at}: metrics.host ${cfg.metrics.host}: Prometheus cannot reach it`);
  const containerPorts = new Set((c.ports ?? []).map((p) => p.containerPort));
  for (const a of cfg.acceptors) {
    if (!containerPorts.has(a.port)) problems.push(`${at}: acceptor port ${a.port} is not a container port`);
  }
  if (cfg.store.kind !== "redis") {
    problems.push(`${at}: store.kind ${cfg.store.kind}: two replicas need the shared, fenced Redis store`);
  }
  if (cfg.sessions.length !== 1) problems.push(`${at}: ${cfg.sessions.length} sessions; one Deployment per session`);
  // The role label decides the probes, the PDB and the rollout (policy.ts): it must say what the session is.
  const role = w.podLabels["fixmesh.io/fix-role"];
  const isAcceptor = cfg.sessions.some((s) => s.acceptor !== undefined);
  if ((role === "acceptor") !== isAcceptor) {
    problems.push(
      `${at}: pods labelled fixmesh.io/fix-role=${role}, but its session is an ${isAcceptor ? "acceptor" : "initiator"}`,
    );
  }
  if (election === undefined) {
    problems.push(`${at}: no election section: both replicas would run the session`);
    return problems;
  }
  if (election.kind !== "lease") problems.push(`${at}: election.kind ${election.kind}, not lease`);
  const ns = w.object.metadata.namespace;
  if (election.lease?.namespace !== ns) {
    problems.push(
      `${at}: election.lease.namespace ${election.lease?.namespace} is not the Deployment's namespace ${ns}`,
    );
  }
  const roles = rolesOf(objects, w);
  const allowed = roles.flatMap((r) => leaseNames(r));
  if (election.lease?.name === undefined || !allowed.includes(election.lease.name)) {
    problems.push(
      `${at}: its Role lets it update Leases [${allowed.join(", ")}], not its election.lease.name ${election.lease?.name}`,
    );
  }
  return problems;
}
