/**
 * The connector's configuration schema: the single source of its defaults and of the messages a user sees
 * when the file is wrong. The YAML file, the environment overrides and the command-line flags all go through
 * it (see load.ts). Session settings keep their QuickFIX/FIXEdge names and are checked by `resolveSettings`
 * of @fixmesh/session, whose errors are reported here under the session's path.
 */
import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import type { ConnectionOptions } from "node:tls";
import { defaultIdentity, JITTER_FACTOR, SERVICE_ACCOUNT_DIR } from "@fixmesh/election";
import { AddressAllowList, AddressListError, type HostPort } from "@fixmesh/engine";
import {
  applVerIdToBeginString,
  type Dictionary,
  DictionaryError,
  loadDictionary,
  loadDictionaryExtension,
  type ValidationOptions,
} from "@fixmesh/fix";
import {
  type GrpcSecurityConfig,
  grpcSecurityFields,
  type ParsedHash,
  PasswordHashError,
  parsePasswordHash,
  resolveGrpcSecurity,
  tlsConnectOptions,
} from "@fixmesh/security";
import {
  ConfigError,
  FsyncPolicy,
  resolveSettings,
  ScheduleConfigError,
  SessionSchedule,
  type SessionSettings,
  sessionIdOf,
  strictObject,
} from "@fixmesh/session";
import { z } from "zod";
import { describeFileError, readSecretFile, Secret } from "./secret.js";

// --- the resolved configuration (what `startConnector` takes) ---------------------------------------------------

export const STORE_KINDS = ["memory", "file", "redis"] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/** The built-in applications a session can run when no gRPC client drives it. */
export const APPLICATIONS = ["none", "acceptance-test"] as const;
export type ApplicationName = (typeof APPLICATIONS)[number];

/** How the replicas of a session choose their leader (see @fixmesh/election). */
export const ELECTION_KINDS = ["none", "redis", "lease"] as const;
export type ElectionKindName = (typeof ELECTION_KINDS)[number];

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** TLS for a listening socket (FIX acceptor, gRPC). PEM text, read from the files the config names. */
export interface ServerTlsConfig {
  cert: string;
  key: Secret;
  ca?: string;
  passphrase?: Secret;
  /** Ask for a client certificate and refuse a connection without one signed by `ca`. */
  requireClientCert: boolean;
}

/** TLS for an outgoing connection (FIX initiator, Redis, NATS). The peer's certificate and host name are always verified. */
/** The node:tls options of a client TLS configuration (FIX initiator, Redis, NATS, Lease API). */
export function clientTlsOptions(t: ClientTlsConfig): ConnectionOptions {
  // One mapping for every outgoing link (@fixmesh/security): chain and host name verified, optional key pins.
  return tlsConnectOptions(t);
}

export interface ClientTlsConfig {
  ca?: string;
  cert?: string;
  key?: Secret;
  passphrase?: Secret;
  /** The name to verify the peer's certificate against, when it is not the host connected to. */
  servername?: string;
  /** Accept only a peer whose public key hashes to one of these (base64 SHA-256 of the SubjectPublicKeyInfo). */
  pinSha256?: string[];
}

export interface AcceptorConfig {
  name?: string;
  host: string;
  /** 0 picks a free port (reported at start). */
  port: number;
  tls?: ServerTlsConfig;
  /** Seconds a new connection has to send its Logon. */
  logonTimeout: number;
  /** Source addresses allowed to connect (checked at accept); undefined: any. */
  allowFrom?: AddressAllowList;
  /** At most this many open connections from one source address. */
  maxConnectionsPerAddress?: number;
}

/** How an acceptor session checks its counterparty's Logon (`sessions[i].auth`). */
export interface LogonAuthConfig {
  /** The Username (UsernameTag, 553) the Logon must carry; undefined: not checked. */
  username?: string;
  /** The scrypt hash the Logon's Password (PasswordTag, 554) must match; undefined: no password asked. */
  passwordHash?: ParsedHash;
  /** Addresses this session may log on from (on top of the acceptor's `allowFrom`). */
  allowFrom?: AddressAllowList;
  /** A client certificate (chained to the port's caFile) whose CN or URI/DNS SAN is this must be presented. */
  certificateSubject?: string;
}

export interface InitiatorConfig {
  /** The primary host first, then the backups, tried in turn. */
  hosts: HostPort[];
  tls?: ClientTlsConfig;
  connectTimeoutMs: number;
}

export interface SessionConfig {
  /** `FIX.4.4:SENDER->TARGET`, the key of the session registry. */
  id: string;
  /** Where the session is in the file (`sessions[2]`), for messages. */
  field: string;
  /** Resolved settings, defaults filled in. `Password` is never here: see `password`. */
  settings: SessionSettings;
  /** The FIX Password(554) this side sends in its Logon. */
  password?: Secret;
  application: ApplicationName;
  /** The session's dictionary (with the extension applied); used by the validator and the applications. */
  dictionary: Dictionary;
  /** UseDataDictionary: validate inbound messages against `dictionary`. */
  useDataDictionary: boolean;
  validation: ValidationOptions;
  /** Initiator sessions: where to connect. */
  initiator?: InitiatorConfig;
  /** Acceptor sessions: the index in `acceptors` of the port that serves the session. */
  acceptor?: number;
  /** Acceptor sessions: the Logon check. */
  auth?: LogonAuthConfig;
  /**
   * AcceptorTemplate: Y — a template, not a session: its SenderCompID and/or TargetCompID may be `*` (any), and
   * a Logon matching it on its acceptor port creates a session with the Logon's CompIDs and these settings.
   */
  template?: true;
}

/** A template's CompID that matches any (AcceptorTemplate). */
export const COMP_ID_WILDCARD = "*";

export interface RedisConfig {
  /** Without credentials: a password found in REDIS_URL is moved to `password`. */
  url: string;
  username?: string;
  password?: Secret;
  /** Key prefix: keys are `<prefix>:{<session>}:…`. */
  prefix: string;
  tls?: ClientTlsConfig;
}

export interface StoreConfig {
  kind: StoreKind;
  /** File store: when to fdatasync. */
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  /** Keep at most this many outbound messages for resends (older ones are trimmed); undefined keeps all. */
  retainMessages?: number;
  redis: RedisConfig;
}

