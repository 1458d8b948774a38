/**
 * Our own rules for the rendered manifests, beyond what the schemas say. Each check returns the problems it
 * found, one readable line each (empty: none), so a test can show them all at once.
 */
import type { IDeploymentStrategy } from "kubernetes-models/apps/v1/DeploymentStrategy";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import type { IRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IProbe } from "kubernetes-models/v1/Probe";
import {
  containersOf,
  find,
  type K8sObject,
  ofKind,
  ref,
  referencedNames,
  selects,
  type Workload,
  workloads,
} from "./objects.js";

/** The connectors: Deployments labelled app.kubernetes.io/name=connector. */
export function connectorWorkloads(objects: readonly K8sObject[]): Workload[] {
  return workloads(objects).filter(
    (w) => w.object.kind === "Deployment" && w.object.metadata.labels?.["app.kubernetes.io/name"] === "connector",
  );
}

/** Placeholders a session's kustomization must replace. */
export const UNSET = "SET-BY-SESSION";

export function placeholderProblems(objects: readonly K8sObject[]): string[] {
  return objects.filter((o) => JSON.stringify(o).includes(UNSET)).map((o) => `${ref(o)}: still says ${UNSET}`);
}

function hasProbe(p: IProbe | undefined): boolean {
  return p !== undefined && (p.grpc ?? p.httpGet ?? p.tcpSocket ?? p.exec) !== undefined;
}

/**
 * Every container: non-root, no privilege escalation, no capabilities, read-only root filesystem, RuntimeDefault
 * seccomp (the restricted Pod Security Standard, plus the read-only root), CPU and memory requests and limits,
 * liveness and readiness probes; a container of the fixmesh image has /tmp on an emptyDir.
 */
export function containerProblems(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  for (const w of workloads(objects)) {
    const pod = w.pod;
    const podSc = pod.securityContext ?? {};
    for (const c of containersOf(pod)) {
      const at = `${ref(w.object)} container ${c.name}`;
      const sc = c.securityContext ?? {};
      const nonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
      const uid = sc.runAsUser ?? podSc.runAsUser;
      if (nonRoot !== true) problems.push(`${at}: runAsNonRoot is not true`);
      if (uid === 0) problems.push(`${at}: runs as uid 0`);
      if (sc.readOnlyRootFilesystem !== true) problems.push(`${at}: readOnlyRootFilesystem is not true`);
      if (sc.allowPrivilegeEscalation !== false) problems.push(`${at}: allowPrivilegeEscalation is not false`);
      if (sc.privileged === true) problems.push(`${at}: privileged`);
      if (!(sc.capabilities?.drop ?? []).includes("ALL")) problems.push(`${at}: does not drop ALL capabilities`);
      if ((sc.capabilities?.add ?? []).length > 0) problems.push(`${at}: adds capabilities`);
      const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
      if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") problems.push(`${at}: no seccomp profile`);
      const r = c.resources ?? {};
      for (const [kind, list] of [
        ["requests", r.requests],
        ["limits", r.limits],
      ] as const) {
        for (const res of ["cpu", "memory"]) {
          if (list?.[res] === undefined) problems.push(`${at}: no ${res} ${kind}`);
        }
      }
      const init = (pod.initContainers ?? []).includes(c);
      if (!init && !hasProbe(c.livenessProbe)) problems.push(`${at}: no liveness probe`);
      if (!init && !hasProbe(c.readinessProbe)) problems.push(`${at}: no readiness probe`);
      if (isFixmeshImage(c)) problems.push(...tmpProblems(w, c, at));
    }
  }
  return problems;
}

/** A container of the one fixmesh image (`fixmesh`, `fixmesh:tag`, `registry/…/fixmesh@sha256:…`). */
export function isFixmeshImage(c: IContainer): boolean {
  const image = c.image ?? "";
  const name = image.replace(/@.*$/, "").replace(/:[^/]*$/, "");
  return name === "fixmesh" || name.endsWith("/fixmesh");
}

function tmpProblems(w: Workload, c: IContainer, at: string): string[] {
  const mount = (c.volumeMounts ?? []).find((m) => m.mountPath === "/tmp");
  const volume = mount && (w.pod.volumes ?? []).find((v) => v.name === mount.name);
  if (volume?.emptyDir === undefined) return [`${at}: /tmp is not a writable emptyDir`];
  if (mount?.readOnly === true) return [`${at}: /tmp is mounted read-only`];
  return [];
}

