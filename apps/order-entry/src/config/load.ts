/**
 * Reading the configuration: the YAML file, then environment overrides, through the one schema. Every mistake is
 * reported at once, each with its field path.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import {
  InfraConfigError,
  natsLinkOf,
  resolveGrpcSecurity,
  resolveNatsLink,
  resolveRedisLink,
} from "@fixmesh/security";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { type ClientTlsConfig, type OrderEntryConfig, orderEntrySchema } from "./schema.js";

export class OrderEntryConfigError extends Error {
  override readonly name = "OrderEntryConfigError";
  constructor(
    readonly source: string,
    readonly issues: ReadonlyArray<{ field: string; reason: string }>,
  ) {
    super(`${source}: invalid configuration\n${issues.map((i) => `  ${i.field}: ${i.reason}`).join("\n")}`);
  }
  /** The first wrong field. */
  get field(): string {
    return this.issues[0]?.field ?? "";
  }
}

/** Environment variables that override one field each (an empty value counts as unset). */
export const ENV_OVERRIDES: ReadonlyArray<{ name: string; path: string[] }> = [
  { name: "FIXMESH_ORDER_ENTRY_ID", path: ["orderEntry", "id"] },
  { name: "FIXMESH_GRPC_HOST", path: ["grpc", "host"] },
  { name: "FIXMESH_GRPC_PORT", path: ["grpc", "port"] },
  { name: "FIXMESH_RISK_ADDRESS", path: ["risk", "address"] },
  { name: "REDIS_URL", path: ["store", "redis", "url"] },
  { name: "NATS_URL", path: ["nats", "url"] },
  { name: "FIXMESH_LOG_LEVEL", path: ["log", "level"] },
];

function fieldOf(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? String(p) : `.${String(p)}`;
  return out;
}

function setPath(obj: Record<string, unknown>, path: string[], value: string): void {
  let cur = obj;
  for (const p of path.slice(0, -1)) {
    if (typeof cur[p] !== "object" || cur[p] === null) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[path[path.length - 1] as string] = value;
}

export function parseOrderEntryConfig(
  input: unknown,
  opts: {
    source?: string;
    env?: Readonly<Record<string, string | undefined>>;
    /** Relative paths in the file (certificates, policy, secrets) resolve against this (the file's directory). */
    baseDir?: string;
  } = {},
): OrderEntryConfig {
  const raw = (typeof input === "object" && input !== null ? structuredClone(input) : {}) as Record<string, unknown>;
  for (const o of ENV_OVERRIDES) {
    const v = opts.env?.[o.name];
    if (v === undefined || v === "") continue;
    // REDIS_URL only applies to a redis store; NATS_URL creates the nats section.
    if (o.name === "REDIS_URL" && (raw.store as { kind?: string } | undefined)?.kind !== "redis") continue;
    setPath(raw, o.path, v);
  }
  const source = opts.source ?? "config";
  const r = orderEntrySchema.safeParse(raw);
  if (!r.success) {
    throw new OrderEntryConfigError(
      source,
      (r.error as z.ZodError).issues.map((i) => ({ field: fieldOf(i.path) || "(root)", reason: i.message })),
    );
  }
  const baseDir = opts.baseDir ?? process.cwd();
  const issues: Array<{ field: string; reason: string }> = [];
  const { host, port, ...sec } = r.data.grpc;
  // Plaintext only on loopback, TLS only with a policy; the certificate and policy files are read here too.
  const security = resolveGrpcSecurity(sec, {
    host,
    baseDir,
    at: ["grpc"],
    issue: (path, reason) => issues.push({ field: fieldOf(path), reason }),
  });
  const clientTls = (t: ClientTlsConfig | undefined, at: string): ClientTlsConfig | undefined => {
    if (t === undefined) return undefined;
    if ((t.certFile === undefined) !== (t.keyFile === undefined)) {
      issues.push({
        field: `${at}.${t.certFile === undefined ? "certFile" : "keyFile"}`,
        reason: "certFile and keyFile go together",
      });
    }
    return {
      caFile: resolve(baseDir, t.caFile),
      ...(t.certFile !== undefined && { certFile: resolve(baseDir, t.certFile) }),
      ...(t.keyFile !== undefined && { keyFile: resolve(baseDir, t.keyFile) }),
      ...(t.serverName !== undefined && { serverName: t.serverName }),
    };
  };
  const riskTls = clientTls(r.data.risk.tls, "risk.tls");
  const connectorTls = clientTls(r.data.connector?.tls, "connector.tls");
  // Secrets only from files or the environment; a password in a URL is refused (it would end up in a log).
  const ctx = { env: opts.env ?? {}, baseDir };
  const links: OrderEntryConfig["links"] = {};
  const link = (f: () => void) => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof InfraConfigError)) throw e;
      issues.push({ field: e.field, reason: e.reason });
    }
  };
  if (r.data.store.kind === "redis") {
    const { prefix: _prefix, ...redis } = r.data.store.redis;
    link(() => {
      links.redis = resolveRedisLink(redis, "store.redis", ctx);
    });
  }
  if (r.data.nats) {
    const n = r.data.nats;
    link(() => {
      links.nats = resolveNatsLink(natsLinkOf(n), "nats", ctx);
    });
  }
  if (issues.length > 0) throw new OrderEntryConfigError(source, issues);
  return {
    ...r.data,
    grpc: { host, port, ...security },
    risk: { ...r.data.risk, ...(riskTls && { tls: riskTls }) },
    ...(connectorTls && { connector: { tls: connectorTls } }),
    links,
  };
}

export function loadOrderEntryConfig(
  path: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): OrderEntryConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new OrderEntryConfigError(path, [{ field: "(file)", reason: (err as Error).message }]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new OrderEntryConfigError(path, [{ field: "(yaml)", reason: (err as Error).message }]);
  }
  return parseOrderEntryConfig(doc, { source: path, env, baseDir: dirname(resolve(path)) });
}
