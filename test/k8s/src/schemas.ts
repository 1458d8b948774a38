/**
 * Validation against the Kubernetes schemas, offline, with the schemas kubernetes-models ships (and its KEDA and
 * Prometheus Operator packages for those CRDs):
 * - `validateAgainstSchemas`: each object through its model's JSON-schema validator (types, formats, enums,
 *   required fields). Those validators let unknown fields through, so
 * - `typeCheckObjects`: each object as a TypeScript object literal of its model's interface, type-checked by the
 *   compiler: excess-property checks catch a misspelt or misplaced field at any depth.
 */
import ts from "typescript";
import type { K8sObject } from "./objects.js";
import { ref } from "./objects.js";
import { PACKAGE_DIR } from "./paths.js";

/** The package that models an API group. */
function packageOf(group: string): string | undefined {
  if (group === "keda.sh") return "@kubernetes-models/keda";
  if (group === "monitoring.coreos.com") return "@kubernetes-models/prometheus-operator";
  if (group === "" || group.endsWith(".k8s.io") || ["apps", "policy", "batch", "autoscaling"].includes(group)) {
    return "kubernetes-models";
  }
  return undefined;
}

/** The module that exports the model of `apiVersion`, e.g. `kubernetes-models/apps/v1`; undefined if none. */
export function modelModule(apiVersion: string): string | undefined {
  const slash = apiVersion.lastIndexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const pkg = packageOf(group);
  return pkg === undefined ? undefined : `${pkg}/${apiVersion}`;
}

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;

/** Each object through its model's validator; one message per invalid object or object without a model. */
/**
 * kustomize writes a long Secret value (a certificate from a file) as base64 wrapped at 70 columns. The API server
 * decodes it regardless (Go's base64 decoder skips line breaks); the models' `byte` format does not, so the lines
 * are joined before validating.
 */
function withUnwrappedSecretData(o: K8sObject): K8sObject {
  const data = o.kind === "Secret" ? (o.data as Record<string, unknown> | undefined) : undefined;
  if (data === undefined) return o;
  const unwrapped = Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, typeof v === "string" ? v.replace(/\s+/g, "") : v]),
  );
  return { ...o, data: unwrapped };
}

export async function validateAgainstSchemas(objects: readonly K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const o of objects) {
    const mod = modelModule(o.apiVersion);
    if (mod === undefined) {
      problems.push(`${ref(o)}: no schema for apiVersion ${o.apiVersion}`);
      continue;
    }
    let cls: ModelClass | undefined;
    try {
      cls = ((await import(mod)) as Record<string, ModelClass | undefined>)[o.kind];
    } catch (e) {
      problems.push(`${ref(o)}: cannot load ${mod}: ${(e as Error).message}`);
      continue;
    }
    if (cls === undefined) {
      problems.push(`${ref(o)}: ${mod} has no ${o.kind}`);
      continue;
    }
    try {
      new cls(withUnwrappedSecretData(o)).validate();
    } catch (e) {
      problems.push(`${ref(o)}: ${(e as Error).message}`);
    }
  }
  return problems;
}

/**
 * Each object type-checked as a literal of its model's interface (`IDeployment` of
 * `kubernetes-models/apps/v1/Deployment`). TypeScript reports the first problem of each object: an unknown or
 * misplaced field, a wrong type, a missing required field.
 */
export function typeCheckObjects(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const lines: string[] = [];
  const starts: Array<{ line: number; object: K8sObject }> = [];
  objects.forEach((o, i) => {
    const mod = modelModule(o.apiVersion);
    if (mod === undefined) return; // reported by validateAgainstSchemas
    lines.push(`import type { I${o.kind} as T${i} } from ${JSON.stringify(`${mod}/${o.kind}`)};`);
  });
  objects.forEach((o, i) => {
    if (modelModule(o.apiVersion) === undefined) return;
    starts.push({ line: lines.length, object: o });
    lines.push(`export const o${i}: T${i} = ${JSON.stringify(o, null, 1)};`);
    // JSON.stringify spans lines: count them so a diagnostic's line maps back to its object.
    const added = lines.pop() as string;
    lines.push(...added.split("\n"));
  });
  const file = `${PACKAGE_DIR}__rendered_objects__.ts`;
  const text = lines.join("\n");
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) =>
    name === file ? ts.createSourceFile(name, text, lang) : getSourceFile(name, lang, ...rest);
  host.fileExists = (name) => name === file || fileExists(name);
  host.readFile = (name) => (name === file ? text : readFile(name));
  const program = ts.createProgram([file], options, host);
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, " ");
    if (d.file === undefined || d.start === undefined || d.file.fileName !== file) {
      problems.push(message);
      continue;
    }
    const line = d.file.getLineAndCharacterOfPosition(d.start).line;
    let owner: K8sObject | undefined;
    for (const s of starts) if (s.line <= line) owner = s.object;
    // The offending text: the property or value the compiler points at.
    const at = text.slice(d.start, d.start + (d.length ?? 0)).slice(0, 80);
    problems.push(`${owner === undefined ? "?" : ref(owner)}: ${message}${at ? ` (at ${at})` : ""}`);
  }
  return problems;
}
