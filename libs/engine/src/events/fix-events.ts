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

/** The message with the values of Password(554) and NewPassword(925) replaced by `********`. */
export function maskSecrets(raw: Buffer, extraTags: readonly number[] = []): Buffer {
  // Cheap test first: most messages carry no secret tag at all.
  const tags = extraTags.length === 0 ? SECRET_TAGS : [...SECRET_TAGS, ...extraTags];
  let found = false;
  for (const tag of tags) {
    if (raw.indexOf(`\x01${tag}=`, 0, "latin1") >= 0) {
      found = true;
      break;
    }
  }
  if (!found) return raw;
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
  const msgType = "raw" in msg ? msg.msgType : msg.msgType;
  const body: FixMessageEvent = {
    session,
    cycle,
    dir,
    seq,
    msgType,
    possDup: false,
    at,
    raw: maskSecrets(raw, extraSecretTags).toString("base64"),
  };
  if (typeof m !== "string") {
    body.possDup = m.flag(Tag.PossDupFlag);
    body.sendingTime = m.get(Tag.SendingTime);
    const pick = (tag: number) => {
      const v = m.get(tag);
      return v === undefined || v === "" ? undefined : v;
    };
    body.clOrdId = pick(Tag.ClOrdID);
    body.origClOrdId = pick(Tag.OrigClOrdID);
    body.orderId = pick(Tag.OrderID);
    body.execId = pick(Tag.ExecID);
  }
  const id = `${session}:${cycle}:${dir}:${seq}`;
  const subject = `${prefix}.${subjectToken(session)}.${dir}.${msgType}`;
  const payload = Buffer.from(JSON.stringify(body));
  // The W3C trace context of the order this message belongs to rides in the event's (NATS) headers, so a
  // consumer continues the order's trace; an untraced message's event has no headers at all.
  if (traceparent !== undefined) return { id, subject, payload, headers: { traceparent } };
  return { id, subject, payload };
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
