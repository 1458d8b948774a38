/**
 * The file store's log records. Every record is framed the same way, little-endian:
 *
 *   u32 length   whole record, these 4 bytes and the CRC included
 *   u8  type     one of RecordType
 *   ...payload
 *   u32 crc32    of every byte before it (length, type, payload)
 *
 * The CRC covers the length, so a flipped length is caught like a flipped payload byte.
 */
import { crc32 } from "node:zlib";

export const RecordType = {
  /** First record of a log: JSON payload (format, session, cycle, creation time, epoch, starting seqs). */
  Header: 0x48,
  /** One outbound message: u48 seq, u8 msgType length, msgType (ASCII), the message bytes. */
  Message: 0x4d,
  /** Retention: u48 belowSeq; messages below it are dropped. */
  Trim: 0x54,
  /**
   * Closes a unit: u48 nextSenderSeq, u48 nextTargetSeq, u32 count of records in the unit before it,
   * u48 writer epoch, u8 flags (CheckpointFlag), 8-byte writer id. A unit counts only when its checkpoint is
   * intact.
   */
  Checkpoint: 0x43,
  /** u48 offset: the incomplete unit that starts there (a crash's torn tail) is void. */
  Discard: 0x44,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

export const CheckpointFlag = {
  /** The unit sets both sequence numbers (commit, setSequences). Without it they are left as they were
   * (trim, fence, seal), so such a unit never rolls back seqs a racing writer advanced. */
  Seqs: 1,
  /** The log is closed: the cycle was reset and metadata names a newer log. Void once a later unit follows
   * (a reset that crashed before switching metadata). */
  Seal: 2,
} as const;

/** Framing bytes around every payload: length, type, CRC. */
export const FRAME = 9;
/** Largest record accepted; also what makes a random length implausible during resynchronisation. */
export const MAX_RECORD = 64 * 1024 * 1024;
export const WRITER_ID_BYTES = 8;
export const CHECKPOINT_LENGTH = FRAME + 6 + 6 + 4 + 6 + 1 + WRITER_ID_BYTES;
export const TRIM_LENGTH = FRAME + 6;
export const DISCARD_LENGTH = FRAME + 6;
/** Offset of the message bytes in a Message record whose msgType has `msgTypeLength` characters. */
export const messageBodyOffset = (msgTypeLength: number): number => 5 + 6 + 1 + msgTypeLength;
export const messageRecordLength = (msgTypeLength: number, bytes: number): number =>
  messageBodyOffset(msgTypeLength) + bytes + 4;

export interface Checkpoint {
  nextSenderSeq: number;
  nextTargetSeq: number;
  count: number;
  epoch: number;
  flags: number;
  writer: Buffer;
}

export interface HeaderInfo {
  format: 1;
  session: string;
  cycle: string;
  creationTime: number;
  epoch: number;
  nextSenderSeq: number;
  nextTargetSeq: number;
}

function frame(buf: Buffer, at: number, length: number, type: RecordType): void {
  buf.writeUInt32LE(length, at);
  buf[at + 4] = type;
}

function seal(buf: Buffer, at: number, length: number): number {
  const end = at + length;
  buf.writeUInt32LE(crc32(buf.subarray(at, end - 4)), end - 4);
  return end;
}

/** Writes a Message record at `at`; returns the offset after it. `msgType` must be ASCII. */
export function writeMessage(buf: Buffer, at: number, seq: number, msgType: string, bytes: Uint8Array): number {
  const length = messageRecordLength(msgType.length, bytes.length);
  frame(buf, at, length, RecordType.Message);
  buf.writeUIntLE(seq, at + 5, 6);
  buf[at + 11] = msgType.length;
  buf.write(msgType, at + 12, "latin1");
  buf.set(bytes, at + 12 + msgType.length);
  return seal(buf, at, length);
}

export function writeCheckpoint(buf: Buffer, at: number, c: Checkpoint): number {
  frame(buf, at, CHECKPOINT_LENGTH, RecordType.Checkpoint);
  buf.writeUIntLE(c.nextSenderSeq, at + 5, 6);
  buf.writeUIntLE(c.nextTargetSeq, at + 11, 6);
  buf.writeUInt32LE(c.count, at + 17);
  buf.writeUIntLE(c.epoch, at + 21, 6);
  buf[at + 27] = c.flags;
  c.writer.copy(buf, at + 28, 0, WRITER_ID_BYTES);
  return seal(buf, at, CHECKPOINT_LENGTH);
}

export function writeTrim(buf: Buffer, at: number, belowSeq: number): number {
  frame(buf, at, TRIM_LENGTH, RecordType.Trim);
  buf.writeUIntLE(belowSeq, at + 5, 6);
  return seal(buf, at, TRIM_LENGTH);
}

export function writeDiscard(buf: Buffer, at: number, from: number): number {
  frame(buf, at, DISCARD_LENGTH, RecordType.Discard);
  buf.writeUIntLE(from, at + 5, 6);
  return seal(buf, at, DISCARD_LENGTH);
}

export function encodeHeader(h: HeaderInfo): Buffer {
  const json = Buffer.from(JSON.stringify(h), "utf8");
  const buf = Buffer.allocUnsafe(FRAME + json.length);
  frame(buf, 0, buf.length, RecordType.Header);
  json.copy(buf, 5);
  seal(buf, 0, buf.length);
  return buf;
}

/**
 * Length of the intact record at `at` in `buf` (which holds file bytes up to `limit`), or 0 when the bytes
 * there are not one: too short, implausible length, unknown type, or bad CRC.
 */
export function intactRecordAt(buf: Buffer, at: number, limit: number): number {
  if (at + FRAME > limit) return 0;
  const length = buf.readUInt32LE(at);
  if (length < FRAME || length > MAX_RECORD || at + length > limit) return 0;
  const type = buf[at + 4];
  if (
    type !== RecordType.Message &&
    type !== RecordType.Checkpoint &&
    type !== RecordType.Trim &&
    type !== RecordType.Discard &&
    type !== RecordType.Header
  ) {
    return 0;
  }
  const end = at + length;
  return crc32(buf.subarray(at, end - 4)) === buf.readUInt32LE(end - 4) ? length : 0;
}

export function readCheckpoint(buf: Buffer, at: number): Checkpoint {
  return {
    nextSenderSeq: buf.readUIntLE(at + 5, 6),
    nextTargetSeq: buf.readUIntLE(at + 11, 6),
    count: buf.readUInt32LE(at + 17),
    epoch: buf.readUIntLE(at + 21, 6),
    flags: buf[at + 27],
    writer: buf.subarray(at + 28, at + 28 + WRITER_ID_BYTES),
  };
}

/** The u48 that opens the payload of Message (seq), Trim (belowSeq) and Discard (offset) records. */
export function readU48(buf: Buffer, at: number): number {
  return buf.readUIntLE(at + 5, 6);
}

/** Whether the payload length fits the type (a CRC-valid record of the wrong shape is a bug, not a tear). */
export function wellFormed(buf: Buffer, at: number, length: number): boolean {
  switch (buf[at + 4]) {
    case RecordType.Message:
      return length >= messageBodyOffset(0) + 4 && length >= messageBodyOffset(buf[at + 11]) + 4 && buf[at + 11] > 0;
    case RecordType.Checkpoint:
      return length === CHECKPOINT_LENGTH;
    case RecordType.Trim:
      return length === TRIM_LENGTH;
    case RecordType.Discard:
      return length === DISCARD_LENGTH;
    default:
      return true;
  }
}
