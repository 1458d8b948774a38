import type { CommitBatch, OutboxEvent } from "./store.js";

/** Highest MsgSeqNum (and epoch) a store accepts: the file log stores them in 48 bits. */
export const MAX_SEQ = 2 ** 48 - 1;

/** Throws a RangeError unless `n` is an integer in [min, MAX_SEQ]. */
export function checkSeq(what: string, n: number, min = 1): void {
  if (!Number.isInteger(n) || n < min || n > MAX_SEQ) {
    throw new RangeError(`${what} must be an integer in [${min}, ${MAX_SEQ}], got ${n}`);
  }
}

/**
 * Rejects a batch no store could persist faithfully: seqs not ascending, a next sender seq that would reuse
 * a stored seq, a MsgType that is not 1..255 ASCII characters. A programming error, hence RangeError.
 */
export function checkBatch(batch: CommitBatch): void {
  checkSeq("nextSenderSeq", batch.nextSenderSeq);
  checkSeq("nextTargetSeq", batch.nextTargetSeq);
  let last = 0;
  for (const m of batch.outbound) {
    checkSeq("outbound seq", m.seq);
    if (m.seq <= last) throw new RangeError(`outbound seqs must ascend: ${m.seq} after ${last}`);
    last = m.seq;
    const t = m.msgType;
    if (typeof t !== "string" || t.length === 0 || t.length > 255 || !isAscii(t)) {
      throw new RangeError(`seq ${m.seq}: msgType must be 1..255 ASCII characters`);
    }
    if (!(m.bytes instanceof Uint8Array)) throw new RangeError(`seq ${m.seq}: bytes must be a Buffer`);
  }
  if (last >= batch.nextSenderSeq) {
    throw new RangeError(`nextSenderSeq ${batch.nextSenderSeq} would reuse stored seq ${last}`);
  }
  if (batch.events !== undefined) checkEvents(batch.events);
}

/** Longest event id or subject, in UTF-8 bytes (the file log gives each a u16 length). */
export const MAX_EVENT_FIELD = 0xffff;
/** A lone surrogate: UTF-8 cannot carry it, so the file and Redis stores could not give the string back. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Rejects outbox events a store could not give back exactly: id or subject not a well-formed string of at most
 * 65,535 UTF-8 bytes, a payload that is not bytes, headers that are not strings. A programming error, hence
 * RangeError.
 */
export function checkEvents(events: readonly OutboxEvent[]): void {
  if (!Array.isArray(events)) throw new RangeError("events must be an array");
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    for (const field of ["id", "subject"] as const) {
      const v = e[field];
      if (typeof v !== "string" || Buffer.byteLength(v, "utf8") > MAX_EVENT_FIELD || LONE_SURROGATE.test(v)) {
        throw new RangeError(`event ${i}: ${field} must be well-formed text of at most ${MAX_EVENT_FIELD} UTF-8 bytes`);
      }
    }
    if (!(e.payload instanceof Uint8Array)) throw new RangeError(`event ${i}: payload must be a Buffer`);
    const h = e.headers;
    if (h !== undefined) {
      if (typeof h !== "object" || h === null) throw new RangeError(`event ${i}: headers must be an object`);
      for (const k in h) {
        if (Object.hasOwn(h, k) && typeof h[k] !== "string") {
          throw new RangeError(`event ${i}: header ${JSON.stringify(k)} must be a string`);
        }
      }
    }
  }
}

/** Throws a RangeError unless `pos` is an outbox position a store accepts (a safe integer, 0 or more). */
export function checkPosition(what: string, pos: number): void {
  if (!Number.isSafeInteger(pos) || pos < 0) throw new RangeError(`${what} must be an integer ≥ 0, got ${pos}`);
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}