export interface NatsConfig {
  /** Undefined: no NATS (events stay in-process). */
  url?: string;
  stream: string;
  subjectPrefix: string;
  user?: string;
  password?: Secret;
  /** Other ways to authenticate (one of them, or user/password): a token, a user nkey seed, a creds file. */
  token?: Secret;
  nkeySeed?: Secret;
  creds?: Secret;
  tls?: ClientTlsConfig;
}

/** The Kubernetes Lease each session's replicas contend for. */
export interface LeaseElectionConfig {
  namespace: string;
  /** One Lease name, only for a connector with one session; else each session's is `leaseNameOf(session)`. */
  name?: string;
  /** `https://…` (in a pod: from KUBERNETES_SERVICE_HOST/PORT). */
  apiServer: string;
  /** The bearer token's file, re-read as it rotates (in a pod: the service account's). */
  tokenFile?: string;
  /** PEM CA bundle of the API server (in a pod: the service account's `ca.crt`). */
  ca?: string;
}

/** The Redis the lock lives in: the store's unless `election.redis.url` names another. */
export interface RedisElectionConfig {
  url: string;
  username?: string;
  password?: Secret;
  tls?: ClientTlsConfig;
  /** One lock key, only for a connector with one session; else each session's is `<prefix>:{<session>}:leader`. */
  key?: string;
  /** The store's key prefix, for the default keys. */
  prefix: string;
}

export interface ElectionConfig {
  kind: ElectionKindName;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** This replica's name in the lock (default `<host name>-<pid>`: the pod's name on Kubernetes). */
  identity: string;
  /** `kind: lease`. */
  lease?: LeaseElectionConfig;
  /** `kind: redis`. */
  redis?: RedisElectionConfig;
}

export interface ListenConfig {
  host: string;
  port: number;
}

export interface ConnectorConfig {
  /** The file it was read from (or `<inline>`). */
  source: string;
  connector: { id: string; dataDir: string };
  store: StoreConfig;
  acceptors: AcceptorConfig[];
  sessions: SessionConfig[];
  /** gRPC: where it listens, and its security (TLS files, policy, JWT, limits: see @fixmesh/security). */
  grpc: ListenConfig & GrpcSecurityConfig;
  metrics: ListenConfig;
  nats: NatsConfig;
  election: ElectionConfig;
  log: { level: LogLevel };
  /** Every secret the configuration resolved: the logger masks each of them wherever it appears. */
  secrets: Secret[];
}

// --- defaults that apply after `defaults:` and a session are merged -------------------------------------------

/** Defaults of the connector's own per-session keys (the FIX settings' defaults are `DEFAULT_SETTINGS`). */
export const SESSION_DEFAULTS = {
  UseDataDictionary: true,
  application: "none" as ApplicationName,
  validateGroupFields: false,
  connectTimeout: 5,
};

export const DEFAULT_DATA_DIR = ".fixmesh/connector";

// --- building blocks --------------------------------------------------------------------------------------------

/** Where the parse happens: the environment (for `…Env` secrets), and what relative paths resolve against. */
export interface SchemaContext {
  env: Readonly<Record<string, string | undefined>>;
  /** Relative paths written in the file resolve against this (the file's directory). */
  baseDir: string;
  /** Relative defaults resolve against this (the working directory). */
  cwd: string;
  /** Fields set by an environment variable or a flag (`store.redis.url` → `REDIS_URL`), by field path. */
  origins: ReadonlyMap<string, string>;
}

type Path = Array<string | number>;

const NUMERIC = /^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$/;
/** Environment variables and flags are text: "30" is the number 30 wherever a number is expected. */
const toNumber = (v: unknown): unknown => (typeof v === "string" && NUMERIC.test(v) ? Number(v) : v);
const TRUE = new Set(["y", "yes", "true"]);
const FALSE = new Set(["n", "no", "false"]);
/** QuickFIX files say Y/N; YAML says true/false. Both are accepted. */
const toBool = (v: unknown): unknown => {
  if (typeof v !== "string") return v;
  const l = v.trim().toLowerCase();
  return TRUE.has(l) ? true : FALSE.has(l) ? false : v;
};

/** A reason, with the value that was given when there was one. */
function got(reason: string): (iss: { input?: unknown }) => string {
  return (iss) => (iss.input === undefined ? "is required" : `${reason}, got ${show(iss.input)}`);
}

export function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return String(v);
}

const text = z.string({ error: got("must be text") }).min(1, { error: "must not be empty" });
const num = z.preprocess(toNumber, z.number({ error: got("must be a number") }));
const flag = z.preprocess(toBool, z.boolean({ error: got("must be Y or N (or true/false)") }));

function whole(min: number, max?: number, note = "") {
  const reason =
    max === undefined
      ? `must be a whole number of at least ${min}${note}`
      : `must be a whole number from ${min} to ${max}${note}`;
  const e = { error: got(reason) };
  const n = z.number(e).int(e).min(min, e);
  return z.preprocess(toNumber, max === undefined ? n : n.max(max, e));
}

function atLeast(min: number, inclusive: boolean) {
  const reason = inclusive ? `must be ${min} or more` : `must be more than ${min}`;
  const e = { error: got(reason) };
  return z.preprocess(toNumber, inclusive ? z.number(e).min(min, e) : z.number(e).gt(min, e));
}

const port = whole(0, 65535, " (0 picks a free port)");
const envName = z
  .string({ error: got("must be the name of an environment variable") })
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: got("must be the name of an environment variable") });
/** `Weekdays: Mon,Tue` (QuickFIX style) or a YAML list. */
const days = z.preprocess(
  (v) => (typeof v === "string" ? v.split(",").map((d) => d.trim()) : v),
  z.array(text, { error: got("must be a list of days (Mon,Tue,… or a YAML list)") }),
);

/** A key that must not be there, with the reason (a literal secret). */
function refuse(reason: string) {
  return z
    .unknown()
    .superRefine((v, ctx) => {
      if (v !== undefined) ctx.addIssue({ code: "custom", message: reason });
    })
    .optional();
}

const strict = <T extends z.ZodRawShape>(shape: T) => strictObject(shape);

const LITERAL_PASSWORD =
  "a literal password is not allowed in the config file: give PasswordFile (a file holding it, such as a mounted " +
  "Kubernetes Secret) or PasswordEnv (the name of an environment variable holding it)";
