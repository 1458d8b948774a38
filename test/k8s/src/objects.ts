/**
 * The rendered objects and the few shapes the checks read. The static types come from kubernetes-models (the
 * same package that validates the objects), so a check reads `podSpec.containers[0].securityContext` as the
 * API defines it.
 */
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [field: string]: unknown;
}

/** `Kind/name` (with the namespace when there is one), for messages. */
export function ref(o: K8sObject): string {
  return `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`;
}

export function ofKind<T = K8sObject>(objects: readonly K8sObject[], kind: string): Array<K8sObject & T> {
  return objects.filter((o) => o.kind === kind) as Array<K8sObject & T>;
}

/** A Deployment or StatefulSet, with its pod template. */
export interface Workload {
  object: K8sObject;
  replicas: number | undefined;
  podLabels: Record<string, string>;
  pod: IPodSpec;
}

export function workloads(objects: readonly K8sObject[]): Workload[] {
  const out: Workload[] = [];
  for (const o of objects) {
    if (o.kind !== "Deployment" && o.kind !== "StatefulSet") continue;
    const spec = (o as unknown as IDeployment | IStatefulSet).spec;
    if (spec === undefined) continue;
    out.push({
      object: o,
      replicas: spec.replicas,
      podLabels: spec.template.metadata?.labels ?? {},
      pod: spec.template.spec as IPodSpec,
    });
  }
  return out;
}

/** Every container of a pod, init containers included. */
export function containersOf(pod: IPodSpec): IContainer[] {
  return [...(pod.initContainers ?? []), ...pod.containers];
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

/** Kubernetes label-selector semantics; an empty selector matches everything. */
export function selects(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (selector === undefined) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const values = e.values ?? [];
    switch (e.operator) {
      case "In":
        if (!has || !values.includes(labels[e.key])) return false;
        break;
      case "NotIn":
        if (has && values.includes(labels[e.key])) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** The Secrets and ConfigMaps a pod refers to, by name. */
export function referencedNames(pod: IPodSpec): { secrets: Set<string>; configMaps: Set<string> } {
  const secrets = new Set<string>();
  const configMaps = new Set<string>();
  for (const v of pod.volumes ?? []) {
    if (v.secret?.secretName) secrets.add(v.secret.secretName);
    if (v.configMap?.name) configMaps.add(v.configMap.name);
    for (const s of v.projected?.sources ?? []) {
      if (s.secret?.name) secrets.add(s.secret.name);
      if (s.configMap?.name) configMaps.add(s.configMap.name);
    }
  }
  for (const c of containersOf(pod)) {
    for (const e of c.env ?? []) {
      if (e.valueFrom?.secretKeyRef?.name) secrets.add(e.valueFrom.secretKeyRef.name);
      if (e.valueFrom?.configMapKeyRef?.name) configMaps.add(e.valueFrom.configMapKeyRef.name);
    }
    for (const e of c.envFrom ?? []) {
      if (e.secretRef?.name) secrets.add(e.secretRef.name);
      if (e.configMapRef?.name) configMaps.add(e.configMapRef.name);
    }
  }
  for (const s of pod.imagePullSecrets ?? []) if (s.name) secrets.add(s.name);
  return { secrets, configMaps };
}

/** The text of a ConfigMap's or Secret's key, or undefined. */
export function dataOf(o: K8sObject | undefined, key: string): string | undefined {
  if (o === undefined) return undefined;
  const data = o.data as Record<string, string> | undefined;
  const stringData = o.stringData as Record<string, string> | undefined;
  if (o.kind === "Secret") {
    if (stringData?.[key] !== undefined) return stringData[key];
    return data?.[key] === undefined ? undefined : Buffer.from(data[key], "base64").toString("utf8");
  }
  return data?.[key];
}

export function find(objects: readonly K8sObject[], kind: string, name: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name);
}
