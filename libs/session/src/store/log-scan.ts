/**
 * Reading a file-store log back: the header, then units (records closed by an intact checkpoint), applied
 * to a LogState. Used at open (from the header to the end) and by a writer that finds someone else appended
 * (from its last known unit end to the end), so both see the log the same way.
 */
import type { FileHandle } from "node:fs/promises";
import { StoreCorruptError } from "../errors.js";
import type { OutboxIndex } from "./outbox-index.js";
import {
  CheckpointFlag,
  FRAME,
  type HeaderInfo,
  intactRecordAt,
  isRecordType,
  MAX_RECORD,
  RecordType,
  readCheckpoint,
  readU48,
  wellFormed,
} from "./record.js";
import type { SeqIndex } from "./seq-index.js";

const CHUNK = 1024 * 1024;

/** What a log says, as far as it has been read. */
export interface LogState {
  nextSenderSeq: number;
  nextTargetSeq: number;
  /** Highest epoch of an accepted unit (the header's to begin with). */
  epoch: number;
  readonly index: SeqIndex;
  /** Unacknowledged outbox events; positions continue from the header's `outboxPos`. */
  readonly outbox: OutboxIndex;
  /** End of the last complete unit: where reading resumes, and where a torn tail begins. */
  goodEnd: number;
  /** File size when last read or written; `end > goodEnd` means a torn tail sits in between. */
  end: number;
  /** The last accepted unit sealed the log (its cycle was reset). */
  sealed: boolean;
}

/** A unit met while scanning, for a writer checking whose appends it finds. */
export interface UnitSeen {
  writer: Buffer;
  epoch: number;
  /** False when a unit with a higher epoch came before it: a deposed writer's late append, void. */
  accepted: boolean;
}

/** Sequential reads through a buffer, so the scan awaits once per chunk, not once per record. */
class Window {
  buf: Buffer = Buffer.alloc(0);
  start = 0;
  end = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
  ) {}

  /** Makes file bytes [at, at + n) available, or as many of them as the file has. */
  async load(at: number, n: number): Promise<void> {
    if (at >= this.start && at + n <= this.end) return;
    const want = Math.max(0, Math.min(Math.max(n, CHUNK), this.size - at));
    if (want > this.buf.length) this.buf = Buffer.allocUnsafe(Math.max(want, Math.min(CHUNK, this.size)));
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.fh.read(this.buf, got, want - got, at + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.start = at;
    this.end = at + got;
  }

  /** Length of the intact record at file offset `at` (loading it as needed), or 0. */
  async intactAt(at: number): Promise<number> {
    await this.load(at, FRAME);
    if (at + FRAME > this.end) return 0;
    const length = this.buf.readUInt32LE(at - this.start);
    if (length < FRAME || length > MAX_RECORD || at + length > this.size) return 0;
    await this.load(at, length);
    return intactRecordAt(this.buf, at - this.start, this.end - this.start);
  }

  /** `intactAt` without awaiting, when the window already holds the record; -1 when it must be loaded. */
  intactLoaded(at: number): number {
    if (at < this.start || at + FRAME > this.end) return -1;
    const length = this.buf.readUInt32LE(at - this.start);
    if (length < FRAME || length > MAX_RECORD || at + length > this.size) return 0;
    if (at + length > this.end) return -1;
    return intactRecordAt(this.buf, at - this.start, this.end - this.start);
  }

  /** File offset of the first intact record at or after `from`, or -1. */
  async resync(from: number): Promise<number> {
    let p = from;
    while (p + FRAME <= this.size) {
      await this.load(p, FRAME);
      if (p + FRAME > this.end) break;
      while (p + FRAME <= this.end) {
        const i = p - this.start;
        const length = this.buf.readUInt32LE(i);
        // Cheap plausibility first; the CRC only for candidates (the log is mostly FIX text, whose four
        // bytes read as a length are far beyond MAX_RECORD).
        if (length >= FRAME && length <= MAX_RECORD && p + length <= this.size && isRecordType(this.buf[i + 4])) {
          if ((await this.intactAt(p)) > 0) return p;
        }
        p++;
      }
    }
    return -1;
  }
}