const literalSecret = (file: string, env: string) =>
  `a literal secret is not allowed in the config file: give ${file} (a file holding it) or ${env} (an environment variable)`;
const LITERAL_KEY =
  "a literal private key is not allowed in the config file: give keyFile (a file holding it, such as a mounted Kubernetes Secret)";

const tlsRefusals = {
  key: refuse(LITERAL_KEY),
  passphrase: refuse(literalSecret("passphraseFile", "passphraseEnv")),
};

const serverTlsSchema = strict({
  certFile: text,
  keyFile: text,
  caFile: text.optional(),
  passphraseFile: text.optional(),
  passphraseEnv: envName.optional(),
  requireClientCert: flag.default(false),
  ...tlsRefusals,
});

const PIN = /^[A-Za-z0-9+/]{43}=$/;

const clientTlsSchema = strict({
  caFile: text.optional(),
  certFile: text.optional(),
  keyFile: text.optional(),
  passphraseFile: text.optional(),
  passphraseEnv: envName.optional(),
  servername: text.optional(),
  /** Public-key pins: base64 SHA-256 of the peer's SubjectPublicKeyInfo (`fixmesh cert-pin FILE`). */
  pinSha256: z
    .array(
      z.string({ error: got("must be text") }).regex(PIN, {
        error: got("must be a base64 SHA-256 of a public key (44 characters ending in =, see fixmesh cert-pin)"),
      }),
      { error: got("must be a list of pins") },
    )
    .min(1, { error: "must list at least one pin (or leave pinSha256 out)" })
    .optional(),
  ...tlsRefusals,
});

type ServerTlsInput = z.output<typeof serverTlsSchema>;
type ClientTlsInput = z.output<typeof clientTlsSchema>;

/** The FIX session settings, by the names QuickFIX and FIXEdge use; checked further by `resolveSettings`. */
const FIX_SETTINGS = {
  BeginString: text,
  SenderCompID: text,
  TargetCompID: text,
  ConnectionType: z.enum(["initiator", "acceptor"]),
  DefaultApplVerID: text,
  HeartBtInt: num,
  TestRequestThreshold: num,
  HeartbeatTimeoutThreshold: num,
  StartTime: text,
  EndTime: text,
  StartDay: text,
  EndDay: text,
  Weekdays: days,
  TimeZone: text,
  NonStopSession: flag,
  ResetOnLogon: flag,
  ResetOnLogout: flag,
  ResetOnDisconnect: flag,
  ForceSeqNumReset: num,
  IntradayLogoutTolerance: flag,
  ResendRequestChunkSize: num,
  IgnoreDuplicateResendRequests: flag,
  ResendServeChunkSize: num,
  ValidateUserDefinedFields: flag,
  ValidateFieldsOutOfOrder: flag,
  ValidateFieldsHaveValues: flag,
  AllowUnknownMsgFields: flag,
  CheckCompID: flag,
  CheckLatency: flag,
  MaxLatency: num,
  UsernameTag: whole(1),
  PasswordTag: whole(1),
  Username: text,
  ReconnectInterval: num,
  ReconnectMaxInterval: atLeast(0, false),
  ReconnectMaxTries: num,
  LogonTimeout: num,
  LogoutTimeout: num,
  SendNextExpectedMsgSeqNum: flag,
  InSeqNum: num,
  OutSeqNum: num,
  TimestampPrecision: num,
  DegradedBacklog: whole(1),
  DegradedRecoverySeconds: atLeast(0, true),
  ResendLoopLimit: whole(1),
} satisfies Record<Exclude<keyof SessionSettings, "Password">, z.ZodType>;

type FixSettingKey = keyof typeof FIX_SETTINGS;
const FIX_SETTING_KEYS = Object.keys(FIX_SETTINGS) as FixSettingKey[];

const hostPortSchema = strict({ host: text, port: whole(1, 65535) });

/** The connector's own per-session keys, next to the FIX settings. */
const SESSION_KEYS = {
  Password: refuse(LITERAL_PASSWORD),
  PasswordFile: text,
  PasswordEnv: envName,
  /** QuickFIX's name: validate inbound messages against the dictionary. */
  UseDataDictionary: flag,
  dictionary: strict({ extension: text.optional(), validateGroupFields: flag.optional() }),
  initiator: strict({
    hosts: z.array(hostPortSchema, { error: got("must be a list of {host, port}") }).min(1, {
      error: "must list at least one host",
    }),
    tls: clientTlsSchema.optional(),
    connectTimeout: atLeast(0, false).optional(),
  }),
  acceptor: z.union([whole(0), text], { error: got("must be the name or the index of an entry of acceptors") }),
  application: z.enum(APPLICATIONS),
  /**
   * QuickFIX's AcceptorTemplate: not a session but the template of sessions created when a Logon arrives whose
   * CompIDs match it (`*` in SenderCompID or TargetCompID matches any).
   */
  AcceptorTemplate: flag,
  /** Acceptor sessions: how the counterparty's Logon is checked. */
  auth: strict({
    username: text.optional(),
    passwordHash: text.optional(),
    passwordHashFile: text.optional(),
    passwordHashEnv: envName.optional(),
    allowFrom: z.array(text, { error: got("must be a list of addresses or CIDRs") }).optional(),
    certificateSubject: text.optional(),
    password: refuse(
      "a password is not kept in the config: give passwordHash (or passwordHashFile/passwordHashEnv), made by `fixmesh hash-password`",
    ),
  }),
};

function allOptional<T extends Record<string, z.ZodType>>(shape: T): { [K in keyof T]: z.ZodOptional<T[K]> } {
  const out: Record<string, z.ZodType> = {};
  for (const [k, v] of Object.entries(shape)) out[k] = v.optional();
  return out as { [K in keyof T]: z.ZodOptional<T[K]> };
}

const sessionSchema = strict(allOptional({ ...FIX_SETTINGS, ...SESSION_KEYS }));
type SessionInput = z.output<typeof sessionSchema>;

const acceptorSchema = strict({
  name: text.optional(),
  host: text.default("0.0.0.0"),
  port,
  tls: serverTlsSchema.optional(),
  logonTimeout: atLeast(0, false).default(10),
  /** Source addresses allowed to connect (IPv4/IPv6 CIDRs or addresses); others are closed at accept. */
  allowFrom: z.array(text, { error: got("must be a list of addresses or CIDRs") }).optional(),
  maxConnectionsPerAddress: whole(1).optional(),
});

