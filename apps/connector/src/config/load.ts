/**
 * Reading the configuration: the YAML file, then the environment overrides, then the flags, all through the one
 * schema (schema.ts). Every mistake is reported at once, each with its field path and the reason.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ConfigError } from "@fixmesh/session";
import { parse as parseYaml, YAMLError } from "yaml";
import { type ConnectorConfig, connectorSchema, fieldOf, show } from "./schema.js";
import { describeFileError } from "./secret.js";

type Path = Array<string | number>;

/** An environment variable that overrides one field of the file. */
export interface EnvOverride {
  name: string;
  path: Path;
  /** A path value: relative to the working directory, not to the config file. */
  isPath?: boolean;
}

/**
 * The environment variables the connector reads, and the field each one sets. An empty value counts as unset.
 * The flags come last: `--port` sets `acceptors[0].port`.
 */
export const ENV_OVERRIDES: readonly EnvOverride[] = [
  { name: "FIXMESH_CONNECTOR_ID", path: ["connector", "id"] },
  { name: "FIXMESH_DATA_DIR", path: ["connector", "dataDir"], isPath: true },
  { name: "FIXMESH_STORE_KIND", path: ["store", "kind"] },
  { name: "FIXMESH_STORE_FSYNC", path: ["store", "fsync"] },
  { name: "REDIS_URL", path: ["store", "redis", "url"] },
  { name: "FIXMESH_ACCEPTOR_PORT", path: ["acceptors", 0, "port"] },
  { name: "FIXMESH_GRPC_HOST", path: ["grpc", "host"] },
  { name: "FIXMESH_GRPC_PORT", path: ["grpc", "port"] },
  { name: "FIXMESH_METRICS_HOST", path: ["metrics", "host"] },
  { name: "FIXMESH_METRICS_PORT", path: ["metrics", "port"] },
  { name: "NATS_URL", path: ["nats", "url"] },
  { name: "FIXMESH_LOG_LEVEL", path: ["log", "level"] },
  { name: "FIXMESH_ELECTION_KIND", path: ["election", "kind"] },
  { name: "FIXMESH_ELECTION_IDENTITY", path: ["election", "identity"] },
  { name: "FIXMESH_LEASE_NAMESPACE", path: ["election", "lease", "namespace"] },
  { name: "FIXMESH_LEASE_NAME", path: ["election", "lease", "name"] },
];

export interface LoadOptions {
  /** Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** What relative paths from the environment and flags resolve against; default `process.cwd()`. */
  cwd?: string;
  /** `--port`: the first acceptor's port (0 picks a free one). */
  port?: string | number;
}

/** The configuration is invalid: every problem found, each a `ConfigError` with its field path. */
export class ConnectorConfigError extends Error {
  override readonly name = "ConnectorConfigError";
  constructor(
    readonly source: string,
    readonly issues: readonly ConfigError[],
  ) {
    super(`invalid configuration ${source}:\n${issues.map((i) => `  ${i.field}: ${i.reason}`).join("\n")}`);
  }
}

/** Reads, overrides and checks the configuration file. Throws `ConnectorConfigError`. */
export function loadConfig(file: string, opts: LoadOptions = {}): ConnectorConfig {
  const path = resolve(opts.cwd ?? process.cwd(), file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConnectorConfigError(file, [new ConfigError("--config", describeFileError(path, e))]);
  }
  return parseConfig(text, { ...opts, source: file, baseDir: dirname(path) });
}