/** Images: no `latest`, and pinned (a tag other than `dev`, or a digest) in prod. */
export function imageProblems(objects: readonly K8sObject[], env: "dev" | "prod"): string[] {
  const problems: string[] = [];
  for (const w of workloads(objects)) {
    for (const c of containersOf(w.pod)) {
      const image = c.image ?? "";
      const at = `${ref(w.object)} container ${c.name}`;
      const digest = image.includes("@sha256:");
      const tag = /:([^/:@]+)$/.exec(image.replace(/@.*$/, ""))?.[1];
      if (!digest && tag === undefined) problems.push(`${at}: image ${image} has no tag`);
      if (tag === "latest") problems.push(`${at}: image ${image} uses latest`);
      if (env === "prod" && isFixmeshImage(c) && !digest && (tag === undefined || tag === "dev")) {
        problems.push(`${at}: image ${image} is not pinned to a release`);
      }
    }
  }
  return problems;
}

/** The connector's grpc.health.v1 service that is SERVING only on the session's leader. */
export const LEADER_HEALTH_SERVICE = "fixmesh.leader";

/**
 * Each connector Deployment: 2 replicas; a PodDisruptionBudget selecting its pods and no other session's;
 * anti-affinity on the node between its own replicas; startup, liveness and readiness probes on the gRPC health
 * service at its `grpc-health` port (else `grpc`); a selector no other connector Deployment overlaps; a `fixmesh.io/fix-role` pod label.
 *
 * Initiators (both replicas ready, leader or standby): readiness on service "", PDB minAvailable 1, rolling updates
 * that start a new standby first (maxUnavailable 0). Acceptors (readiness follows leadership, so the FIX Service
 * routes to the leader only): readiness on `fixmesh.leader`, probed at least every 2 s; since only one pod is ever
 * ready, a PDB minAvailable 0 (1 would block every drain of the leader's node), maxUnavailable ≥ the replicas (less
 * never finishes a rollout) and a preStop delay that keeps the old leader leading while the new pods start.
 * Startup and liveness stay on "" for both: a standby is healthy.
 */
