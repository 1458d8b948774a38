/**
 * The venue simulator's configuration: one zod schema, the single source of its defaults and of the messages a
 * user sees when the file is wrong. FIX session settings keep their QuickFIX names and are checked further by
 * `resolveSettings` of @fixmesh/session, whose errors are reported under the session's path.
 *
 * The parsed configuration has the same shape as the input (defaults filled in, relative paths made absolute,
 * `fill: partial(3)` written as `{ partial: 3 }`), so parsing it again gives the same value: `startVenueSim`
 * takes either.
 */
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import {
  ConfigError,
  FsyncPolicy,
  resolveSettings,
  type SessionSettings,
  strictObject,
  unknownKey,
} from "@fixmesh/session";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

// --- building blocks --------------------------------------------------------------------------------------------

const NUMERIC = /^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$/;
/** QuickFIX files are text: "30" is the number 30 wherever a number is expected. */
const toNumber = (v: unknown): unknown => (typeof v === "string" && NUMERIC.test(v) ? Number(v) : v);
const TRUE = new Set(["y", "yes", "true"]);
const FALSE = new Set(["n", "no", "false"]);
/** QuickFIX files say Y/N; YAML says true/false. Both are accepted. */
const toBool = (v: unknown): unknown => {
  if (typeof v !== "string") return v;
  const l = v.trim().toLowerCase();
  return TRUE.has(l) ? true : FALSE.has(l) ? false : v;
};

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return String(v);
}

/** A reason, with the value that was given when there was one. */
function got(reason: string): (iss: { input?: unknown }) => string {
  return (iss) => (iss.input === undefined ? "is required" : `${reason}, got ${show(iss.input)}`);
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

function positive(note = "") {
  const e = { error: got(`must be a number above 0${note}`) };
  return z.preprocess(toNumber, z.number(e).gt(0, e));
}

function atLeastZero(note = "") {
  const e = { error: got(`must be 0 or more${note}`) };
  return z.preprocess(toNumber, z.number(e).min(0, e));
}

const strict = <T extends z.ZodRawShape>(shape: T) => strictObject(shape, 12);

// --- session settings -------------------------------------------------------------------------------------------

/** FIX session settings by their QuickFIX/FIXEdge names; checked further by `resolveSettings`. */
const FIX_SETTINGS = {
  BeginString: z.enum(["FIX.4.2", "FIX.4.4"], { error: got("must be FIX.4.2 or FIX.4.4") }),
  SenderCompID: text,
  TargetCompID: text,
  ConnectionType: z.enum(["acceptor"], { error: got("must be acceptor (the venue accepts connections)") }),
  HeartBtInt: num,
  TestRequestThreshold: num,
  HeartbeatTimeoutThreshold: num,
  StartTime: text,
  EndTime: text,
  StartDay: text,
  EndDay: text,
  Weekdays: z.preprocess(
    (v) => (typeof v === "string" ? v.split(",").map((d) => d.trim()) : v),
    z.array(text, { error: got("must be a list of days (Mon,Tue,… or a YAML list)") }),
  ),
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
  LogonTimeout: num,
  LogoutTimeout: num,
  SendNextExpectedMsgSeqNum: flag,
  InSeqNum: num,
  OutSeqNum: num,
  TimestampPrecision: num,
  DegradedBacklog: whole(1),
  DegradedRecoverySeconds: atLeastZero(),
  ResendLoopLimit: whole(1),
} satisfies Partial<Record<keyof SessionSettings, z.ZodType>>;

type FixSettingKey = keyof typeof FIX_SETTINGS;
const FIX_SETTING_KEYS = Object.keys(FIX_SETTINGS) as FixSettingKey[];

// --- stores -----------------------------------------------------------------------------------------------------

const storeSchema = z.discriminatedUnion(
  "kind",
  [
    strict({ kind: z.literal("memory") }),
    strict({
      kind: z.literal("file"),
      /** Parent directory; each session's files go in a directory of its own under it. */
      dir: text,
      fsync: z
        .enum([FsyncPolicy.Always, FsyncPolicy.Interval, FsyncPolicy.Never], {
          error: got("must be always, interval or never"),
        })
        .default(FsyncPolicy.Never),
    }),
  ],
  { error: got("must be {kind: memory} or {kind: file, dir: DIR}") },
);

export type StoreConfig = z.output<typeof storeSchema>;

// --- symbol policies --------------------------------------------------------------------------------------------

/** How an accepted order is filled. */
export type FillPolicy = "immediate" | "book" | { partial: number };

const FILL_REASON = "must be immediate, book, or partial(N) / {partial: N} with N a whole number of at least 2";

const fillSchema = z.unknown().transform((v, ctx): FillPolicy => {
  if (v === "immediate" || v === "book") return v;
  let n: unknown;
  if (typeof v === "string") {
    const m = /^\s*partial\s*\(\s*(\d+)\s*\)\s*$/.exec(v);
    if (m) n = Number(m[1]);
  } else if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === "partial") n = toNumber((v as { partial: unknown }).partial);
  }
  if (typeof n === "number" && Number.isInteger(n) && n >= 2) return { partial: n };
  ctx.addIssue({ code: "custom", message: v === undefined ? "is required" : `${FILL_REASON}, got ${show(v)}` });
  return z.NEVER;
});

