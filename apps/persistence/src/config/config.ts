/**
 * The persistence service's configuration: one zod schema, the single source of defaults and of the messages a
 * user sees. The YAML file, then environment overrides, go through it; every mistake is reported at once with
 * its field path and the reason.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import {
  type GrpcSecurityConfig,
  grpcSecurityFields,
  InfraConfigError,
  linkTlsSchema,
  type NatsLink,
  natsLinkSchema,
  type PostgresLink,
  postgresLinkSchema,
  resolveGrpcSecurity,
  resolveNatsLink,
  resolvePostgresLink,
  type SecretContext,
} from "@fixmesh/security";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

const streamSchema = z
  .object({
    /** Off: this stream is not consumed. */
    enabled: z.boolean().default(true),
    stream: z.string().regex(/^[A-Za-z0-9_-]+$/, "must be letters, digits, '_' or '-'"),
    filter: z.string().min(1),
    durable: z.string().regex(/^[A-Za-z0-9_-]+$/, "must be letters, digits, '_' or '-'"),
  })
  .strict();

export const configSchema = z
  .object({
    database: z
      .discriminatedUnion("engine", [
        z
          .object({
            engine: z.literal("postgres"),
            // host/port/database/user, passwordFile|passwordEnv (SCRAM), tls (chain and host name verified).
            ...postgresLinkSchema.shape,
            tls: linkTlsSchema.optional(),
            /** `postgres://user@host:port/db`, without a password (passwordFile/passwordEnv) or query parameters. */
            url: z
              .string()
              .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
              .default("postgres://postgres@127.0.0.1:5432/fixmesh"),
            poolSize: z.number().int().min(1).max(100).default(4),
            connectTimeoutMs: z.number().int().min(100).default(5000),
            statementTimeoutMs: z.number().int().min(100).default(60_000),
          })
          .strict(),
        z
          .object({
            engine: z.literal("pglite"),
            /** Data folder (relative to the config file); absent: in memory. */
            dataDir: z.string().min(1).optional(),
          })
          .strict(),
      ])
      .default({
        engine: "postgres",
        url: "postgres://postgres@127.0.0.1:5432/fixmesh",
        poolSize: 4,
        connectTimeoutMs: 5000,
        statementTimeoutMs: 60_000,
      }),
    /** user/passwordFile|passwordEnv, tokenFile|tokenEnv, nkeySeedFile|nkeySeedEnv, credsFile, tls. */
    nats: natsLinkSchema.default({ url: "nats://127.0.0.1:4222" }),
    streams: z
      .object({
        fix: streamSchema.default({ enabled: true, stream: "FIX", filter: "fix.>", durable: "persistence-fix" }),
        orders: streamSchema.default({
          enabled: true,
          stream: "ORDERS",
          filter: "orders.>",
          durable: "persistence-orders",
        }),
        audit: streamSchema.default({
          enabled: true,
          stream: "AUDIT",
          filter: "audit.>",
          durable: "persistence-audit",
        }),
      })
      .strict()
      .default({
        fix: { enabled: true, stream: "FIX", filter: "fix.>", durable: "persistence-fix" },
        orders: { enabled: true, stream: "ORDERS", filter: "orders.>", durable: "persistence-orders" },
        audit: { enabled: true, stream: "AUDIT", filter: "audit.>", durable: "persistence-audit" },
      }),
    ingest: z
      .object({
        /** Events per batch (one transaction); 1,000 drained ~12 % faster than 500 here (fewer fetches and commits). */
        batch: z.number().int().min(1).max(10_000).default(1000),
        /** Redelivery after this long without an acknowledgement. */
        ackWaitMs: z.number().int().min(1000).default(30_000),
        /** Consumers per stream sharing the durable: >1 writes batches in parallel, commits in any order. */
        parallel: z.number().int().min(1).max(16).default(1),
        /**
         * Batches each consumer hands to the writer at once: with 2 the next batch is decoded and copied while the
         * one before commits; acknowledgements stay in stream order, rows are numbered in stream order.
         */
        pipeline: z.number().int().min(1).max(3).default(2),
      })
      .strict()
      .default({ batch: 1000, ackWaitMs: 30_000, parallel: 1, pipeline: 2 }),
    retention: z
      .object({
        /** Days of messages kept; older day partitions are dropped. 0: keep forever. */
        days: z.number().int().min(0).default(0),
        /** How often retention runs (and tomorrow's partition is created). */
        intervalMs: z.number().int().min(1000).default(3_600_000),
      })
      .strict()
      .default({ days: 0, intervalMs: 3_600_000 }),
    /** Tags whose values are redacted from stored raw messages, beyond Password(554) and NewPassword(925). */
    redactTags: z.array(z.number().int().min(1)).default([]),
    grpc: z
      .object({
        host: z.string().min(1).default("127.0.0.1"),
        /** 0: any free port. */
        port: z.number().int().min(0).max(65535).default(7090),
        enabled: z.boolean().default(true),
        // TLS/mTLS, the policy, bearer JWTs, limits, a health-only port (@fixmesh/security; docs/security.md).
        // Without tls: plaintext, which only a loopback host may use.
        ...grpcSecurityFields,
      })
      .strict()
      .default({ host: "127.0.0.1", port: 7090, enabled: true }),
    metrics: z
      .object({
        host: z.string().min(1).default("127.0.0.1"),
        /** Prometheus `/metrics`; absent: not served. */
        port: z.number().int().min(0).max(65535).optional(),
      })
      .strict()
      .default({ host: "127.0.0.1" }),
    log: z
      .object({ level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info") })
      .strict()
      .default({ level: "info" }),
  })
  .strict();

export type PersistenceConfig = z.infer<typeof configSchema>;
/** What a caller may write: every field optional, defaults filled in by `persistenceConfig`. */
export type PersistenceConfigInput = z.input<typeof configSchema>;

export class PersistenceConfigError extends Error {
  override readonly name = "PersistenceConfigError";
  constructor(
    readonly source: string,
    readonly issues: ReadonlyArray<{ field: string; reason: string }>,
  ) {
    super(`invalid configuration ${source}:\n${issues.map((i) => `  ${i.field}: ${i.reason}`).join("\n")}`);
  }
}

/** Environment variables that override one field of the file (an empty value counts as unset). */
export const ENV_OVERRIDES: ReadonlyArray<{ name: string; path: string[]; number?: boolean }> = [
  { name: "DATABASE_URL", path: ["database", "url"] },
  { name: "NATS_URL", path: ["nats", "url"] },
  { name: "FIXMESH_GRPC_HOST", path: ["grpc", "host"] },
  { name: "FIXMESH_GRPC_PORT", path: ["grpc", "port"], number: true },
  { name: "FIXMESH_METRICS_PORT", path: ["metrics", "port"], number: true },
  { name: "FIXMESH_LOG_LEVEL", path: ["log", "level"] },
];

function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return (
    path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`)).join("") || "(root)"
  );
}

/** Where relative paths of a configuration resolve, and the environment `…Env` keys are read from. */
export interface ConfigContext {
  /** Relative paths (certificates, policy, secrets) resolve against this (the file's folder). Default: cwd. */
  baseDir?: string;
  env?: Readonly<Record<string, string | undefined>>;
}

const LINK_TLS_FILES = ["caFile", "certFile", "keyFile", "passphraseFile"];
const NATS_FILES = ["passwordFile", "tokenFile", "nkeySeedFile", "credsFile"];

/** Makes the named path fields of a section absolute (in place), so a checked config can be checked again. */
function absolute(section: Record<string, unknown> | undefined, keys: readonly string[], baseDir: string): void {
  if (section === undefined) return;
  for (const k of keys) if (typeof section[k] === "string") section[k] = resolve(baseDir, section[k] as string);
}

/** The fields of the database section that are the PostgreSQL link (`postgresLinkSchema`). */
export function postgresLinkInput(d: Extract<PersistenceConfig["database"], { engine: "postgres" }>) {
  const { url, host, port, database, user, passwordFile, passwordEnv, tls } = d;
  return { url, host, port, database, user, passwordFile, passwordEnv, tls };
}

/** The PostgreSQL link of a checked configuration: secrets read from their file or variable (`Secret`s). */
export function resolveDatabaseLink(
  d: Extract<PersistenceConfig["database"], { engine: "postgres" }>,
  env: Readonly<Record<string, string | undefined>> = process.env,
): PostgresLink {
  return resolvePostgresLink(postgresLinkInput(d), "database", { env, baseDir: process.cwd() });
}

/** The NATS link of a checked configuration. */
export function resolveNatsLinkOf(
  c: PersistenceConfig,
  env: Readonly<Record<string, string | undefined>> = process.env,
): NatsLink {
  return resolveNatsLink(c.nats, "nats", { env, baseDir: process.cwd() });
}

/** The resolved security of the AuditService listener (`createGrpcSecurity`'s input). */
export function grpcSecurityOf(c: PersistenceConfig): GrpcSecurityConfig {
  const { host, port: _p, enabled: _e, ...raw } = c.grpc;
  return resolveGrpcSecurity(raw, { host, baseDir: process.cwd(), at: ["grpc"], issue: () => {}, checkFiles: false });
}

/**
 * Checks a configuration object (defaults filled in). Throws `PersistenceConfigError` naming every bad field.
 * Paths of the gRPC security, PostgreSQL and NATS sections are made absolute (against `ctx.baseDir`), their
 * files and secrets read once to report a bad one now, and the plaintext-only-on-loopback rule checked.
 */
export function persistenceConfig(input: unknown, source = "<inline>", ctx: ConfigContext = {}): PersistenceConfig {
  const r = configSchema.safeParse(input ?? {});
  if (!r.success) {
    throw new PersistenceConfigError(
      source,
      r.error.issues.map((i) => {
        const keys = i.code === "unrecognized_keys" ? (i as { keys: string[] }).keys : [];
        return {
          field: fieldPath(i.path),
          reason: keys.includes("allowInsecure")
            ? "allowInsecure is not a setting any more: plaintext is allowed only on a loopback host; elsewhere give grpc.tls (certFile, keyFile, caFile) and grpc.auth.policyFile (docs/security.md)"
            : i.code === "unrecognized_keys"
              ? `unknown field(s) ${keys.join(", ")}`
              : i.code === "invalid_type" && (i as { input?: unknown }).input === undefined
                ? "is required"
                : i.message,
        };
      }),
    );
  }
  const c = r.data;
  const baseDir = ctx.baseDir ?? process.cwd();
  const env = ctx.env ?? process.env;
  const issues: Array<{ field: string; reason: string }> = [];
  const secretCtx: SecretContext = { env, baseDir };
  const infra = (fn: () => void) => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof InfraConfigError)) throw e;
      issues.push({ field: e.field, reason: e.reason });
    }
  };
  if (c.database.engine === "postgres") {
    const d = c.database;
    absolute(d, ["passwordFile"], baseDir);
    absolute(d.tls, LINK_TLS_FILES, baseDir);
    infra(() => resolvePostgresLink(postgresLinkInput(d), "database", secretCtx));
  }
  absolute(c.nats, NATS_FILES, baseDir);
  absolute(c.nats.tls, LINK_TLS_FILES, baseDir);
  infra(() => resolveNatsLink(c.nats, "nats", secretCtx));
  if (c.grpc.enabled) {
    const g = c.grpc;
    absolute(g.tls, ["certFile", "keyFile", "caFile"], baseDir);
    absolute(g.auth, ["policyFile"], baseDir);
    absolute(g.auth?.jwt, ["jwksFile"], baseDir);
    const { host, port: _p, enabled: _e, ...raw } = g;
    resolveGrpcSecurity(raw, {
      host,
      baseDir,
      at: ["grpc"],
      issue: (path, reason) => issues.push({ field: fieldPath(path), reason }),
    });
  }
  if (issues.length > 0) throw new PersistenceConfigError(source, issues);
  return c;
}

/** Reads the YAML file, applies the environment overrides, checks it. Relative `dataDir` is from the file. */
export function loadConfig(
  file: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): PersistenceConfig {
  const path = resolve(file);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, "utf8")) ?? {};
  } catch (e) {
    throw new PersistenceConfigError(file, [{ field: "--config", reason: (e as Error).message }]);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new PersistenceConfigError(file, [{ field: "(root)", reason: "must be a mapping" }]);
  }
  const obj = raw as Record<string, unknown>;
  for (const o of ENV_OVERRIDES) {
    const v = env[o.name];
    if (v === undefined || v === "") continue;
    let node = obj;
    for (const key of o.path.slice(0, -1)) {
      if (node[key] === undefined || node[key] === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[o.path[o.path.length - 1]] = o.number && /^\d+$/.test(v) ? Number(v) : v;
  }
  const db = obj.database as Record<string, unknown> | undefined;
  // A database section made only by DATABASE_URL is a PostgreSQL one.
  if (db && db.engine === undefined && typeof db.url === "string" && Object.keys(db).length === 1)
    db.engine = "postgres";
  // DATABASE_URL only concerns PostgreSQL: with the embedded engine it is not a field of the file.
  if (db && db.engine === "pglite" && env.DATABASE_URL) delete db.url;
  if (db && typeof db.dataDir === "string") db.dataDir = resolve(dirname(path), db.dataDir);
  return persistenceConfig(obj, file, { baseDir: dirname(path), env });
}
