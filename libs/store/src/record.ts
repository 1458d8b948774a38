import { StoreCorruptError, type StoredMessage } from "@fixmesh/session";

/**
 * One outbound message as a member of the cycle's sorted set (score = its seq):
 *
 *   u8 format (1) · u48 seq, big-endian · u8 MsgType length · MsgType (ASCII) · the message bytes
 *
 * Why a sorted set scored by seq rather than a hash seq → bytes (plus an index): a resend's getRange of 1,000
 * messages is one ZRANGEBYSCORE (O(log N + M)) that returns them in seq order, and retention is one
 * ZREMRANGEBYRANK/ZREMRANGEBYSCORE inside the commit script, again O(log N + M) with nothing read back. A
 * hash would need HMGET of every seq in the range (or a second index to find them) and a read-then-HDEL to trim.
 * Members of a sorted set must be unique, so the seq is part of the member: two messages with equal bytes stay
 * two members, and a member read back names its seq without WITHSCORES.
 */
const FORMAT = 1;
const HEADER = 8;

/** Bytes `m` takes as a member. */
export function memberLength(m: StoredMessage): number {
  return HEADER + m.msgType.length + m.bytes.length;
}

/** Writes `m` as a member into `target` at `offset` (MsgType already checked as 1..255 ASCII); returns the end. */
export function writeMember(target: Buffer, offset: number, m: StoredMessage): number {
  target[offset] = FORMAT;
  target.writeUIntBE(m.seq, offset + 1, 6);
  target[offset + 7] = m.msgType.length;
  let at = offset + HEADER;
  at += target.write(m.msgType, at, "latin1");
  target.set(m.bytes, at);
  return at + m.bytes.length;
}

/**
 * Reads a member back. The returned bytes are a view of `member`, which the Redis reply parser never reuses
 * (it slices socket chunks, or a pool it only ever advances through), so no copy is needed.
 */
export function readMember(member: Buffer, key: string): StoredMessage {
  if (member.length < HEADER || member[0] !== FORMAT) {
    throw new StoreCorruptError(key, `member of ${member.length} bytes is not a format ${FORMAT} message record`);
  }
  const typeLength = member[7];
  if (typeLength === 0 || HEADER + typeLength > member.length) {
    throw new StoreCorruptError(key, `message record with a MsgType length of ${typeLength} in ${member.length} bytes`);
  }
  return {
    seq: member.readUIntBE(1, 6),
    msgType: member.toString("latin1", HEADER, HEADER + typeLength),
    bytes: member.subarray(HEADER + typeLength),
  };
}
