import { type FixMessage, Parser, Tag } from "@fixmesh/fix";
import type { OutboxEvent, SessionNotice } from "@fixmesh/session";

/**
 * The events a session publishes (ARCHITECTURE.md, "Events"): one per FIX message in and out, on
 * `fix.<session>.in.<MsgType>` / `fix.<session>.out.<MsgType>` with id `<session>:<cycle>:<in|out>:<seq>`, and
 * one per state change on `fix.<session>.state`. The payload is JSON: routing fields parsed once here, and the
 * raw bytes (base64) with Password(554) and NewPassword(925) masked. A message that belongs to a traced order
 * carries the order's W3C `traceparent` header.
 */
export interface FixMessageEvent {
  session: string;
  cycle: string;
  dir: "in" | "out";
  seq: number;
  msgType: string;
  possDup: boolean;
  sendingTime?: string;
  /** When this process recorded it (epoch ms). */
  at: number;
  clOrdId?: string;
  origClOrdId?: string;
  orderId?: string;
  execId?: string;
  /** The message as sent or received, base64, secrets masked. */
  raw: string;
}

export interface SessionStateEvent {
  session: string;
  cycle: string;
  at: number;
  notice: SessionNotice;
}

const tokens = new Map<string, string>();

/** A NATS subject token for a session id (same rule as @fixmesh/bus `sessionToken`). */
export function subjectToken(sessionId: string): string {
  let t = tokens.get(sessionId);
  if (t === undefined) {
    t = sessionId.replace(/[^A-Za-z0-9]+/g, "_");
    tokens.set(sessionId, t);
  }
  return t;
}

const SECRET_TAGS = [Tag.Password, Tag.NewPassword];

const maskers = new Map<string, RegExp>();
/** `<SOH><tag>=` as bytes, per tag: made once, not per message (indexOf with a string needle converts it each time). */
const needles = new Map<number, Buffer>();

function hasTag(raw: Buffer, tag: number): boolean {
  let needle = needles.get(tag);
  if (needle === undefined) {
    needle = Buffer.from(`\x01${tag}=`, "latin1");
    needles.set(tag, needle);
  }
  return raw.indexOf(needle) >= 0;
}

/** The message with the values of Password(554) and NewPassword(925) replaced by `********`. */
export function maskSecrets(raw: Buffer, extraTags: readonly number[] = []): Buffer {
  // Cheap test first: most messages carry no secret tag at all.
  let found = hasTag(raw, Tag.Password) || hasTag(raw, Tag.NewPassword);
  for (let i = 0; !found && i < extraTags.length; i++) found = hasTag(raw, extraTags[i]);
  if (!found) return raw;
  const tags = extraTags.length === 0 ? SECRET_TAGS : [...SECRET_TAGS, ...extraTags];
  const key = tags.join(",");
  let re = maskers.get(key);
  if (re === undefined) {
    re = new RegExp(`(\\x01)(${tags.join("|")})=[^\\x01]*`, "g");
    maskers.set(key, re);
  }
  return Buffer.from(raw.toString("latin1").replace(re, "$1$2=********"), "latin1");
}

const parser = new Parser();

export function messageEvent(
  session: string,
  cycle: string,
  dir: "in" | "out",
  msg: FixMessage | { seq: number; msgType: string; bytes: Buffer },
  at: number,
  prefix = "fix",
  extraSecretTags: readonly number[] = [],
  traceparent?: string,
): OutboxEvent {
  const m = "raw" in msg ? msg : parser.parse(msg.bytes);
  const raw = "raw" in msg ? msg.raw : msg.bytes;
  const seq = "raw" in msg ? (msg.getInt(Tag.MsgSeqNum) ?? 0) : msg.seq;
  const msgType = msg.msgType;
  const id = `${session}:${cycle}:${dir}:${seq}`;
  const subject = `${prefix}.${subjectToken(session)}.${dir}.${msgType}`;
  const payload = messagePayload(session, cycle, dir, seq, msgType, at, maskSecrets(raw, extraSecretTags), m);
  // The W3C trace context of the order this message belongs to rides in the event's (NATS) headers, so a
  // consumer continues the order's trace; an untraced message's event has no headers at all.
  if (traceparent !== undefined) return { id, subject, payload, headers: { traceparent } };
  return { id, subject, payload };
}