const redisSchema = strict({
  url: text.default("redis://127.0.0.1:6379"),
  username: text.optional(),
  password: refuse(literalSecret("passwordFile", "passwordEnv")),
  passwordFile: text.optional(),
  passwordEnv: envName.optional(),
  prefix: text.default("fixmesh"),
  tls: clientTlsSchema.optional(),
});

const natsSchema = strict({
  url: text.optional(),
  /** JetStream stream that captures the events (created at start when missing). */
  stream: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only")
    .default("FIX"),
  /** First subject token of every event: `<prefix>.<session>.in|out.<MsgType>`, `<prefix>.<session>.state`. */
  subjectPrefix: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, "one subject token: letters, digits, _ and -")
    .default("fix"),
  user: text.optional(),
  password: refuse(literalSecret("passwordFile", "passwordEnv")),
  passwordFile: text.optional(),
  passwordEnv: envName.optional(),
  token: refuse(literalSecret("tokenFile", "tokenEnv")),
  tokenFile: text.optional(),
  tokenEnv: envName.optional(),
  nkeySeed: refuse(literalSecret("nkeySeedFile", "nkeySeedEnv")),
  nkeySeedFile: text.optional(),
  nkeySeedEnv: envName.optional(),
  /** A `.creds` file (user JWT and nkey seed), as `nsc` writes it. */
  credsFile: text.optional(),
  tls: clientTlsSchema.optional(),
});

const electionSchema = strict({
  kind: z.enum(ELECTION_KINDS).default("none"),
  /** Seconds, as client-go's flags (fractions allowed). */
  leaseDuration: atLeast(0, false).default(3),
  renewDeadline: atLeast(0, false).default(2),
  retryPeriod: atLeast(0, false).default(0.5),
  identity: text.optional(),
  lease: strict({
    namespace: text.optional(),
    name: text.optional(),
    apiServer: text.optional(),
    tokenFile: text.optional(),
    caFile: text.optional(),
  }).optional(),
  redis: strict({ url: text.optional(), key: text.optional() }).optional(),
});

function listenSchema(defaultPort: number) {
  return { host: text.default("127.0.0.1"), port: port.default(defaultPort) };
}

function sanitizedHostname(): string {
  const h = hostname()
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .slice(0, 63);
  return /^[A-Za-z0-9]/.test(h) ? h : "connector";
}

// --- the schema -------------------------------------------------------------------------------------------------

/** The schema of the connector's YAML file; its output is the resolved `ConnectorConfig`. */
export function connectorSchema(ctx: SchemaContext) {
  return strict({
    connector: strict({
      id: z
        .string({ error: got("must be text") })
        .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
          error: got("must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit"),
        })
        .default(sanitizedHostname),
      dataDir: text.optional(),
    }).prefault({}),
    store: strict({
      kind: z.enum(STORE_KINDS).default("file"),
      fsync: z.enum([FsyncPolicy.Always, FsyncPolicy.Interval, FsyncPolicy.Never]).default(FsyncPolicy.Always),
      fsyncIntervalMs: whole(1, 60_000).default(100),
      retention: strict({ messages: whole(1).optional() }).prefault({}),
      redis: redisSchema.prefault({}),
    }).prefault({}),
    acceptors: z.array(acceptorSchema, { error: got("must be a list") }).default([]),
    defaults: sessionSchema.optional(),
    sessions: z.array(sessionSchema, { error: got("must be a list of sessions") }).min(1, {
      error: "must list at least one session",
    }),
    grpc: strict({ ...listenSchema(50051), ...grpcSecurityFields }).prefault({}),
    metrics: strict(listenSchema(9464)).prefault({}),
    nats: natsSchema.prefault({}),
    election: electionSchema.prefault({}),
    log: strict({ level: z.enum(LOG_LEVELS).default("info") }).prefault({}),
  }).transform((raw, zctx): ConnectorConfig => {
    const r = new Resolver(ctx, (path, message) => zctx.addIssue({ code: "custom", path, message }));
    const acceptors = raw.acceptors.map((a, i) => r.acceptor(a, i));
    const names = new Map<string, number>();
    raw.acceptors.forEach((a, i) => {
      if (a.name === undefined) return;
      const j = names.get(a.name);
      if (j !== undefined) r.issue(["acceptors", i, "name"], `"${a.name}" is already the name of acceptors[${j}]`);
      else names.set(a.name, i);
    });
    const sessions: SessionConfig[] = [];
    const ids = new Map<string, number>();
    raw.sessions.forEach((s, i) => {
      const sc = r.session(s, raw.defaults, i, raw.acceptors);
      if (sc === undefined) return;
      const j = ids.get(sc.id);
      if (j !== undefined) r.issue(["sessions", i], `is the same session as sessions[${j}] (${sc.id})`);
      ids.set(sc.id, i);
      sessions.push(sc);
    });
    // Plaintext only on loopback, TLS only with a policy; the certificate and policy files are checked here too.
    const grpcSecurity = resolveGrpcSecurity(raw.grpc, {
      host: raw.grpc.host,
      baseDir: ctx.baseDir,
      at: ["grpc"],
      issue: (path, message) => r.issue(path, message),
    });
    const storeRedis = r.redis(raw.store.redis);
    return {
      source: "",
      connector: {
        id: raw.connector.id,
        dataDir:
          raw.connector.dataDir === undefined ? resolve(ctx.cwd, DEFAULT_DATA_DIR) : r.path(raw.connector.dataDir),
      },
      store: {
        kind: raw.store.kind,
        fsync: raw.store.fsync,
        fsyncIntervalMs: raw.store.fsyncIntervalMs,
        retainMessages: raw.store.retention.messages,
        redis: storeRedis,
      },
      acceptors,
      sessions,
      grpc: { host: raw.grpc.host, port: raw.grpc.port, ...grpcSecurity },
      metrics: { host: raw.metrics.host, port: raw.metrics.port },
      nats: r.nats(raw.nats),
      election: r.election(raw.election, raw.sessions.length, raw.store.kind, storeRedis),
      log: { level: raw.log.level },
      secrets: r.secrets,
    };
  });
}

// --- resolution: files, secrets, session settings ---------------------------------------------------------------

/** The second half of the schema: reads the files the config names and checks what spans several fields. */
class Resolver {
  readonly secrets: Secret[] = [];

