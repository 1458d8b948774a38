/**
 * The risk service's configuration: one YAML file, then the environment, then the flags, all through one zod
 * schema — the single source of defaults and of every message a user sees.
 *
 * ```yaml
 * risk:   { id: risk-a }                       # on every log line; names the durable consumer
 * grpc:   { host: 0.0.0.0, port: 50071,        # port 0: any free port
 *           tls: { certFile, keyFile, caFile }, auth: { policyFile } }   # required off loopback (docs/security.md)
 * limits: { file: limits.yaml }                # hot reloaded; relative to this file
 * state:  { kind: redis, redis: { url: redis://127.0.0.1:6379, prefix: fixmesh } }   # kill switches
 * bus:    { kind: nats, nats: { url: nats://127.0.0.1:4222 },                         # order and state events
 *           durableInactiveMs: 3600000 }   # this instance's durable goes 1 h after its last read
 * metrics: { host: 0.0.0.0, port: 9464 }     # Prometheus /metrics; absent: not served
 * log:    { level: info }
 * ```
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import {
  type GrpcSecurityConfig,
  grpcSecurityFields,
  InfraConfigError,
  linkTlsSchema,
  type NatsLink,
  natsLinkOf,
  type RedisLink,
  resolveGrpcSecurity,
  resolveNatsLink,
  resolveRedisLink,
} from "@fixmesh/security";
import { parse as parseYaml, YAMLError } from "yaml";
import { z } from "zod";
import { type ConfigIssue, describeIssue, fieldOf, RiskConfigError, show } from "./errors.js";
import { zodIssues } from "./limits-file.js";

const text = z.string({ error: (i) => `must be text, got ${show(i.input)}` }).min(1, { error: "must not be empty" });

function whole(min: number, max: number) {
  const reason = `must be a whole number from ${min} to ${max}`;
  return z.preprocess(
    (v) => (typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v)) ? Number(v) : v),
    z
      .number({ error: (i) => `${reason}, got ${show(i.input)}` })
      .int({ error: reason })
      .min(min, { error: reason })
      .max(max, { error: reason }),
  );
}

const subjectPrefix = text.regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, {
  error: "must be subject tokens (letters, digits, '_', '-') separated by dots",
});

export const riskConfigSchema = z.strictObject({
  risk: z
    .strictObject({
      id: text.regex(/^[A-Za-z0-9_-]+$/, { error: "must be letters, digits, '_' or '-'" }).default("risk"),
    })
    .default({ id: "risk" }),
  grpc: z
    .strictObject({
      host: text.default("127.0.0.1"),
      port: whole(0, 65535).default(50071),
      closeGraceMs: whole(0, 60_000).default(2000),
      // TLS/mTLS, the policy, bearer JWTs, limits, a health-only port (@fixmesh/security; docs/security.md).
      ...grpcSecurityFields,
    })
    .default({ host: "127.0.0.1", port: 50071, closeGraceMs: 2000 }),
  limits: z
    .strictObject({
      file: text.optional(),
      /** How long an allowed new order counts as open before its first order event. */
      reservationTtlMs: whole(100, 600_000).default(10_000),
    })
    .default({ reservationTtlMs: 10_000 }),
  state: z
    .strictObject({
      kind: z.enum(["memory", "redis"]).default("memory"),
      redis: z
        .strictObject({
          url: text.optional(),
          prefix: text.default("fixmesh"),
          // The link's credentials and TLS (@fixmesh/security redisLinkSchema): secrets from files or env only.
          username: text.optional(),
          passwordFile: text.optional(),
          passwordEnv: text.optional(),
          tls: linkTlsSchema.optional(),
        })
        .default({ prefix: "fixmesh" }),
    })
    .default({ kind: "memory", redis: { prefix: "fixmesh" } }),
  bus: z
    .strictObject({
      kind: z.enum(["in-process", "nats"]).default("in-process"),
      nats: z
        .strictObject({
          url: text.optional(),
          // The link's credentials and TLS (@fixmesh/security natsLinkSchema): one way to authenticate, secrets
          // from files or env only.
          user: text.optional(),
          passwordFile: text.optional(),
          passwordEnv: text.optional(),
          tokenFile: text.optional(),
          tokenEnv: text.optional(),
          nkeySeedFile: text.optional(),
          nkeySeedEnv: text.optional(),
          credsFile: text.optional(),
          tls: linkTlsSchema.optional(),
          ordersStream: text.default("ORDERS"),
          /** Order events are on `<ordersPrefix>.>`. */
          ordersPrefix: subjectPrefix.default("orders"),
          fixStream: text.default("FIX"),
          /** Session state events are on `<fixPrefix>.<session>.state`. */
          fixPrefix: subjectPrefix.default("fix"),
          auditStream: text.default("AUDIT"),
          /** Audit events go to `<auditPrefix>.risk.<action>`. */
          auditPrefix: subjectPrefix.default("audit"),
        })
        .default({
          ordersStream: "ORDERS",
          ordersPrefix: "orders",
          fixStream: "FIX",
          fixPrefix: "fix",
          auditStream: "AUDIT",
          auditPrefix: "audit",
        }),
      /** At start, how long to wait for the order stream to be replayed before serving (fail: exit). */
      catchUpTimeoutMs: whole(0, 600_000).default(30_000),
      /**
       * This instance's durable consumer (named after `risk.id`, on Kubernetes the pod's name) is removed by the
       * server once nobody has read it for this long (0: never). A pod that is gone for good leaves no durable
       * behind; a restarted one replays the stream from the start anyway.
       */
      durableInactiveMs: whole(0, 30 * 86_400_000)
        .refine((v) => v === 0 || v >= 1000, { error: "must be 0 (never) or at least 1000" })
        .default(3_600_000),
    })
    .default({
      kind: "in-process",
      nats: {
        ordersStream: "ORDERS",
        ordersPrefix: "orders",
        fixStream: "FIX",
        fixPrefix: "fix",
        auditStream: "AUDIT",
        auditPrefix: "audit",
      },
      catchUpTimeoutMs: 30_000,
      durableInactiveMs: 3_600_000,
    }),
  /** Prometheus metrics at /metrics on host:port (port 0: any free port); absent: not served. */
  metrics: z
    .strictObject({
      host: text.default("127.0.0.1"),
      port: whole(0, 65535).default(9464),
    })
    .optional(),
  log: z
    .strictObject({
      level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    })
    .default({ level: "info" }),
});