export function connectorProblems(objects: readonly K8sObject[], env: "dev" | "prod"): string[] {
  const problems: string[] = [];
  const connectors = connectorWorkloads(objects);
  if (connectors.length === 0) problems.push("no connector Deployment");
  const pdbs = ofKind<IPodDisruptionBudget>(objects, "PodDisruptionBudget");
  for (const w of connectors) {
    const at = ref(w.object);
    const session = w.podLabels["fixmesh.io/session"];
    if (session === undefined) problems.push(`${at}: pods have no fixmesh.io/session label`);
    if (w.replicas !== 2) problems.push(`${at}: ${w.replicas ?? "no"} replicas, not 2`);
    const role = w.podLabels["fixmesh.io/fix-role"];
    const acceptor = role === "acceptor";
    if (role !== "acceptor" && role !== "initiator") {
      problems.push(`${at}: pods have no fixmesh.io/fix-role label (acceptor or initiator), got ${role}`);
    }
    const own = pdbs.filter((p) => selects(p.spec?.selector, w.podLabels));
    if (own.length !== 1) problems.push(`${at}: ${own.length} PodDisruptionBudgets select its pods, not 1`);
    for (const p of own) {
      const want = acceptor ? 0 : 1;
      if (p.spec?.minAvailable !== want) {
        problems.push(
          `${ref(p)}: minAvailable is ${p.spec?.minAvailable}, not ${want}` +
            (acceptor
              ? " (only the leader of an acceptor session is ready: 1 would block every drain of its node)"
              : ""),
        );
      }
      for (const other of connectors) {
        if (other !== w && selects(p.spec?.selector, other.podLabels)) {
          problems.push(`${ref(p)}: also selects ${ref(other.object)}'s pods`);
        }
      }
    }
    for (const other of connectors) {
      const sel = (other.object.spec as { selector?: Parameters<typeof selects>[0] }).selector;
      if (other !== w && selects(sel, w.podLabels))
        problems.push(`${ref(other.object)}: its selector takes ${at}'s pods`);
    }
    const anti = w.pod.affinity?.podAntiAffinity;
    const terms = [
      ...(anti?.requiredDuringSchedulingIgnoredDuringExecution ?? []),
      ...(env === "dev"
        ? (anti?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => t.podAffinityTerm)
        : []),
    ];
    const byNode = terms.find(
      (t) =>
        t.topologyKey === "kubernetes.io/hostname" &&
        selects(t.labelSelector, w.podLabels) &&
        t.labelSelector?.matchLabels?.["fixmesh.io/session"] === session,
    );
    if (byNode === undefined) {
      problems.push(
        `${at}: no ${env === "dev" ? "" : "required "}pod anti-affinity on kubernetes.io/hostname between its own replicas`,
      );
    }
    const container = w.pod.containers.find((c) => c.name === "connector") ?? w.pod.containers[0];
    const grpcPort = (container.ports ?? []).find((p) => p.name === "grpc")?.containerPort;
    if (grpcPort === undefined) problems.push(`${at}: no container port named grpc`);
    // With TLS on gRPC the probes go to the plaintext health-only port (grpc.healthPort), named grpc-health.
    const probePort = (container.ports ?? []).find((p) => p.name === "grpc-health")?.containerPort ?? grpcPort;
    for (const [name, probe] of [
      ["startupProbe", container.startupProbe],
      ["livenessProbe", container.livenessProbe],
      ["readinessProbe", container.readinessProbe],
    ] as const) {
      if (probe?.grpc === undefined) problems.push(`${at}: ${name} is not a grpc probe`);
      else if (probe.grpc.port !== probePort)
        problems.push(`${at}: ${name} is on port ${probe.grpc.port}, not ${probePort}`);
      const service = probe?.grpc?.service ?? "";
      const wanted = acceptor && name === "readinessProbe" ? LEADER_HEALTH_SERVICE : "";
      if (probe?.grpc !== undefined && service !== wanted) {
        problems.push(
          `${at}: ${name} asks for health service "${service}", not "${wanted}"` +
            (wanted === ""
              ? name === "readinessProbe"
                ? " (an initiator's standby must stay ready)"
                : " (a standby is healthy: it must not be restarted or held back)"
              : " (the FIX Service must route to the leader only)"),
        );
      }
    }
    const rolling = (w.object.spec as { strategy?: IDeploymentStrategy } | undefined)?.strategy?.rollingUpdate;
    const maxUnavailable = rolling?.maxUnavailable;
    if (acceptor) {
      const replicas = w.replicas ?? 1;
      const all = typeof maxUnavailable === "number" ? maxUnavailable >= replicas : maxUnavailable === "100%";
      if (!all) {
        problems.push(
          `${at}: rollingUpdate.maxUnavailable ${maxUnavailable}: with only the leader ready a rollout never finishes unless it is at least ${replicas}`,
        );
      }
      const readiness = container.readinessProbe;
      if ((readiness?.periodSeconds ?? 10) > 2 || (readiness?.failureThreshold ?? 3) > 2) {
        problems.push(
          `${at}: readiness probed every ${readiness?.periodSeconds ?? 10} s × ${readiness?.failureThreshold ?? 3}: the FIX Service would lag a failover`,
        );
      }
      if (container.lifecycle?.preStop === undefined) {
        problems.push(`${at}: no preStop delay: a rollout would stop the old leader before a new standby is up`);
      }
    } else if (maxUnavailable !== 0) {
      problems.push(`${at}: rollingUpdate.maxUnavailable ${maxUnavailable}, not 0 (a new standby first)`);
    }
    if (w.pod.automountServiceAccountToken === false)
      problems.push(`${at}: no service account token (the Lease needs it)`);
    if (w.pod.serviceAccountName === undefined) problems.push(`${at}: no serviceAccountName`);
  }
  return problems;
}

/** The Roles a connector's service account is bound to. */
export function rolesOf(objects: readonly K8sObject[], w: Workload): Array<K8sObject & IRole> {
  const sa = w.pod.serviceAccountName;
  const ns = w.object.metadata.namespace;
  const bindings = ofKind<IRoleBinding>(objects, "RoleBinding").filter((b) =>
    (b.subjects ?? []).some((s) => s.kind === "ServiceAccount" && s.name === sa && (s.namespace ?? ns) === ns),
  );
  const roles: Array<K8sObject & IRole> = [];
  for (const b of bindings) {
    const role = b.roleRef.kind === "Role" ? find(objects, "Role", b.roleRef.name) : undefined;
    if (role !== undefined) roles.push(role as K8sObject & IRole);
  }
  return roles;
}

const LEASE_VERBS = new Set(["get", "create", "update"]);