  private issues = 0;

  constructor(
    private readonly ctx: SchemaContext,
    private readonly report: (path: Path, message: string) => void,
  ) {}

  issue(path: Path, message: string): void {
    this.issues++;
    this.report(path, message);
  }

  path(p: string): string {
    return resolve(this.ctx.baseDir, p);
  }

  private readText(file: string, at: Path): string | undefined {
    const p = this.path(file);
    try {
      return readFileSync(p, "utf8");
    } catch (e) {
      this.issue(at, describeFileError(p, e));
      return undefined;
    }
  }

  /** A secret from `<file>` or `<env>` (one of them, not both); undefined when neither is given. */
  secret(at: Path, keys: { file: string; env: string }, given: { file?: string; env?: string }): Secret | undefined {
    if (given.file !== undefined && given.env !== undefined) {
      this.issue([...at, keys.env], `give ${keys.file} or ${keys.env}, not both`);
      return undefined;
    }
    let s: Secret | undefined;
    if (given.file !== undefined) {
      const p = this.path(given.file);
      try {
        const v = readSecretFile(p);
        if (v === "") this.issue([...at, keys.file], `${p} is empty`);
        else s = new Secret(v, `file ${p}`);
      } catch (e) {
        this.issue([...at, keys.file], describeFileError(p, e));
      }
    } else if (given.env !== undefined) {
      const v = this.ctx.env[given.env];
      if (v === undefined || v === "") this.issue([...at, keys.env], `environment variable ${given.env} is not set`);
      else s = new Secret(v, `env ${given.env}`);
    }
    return s === undefined ? undefined : this.keep(s);
  }

  keep(s: Secret): Secret {
    this.secrets.push(s);
    return s;
  }

  serverTls(t: ServerTlsInput, at: Path): ServerTlsConfig | undefined {
    const cert = this.readText(t.certFile, [...at, "certFile"]);
    const key = this.secret(at, { file: "keyFile", env: "keyEnv" }, { file: t.keyFile });
    const ca = t.caFile === undefined ? undefined : this.readText(t.caFile, [...at, "caFile"]);
    const passphrase = this.secret(
      at,
      { file: "passphraseFile", env: "passphraseEnv" },
      { file: t.passphraseFile, env: t.passphraseEnv },
    );
    if (t.requireClientCert && t.caFile === undefined) {
      this.issue([...at, "caFile"], "is required with requireClientCert (the CA that signs the client certificates)");
    }
    if (cert === undefined || key === undefined) return undefined;
    return {
      cert,
      key,
      requireClientCert: t.requireClientCert,
      ...(ca !== undefined && { ca }),
      ...(passphrase && { passphrase }),
    };
  }

  clientTls(t: ClientTlsInput, at: Path): ClientTlsConfig {
    if ((t.certFile === undefined) !== (t.keyFile === undefined)) {
      this.issue([...at, t.certFile === undefined ? "certFile" : "keyFile"], "certFile and keyFile go together");
    }
    const out: ClientTlsConfig = {};
    if (t.caFile !== undefined) out.ca = this.readText(t.caFile, [...at, "caFile"]);
    if (t.certFile !== undefined) out.cert = this.readText(t.certFile, [...at, "certFile"]);
    const key = this.secret(at, { file: "keyFile", env: "keyEnv" }, { file: t.keyFile });
    if (key) out.key = key;
    const passphrase = this.secret(
      at,
      { file: "passphraseFile", env: "passphraseEnv" },
      { file: t.passphraseFile, env: t.passphraseEnv },
    );
    if (passphrase) out.passphrase = passphrase;
    if (t.servername !== undefined) out.servername = t.servername;
    if (t.pinSha256 !== undefined) out.pinSha256 = [...t.pinSha256];
    return out;
  }

  acceptor(a: z.output<typeof acceptorSchema>, i: number): AcceptorConfig {
    const tls = a.tls === undefined ? undefined : this.serverTls(a.tls, ["acceptors", i, "tls"]);
    const allowFrom =
      a.allowFrom === undefined ? undefined : this.allowList(a.allowFrom, ["acceptors", i, "allowFrom"]);
    return {
      host: a.host,
      port: a.port,
      logonTimeout: a.logonTimeout,
      ...(a.name !== undefined && { name: a.name }),
      ...(tls && { tls }),
      ...(allowFrom && { allowFrom }),
      ...(a.maxConnectionsPerAddress !== undefined && { maxConnectionsPerAddress: a.maxConnectionsPerAddress }),
    };
  }

  /** An allow-list of CIDRs; a bad entry is reported at its own index. */
  allowList(cidrs: string[], at: Path): AddressAllowList | undefined {
    let ok = true;
    cidrs.forEach((c, i) => {
      try {
        AddressAllowList.parse([c]);
      } catch (e) {
        if (!(e instanceof AddressListError)) throw e;
        this.issue([...at, i], e.reason);
        ok = false;
      }
    });
    return ok ? AddressAllowList.parse(cidrs) : undefined;
  }

  /** An acceptor session's Logon check: the hash read and checked (never shown in a message), the CIDRs parsed. */
  logonAuth(x: NonNullable<SessionInput["auth"]>, at: Path): LogonAuthConfig | undefined {
    const before = this.issues;
    const given = [x.passwordHash, x.passwordHashFile, x.passwordHashEnv].filter((v) => v !== undefined).length;
    if (given > 1) this.issue([...at, "passwordHash"], "give one of passwordHash, passwordHashFile, passwordHashEnv");
    let hashText = x.passwordHash;
    if (x.passwordHash === undefined) {
      const s = this.secret(
        at,
        { file: "passwordHashFile", env: "passwordHashEnv" },
        { file: x.passwordHashFile, env: x.passwordHashEnv },
      );
      hashText = s?.reveal();
    }
    let passwordHash: ParsedHash | undefined;
    if (hashText !== undefined) {
      try {
        passwordHash = parsePasswordHash(hashText);
      } catch (e) {
        if (!(e instanceof PasswordHashError)) throw e;
        const key =
          x.passwordHash !== undefined
            ? "passwordHash"
            : x.passwordHashFile !== undefined
              ? "passwordHashFile"
              : "passwordHashEnv";
        this.issue([...at, key], e.message);
      }
    }
    const allowFrom = x.allowFrom === undefined ? undefined : this.allowList(x.allowFrom, [...at, "allowFrom"]);
    if (this.issues !== before) return undefined;
    return {
      ...(x.username !== undefined && { username: x.username }),
      ...(passwordHash && { passwordHash }),
      ...(allowFrom && { allowFrom }),
      ...(x.certificateSubject !== undefined && { certificateSubject: x.certificateSubject }),
    };
  }