/** Reads and checks the header record; returns it and where the first unit starts. */
export async function readHeader(
  fh: FileHandle,
  path: string,
  size: number,
): Promise<{ header: HeaderInfo; end: number }> {
  const w = new Window(fh, size);
  const length = await w.intactAt(0);
  if (length === 0 || w.buf[4] !== RecordType.Header) {
    throw new StoreCorruptError(path, "no intact header record at offset 0");
  }
  let h: Partial<HeaderInfo>;
  try {
    h = JSON.parse(w.buf.toString("utf8", 5, length - 4)) as Partial<HeaderInfo>;
  } catch (cause) {
    throw new StoreCorruptError(path, "header record is not JSON", { cause });
  }
  if (
    (h.format !== 1 && h.format !== 2) ||
    (h.outboxPos !== undefined && !(Number.isSafeInteger(h.outboxPos) && h.outboxPos >= 0)) ||
    typeof h.session !== "string" ||
    typeof h.cycle !== "string" ||
    !Number.isSafeInteger(h.creationTime) ||
    !Number.isSafeInteger(h.epoch) ||
    !Number.isSafeInteger(h.nextSenderSeq) ||
    !Number.isSafeInteger(h.nextTargetSeq)
  ) {
    throw new StoreCorruptError(path, `header record has an unknown format: ${JSON.stringify(h)}`);
  }
  return { header: h as HeaderInfo, end: length };
}

interface Pending {
  type: number;
  at: number;
  length: number;
  /** seq (Message), belowSeq (Trim), upToPos (Ack); 0 for an Event. */
  value: number;
}

/**
 * Applies the units in [state.goodEnd, size) to `state`.
 *
 * - A unit counts only when its closing checkpoint is intact, and only if its epoch is not below one already
 *   accepted (a deposed writer's late append is void).
 * - Bytes that are not an intact record, with no intact record after them, are a torn tail: left alone,
 *   `state.goodEnd` stays before them. (Opening never writes; the next write voids the tail with a Discard.)
 * - Bytes that are not an intact record followed by an intact record are corruption — unless that record is
 *   the Discard that voids exactly this tail.
 */
export async function scanUnits(
  fh: FileHandle,
  path: string,
  state: LogState,
  size: number,
  onUnit?: (u: UnitSeen) => void,
): Promise<void> {
  const w = new Window(fh, size);
  const pending: Pending[] = [];
  let unitStart = state.goodEnd;
  let pos = unitStart;
  const corrupt = (at: number, detail: string) => new StoreCorruptError(path, `offset ${at}: ${detail}`);

  while (pos < size) {
    let length = w.intactLoaded(pos);
    if (length < 0) length = await w.intactAt(pos);
    if (length === 0) {
      const next = await w.resync(pos + 1);
      if (next < 0) break; // torn tail
      if (w.buf[next - w.start + 4] !== RecordType.Discard || readU48(w.buf, next - w.start) !== unitStart) {
        throw corrupt(pos, `damaged record followed by an intact record at offset ${next}`);
      }
      pos = next;
      length = await w.intactAt(pos);
    }
    const i = pos - w.start;
    const type = w.buf[i + 4];
    if (!wellFormed(w.buf, i, length)) throw corrupt(pos, `record of type 0x${type.toString(16)} is malformed`);
    switch (type) {
      case RecordType.Message:
      case RecordType.Trim:
      case RecordType.Ack:
        pending.push({ type, at: pos, length, value: readU48(w.buf, i) });
        break;
      case RecordType.Event:
        pending.push({ type, at: pos, length, value: 0 });
        break;
      case RecordType.Discard:
        // Voids the incomplete unit at its offset. One naming an older offset lost a race with an append
        // that completed meanwhile and voids nothing.
        if (readU48(w.buf, i) === unitStart) pending.length = 0;
        else if (pending.length > 0) throw corrupt(pos, "discard record inside a unit");
        unitStart = pos + length;
        break;
      case RecordType.Checkpoint: {
        const c = readCheckpoint(w.buf, i);
        if (c.count !== pending.length) {
          throw corrupt(pos, `checkpoint closes ${c.count} records but ${pending.length} precede it`);
        }
        const accepted = c.epoch >= state.epoch;
        if (accepted) {
          for (const r of pending) {
            switch (r.type) {
              case RecordType.Message:
                state.index.set(r.value, r.at, r.length);
                break;
              case RecordType.Event:
                state.outbox.push(r.at, r.length);
                break;
              case RecordType.Trim:
                state.index.deleteBelow(r.value);
                break;
              default:
                state.outbox.dropUpTo(r.value);
            }
          }
          if (c.flags & CheckpointFlag.Seqs) {
            state.nextSenderSeq = c.nextSenderSeq;
            state.nextTargetSeq = c.nextTargetSeq;
          }
          state.epoch = c.epoch;
          state.sealed = (c.flags & CheckpointFlag.Seal) !== 0;
        }
        onUnit?.({ writer: Buffer.from(c.writer), epoch: c.epoch, accepted });
        pending.length = 0;
        unitStart = pos + length;
        break;
      }
      default:
        throw corrupt(pos, "header record inside the log");
    }
    pos += length;
  }
  state.goodEnd = unitStart;
  state.end = size;
}