/** As `loadConfig`, from the file's text; relative paths in it resolve against `baseDir` (default `cwd`). */
export function parseConfig(
  text: string,
  opts: LoadOptions & { source?: string; baseDir?: string } = {},
): ConnectorConfig {
  const source = opts.source ?? "<inline>";
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true }) ?? {};
  } catch (e) {
    if (!(e instanceof YAMLError)) throw e;
    throw new ConnectorConfigError(source, [new ConfigError("(yaml)", e.message.replace(/\s+$/, ""))]);
  }

  const origins = new Map<string, string>();
  const early: ConfigError[] = [];
  if (isMapping(raw)) {
    for (const o of ENV_OVERRIDES) {
      const v = env[o.name];
      if (v === undefined || v === "") continue;
      override(raw, o.path, o.isPath ? resolve(cwd, v) : v, o.name, origins, early);
    }
    if (opts.port !== undefined) {
      const acceptors = raw.acceptors;
      if (Array.isArray(acceptors) && acceptors.length > 0) {
        override(raw, ["acceptors", 0, "port"], String(opts.port), "--port", origins, early);
      } else {
        // Refused rather than ignored: whoever passes --port expects a listener, and an initiator opens none.
        early.push(
          new ConfigError(
            "--port",
            "sets the port of the first acceptor (acceptors[0]), and this configuration has no acceptors: its " +
              "sessions are initiators, which connect out and listen on nothing. Remove --port, or add an acceptor",
          ),
        );
      }
    }
  }

  const schema = connectorSchema({ env, baseDir: opts.baseDir ?? cwd, cwd, origins });
  const r = schema.safeParse(raw, { error: describeIssue });
  const issues = [
    ...early,
    ...(r.success ? [] : r.error.issues).map((iss) => {
      const field = fieldOf(iss.path) || "(top level)";
      const origin = origins.get(field);
      return new ConfigError(field, origin === undefined ? iss.message : `${iss.message} (set by ${origin})`);
    }),
  ];
  if (!r.success || issues.length > 0) throw new ConnectorConfigError(source, issues);
  return { ...r.data, source };
}

/** Sets one field of the parsed file, creating the mappings on the way; an acceptor must already exist. */
function override(
  root: Record<string, unknown>,
  path: Path,
  value: string,
  origin: string,
  origins: Map<string, string>,
  early: ConfigError[],
): void {
  let node: unknown = root;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i];
    const container = node as Record<string | number, unknown>;
    if (typeof path[i + 1] === "number") {
      const list = container[key];
      if (!Array.isArray(list) || list.length <= (path[i + 1] as number)) {
        early.push(new ConfigError(fieldOf(path), `${origin} needs an entry in ${fieldOf(path.slice(0, i + 1))}`));
        return;
      }
      node = list;
      continue;
    }
    if (container[key] === undefined || container[key] === null) container[key] = {};
    node = container[key];
    // Not a mapping: the schema reports the field itself.
    if (!isMapping(node) && !Array.isArray(node)) return;
  }
  (node as Record<string | number, unknown>)[path[path.length - 1]] = value;
  origins.set(fieldOf(path), origin);
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const TYPE_NAMES: Record<string, string> = {
  object: "a mapping",
  array: "a list",
  string: "text",
  number: "a number",
  int: "a whole number",
  boolean: "Y or N (or true/false)",
};

/** Zod's messages, in the connector's words; schemas with their own message keep it. */
function describeIssue(iss: {
  code?: string;
  input?: unknown;
  expected?: string;
  values?: readonly unknown[];
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
}): string | undefined {
  switch (iss.code) {
    case "invalid_type":
      if (iss.input === undefined) return "is required";
      return `must be ${TYPE_NAMES[iss.expected ?? ""] ?? iss.expected}, got ${show(iss.input)}`;
    case "invalid_value":
      return `must be one of ${(iss.values ?? []).map(String).join(", ")}, got ${show(iss.input)}`;
    case "too_small":
      if (iss.origin === "string") return "must not be empty";
      if (iss.origin === "array") return `must list at least ${iss.minimum}`;
      return `must be at least ${iss.minimum}, got ${show(iss.input)}`;
    case "too_big":
      if (iss.origin === "array") return `must list at most ${iss.maximum}`;
      return `must be at most ${iss.maximum}, got ${show(iss.input)}`;
    default:
      return undefined;
  }
}