type ParsedRiskConfig = z.infer<typeof riskConfigSchema>;

/**
 * The checked configuration. `grpc` holds the resolved security section (paths absolute, files read once):
 * without `tls` it is plaintext, which only a loopback host may use. `links` are the Redis and NATS links (when
 * state.kind is redis / bus.kind is nats) with their secrets read (`Secret`s print as [REDACTED]).
 */
export type RiskConfig = Omit<ParsedRiskConfig, "grpc"> & {
  grpc: { host: string; port: number; closeGraceMs: number } & GrpcSecurityConfig;
  links?: { redis?: RedisLink; nats?: NatsLink };
  source: string;
};

/** The environment variables the service reads, and the field each one sets. An empty value counts as unset. */
export const RISK_ENV: ReadonlyArray<{ name: string; path: string[]; isPath?: boolean }> = [
  { name: "FIXMESH_RISK_ID", path: ["risk", "id"] },
  { name: "FIXMESH_GRPC_HOST", path: ["grpc", "host"] },
  { name: "FIXMESH_GRPC_PORT", path: ["grpc", "port"] },
  { name: "FIXMESH_RISK_LIMITS", path: ["limits", "file"], isPath: true },
  { name: "REDIS_URL", path: ["state", "redis", "url"] },
  { name: "NATS_URL", path: ["bus", "nats", "url"] },
  { name: "FIXMESH_LOG_LEVEL", path: ["log", "level"] },
  { name: "FIXMESH_METRICS_HOST", path: ["metrics", "host"] },
  { name: "FIXMESH_METRICS_PORT", path: ["metrics", "port"] },
];

export interface LoadOptions {
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  /** `--port`. */
  port?: string;
}

