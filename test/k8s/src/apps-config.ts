/**
 * order-entry's, risk's and persistence's YAML in their ConfigMaps, read by each app's own loader the way the pod
 * would read it: the file written to a temporary directory with the Deployment's environment, and every file it
 * names (certificates, policy, passwords, risk's limits) taken from the container's mounts (Secret or ConfigMap
 * keys; a Secret created outside the manifests gets a stand-in, see connector-config.ts). Then what the YAML and
 * the manifests must agree on: the gRPC port, the probes (the kubelet's grpc probes speak plaintext only, so with
 * TLS they must go to the port `grpc.healthPort` names), the Services order-entry dials, and `/metrics` served on
 * the container's metrics port (the one the pod's prometheus.io/port annotation and the PodMonitor scrape).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadOrderEntryConfig } from "@fixmesh/order-entry";
import { loadConfig as loadPersistenceConfig } from "@fixmesh/persistence";
import { loadRiskConfig, parseLimitsFile } from "@fixmesh/risk";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IProbe } from "kubernetes-models/v1/Probe";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { configPath, containerEnv, fileContent, resolveMount, rewriteFiles } from "./connector-config.js";
import { find, type K8sObject, ref, type Workload, workloads } from "./objects.js";

/** What every app's loader returns, as far as the manifests care. */
interface Loaded {
  grpc: { host: string; port: number; healthPort?: number; tls?: unknown };
  /** Where it dials other gRPC services (order-entry): `host:port`, and the name the certificate must carry. */
  dials: Array<{ at: string; address: string; serverName?: string; tls: boolean }>;
  /** Where it serves Prometheus `/metrics` (absent: not served). */
  metrics?: { host: string; port: number };
}

interface App {
  name: "order-entry" | "risk" | "persistence";
  /** Reads the config file with the app's own loader (which reads every file it names). */
  load(file: string, env: Record<string, string>): Loaded;
  /** Paths of files the YAML names under keys that `rewriteFiles` does not know (not ending in `File`). */
  extraFiles?: Array<{ path: string[]; check?: (text: string, where: string) => void }>;
}

export const APPS: readonly App[] = [
  {
    name: "order-entry",
    load: (file, env) => {
      const c = loadOrderEntryConfig(file, env);
      return {
        grpc: c.grpc,
        ...(c.metrics && { metrics: c.metrics }),
        dials: [
          {
            at: "risk.address",
            address: c.risk.address,
            serverName: c.risk.tls?.serverName,
            tls: c.risk.tls !== undefined,
          },
          ...c.sessions.map((s, i) => ({
            at: `sessions[${i}].connector`,
            address: s.connector,
            serverName: c.connector?.tls?.serverName,
            tls: c.connector?.tls !== undefined,
          })),
        ],
      };
    },
  },
  {
    name: "risk",
    load: (file, env) => {
      const c = loadRiskConfig(file, { env, cwd: "/" });
      return { grpc: c.grpc, dials: [], ...(c.metrics && { metrics: c.metrics }) };
    },
    // risk reads its limits at start and on every change: they must parse with its limits-file parser.
    extraFiles: [{ path: ["limits", "file"], check: (text, where) => void parseLimitsFile(text, where) }],
  },
  {
    name: "persistence",
    load: (file, env) => {
      const c = loadPersistenceConfig(file, env);
      const { host, port } = c.metrics;
      return { grpc: c.grpc, dials: [], ...(port !== undefined && { metrics: { host, port } }) };
    },
  },
];