/**
 * The JSON of a FixMessageEvent, byte for byte what `JSON.stringify` makes of it (keys in the order the body
 * object had them: the routing fields parsed from the message come after `raw`), written straight into one
 * buffer: one event per message in and out is built on the send path, and building the object, its JSON text,
 * the base64 text of the message and then the bytes of all that was a quarter of the heap the connector
 * allocated per order. A value that JSON must escape goes through `JSON.stringify` itself.
 */
function messagePayload(
  session: string,
  cycle: string,
  dir: "in" | "out",
  seq: number,
  msgType: string,
  at: number,
  raw: Buffer,
  m: FixMessage | string,
): Buffer {
  const head = headOf(session, cycle);
  const parsed = typeof m === "string" ? null : m;
  const possDup = parsed?.flag(Tag.PossDupFlag) === true;
  const seqText = intText(seq);
  const atText = intText(at);
  const typeJson = plainAscii(msgType) ? null : Buffer.from(JSON.stringify(msgType), "utf8");
  const rawLength = 4 * Math.ceil(raw.length / 3);
  let size =
    head.length +
    dir.length +
    SEQ.length +
    seqText.length +
    MSG_TYPE.length +
    (typeJson === null ? msgType.length + 2 : typeJson.length) +
    POSS_DUP.length +
    (possDup ? 4 : 5) +
    AT.length +
    atText.length +
    RAW.length +
    rawLength +
    2;
  // The routing fields present: their value's byte range in `raw`, or (rare) the escaped JSON of the value.
  const found = routing;
  for (let k = 0; k < ROUTING.length; k++) {
    found[k] = -1;
    escaped[k] = null;
    if (parsed === null) continue;
    const i = parsed.indexOf(ROUTING[k].tag);
    // An empty value counts as absent, except SendingTime (which the object kept as "").
    if (i < 0 || (k > 0 && parsed.valueLengthAt(i) === 0)) continue;
    found[k] = i;
    size += ROUTING[k].key.length;
    if (plainBytes(parsed.raw, parsed.fields[i * 3 + 1], parsed.fields[i * 3 + 2])) {
      size += parsed.valueLengthAt(i) + 2;
    } else {
      const e = Buffer.from(JSON.stringify(parsed.valueAt(i)), "utf8");
      escaped[k] = e;
      size += e.length;
    }
  }
  const out = Buffer.allocUnsafe(size);
  out.set(head, 0);
  let p = head.length;
  p += out.write(dir, p, "latin1");
  p = put(out, p, SEQ);
  p += out.write(seqText, p, "latin1");
  p = put(out, p, MSG_TYPE);
  if (typeJson === null) {
    out[p++] = QUOTE;
    p += out.write(msgType, p, "latin1");
    out[p++] = QUOTE;
  } else p = put(out, p, typeJson);
  p = put(out, p, POSS_DUP);
  p += out.write(possDup ? "true" : "false", p, "latin1");
  p = put(out, p, AT);
  p += out.write(atText, p, "latin1");
  p = put(out, p, RAW);
  p = base64Write(raw, out, p);
  out[p++] = QUOTE;
  if (parsed !== null) {
    for (let k = 0; k < ROUTING.length; k++) {
      const i = found[k];
      if (i < 0) continue;
      p = put(out, p, ROUTING[k].key);
      const e = escaped[k];
      if (e !== null) {
        p = put(out, p, e);
        continue;
      }
      out[p++] = QUOTE;
      p += parsed.raw.copy(out, p, parsed.fields[i * 3 + 1], parsed.fields[i * 3 + 2]);
      out[p++] = QUOTE;
    }
  }
  out[p++] = 0x7d; // }
  if (p !== size) throw new Error(`messageEvent: wrote ${p} bytes of ${size}`);
  return out;
}