/**
 * RBAC: no cluster-wide roles or bindings; every Role grants only get/create/update on coordination.k8s.io
 * leases, get and update only on named Leases (create cannot be limited by name); each connector's service
 * account is bound to exactly one such Role.
 */
export function rbacProblems(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    if (o.kind === "ClusterRole" || o.kind === "ClusterRoleBinding") problems.push(`${ref(o)}: cluster-wide RBAC`);
  }
  for (const role of ofKind<IRole>(objects, "Role")) {
    for (const [i, rule] of (role.rules ?? []).entries()) {
      const at = `${ref(role)} rules[${i}]`;
      if ((rule.apiGroups ?? []).join() !== "coordination.k8s.io") problems.push(`${at}: apiGroups ${rule.apiGroups}`);
      if ((rule.resources ?? []).join() !== "leases") problems.push(`${at}: resources ${rule.resources}`);
      if ((rule.nonResourceURLs ?? []).length > 0) problems.push(`${at}: nonResourceURLs`);
      for (const v of rule.verbs) if (!LEASE_VERBS.has(v)) problems.push(`${at}: verb ${v}`);
      const named = (rule.resourceNames ?? []).length > 0;
      if (!named && rule.verbs.some((v) => v !== "create")) {
        problems.push(`${at}: ${rule.verbs.join("/")} on every Lease (only create may go unnamed)`);
      }
    }
  }
  for (const w of connectorWorkloads(objects)) {
    const roles = rolesOf(objects, w);
    if (roles.length !== 1) problems.push(`${ref(w.object)}: bound to ${roles.length} Roles, not 1`);
  }
  return problems;
}

/** The names of the Leases a Role lets its holder get and update. */
export function leaseNames(role: IRole): string[] {
  return (role.rules ?? []).filter((r) => r.verbs.includes("update")).flatMap((r) => r.resourceNames ?? []);
}

/**
 * Secrets and ConfigMaps: what the pods refer to exists in the render (dev, self-contained) or, for Secrets in
 * prod, is created outside it; in prod no Secret carries data.
 */
export function secretProblems(objects: readonly K8sObject[], env: "dev" | "prod"): string[] {
  const problems: string[] = [];
  for (const s of ofKind(objects, "Secret")) {
    if (env === "prod" && (s.data !== undefined || s.stringData !== undefined)) {
      problems.push(`${ref(s)}: a Secret with data in prod (create it outside the manifests)`);
    }
  }
  for (const w of workloads(objects)) {
    const { secrets, configMaps } = referencedNames(w.pod);
    for (const name of configMaps) {
      if (find(objects, "ConfigMap", name) === undefined) problems.push(`${ref(w.object)}: no ConfigMap ${name}`);
    }
    if (env === "dev") {
      for (const name of secrets) {
        if (find(objects, "Secret", name) === undefined) problems.push(`${ref(w.object)}: no Secret ${name}`);
      }
    }
  }
  return problems;
}

/** The Secrets the pods refer to that the render does not define: what an operator creates. */
export function externalSecrets(objects: readonly K8sObject[]): Set<string> {
  const out = new Set<string>();
  for (const w of workloads(objects)) {
    for (const name of referencedNames(w.pod).secrets) if (find(objects, "Secret", name) === undefined) out.add(name);
  }
  return out;
}

interface PolicyPeerPort {
  port?: number | string;
  protocol?: string;
}
interface Policy {
  podSelector: Parameters<typeof selects>[0];
  policyTypes?: string[];
  ingress?: Array<{ from?: unknown[]; ports?: PolicyPeerPort[] }>;
  egress?: Array<{ to?: unknown[]; ports?: PolicyPeerPort[] }>;
}

/**
 * NetworkPolicies: a default deny of ingress and egress for every pod; every workload's pods selected by a policy
 * of their own (beyond the default deny and DNS); every Service port whose pods are selected let in by some
 * ingress rule on that port.
 */
