import type { CommitBatch } from "@fixmesh/session";

// Mirrors @fixmesh/session's store/batch.ts, which that package does not export: every store rejects the same
// malformed input with the same RangeError. Drop this file once @fixmesh/session exports checkBatch/checkSeq.

/** Highest MsgSeqNum (and epoch) a store accepts: the file log stores them in 48 bits, and so does record.ts. */
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
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}
