/**
 * Bus events → rows. Each event decodes to the rows it stores, or to a dead letter with the reason it cannot be
 * stored. Decoding checks the payload shape field by field (a garbled event names the field at fault) and
 * redacts secret tags from raw FIX bytes whatever the publisher did.
 */
import type { AuditEvent, Delivered, OrderEvent } from "@fixmesh/bus";
import { MsgType } from "@fixmesh/fix";
import { messageDay, type ScannedMessage, scanMessage } from "./scan.js";

export type StreamKind = "fix" | "orders" | "audit";

export interface MessageRow {
  /** The day partition: the date of the message's own (original) sending time, see `messageDay`. */
  day: string;
  session: string;
  cycle: string;
  direction: "in" | "out";
  seq: number;
  msgType: string;
  sendingTime: string | null;
  recordedAt: number;
  possDup: boolean;
  clOrdId: string | null;
  origClOrdId: string | null;
  orderId: string | null;
  execId: string | null;
  traceId: string | null;
  streamSeq: number;
  raw: Buffer;
}

export interface ExecutionRow {
  session: string;
  execId: string;
  cycle: string | null;
  direction: string | null;
  seq: number | null;
  orderId: string | null;
  clOrdId: string | null;
  symbol: string | null;
  side: string | null;
  execType: string | null;
  ordStatus: string | null;
  lastQty: string | null;
  lastPx: string | null;
  transactTime: string | null;
  recordedAt: number;
  source: "fix" | "orders";
}

export interface OrderEventRow {
  orderId: string;
  version: number;
  change: string;
  at: number;
  session: string;
  clOrdId: string;
  origClOrdId: string | null;
  status: string;
  execId: string | null;
  traceId: string | null;
  event: OrderEvent;
}

export interface SessionEventRow {
  eventId: string;
  session: string | null;
  cycle: string | null;
  at: number;
  kind: string;
  reason: string | null;
  operator: string | null;
  outcome: string | null;
  detail: string;
}

export interface DeadLetterRow {
  stream: StreamKind;
  subject: string;
  streamSeq: number;
  eventId: string;
  reason: string;
  payload: Buffer;
}

/** What one event stores. */
export interface Decoded {
  event: Delivered;
  message?: MessageRow;
  execution?: ExecutionRow;
  orderEvent?: OrderEventRow;
  sessionEvent?: SessionEventRow;
  dead?: DeadLetterRow;
}

/** The event cannot be stored: the reason names the field at fault. */
export class PoisonEventError extends Error {
  override readonly name = "PoisonEventError";
}

export const DEFAULT_SECRET_TAGS: readonly number[] = [554, 925];

export class Redactor {
  private readonly re: RegExp;
  private readonly probes: string[];
  private readonly textRe: RegExp;
  /** The tags whose values are never stored. */
  readonly tags: ReadonlySet<number>;

  constructor(tags: readonly number[] = DEFAULT_SECRET_TAGS) {
    const list = [...new Set([...DEFAULT_SECRET_TAGS, ...tags])];
    this.tags = new Set(list);
    this.probes = list.map((t) => `\x01${t}=`);
    this.re = new RegExp(`(\\x01)(${list.join("|")})=[^\\x01]*`, "g");
    // In free text (a dead letter's payload) fields may be separated by SOH, '|', '^' or spaces.
    this.textRe = new RegExp(`(^|[\\x01|^\\s;,"])(${list.join("|")})=[^\\x01|^\\s;,"]*`, "g");
  }

  /** Raw FIX bytes with every secret tag's value replaced by `********`. */
  raw(bytes: Buffer): Buffer {
    let found = false;
    for (const p of this.probes) {
      if (bytes.indexOf(p, 0, "latin1") >= 0) {
        found = true;
        break;
      }
    }
    if (!found) return bytes;
    return this.mask(bytes);
  }

  /** `bytes` with every secret tag's value replaced (the caller found one: see `scanMessage`). */
  mask(bytes: Buffer): Buffer {
    return Buffer.from(bytes.toString("latin1").replace(this.re, "$1$2=********"), "latin1");
  }

  /** Free text (an error message quoting a value) with secret tag values masked. */
  text(s: string): string {
    return s.replace(this.textRe, "$1$2=********");
  }

  /** A payload we could not decode, as it is kept in dead letters: secrets masked in its text and in `raw`. */
  payload(bytes: Uint8Array): Buffer {
    let text = Buffer.from(bytes).toString("latin1");
    try {
      const obj = JSON.parse(Buffer.from(bytes).toString("utf8")) as unknown;
      if (obj !== null && typeof obj === "object" && typeof (obj as { raw?: unknown }).raw === "string") {
        const o = obj as { raw: string };
        o.raw = this.raw(Buffer.from(o.raw, "base64")).toString("base64");
        text = Buffer.from(JSON.stringify(o), "utf8").toString("latin1");
      }
    } catch {
      // Not JSON: the text rule below still applies.
    }
    // Base64 of a message is masked above; anything else that still spells a secret tag is masked here.
    return Buffer.from(text.replace(this.textRe, "$1$2=********"), "latin1");
  }
}