export function networkProblems(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const policies = ofKind<{ spec: Policy }>(objects, "NetworkPolicy");
  const isEmpty = (s: Policy["podSelector"]) =>
    Object.keys(s?.matchLabels ?? {}).length === 0 && (s?.matchExpressions ?? []).length === 0;
  const denyAll = policies.find(
    (p) =>
      isEmpty(p.spec.podSelector) &&
      (p.spec.policyTypes ?? []).includes("Ingress") &&
      (p.spec.policyTypes ?? []).includes("Egress") &&
      (p.spec.ingress ?? []).length === 0 &&
      (p.spec.egress ?? []).length === 0,
  );
  if (denyAll === undefined) problems.push("no default-deny NetworkPolicy (empty podSelector, Ingress and Egress)");
  const specific = policies.filter((p) => !isEmpty(p.spec.podSelector));
  for (const w of workloads(objects)) {
    if (!specific.some((p) => selects(p.spec.podSelector, w.podLabels))) {
      problems.push(`${ref(w.object)}: no NetworkPolicy of its own lets its pods talk to anything`);
    }
  }
  for (const svc of ofKind<{
    spec: { selector?: Record<string, string>; ports?: Array<{ targetPort?: number | string; port: number }> };
  }>(objects, "Service")) {
    const selector = svc.spec.selector;
    if (selector === undefined) continue;
    for (const w of workloads(objects)) {
      if (!selects({ matchLabels: selector }, w.podLabels)) continue;
      for (const port of svc.spec.ports ?? []) {
        const target = port.targetPort ?? port.port;
        const number =
          typeof target === "number"
            ? target
            : containersOf(w.pod)
                .flatMap((c) => c.ports ?? [])
                .find((p) => p.name === target)?.containerPort;
        if (number === undefined) {
          problems.push(`${ref(svc)}: targetPort ${target} is no port of ${ref(w.object)}`);
          continue;
        }
        const allowed = policies.some(
          (p) =>
            selects(p.spec.podSelector, w.podLabels) &&
            (p.spec.ingress ?? []).some(
              (rule) =>
                (rule.ports ?? []).length === 0 ||
                (rule.ports ?? []).some((rp) => rp.port === number || rp.port === target),
            ),
        );
        if (!allowed) problems.push(`${ref(svc)}: no NetworkPolicy lets anything reach ${ref(w.object)} on ${number}`);
      }
    }
  }
  return problems;
}

/**
 * Scaling: each KEDA ScaledObject targets a Deployment of the render that sets no replicas (KEDA owns the count)
 * and scales on the lag of a JetStream durable consumer of the FIX stream — except risk, which scales on CPU.
 */
export function scalingProblems(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  interface Trigger {
    type: string;
    metadata?: Record<string, string>;
  }
  const scaled = ofKind<{ spec: { scaleTargetRef: { name: string; kind?: string }; triggers: Trigger[] } }>(
    objects,
    "ScaledObject",
  );
  for (const s of scaled) {
    const at = ref(s);
    const target = find(objects, s.spec.scaleTargetRef.kind ?? "Deployment", s.spec.scaleTargetRef.name);
    if (target === undefined) problems.push(`${at}: no ${s.spec.scaleTargetRef.name} to scale`);
    else if ((target.spec as { replicas?: number }).replicas !== undefined) {
      problems.push(`${ref(target)}: sets replicas, which KEDA owns`);
    }
    if (s.spec.scaleTargetRef.name === "risk") {
      // Every risk instance reads every order event with a durable of its own (positions in memory): more
      // instances share no backlog, so risk scales on its CheckOrder load (CPU), and the pod name is its durable.
      if (!s.spec.triggers.some((t) => t.type === "cpu")) problems.push(`${at}: no cpu trigger`);
      if (s.spec.triggers.some((t) => t.type === "nats-jetstream")) {
        problems.push(`${at}: a nats-jetstream trigger, but each risk instance has its own durable`);
      }
      const env = (target?.spec as { template?: { spec?: { containers?: { env?: { name: string }[] }[] } } })?.template
        ?.spec?.containers?.[0]?.env;
      if (!env?.some((e) => e.name === "FIXMESH_RISK_ID")) {
        problems.push(`${at}: risk pods need FIXMESH_RISK_ID (a durable per instance)`);
      }
      continue;
    }
    const lag = s.spec.triggers.find((t) => t.type === "nats-jetstream");
    if (lag === undefined) problems.push(`${at}: no nats-jetstream trigger`);
    else {
      for (const key of ["natsServerMonitoringEndpoint", "account", "stream", "consumer", "lagThreshold"]) {
        if (!lag.metadata?.[key]) problems.push(`${at}: nats-jetstream trigger without ${key}`);
      }
      if (lag.metadata?.stream !== "FIX") problems.push(`${at}: scales on stream ${lag.metadata?.stream}, not FIX`);
    }
  }
  for (const name of ["order-entry", "risk", "persistence"]) {
    if (!scaled.some((s) => s.spec.scaleTargetRef.name === name)) problems.push(`${name}: no ScaledObject`);
  }
  return problems;
}