export interface AppsConfigReport {
  problems: string[];
  /** The apps checked, with the port their probes go to (for the test's diagnostics). */
  checked: string[];
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Checks the config of every app Deployment of a render; an app with no Deployment is a problem. */
export function appsConfigReport(objects: readonly K8sObject[]): AppsConfigReport {
  const problems: string[] = [];
  const checked: string[] = [];
  for (const app of APPS) {
    const w = workloads(objects).find((x) => x.object.kind === "Deployment" && x.object.metadata.name === app.name);
    if (w === undefined) {
      problems.push(`no Deployment ${app.name}`);
      continue;
    }
    const at = ref(w.object);
    const c = w.pod.containers.find((x) => x.name === app.name) ?? w.pod.containers[0];
    const path = configPath(c);
    const mount = path === undefined ? undefined : resolveMount(c, path);
    const text = mount && fileContent(objects, w, mount.volume, mount.key);
    if (path === undefined || typeof text !== "string") {
      const why = text instanceof Error ? text.message : "no mount";
      problems.push(`${at}: --config ${path} is not in a mounted ConfigMap (${why})`);
      continue;
    }
    const doc = parseYaml(text) as Record<string, unknown>;
    const tmp = mkdtempSync(join(tmpdir(), `fixmesh-k8s-${app.name}-`));
    try {
      const before = problems.length;
      const materialize = (file: string, where: string): { out: string; content: string } | undefined => {
        const m = resolveMount(c, file);
        const content = m && fileContent(objects, w, m.volume, m.key);
        if (m === undefined || typeof content !== "string") {
          const why = content instanceof Error ? content.message : "not under a mount";
          problems.push(`${at}: ${path}: ${where}: ${file} is not a file the pod has (${why})`);
          return undefined;
        }
        const dir = join(tmp, m.volume);
        mkdirSync(join(dir, m.key, ".."), { recursive: true });
        const out = join(dir, m.key);
        writeFileSync(out, content);
        return { out, content };
      };
      rewriteFiles(doc, (file, where) => materialize(file, where)?.out ?? file);
      for (const extra of app.extraFiles ?? []) {
        const parent = extra.path.slice(0, -1).reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], doc);
        const key = extra.path[extra.path.length - 1];
        const file = (parent as Record<string, unknown> | undefined)?.[key];
        if (typeof file !== "string") continue;
        const where = extra.path.join(".");
        const got = materialize(file, where);
        if (got === undefined) continue;
        (parent as Record<string, unknown>)[key] = got.out;
        try {
          extra.check?.(got.content, `${at}: ${file}`);
        } catch (e) {
          problems.push(`${at}: ${where} ${file}: ${message(e)}`);
        }
      }
      if (problems.length > before) continue;
      const file = join(tmp, `${app.name}.yaml`);
      writeFileSync(file, stringifyYaml(doc));
      let loaded: Loaded;
      try {
        loaded = app.load(file, containerEnv(objects, w, c));
      } catch (e) {
        problems.push(`${at}: ${path} refused by ${app.name}'s loader: ${message(e)}`);
        continue;
      }
      problems.push(...agreement(objects, w, c, loaded));
      checked.push(`${at}: grpc ${loaded.grpc.port}, health ${loaded.grpc.healthPort ?? "none (TCP probes)"}`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return { problems, checked };
}

/** What the loaded config and the manifests must agree on. */
function agreement(objects: readonly K8sObject[], w: Workload, c: IContainer, cfg: Loaded): string[] {
  const problems: string[] = [];
  const at = ref(w.object);
  const port = (name: string) => (c.ports ?? []).find((p) => p.name === name)?.containerPort;
  if (cfg.grpc.port !== port("grpc")) {
    problems.push(`${at}: grpc.port ${cfg.grpc.port} is not the container's grpc port ${port("grpc")}`);
  }
  if (cfg.grpc.host !== "0.0.0.0" && cfg.grpc.host !== "::") {
    problems.push(`${at}: grpc.host ${cfg.grpc.host}: the Service cannot reach it`);
  }
  const { healthPort } = cfg.grpc;
  if (healthPort !== undefined && healthPort !== port("grpc-health")) {
    problems.push(
      `${at}: grpc.healthPort ${healthPort} is not the container's grpc-health port ${port("grpc-health")}`,
    );
  }
  const probes: Array<[string, IProbe | undefined]> = [
    ["startupProbe", c.startupProbe],
    ["livenessProbe", c.livenessProbe],
    ["readinessProbe", c.readinessProbe],
  ];
  for (const [name, p] of probes) {
    if (p === undefined) {
      problems.push(`${at}: no ${name}`);
      continue;
    }
    if (p.grpc !== undefined) {
      // The kubelet's grpc probe speaks plaintext: it works only on a plaintext health port (or plaintext gRPC).
      const ok = healthPort !== undefined ? p.grpc.port === healthPort : cfg.grpc.tls === undefined;
      if (!ok) {
        problems.push(
          `${at}: ${name} probes gRPC on ${p.grpc.port}, ${
            healthPort !== undefined
              ? `not on grpc.healthPort ${healthPort}`
              : "which serves TLS only (no grpc.healthPort): the kubelet's grpc probes speak plaintext"
          }`,
        );
      }
    } else if (healthPort !== undefined) {
      problems.push(`${at}: ${name} is not a grpc probe of grpc.healthPort ${healthPort}`);
    }
  }
  // Prometheus scrapes the container's `metrics` port (the pod's prometheus.io/port annotation, the PodMonitor):
  // the app must serve /metrics there, on an address the scrape reaches.
  const scrapePort = port("metrics");
  const annotations =
    (w.object as unknown as { spec?: { template?: { metadata?: { annotations?: Record<string, string> } } } }).spec
      ?.template?.metadata?.annotations ?? {};
  if (scrapePort !== undefined) {
    if (cfg.metrics === undefined) {
      problems.push(`${at}: the container has a metrics port ${scrapePort} but the config serves no metrics`);
    } else {
      if (cfg.metrics.port !== scrapePort)
        problems.push(`${at}: metrics.port ${cfg.metrics.port} is not the container's metrics port ${scrapePort}`);
      if (cfg.metrics.host !== "0.0.0.0" && cfg.metrics.host !== "::")
        problems.push(`${at}: metrics.host ${cfg.metrics.host}: Prometheus cannot reach it`);
    }
    const annotated = annotations["prometheus.io/port"];
    if (annotated !== undefined && Number(annotated) !== scrapePort)
      problems.push(`${at}: prometheus.io/port ${annotated} is not the metrics port ${scrapePort}`);
  }
  for (const d of cfg.dials) {
    const [host, p] = d.address.split(":");
    const svc = find(objects, "Service", host) as
      | (K8sObject & { spec?: { ports?: Array<{ port: number }> } })
      | undefined;
    if (svc === undefined || !(svc.spec?.ports ?? []).some((x) => x.port === Number(p))) {
      problems.push(`${at}: ${d.at} ${d.address} is not a Service port of the render`);
    }
    if (!d.tls) problems.push(`${at}: ${d.at} ${d.address} is dialled without TLS`);
    if (d.serverName !== undefined && d.serverName !== host) {
      problems.push(`${at}: ${d.at}: serverName ${d.serverName} is not the Service dialled (${host})`);
    }
  }
  return problems;
}