/** Response latency in ms: fixed, or uniform in [min, max]. */
export interface LatencyRange {
  min: number;
  max: number;
}

const latencySchema = z.unknown().transform((v, ctx): LatencyRange => {
  const n = toNumber(v);
  if (typeof n === "number" && n >= 0 && Number.isFinite(n)) return { min: n, max: n };
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    const min = toNumber(o.min);
    const max = toNumber(o.max);
    const bad = keys.find((k) => k !== "min" && k !== "max");
    if (bad !== undefined) {
      ctx.addIssue({ code: "custom", path: [bad], message: unknownKey(bad, ["min", "max"]) });
      return z.NEVER;
    }
    if (typeof min === "number" && typeof max === "number" && min >= 0 && max >= min) return { min, max };
    ctx.addIssue({
      code: "custom",
      message: `must be {min, max} in ms with 0 ≤ min ≤ max, got {min: ${show(o.min)}, max: ${show(o.max)}}`,
    });
    return z.NEVER;
  }
  ctx.addIssue({
    code: "custom",
    message: `must be a number of ms (fixed) or {min, max} (uniform range), got ${show(v)}`,
  });
  return z.NEVER;
});

/** Every key a symbol's policy may set; `policy:` gives the defaults, `symbols.<SYM>:` overrides them. */
const POLICY_KEYS = {
  /** immediate: New then one fill; partial(N): New then N fills; book: a price-time order book. */
  fill: fillSchema,
  /** ms between the fills of `partial(N)` (0: all at once, right after the New). */
  fillIntervalMs: atLeastZero(" (ms)"),
  /** Response latency, ms: a number, or {min, max} for a uniform range. */
  latency: latencySchema,
  /** Send PendingCancel/PendingReplace before Canceled/Replaced. */
  pendingStates: flag,
  /** Market orders fill here (immediate/partial), and the price band is around it. */
  referencePrice: positive(),
  /** Limit prices more than this many percent away from referencePrice are rejected. */
  priceBandPercent: positive(" (percent)"),
  /** Orders (and replaces) for more than this quantity are rejected. */
  maxQuantity: positive(),
  /** Every order in this symbol is rejected. */
  restricted: flag,
  /** Orders still open this many ms after their New are cancelled by the venue (unsolicited). */
  unsolicitedCancelAfterMs: positive(" (ms)"),
};

const policySchema = strict({
  fill: POLICY_KEYS.fill.optional(),
  fillIntervalMs: POLICY_KEYS.fillIntervalMs.default(0),
  latency: POLICY_KEYS.latency.optional(),
  pendingStates: POLICY_KEYS.pendingStates.default(false),
  referencePrice: POLICY_KEYS.referencePrice.optional(),
  priceBandPercent: POLICY_KEYS.priceBandPercent.optional(),
  maxQuantity: POLICY_KEYS.maxQuantity.optional(),
  restricted: POLICY_KEYS.restricted.default(false),
  unsolicitedCancelAfterMs: POLICY_KEYS.unsolicitedCancelAfterMs.optional(),
}).transform((p) => ({
  ...p,
  fill: p.fill ?? ("immediate" as FillPolicy),
  latency: p.latency ?? { min: 0, max: 0 },
}));