function str(o: Record<string, unknown>, field: string, required: true): string;
function str(o: Record<string, unknown>, field: string, required: false): string | null;
function str(o: Record<string, unknown>, field: string, required: boolean): string | null {
  const v = o[field];
  if (v === undefined || v === null || v === "") {
    if (required) throw new PoisonEventError(`${field}: missing`);
    return null;
  }
  if (typeof v !== "string") throw new PoisonEventError(`${field}: must be a string, got ${typeof v}`);
  return v;
}

function num(o: Record<string, unknown>, field: string, opts: { integer?: boolean; min?: number } = {}): number {
  const v = o[field];
  if (typeof v !== "number" || !Number.isFinite(v)) throw new PoisonEventError(`${field}: must be a number`);
  if (opts.integer && !Number.isInteger(v)) throw new PoisonEventError(`${field}: must be a whole number`);
  if (opts.min !== undefined && v < opts.min) throw new PoisonEventError(`${field}: must be ≥ ${opts.min}`);
  return v;
}

function object(payload: Uint8Array): Record<string, unknown> {
  let v: unknown;
  try {
    // A view, not a copy, of the bus's bytes.
    const text = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("utf8");
    v = JSON.parse(text);
  } catch (e) {
    throw new PoisonEventError(`payload: not JSON (${(e as Error).message})`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new PoisonEventError("payload: not a JSON object");
  return v as Record<string, unknown>;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The trace id of a W3C traceparent header (`00-<trace id>-<span id>-<flags>`). */
function traceIdOf(e: Delivered): string | null {
  const tp = e.headers?.traceparent;
  if (!tp) return null;
  const parts = tp.split("-");
  return parts.length >= 4 && /^[0-9a-f]{32}$/.test(parts[1]) ? parts[1] : null;
}

const DECIMAL = /^-?\d+(\.\d+)?$/;
const decimal = (v: string | null) => (v !== null && DECIMAL.test(v) ? v : null);

/** An ExecutionReport's fill details, read from its raw bytes. */
function executionOf(m: MessageRow, f: ScannedMessage): ExecutionRow | undefined {
  if (m.msgType !== MsgType.ExecutionReport || m.execId === null) return undefined;
  return {
    session: m.session,
    execId: m.execId,
    cycle: m.cycle,
    direction: m.direction,
    seq: m.seq,
    orderId: m.orderId,
    clOrdId: m.clOrdId,
    symbol: f.symbol,
    side: f.side,
    execType: f.execType,
    ordStatus: f.ordStatus,
    lastQty: decimal(f.lastQty),
    lastPx: decimal(f.lastPx),
    transactTime: f.transactTime,
    recordedAt: m.recordedAt,
    source: "fix",
  };
}

function decodeFix(e: Delivered, redactor: Redactor): Omit<Decoded, "event"> {
  const o = object(e.payload);
  // `<prefix>.<session>.state` (three tokens); without splitting the subject of every message.
  const subject = e.subject;
  const dot = subject.indexOf(".");
  if (subject.endsWith(".state") && dot > 0 && subject.indexOf(".", dot + 1) === subject.length - 6) {
    const session = str(o, "session", true);
    const notice = o.notice as Record<string, unknown> | undefined;
    if (notice === null || typeof notice !== "object") throw new PoisonEventError("notice: missing");
    const kind = str(notice, "kind", true);
    const reason =
      typeof notice.reason === "string" ? notice.reason : typeof notice.text === "string" ? notice.text : null;
    return {
      sessionEvent: {
        eventId: e.id || `fix:${e.seq}`,
        session,
        cycle: str(o, "cycle", false),
        at: num(o, "at", { min: 0 }),
        kind,
        reason,
        operator: null,
        outcome: null,
        detail: JSON.stringify(notice),
      },
    };
  }
  const dir = o.dir;
  if (dir !== "in" && dir !== "out") throw new PoisonEventError(`dir: must be "in" or "out"`);
  const raw64 = str(o, "raw", true);
  if (!BASE64.test(raw64)) throw new PoisonEventError("raw: not base64");
  const bytes = Buffer.from(raw64, "base64");
  if (bytes.length === 0) throw new PoisonEventError("raw: empty");
  const scanned = scanMessage(bytes, redactor.tags);
  const raw = scanned.secret ? redactor.mask(bytes) : bytes;
  const at = num(o, "at", { min: 0 });
  if (o.possDup !== undefined && typeof o.possDup !== "boolean")
    throw new PoisonEventError("possDup: must be a boolean");
  const message: MessageRow = {
    day: messageDay(scanned, at),
    session: str(o, "session", true),
    cycle: str(o, "cycle", true),
    direction: dir,
    seq: num(o, "seq", { integer: true, min: 0 }),
    msgType: str(o, "msgType", true),
    sendingTime: str(o, "sendingTime", false),
    recordedAt: at,
    possDup: o.possDup === true,
    clOrdId: str(o, "clOrdId", false),
    origClOrdId: str(o, "origClOrdId", false),
    orderId: str(o, "orderId", false),
    execId: str(o, "execId", false),
    traceId: traceIdOf(e),
    streamSeq: e.seq,
    raw,
  };
  const execution = executionOf(message, scanned);
  return execution ? { message, execution } : { message };
}

function decodeOrder(e: Delivered): Omit<Decoded, "event"> {
  const o = object(e.payload);
  const order = o.order as Record<string, unknown> | undefined;
  if (order === null || typeof order !== "object") throw new PoisonEventError("order: missing");
  const ev = o as unknown as OrderEvent;
  const orderEvent: OrderEventRow = {
    orderId: str(o, "orderId", true),
    version: num(o, "version", { integer: true, min: 1 }),
    change: str(o, "change", true),
    at: num(o, "at", { min: 0 }),
    session: str(order, "sessionId", true),
    clOrdId: str(order, "clOrdId", true),
    origClOrdId: str(order, "origClOrdId", false),
    status: str(order, "status", true),
    execId: null,
    traceId: typeof o.traceparent === "string" ? (o.traceparent.split("-")[1] ?? null) : traceIdOf(e),
    event: ev,
  };
  let execution: ExecutionRow | undefined;
  const x = o.execution as Record<string, unknown> | undefined;
  if (x !== undefined && x !== null) {
    if (typeof x !== "object") throw new PoisonEventError("execution: not an object");
    const execId = str(x, "execId", true);
    orderEvent.execId = execId;
    execution = {
      session: orderEvent.session,
      execId,
      cycle: null,
      direction: "in",
      seq: typeof x.msgSeqNum === "number" ? x.msgSeqNum : null,
      orderId: str(order, "venueOrderId", false),
      clOrdId: orderEvent.clOrdId,
      symbol: str(order, "symbol", false),
      side: str(order, "side", false),
      execType: str(x, "execType", false),
      ordStatus: null,
      lastQty: str(x, "lastQty", false),
      lastPx: str(x, "lastPx", false),
      transactTime: str(x, "transactTime", false),
      recordedAt: orderEvent.at,
      source: "orders",
    };
  }
  return execution ? { orderEvent, execution } : { orderEvent };
}

function decodeAudit(e: Delivered): Omit<Decoded, "event"> {
  const o = object(e.payload);
  const a = o as unknown as AuditEvent;
  const outcome = str(o, "outcome", true);
  if (!["ok", "denied", "failed"].includes(outcome))
    throw new PoisonEventError(`outcome: "${outcome}" is not ok|denied|failed`);
  return {
    sessionEvent: {
      eventId: str(o, "id", true),
      session: str(o, "resource", false),
      cycle: null,
      at: num(o, "at", { min: 0 }),
      kind: `admin.${str(o, "action", true)}`,
      reason: str(o, "reason", false),
      operator: str(o, "principal", true),
      outcome,
      detail: JSON.stringify({ ...a, service: str(o, "service", true) }),
    },
  };
}

export function decodeEvent(kind: StreamKind, e: Delivered, redactor: Redactor): Decoded {
  try {
    const rows = kind === "fix" ? decodeFix(e, redactor) : kind === "orders" ? decodeOrder(e) : decodeAudit(e);
    return { event: e, ...rows };
  } catch (err) {
    // Whatever decoding trips on, the event cannot be stored as it is: it goes to the dead letters.
    const reason = err instanceof PoisonEventError ? err.message : `cannot decode: ${(err as Error)?.message ?? err}`;
    return { event: e, dead: deadLetter(kind, e, redactor.text(reason), redactor) };
  }
}

/** PostgreSQL text cannot hold NUL: a dead letter must be storable whatever the event's id or subject held. */
const storable = (s: string) => (s.includes("\u0000") ? s.split("\u0000").join("\\0") : s);

export function deadLetter(kind: StreamKind, e: Delivered, reason: string, redactor: Redactor): DeadLetterRow {
  return {
    stream: kind,
    subject: storable(e.subject),
    streamSeq: e.seq,
    eventId: storable(e.id),
    reason: storable(reason),
    payload: redactor.payload(e.payload),
  };
}