const QUOTE = 0x22;
const SEQ = Buffer.from('","seq":', "latin1");
const MSG_TYPE = Buffer.from(',"msgType":', "latin1");
const POSS_DUP = Buffer.from(',"possDup":', "latin1");
const AT = Buffer.from(',"at":', "latin1");
const RAW = Buffer.from(',"raw":"', "latin1");
/** The routing fields, in the order the event object got them. */
const ROUTING = [
  { tag: Tag.SendingTime, key: Buffer.from(',"sendingTime":', "latin1") },
  { tag: Tag.ClOrdID, key: Buffer.from(',"clOrdId":', "latin1") },
  { tag: Tag.OrigClOrdID, key: Buffer.from(',"origClOrdId":', "latin1") },
  { tag: Tag.OrderID, key: Buffer.from(',"orderId":', "latin1") },
  { tag: Tag.ExecID, key: Buffer.from(',"execId":', "latin1") },
];
/** Scratch for messagePayload (one call at a time: it never awaits). */
const routing = new Int32Array(ROUTING.length);
const escaped: Array<Buffer | null> = ROUTING.map(() => null);

/** `{"session":…,"cycle":…,"dir":"` for a session's current cycle, made once per cycle. */
const heads = new Map<string, { cycle: string; head: Buffer }>();
function headOf(session: string, cycle: string): Buffer {
  const h = heads.get(session);
  if (h !== undefined && h.cycle === cycle) return h.head;
  const head = Buffer.from(`{"session":${JSON.stringify(session)},"cycle":${JSON.stringify(cycle)},"dir":"`, "utf8");
  heads.set(session, { cycle, head });
  return head;
}

function put(out: Buffer, p: number, b: Buffer): number {
  out.set(b, p);
  return p + b.length;
}

/** A number as JSON writes it. */
function intText(n: number): string {
  return Number.isFinite(n) ? String(n) : "null";
}

const B64 = Buffer.from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", "latin1");

/** `src` as base64 (with padding, as Buffer#toString("base64")) into `out` at `p`; returns the end. */
function base64Write(src: Buffer, out: Buffer, p: number): number {
  const n = src.length;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (src[i] << 16) | (src[i + 1] << 8) | src[i + 2];
    out[p++] = B64[v >>> 18];
    out[p++] = B64[(v >>> 12) & 63];
    out[p++] = B64[(v >>> 6) & 63];
    out[p++] = B64[v & 63];
  }
  if (i < n) {
    const v = (src[i] << 16) | (i + 1 < n ? src[i + 1] << 8 : 0);
    out[p++] = B64[v >>> 18];
    out[p++] = B64[(v >>> 12) & 63];
    out[p++] = i + 1 < n ? B64[(v >>> 6) & 63] : 0x3d;
    out[p++] = 0x3d;
  }
  return p;
}

/** True when JSON writes `v` as it is between quotes: printable ASCII without a quote or a backslash. */
function plainAscii(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** The same test on latin1 bytes `b[s, e)`. */
function plainBytes(b: Buffer, s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const c = b[i];
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

let stateCounter = 0;
const processToken = Math.random().toString(36).slice(2, 10);

export function stateEvent(
  session: string,
  cycle: string,
  notice: SessionNotice,
  at: number,
  prefix = "fix",
): OutboxEvent {
  const body: SessionStateEvent = { session, cycle, at, notice };
  return {
    // Unique per process and event; the outbox keeps it, so a republish after a crash carries the same id.
    id: `${session}:${cycle}:state:${processToken}-${at}-${++stateCounter}`,
    subject: `${prefix}.${subjectToken(session)}.state`,
    payload: Buffer.from(JSON.stringify(body)),
  };
}