const overrideSchema = strict({
  fill: POLICY_KEYS.fill.optional(),
  fillIntervalMs: POLICY_KEYS.fillIntervalMs.optional(),
  latency: POLICY_KEYS.latency.optional(),
  pendingStates: POLICY_KEYS.pendingStates.optional(),
  referencePrice: POLICY_KEYS.referencePrice.optional(),
  priceBandPercent: POLICY_KEYS.priceBandPercent.optional(),
  maxQuantity: POLICY_KEYS.maxQuantity.optional(),
  restricted: POLICY_KEYS.restricted.optional(),
  unsolicitedCancelAfterMs: POLICY_KEYS.unsolicitedCancelAfterMs.optional(),
});

/** The policy in force for one symbol: `policy:` with `symbols.<SYM>:` laid over it. */
export interface SymbolPolicy {
  fill: FillPolicy;
  fillIntervalMs: number;
  latency: LatencyRange;
  pendingStates: boolean;
  referencePrice?: number;
  priceBandPercent?: number;
  maxQuantity?: number;
  restricted: boolean;
  unsolicitedCancelAfterMs?: number;
}

export type SymbolOverride = Partial<SymbolPolicy>;

// --- the schema -------------------------------------------------------------------------------------------------

function allOptional<T extends Record<string, z.ZodType>>(shape: T): { [K in keyof T]: z.ZodOptional<T[K]> } {
  const out: Record<string, z.ZodType> = {};
  for (const [k, v] of Object.entries(shape)) out[k] = v.optional();
  return out as { [K in keyof T]: z.ZodOptional<T[K]> };
}

const sessionSchema = strict({
  ...allOptional(FIX_SETTINGS),
  /** QuickFIX's name: validate inbound messages against the FIX 4.2/4.4 dictionary. */
  UseDataDictionary: flag.default(true),
  store: storeSchema.optional(),
});

/** One acceptor session: its FIX settings by QuickFIX name, its store, and whether to validate. */
export type SessionConfig = z.output<typeof sessionSchema>;

/** Where the parse happens: relative paths in the file resolve against `baseDir`. */
export interface ParseContext {
  baseDir: string;
}

function schema(ctx: ParseContext) {
  const absolute = (p: string) => (isAbsolute(p) ? p : resolve(ctx.baseDir, p));
  const withStore = (s: StoreConfig): StoreConfig => (s.kind === "file" ? { ...s, dir: absolute(s.dir) } : s);
  return strict({
    listen: strict({
      host: text.default("127.0.0.1"),
      port: whole(0, 65535, " (0 picks a free port)").default(9878),
      /** Seconds a new connection has to send its Logon. */
      logonTimeout: positive(" (seconds)").default(10),
    }).prefault({}),
    /** The store of every session that does not name its own. */
    store: storeSchema.default({ kind: "memory" }),
    sessions: z
      .array(sessionSchema, { error: got("must be a list of sessions") })
      .min(1, { error: "must list at least one session" }),
    /** An extra acceptor session that receives a copy of every ExecutionReport the venue sends. */
    dropCopy: sessionSchema.optional(),
    /** The default policy of every symbol. */
    policy: policySchema.prefault({}),
    /** Per-symbol overrides of `policy`. */
    symbols: z.record(z.string(), overrideSchema, { error: got("must be a mapping of symbol to policy") }).default({}),
    /** Orders in symbols not listed under `symbols`: accept them under `policy`, or reject (unknown symbol). */
    unknownSymbols: z.enum(["accept", "reject"], { error: got("must be accept or reject") }).default("accept"),
  }).transform((raw, zctx) => {
    const issue = (path: Array<string | number>, message: string) => zctx.addIssue({ code: "custom", path, message });
    const ids = new Map<string, string>();
    const check = (s: SessionConfig, at: Array<string | number>): SessionConfig => {
      if (s.BeginString === undefined) issue([...at, "BeginString"], "is required (FIX.4.2 or FIX.4.4)");
      if (s.SenderCompID === undefined) issue([...at, "SenderCompID"], "is required");
      if (s.TargetCompID === undefined) issue([...at, "TargetCompID"], "is required");
      if (s.BeginString !== undefined && s.SenderCompID !== undefined && s.TargetCompID !== undefined) {
        try {
          resolveSettings(settingsInput(s), "@");
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          issue([...at, e.field.replace(/^@\./, "")], e.reason);
        }
        const id = `${s.BeginString}:${s.SenderCompID}->${s.TargetCompID}`;
        const other = ids.get(id);
        if (other !== undefined) issue(at, `is the same session as ${other} (${id})`);
        ids.set(id, fieldOf(at));
      }
      return s.store === undefined ? s : { ...s, store: withStore(s.store) };
    };
    const sessions = raw.sessions.map((s, i) => check(s, ["sessions", i]));
    const dropCopy = raw.dropCopy === undefined ? undefined : check(raw.dropCopy, ["dropCopy"]);
    const p = raw.policy;
    if (p.priceBandPercent !== undefined && p.referencePrice === undefined) {
      issue(["policy", "priceBandPercent"], "needs referencePrice (the band is around it)");
    }
    for (const [sym, o] of Object.entries(raw.symbols)) {
      if (o.priceBandPercent !== undefined && (o.referencePrice ?? p.referencePrice) === undefined) {
        issue(["symbols", sym, "priceBandPercent"], "needs referencePrice (the band is around it)");
      }
    }
    return { ...raw, store: withStore(raw.store), sessions, ...(dropCopy && { dropCopy }) };
  });
}

