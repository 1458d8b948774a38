/**
 * FIX events as they travel on the bus: subject `fix.<session>.in.<MsgType>`, `fix.<session>.out.<MsgType>` or
 * `fix.<session>.state`, an id that makes a republish after a crash a duplicate
 * (`<session>:<cycle>:<in|out>:<seq>`), a payload and headers (trace context).
 */
export interface BusEvent {
  /** Deduplication id (JetStream Nats-Msg-Id). */
  id: string;
  subject: string;
  payload: Uint8Array;
  headers?: Record<string, string>;
}

/**
 * A subject token for a session id: NATS subjects cannot hold `.`, `*`, `>` or spaces, so every run of other
 * characters becomes one `_` (`FIX.4.4:CLIENT->VENUE` → `FIX_4_4_CLIENT_VENUE`). Session ids that differ only
 * in punctuation would share a token; the connector refuses such a configuration.
 */
export function sessionToken(sessionId: string): string {
  return sessionId.replace(/[^A-Za-z0-9]+/g, "_");
}

export type Direction = "in" | "out";

/** The subject of a FIX message event. MsgTypes are letters and digits, safe as a token. */
export function messageSubject(session: string, dir: Direction, msgType: string): string {
  return `fix.${sessionToken(session)}.${dir}.${msgType}`;
}

export function stateSubject(session: string): string {
  return `fix.${sessionToken(session)}.state`;
}

/** A session's health change, as its `fix.<session>.state` event carries it (notice kind `health`). */
export interface HealthNotice {
  session: string;
  /** The session core's health name: LIVE, DEGRADED, SAFE, DISCONNECTED, ... */
  to: string;
  reason: string;
}

const stateDecoder = new TextDecoder();

/**
 * Reads a session state event's payload: its health change, or undefined for any other notice (logon, gap,
 * reject, ...). Throws on a payload that is not JSON.
 */
export function healthNoticeOf(payload: Uint8Array): HealthNotice | undefined {
  const ev = JSON.parse(stateDecoder.decode(payload)) as {
    session?: unknown;
    notice?: { kind?: unknown; to?: unknown; reason?: unknown };
  } | null;
  const n = ev?.notice;
  if (n?.kind !== "health" || typeof ev?.session !== "string" || typeof n.to !== "string") return undefined;
  return { session: ev.session, to: n.to, reason: typeof n.reason === "string" ? n.reason : "" };
}

export function messageEventId(session: string, cycle: string, dir: Direction, seq: number): string {
  return `${session}:${cycle}:${dir}:${seq}`;
}

/** NATS subject matching: `*` one token, `>` the rest. */
export function subjectMatches(filter: string, subject: string): boolean {
  return tokensMatch(filter.split("."), subject);
}

/** Answers remembered per filter at most (a set of subjects that large is cleared and learnt again). */
const MATCHER_CACHE = 4096;

/**
 * `subjectMatches` for one filter, remembering its answer per subject: the in-process bus asks it for every event
 * and every subscriber or durable read, and the subjects an application publishes are few (per session, direction
 * and MsgType), so splitting both strings each time was the cost.
 */
export function subjectMatcher(filter: string): (subject: string) => boolean {
  const f = filter.split(".");
  const known = new Map<string, boolean>();
  return (subject) => {
    let r = known.get(subject);
    if (r === undefined) {
      r = tokensMatch(f, subject);
      if (known.size >= MATCHER_CACHE) known.clear();
      known.set(subject, r);
    }
    return r;
  };
}

function tokensMatch(f: readonly string[], subject: string): boolean {
  const s = subject.split(".");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== "*" && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}