  /**
   * A URL of a server that takes a password (Redis, NATS). Credentials in it are refused when the file wrote
   * them; from the environment (REDIS_URL, NATS_URL) they are taken out of the URL and kept as a secret.
   */
  private serverUrl(
    url: string,
    at: Path,
    protocols: string[],
    keys: { file: string; env: string },
  ): { url: string; user?: string; password?: Secret } | undefined {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      this.issue(at, `must be a URL (${protocols.map((p) => `${p}//…`).join(" or ")}), got ${show(url)}`);
      return undefined;
    }
    if (!protocols.includes(u.protocol)) {
      this.issue(at, `must be a ${protocols.join(" or ")} URL, got ${show(u.protocol)}`);
      return undefined;
    }
    const origin = this.ctx.origins.get(fieldOf(at));
    const out: { url: string; user?: string; password?: Secret } = { url };
    if (u.password !== "") {
      if (origin === undefined) {
        this.issue(
          at,
          `a password in the URL is not allowed in the config file: give ${keys.file} or ${keys.env}, or set the URL in the environment`,
        );
        return undefined;
      }
      out.password = this.keep(new Secret(decodeURIComponent(u.password), `env ${origin}`));
    }
    if (u.username !== "") out.user = decodeURIComponent(u.username);
    u.username = "";
    u.password = "";
    out.url = u.toString().replace(/\/$/, "");
    return out;
  }

  redis(x: z.output<typeof redisSchema>): RedisConfig {
    const at: Path = ["store", "redis"];
    const parsed = this.serverUrl(x.url, [...at, "url"], ["redis:", "rediss:"], {
      file: "passwordFile",
      env: "passwordEnv",
    });
    const password = this.secret(
      at,
      { file: "passwordFile", env: "passwordEnv" },
      { file: x.passwordFile, env: x.passwordEnv },
    );
    const username = x.username ?? parsed?.user;
    const pw = password ?? parsed?.password;
    const tls = x.tls === undefined ? undefined : this.clientTls(x.tls, [...at, "tls"]);
    return {
      url: parsed?.url ?? x.url,
      prefix: x.prefix,
      ...(username !== undefined && { username }),
      ...(pw && { password: pw }),
      ...(tls && { tls }),
    };
  }