/** The venue simulator's configuration, as `parseVenueSimConfig` returns it (defaults filled in). */
export type VenueSimConfig = z.output<ReturnType<typeof schema>>;
/** What a file or a caller may give: the same keys, most of them optional. */
export type VenueSimConfigInput = z.input<ReturnType<typeof schema>>;

/** The settings to run a session with: its QuickFIX keys, as an acceptor. */
export function settingsInput(s: SessionConfig): Parameters<typeof resolveSettings>[0] {
  const out: Record<string, unknown> = { ConnectionType: "acceptor" };
  for (const k of FIX_SETTING_KEYS) if (s[k] !== undefined) out[k] = s[k];
  return out as Parameters<typeof resolveSettings>[0];
}

/** The resolved settings of a session of a parsed configuration. */
export function sessionSettings(s: SessionConfig): SessionSettings {
  return resolveSettings(settingsInput(s));
}

/** The policy in force for `symbol`. */
export function policyFor(config: VenueSimConfig, symbol: string): SymbolPolicy {
  const o = config.symbols[symbol];
  if (o === undefined) return config.policy;
  const out: SymbolPolicy = { ...config.policy };
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  return out;
}

/**
 * Checks a configuration and fills its defaults. A bad one fails with a ConfigError whose `field` names the first
 * wrong field (`symbols.IBM.fill`, `sessions[0].HeartBtInt`) and whose message lists every mistake.
 */
export function parseVenueSimConfig(input: unknown, ctx: ParseContext = { baseDir: process.cwd() }): VenueSimConfig {
  const r = schema(ctx).safeParse(input);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({ field: fieldOf(i.path) || "(top level)", reason: i.message }));
  const [first, ...rest] = issues;
  const more = rest.length === 0 ? "" : `; also ${rest.map((i) => `${i.field}: ${i.reason}`).join("; ")}`;
  throw new ConfigError(first.field, `${first.reason}${more}`);
}

/** Reads and checks a YAML (or JSON) configuration file; relative paths in it resolve against its directory. */
export function loadVenueSimConfig(path: string): VenueSimConfig {
  let textIn: string;
  try {
    textIn = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(path, `cannot read the file: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseYaml(textIn);
  } catch (e) {
    throw new ConfigError(path, `is not valid YAML: ${(e as Error).message}`);
  }
  return parseVenueSimConfig(value ?? {}, { baseDir: dirname(resolve(path)) });
}

/** `["sessions", 1, "HeartBtInt"]` → `sessions[1].HeartBtInt`. */
function fieldOf(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out;
}
