/**
 * Key layout of one session. Every key carries the session's hash tag `{<session>}`, so Redis Cluster puts them
 * all in one slot and the Lua scripts, which touch several of them, also run on a cluster:
 *
 *   <prefix>:{<session>}:meta          hash: nextSenderSeq, nextTargetSeq, cycle, creationTime, epoch, and
 *                                      outboxPos (the outbox position handed out last)
 *   <prefix>:{<session>}:out:<cycle>   sorted set: the outbound log of one cycle (see record.ts)
 *   <prefix>:{<session>}:outbox        sorted set: unacknowledged outbox events, across cycles (see outbox.ts)
 *   <prefix>:{<session>}:idem          hash: client idempotency key → `<seq>:<fingerprint>` of the first send
 *   <prefix>:{<session>}:idem-at       sorted set: the same keys scored by the ms they were recorded (for expiry)
 */

export interface SessionKeys {
  /** `{<session>}`, the hash tag every key of the session carries. */
  readonly tag: string;
  /** The session's metadata hash. */
  readonly meta: string;
  /** The outbox: events not yet acknowledged by the bus, of every cycle (a reset keeps it). */
  readonly outbox: string;
  /** Send idempotency keys (hash) and when each was recorded (sorted set), bounded by the commit script. */
  readonly idem: string;
  readonly idemAt: string;
  /** A glob matching every key of the session (for tools and tests). */
  readonly pattern: string;
  /** The outbound log of `cycle`. */
  out(cycle: string): string;
}

/**
 * The keys of `session` under `prefix`.
 *
 * Redis takes the hash tag from the first `{` to the first `}` after it, so a `}` inside the session id would
 * cut the tag short and a `{` in the prefix would move it. The prefix may therefore hold neither brace, and the
 * session id is written with `%`, `{` and `}` as `%25`, `%7B`, `%7D`: distinct ids still give distinct keys,
 * and the ids FIX uses (`FIX.4.4:SENDER->TARGET`) appear unchanged.
 */
export function sessionKeys(prefix: string, session: string): SessionKeys {
  if (prefix.length === 0 || /[{}]/.test(prefix)) {
    throw new RangeError(`redis store prefix must be non-empty and hold no '{' or '}', got ${JSON.stringify(prefix)}`);
  }
  if (session.length === 0) throw new RangeError("redis store session must be non-empty");
  const tag = `{${session.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}}`;
  const base = `${prefix}:${tag}`;
  return {
    tag,
    meta: `${base}:meta`,
    outbox: `${base}:outbox`,
    idem: `${base}:idem`,
    idemAt: `${base}:idem-at`,
    pattern: `${base.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}:*`,
    out: (cycle) => `${base}:out:${cycle}`,
  };
}
