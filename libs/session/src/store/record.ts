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
import type { OutboxEvent } from "./store.js";

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
  /**
   * One outbox event: u16 id length, id (UTF-8), u16 subject length, subject (UTF-8), u32 headers length, headers
   * (a JSON object, UTF-8; length 0 when the event has none), the payload bytes. Its position is not stored:
   * the events of a log are numbered in log order from the header's `outboxPos` + 1 (see OutboxIndex), so a
   * record copied verbatim into the next cycle's log keeps its position.
   */
  Event: 0x45,
  /** Outbox acknowledgement: u48 upToPos; events with pos ≤ it are dropped. */
  Ack: 0x41,
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
export const ACK_LENGTH = FRAME + 6;
/** Bytes of an Event record's payload before its variable parts: the three lengths. */
const EVENT_FIXED = 2 + 2 + 4;
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
  /** 2 since the outbox (Event and Ack records, `outboxPos`); logs of format 1 have neither and still open. */
  format: 1 | 2;
  session: string;
  cycle: string;
  creationTime: number;
  epoch: number;
  nextSenderSeq: number;
  nextTargetSeq: number;
  /** Outbox position handed out last before this log's first Event record; absent (0) in format 1. */
  outboxPos?: number;
}

/** An outbox event's variable parts, encoded once when the operation is called (the caller may reuse buffers). */
export interface EncodedEvent {
  id: Buffer;
  subject: Buffer;
  /** JSON; empty when the event has no headers. */
  headers: Buffer;
  payload: Uint8Array;
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

export function encodeEvent(e: OutboxEvent): EncodedEvent {
  return {
    id: Buffer.from(e.id, "utf8"),
    subject: Buffer.from(e.subject, "utf8"),
    headers: e.headers === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(e.headers), "utf8"),
    payload: e.payload,
  };
}

export const eventRecordLength = (e: EncodedEvent): number =>
  FRAME + EVENT_FIXED + e.id.length + e.subject.length + e.headers.length + e.payload.length;

/** Writes an Event record at `at`; returns the offset after it. */
export function writeEvent(buf: Buffer, at: number, e: EncodedEvent): number {
  const length = eventRecordLength(e);
  frame(buf, at, length, RecordType.Event);
  let p = at + 5;
  buf.writeUInt16LE(e.id.length, p);
  e.id.copy(buf, p + 2);
  p += 2 + e.id.length;
  buf.writeUInt16LE(e.subject.length, p);
  e.subject.copy(buf, p + 2);
  p += 2 + e.subject.length;
  buf.writeUInt32LE(e.headers.length, p);
  e.headers.copy(buf, p + 4);
  p += 4 + e.headers.length;
  buf.set(e.payload, p);
  return seal(buf, at, length);
}

/**
 * The event in the intact Event record at `at` (`length` bytes). The payload is a view of `buf`. Throws a
 * SyntaxError when the headers are not a JSON object of strings (a record this store never writes).
 */
export function readEvent(buf: Buffer, at: number, length: number): OutboxEvent {
  const end = at + length - 4;
  let p = at + 5;
  const idLength = buf.readUInt16LE(p);
  const id = buf.toString("utf8", p + 2, p + 2 + idLength);
  p += 2 + idLength;
  const subjectLength = buf.readUInt16LE(p);
  const subject = buf.toString("utf8", p + 2, p + 2 + subjectLength);
  p += 2 + subjectLength;
  const headersLength = buf.readUInt32LE(p);
  p += 4;
  const event: OutboxEvent = { id, subject, payload: buf.subarray(p + headersLength, end) };
  if (headersLength > 0) {
    const headers: unknown = JSON.parse(buf.toString("utf8", p, p + headersLength));
    if (
      typeof headers !== "object" ||
      headers === null ||
      Array.isArray(headers) ||
      !Object.values(headers).every((v) => typeof v === "string")
    ) {
      throw new SyntaxError("event headers are not a JSON object of strings");
    }
    event.headers = headers as Record<string, string>;
  }
  return event;
}

/** Offset after the variable parts of the Event record at `at`, or -1 when its lengths overrun the record. */
function eventPartsEnd(buf: Buffer, at: number, length: number): number {
  const end = at + length - 4;
  let p = at + 5;
  if (p + EVENT_FIXED > end) return -1;
  p += 2 + buf.readUInt16LE(p);
  if (p + 2 > end) return -1;
  p += 2 + buf.readUInt16LE(p);
  if (p + 4 > end) return -1;
  p += 4 + buf.readUInt32LE(p);
  return p > end ? -1 : p;
}

export function writeAck(buf: Buffer, at: number, upToPos: number): number {
  frame(buf, at, ACK_LENGTH, RecordType.Ack);
  buf.writeUIntLE(upToPos, at + 5, 6);
  return seal(buf, at, ACK_LENGTH);
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
  if (!isRecordType(buf[at + 4])) return 0;
  const end = at + length;
  return crc32(buf.subarray(at, end - 4)) === buf.readUInt32LE(end - 4) ? length : 0;
}

export function isRecordType(t: number): boolean {
  return (
    t === RecordType.Message ||
    t === RecordType.Event ||
    t === RecordType.Checkpoint ||
    t === RecordType.Trim ||
    t === RecordType.Ack ||
    t === RecordType.Discard ||
    t === RecordType.Header
  );
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

/** The u48 that opens the payload of Message (seq), Trim (belowSeq), Ack (upToPos) and Discard (offset) records. */
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
    case RecordType.Ack:
      return length === ACK_LENGTH;
    case RecordType.Event:
      return eventPartsEnd(buf, at, length) >= 0;
    default:
      return true;
  }
}