/** Reads and checks the configuration file. Throws `RiskConfigError` naming every bad field. */
export function loadRiskConfig(file: string, opts: LoadOptions = {}): RiskConfig {
  const path = resolve(opts.cwd ?? process.cwd(), file);
  let body: string;
  try {
    body = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new RiskConfigError(`configuration ${file}`, [
      { field: "--config", reason: code === "ENOENT" ? `no such file ${path}` : `cannot read ${path} (${code})` },
    ]);
  }
  return parseRiskConfig(body, { ...opts, source: file, baseDir: dirname(path) });
}

export function parseRiskConfig(
  body: string,
  opts: LoadOptions & { source?: string; baseDir?: string } = {},
): RiskConfig {
  const source = opts.source ?? "<inline>";
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  let raw: unknown;
  try {
    raw = parseYaml(body, { prettyErrors: true }) ?? {};
  } catch (e) {
    if (!(e instanceof YAMLError)) throw e;
    throw new RiskConfigError(`configuration ${source}`, [{ field: "(yaml)", reason: e.message.trim() }]);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new RiskConfigError(`configuration ${source}`, [{ field: "(top level)", reason: "must be a mapping" }]);
  }
  const origins = new Map<string, string>();
  const root = raw as Record<string, unknown>;
  // Paths in the file are relative to the file.
  const limits = root.limits as Record<string, unknown> | undefined;
  if (limits && typeof limits.file === "string") limits.file = resolve(opts.baseDir ?? cwd, limits.file);
  for (const o of RISK_ENV) {
    const v = env[o.name];
    if (v === undefined || v === "") continue;
    set(root, o.path, o.isPath ? resolve(cwd, v) : v);
    origins.set(o.path.join("."), o.name);
  }
  if (opts.port !== undefined) {
    set(root, ["grpc", "port"], opts.port);
    origins.set("grpc.port", "--port");
  }
  const r = riskConfigSchema.safeParse(root, { error: describeIssue });
  const issues: ConfigIssue[] = r.success ? [] : zodIssues(r.error.issues);
  let grpc: RiskConfig["grpc"] | undefined;
  const links: NonNullable<RiskConfig["links"]> = {};
  if (r.success) {
    // Plaintext only on loopback, TLS only with a policy; the certificate and policy files are read here too.
    const g = r.data.grpc;
    const { host, port, closeGraceMs } = g;
    const security = resolveGrpcSecurity(g, {
      host,
      baseDir: opts.baseDir ?? cwd,
      at: ["grpc"],
      issue: (path, reason) => issues.push({ field: fieldOf(path), reason }),
    });
    grpc = { host, port, closeGraceMs, ...security };
    if (r.data.state.kind === "redis" && r.data.state.redis.url === undefined) {
      issues.push({ field: "state.redis.url", reason: "is required when state.kind is redis (or set REDIS_URL)" });
    }
    if (r.data.bus.kind === "nats" && r.data.bus.nats.url === undefined) {
      issues.push({ field: "bus.nats.url", reason: "is required when bus.kind is nats (or set NATS_URL)" });
    }
    // Secrets only from files or the environment; a password in a URL is refused (it would end up in a log).
    const ctx = { env, baseDir: opts.baseDir ?? cwd };
    const link = (f: () => void) => {
      try {
        f();
      } catch (e) {
        if (!(e instanceof InfraConfigError)) throw e;
        issues.push({ field: e.field, reason: e.reason });
      }
    };
    const redis = r.data.state.redis;
    if (r.data.state.kind === "redis" && redis.url !== undefined) {
      const { prefix: _prefix, ...input } = redis;
      link(() => {
        links.redis = resolveRedisLink(input, "state.redis", ctx);
      });
    }
    const n = r.data.bus.nats;
    if (r.data.bus.kind === "nats" && n.url !== undefined) {
      link(() => {
        links.nats = resolveNatsLink(natsLinkOf(n), "bus.nats", ctx);
      });
    }
  }
  for (const i of issues) {
    const origin = origins.get(i.field);
    if (origin !== undefined) i.reason = `${i.reason} (set by ${origin})`;
  }
  if (!r.success || issues.length > 0 || grpc === undefined) {
    throw new RiskConfigError(`configuration ${source}`, issues);
  }
  return { ...r.data, grpc, links, source };
}

function set(root: Record<string, unknown>, path: string[], value: string): void {
  let node = root;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = value;
}