  /** The election: timing checked as client-go does, and the backend's place (a Lease, a Redis lock). */
  election(
    x: z.output<typeof electionSchema>,
    sessions: number,
    storeKind: StoreKind,
    storeRedis: RedisConfig,
  ): ElectionConfig {
    const at: Path = ["election"];
    if (x.renewDeadline >= x.leaseDuration) {
      this.issue(
        [...at, "renewDeadline"],
        `must be less than leaseDuration (${x.leaseDuration} s): a leader that cannot renew must step down before its lease can expire for the others`,
      );
    } else if (x.retryPeriod * JITTER_FACTOR >= x.renewDeadline) {
      this.issue(
        [...at, "retryPeriod"],
        `must be less than renewDeadline / ${JITTER_FACTOR} (${+(x.renewDeadline / JITTER_FACTOR).toFixed(3)} s), so a leader gets several tries to renew`,
      );
    }
    const identity = x.identity ?? defaultIdentity();
    if (/\s/.test(identity)) this.issue([...at, "identity"], `must hold no spaces, got ${show(identity)}`);
    const out: ElectionConfig = {
      kind: x.kind,
      leaseDurationMs: x.leaseDuration * 1000,
      renewDeadlineMs: x.renewDeadline * 1000,
      retryPeriodMs: x.retryPeriod * 1000,
      identity,
    };
    if (x.kind === "none") return out;
    if (storeKind !== "redis") {
      this.issue(
        [...at, "kind"],
        `${x.kind} needs store.kind: redis, so that a standby takes over the leader's sequence numbers (store.kind is ${storeKind})`,
      );
    }
    if (x.kind === "redis") {
      const key = x.redis?.key;
      if (key !== undefined && sessions > 1) {
        this.issue(
          [...at, "redis", "key"],
          "names one lock, and this connector has several sessions: leave it out (each session locks <prefix>:{<session>}:leader)",
        );
      }
      const url = x.redis?.url;
      const parsed =
        url === undefined
          ? undefined
          : this.serverUrl(url, [...at, "redis", "url"], ["redis:", "rediss:"], {
              file: "store.redis.passwordFile",
              env: "store.redis.passwordEnv",
            });
      out.redis =
        url === undefined
          ? { ...storeRedis, ...(key !== undefined && { key }) }
          : {
              url: parsed?.url ?? url,
              prefix: storeRedis.prefix,
              ...(parsed?.user !== undefined && { username: parsed.user }),
              ...(parsed?.password && { password: parsed.password }),
              ...(key !== undefined && { key }),
            };
      return out;
    }
    // kind: lease. In a pod, the service account gives the namespace, the API server's address, token and CA.
    const l = x.lease ?? {};
    const lat: Path = [...at, "lease"];
    const sa = (file: string) =>
      existsSync(`${SERVICE_ACCOUNT_DIR}/${file}`) ? `${SERVICE_ACCOUNT_DIR}/${file}` : undefined;
    let namespace = l.namespace;
    if (namespace === undefined) {
      const f = sa("namespace");
      if (f === undefined) this.issue([...lat, "namespace"], "is required outside a Kubernetes pod");
      else namespace = readFileSync(f, "utf8").trim();
    } else if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace) || namespace.length > 63) {
      this.issue(
        [...lat, "namespace"],
        `must be a namespace name (lower case letters, digits, '-'), got ${show(namespace)}`,
      );
    }
    if (l.name !== undefined) {
      if (sessions > 1) {
        this.issue(
          [...lat, "name"],
          "names one Lease, and this connector has several sessions: leave it out (each session gets fixmesh-<session>)",
        );
      } else if (
        !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(l.name) ||
        l.name.length > 253
      ) {
        this.issue(
          [...lat, "name"],
          `must be a Kubernetes object name (lower case letters, digits, '-', '.'), got ${show(l.name)}`,
        );
      }
    }
    let apiServer = l.apiServer;
    if (apiServer === undefined) {
      const host = this.ctx.env.KUBERNETES_SERVICE_HOST;
      const port = this.ctx.env.KUBERNETES_SERVICE_PORT;
      if (host === undefined || host === "" || port === undefined || port === "") {
        this.issue([...lat, "apiServer"], "is required outside a Kubernetes pod (KUBERNETES_SERVICE_HOST is not set)");
      } else {
        apiServer = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
      }
    } else if (!/^https?:\/\/[^/]+/.test(apiServer)) {
      this.issue([...lat, "apiServer"], `must be an https:// URL, got ${show(apiServer)}`);
    }
    const tokenFile = l.tokenFile === undefined ? sa("token") : this.path(l.tokenFile);
    if (l.tokenFile !== undefined && tokenFile !== undefined) this.readText(l.tokenFile, [...lat, "tokenFile"]);
    const caFile = l.caFile ?? (apiServer?.startsWith("https:") ? sa("ca.crt") : undefined);
    const ca = caFile === undefined ? undefined : this.readText(caFile, [...lat, "caFile"]);
    out.lease = {
      namespace: namespace ?? "",
      apiServer: apiServer ?? "",
      ...(l.name !== undefined && { name: l.name }),
      ...(tokenFile !== undefined && { tokenFile }),
      ...(ca !== undefined && { ca }),
    };
    return out;
  }

  nats(x: z.output<typeof natsSchema>): NatsConfig {
    const at: Path = ["nats"];
    const password = this.secret(
      at,
      { file: "passwordFile", env: "passwordEnv" },
      { file: x.passwordFile, env: x.passwordEnv },
    );
    const tls = x.tls === undefined ? undefined : this.clientTls(x.tls, [...at, "tls"]);
    const out: NatsConfig = { stream: x.stream, subjectPrefix: x.subjectPrefix };
    if (x.url !== undefined) {
      // NATS takes a comma-separated list of servers.
      const urls = x.url.split(",").map((u) => u.trim());
      const parsed = urls.map((u) =>
        this.serverUrl(u, [...at, "url"], ["nats:", "tls:", "ws:", "wss:"], {
          file: "passwordFile",
          env: "passwordEnv",
        }),
      );
      out.url = parsed.map((p, i) => p?.url ?? urls[i]).join(",");
      const fromUrl = parsed.find((p) => p?.password !== undefined);
      const user = x.user ?? parsed.find((p) => p?.user !== undefined)?.user;
      if (user !== undefined) out.user = user;
      const pw = password ?? fromUrl?.password;
      if (pw) out.password = pw;
    } else {
      if (x.user !== undefined) out.user = x.user;
      if (password) out.password = password;
    }
    if (tls) out.tls = tls;
    const token = this.secret(at, { file: "tokenFile", env: "tokenEnv" }, { file: x.tokenFile, env: x.tokenEnv });
    const nkeySeed = this.secret(
      at,
      { file: "nkeySeedFile", env: "nkeySeedEnv" },
      { file: x.nkeySeedFile, env: x.nkeySeedEnv },
    );
    const creds = this.secret(at, { file: "credsFile", env: "credsEnv" }, { file: x.credsFile });
    const methods = [
      out.password !== undefined && "user/password",
      token && "tokenFile/tokenEnv",
      nkeySeed && "nkeySeedFile/nkeySeedEnv",
      creds && "credsFile",
    ].filter((m): m is string => typeof m === "string");
    if (methods.length > 1) this.issue(at, `give one way to authenticate, got ${methods.join(" and ")}`);
    if (out.password !== undefined && out.user === undefined)
      this.issue([...at, "user"], "is required with a password");
    if (nkeySeed !== undefined && !/^SU[A-Z2-7]{56}$/.test(nkeySeed.reveal().trim())) {
      this.issue([...at, "nkeySeedFile"], "does not hold a user nkey seed (58 characters starting with SU)");
    }
    if (token) out.token = token;
    if (nkeySeed) out.nkeySeed = nkeySeed;
    if (creds) out.creds = creds;
    return out;
  }

  /** One session: `defaults` merged under it, settings resolved, secrets read, its acceptor found. */
  session(
    own: SessionInput,
    defaults: SessionInput | undefined,
    i: number,
    acceptors: ReadonlyArray<{ name?: string }>,
  ): SessionConfig | undefined {
    const m: SessionInput = { ...stripUndefined(defaults ?? {}), ...stripUndefined(own) };
    /** A key's path: in the session when it set the key, else in `defaults` (which gave it). */
    const at = (key: string): Path =>
      own[key] === undefined && defaults?.[key] !== undefined ? ["defaults", key] : ["sessions", i, key];
    const issue = (key: string, reason: string) => {
      const p = at(key);
      this.issue(p, p[0] === "defaults" ? `${reason} (in sessions[${i}])` : reason);
    };
    const before = this.issues;
    for (const k of ["BeginString", "SenderCompID", "TargetCompID", "ConnectionType"] as const) {
      if (m[k] === undefined) this.issue(["sessions", i, k], "is required");
    }
    if (m.BeginString === undefined || m.SenderCompID === undefined || m.TargetCompID === undefined) return undefined;

    // FIXT sessions: DefaultApplVerID names the application version, as a name (FIX.5.0SP2) or its code (9).
    // The Logon carries the code; the dictionary is loaded by name.
    let applVer: string | undefined;
    if (m.BeginString === "FIXT.1.1") {
      const v = m.DefaultApplVerID;
      const code = v === undefined ? undefined : applVerIdToBeginString(v) !== undefined ? v : applVerIdCode(v);
      if (v === undefined) {
        issue("DefaultApplVerID", "is required for FIXT.1.1 sessions (the application version: FIX.5.0SP2, or 9)");
      } else if (code === undefined) {
        issue(
          "DefaultApplVerID",
          `must be an application version such as FIX.5.0SP2 (or its ApplVerID, 9), got ${show(v)}`,
        );
      } else {
        m.DefaultApplVerID = code;
        applVer = applVerIdToBeginString(code);
      }
    }

    const fix: Record<string, unknown> = {};
    for (const k of FIX_SETTING_KEYS) if (m[k] !== undefined) fix[k] = m[k];
    let settings: SessionSettings;
    try {
      settings = resolveSettings(fix as Parameters<typeof resolveSettings>[0], "@");
      new SessionSchedule({
        startTime: settings.StartTime,
        endTime: settings.EndTime,
        startDay: settings.StartDay,
        endDay: settings.EndDay,
        weekdays: settings.Weekdays,
        timeZone: settings.TimeZone,
        nonStop: settings.NonStopSession,
      });
    } catch (e) {
      if (e instanceof ConfigError) issue(e.field.replace(/^@\./, ""), e.reason);
      else if (e instanceof ScheduleConfigError) issue(SCHEDULE_FIELDS[e.field] ?? e.field, e.reason);
      else throw e;
      return undefined;
    }

    // The session's PasswordFile/PasswordEnv replace both of `defaults`, so a session may switch from one to the other.
    const ownPassword = own.PasswordFile !== undefined || own.PasswordEnv !== undefined;
    const pw = ownPassword ? own : (defaults ?? {});
    const password = this.secret(
      ownPassword || defaults === undefined ? ["sessions", i] : ["defaults"],
      { file: "PasswordFile", env: "PasswordEnv" },
      { file: pw.PasswordFile, env: pw.PasswordEnv },
    );

    let initiator: InitiatorConfig | undefined;
    let acceptor: number | undefined;
    if (settings.ConnectionType === "initiator") {
      if (m.acceptor !== undefined) issue("acceptor", "is only for acceptor sessions (ConnectionType: acceptor)");
      if (m.initiator === undefined) {
        issue("initiator", "is required for an initiator session: the hosts to connect to");
      } else {
        const base = at("initiator");
        const tls = m.initiator.tls === undefined ? undefined : this.clientTls(m.initiator.tls, [...base, "tls"]);
        initiator = {
          hosts: m.initiator.hosts.map((h) => ({ host: h.host, port: h.port })),
          connectTimeoutMs: (m.initiator.connectTimeout ?? SESSION_DEFAULTS.connectTimeout) * 1000,
          ...(tls && { tls }),
        };
      }
    } else {
      if (m.initiator !== undefined) issue("initiator", "is only for initiator sessions (ConnectionType: initiator)");
      acceptor = this.acceptorRef(m.acceptor, acceptors, (reason) => issue("acceptor", reason));
    }
    const template = m.AcceptorTemplate === true;
    if (template && settings.ConnectionType !== "acceptor") {
      issue("AcceptorTemplate", "is only for acceptor sessions (ConnectionType: acceptor)");
    }
    for (const k of ["SenderCompID", "TargetCompID"] as const) {
      if (!template && settings[k] === COMP_ID_WILDCARD) {
        issue(k, "* (any) is only for a template of dynamic sessions: add AcceptorTemplate: Y");
      }
    }
    let auth: LogonAuthConfig | undefined;
    if (m.auth !== undefined) {
      if (settings.ConnectionType === "initiator") issue("auth", "is only for acceptor sessions (the Logon check)");
      else auth = this.logonAuth(m.auth, at("auth"));
    }

    // Without its application version (reported above) a FIXT session has no dictionary to load.
    let dictionary: Dictionary | undefined;
    if (settings.BeginString !== "FIXT.1.1" || applVer !== undefined) {
      try {
        dictionary = loadDictionary(settings.BeginString, applVer);
      } catch (e) {
        if (!(e instanceof DictionaryError)) throw e;
        issue("BeginString", e.message);
      }
    }
    const ext = m.dictionary?.extension;
    if (dictionary !== undefined && ext !== undefined) {
      try {
        dictionary = dictionary.extend(loadDictionaryExtension(this.path(ext)));
      } catch (e) {
        if (!(e instanceof DictionaryError)) throw e;
        this.issue([...at("dictionary"), "extension"], e.message);
      }
    }

    if (this.issues !== before || dictionary === undefined) return undefined;
    return {
      id: sessionIdOf(settings),
      field: `sessions[${i}]`,
      settings,
      application: m.application ?? SESSION_DEFAULTS.application,
      dictionary,
      useDataDictionary: m.UseDataDictionary ?? SESSION_DEFAULTS.UseDataDictionary,
      validation: {
        validateFieldsOutOfOrder: settings.ValidateFieldsOutOfOrder,
        validateFieldsHaveValues: settings.ValidateFieldsHaveValues,
        validateUserDefinedFields: settings.ValidateUserDefinedFields,
        allowUnknownMsgFields: settings.AllowUnknownMsgFields,
        validateGroupFields: m.dictionary?.validateGroupFields ?? SESSION_DEFAULTS.validateGroupFields,
      },
      ...(password && { password }),
      ...(initiator && { initiator }),
      ...(acceptor !== undefined && { acceptor }),
      ...(auth && { auth }),
      ...(template && { template: true as const }),
    };
  }

  private acceptorRef(
    ref: number | string | undefined,
    acceptors: ReadonlyArray<{ name?: string }>,
    fail: (reason: string) => void,
  ): number | undefined {
    if (acceptors.length === 0) {
      fail("names no port to listen on: add one under acceptors");
      return undefined;
    }
    if (ref === undefined) {
      if (acceptors.length === 1) return 0;
      fail(`is required when there are ${acceptors.length} acceptors: give the name or the index of one`);
      return undefined;
    }
    if (typeof ref === "number") {
      if (ref < acceptors.length) return ref;
      fail(`there is no acceptors[${ref}] (the file has ${acceptors.length})`);
      return undefined;
    }
    const j = acceptors.findIndex((a) => a.name === ref);
    if (j < 0) fail(`no acceptor is named ${show(ref)}`);
    return j < 0 ? undefined : j;
  }
}

const SCHEDULE_FIELDS: Record<string, string> = {
  startTime: "StartTime",
  endTime: "EndTime",
  startDay: "StartDay",
  endDay: "EndDay",
  weekdays: "Weekdays",
  timeZone: "TimeZone",
  nonStop: "NonStopSession",
};

/** `FIX.5.0SP2` → `9`. */
function applVerIdCode(name: string): string | undefined {
  for (let c = 0; c <= 20; c++) if (applVerIdToBeginString(String(c)) === name) return String(c);
  return undefined;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** `["sessions", 1, "HeartBtInt"]` → `sessions[1].HeartBtInt`. */
export function fieldOf(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out;
}
