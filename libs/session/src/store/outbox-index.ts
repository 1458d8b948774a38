/** Where one unacknowledged outbox event's record lies in the log. */
export interface OutboxIndexEntry {
  pos: number;
  offset: number;
  length: number;
}

/**
 * The file store's unacknowledged outbox events: pos → (offset, length) of each one's Event record in the
 * current log, 12 bytes per event; the payloads stay on disk.
 *
 * Positions are not stored in the records: the events of a log are numbered in log order, from the header's
 * `outboxPos` + 1. Since events are only added at the end and acks only drop the oldest, the unacknowledged ones
 * are always the contiguous run `firstPos..lastPos`, which is all this keeps besides the offsets — a queue.
 */
export class OutboxIndex {
  private offsets = new Float64Array(64);
  private lengths = new Uint32Array(64);
  /** Slot of the oldest unacknowledged event. */
  private head = 0;
  /** Slot after the newest. */
  private tail = 0;
  private last: number;

  /** `lastPos`: the position handed out last before this log's first event (0 for a new session). */
  constructor(lastPos: number) {
    this.last = lastPos;
  }

  /** The position handed out last (acknowledged or not). */
  get lastPos(): number {
    return this.last;
  }

  /** Unacknowledged events. */
  get size(): number {
    return this.tail - this.head;
  }

  /** Position of the oldest unacknowledged event (`lastPos + 1` when there is none). */
  get firstPos(): number {
    return this.last - this.size + 1;
  }

  /** Adds the next event; returns its position. */
  push(offset: number, length: number): number {
    if (this.tail === this.offsets.length) this.makeRoom();
    this.offsets[this.tail] = offset;
    this.lengths[this.tail] = length;
    this.tail++;
    return ++this.last;
  }

  /** Drops the events with pos ≤ `pos`. */
  dropUpTo(pos: number): void {
    const n = Math.min(this.size, Math.max(0, pos - this.firstPos + 1));
    this.head += n;
    if (this.head === this.tail) {
      this.head = this.tail = 0;
      // A backlog drained (the bus was down a while): give its memory back.
      if (this.offsets.length > 4096) {
        this.offsets = new Float64Array(64);
        this.lengths = new Uint32Array(64);
      }
    }
  }

  /** The oldest `limit` unacknowledged events after skipping `skip` of them, in order. */
  entries(limit: number, skip = 0): OutboxIndexEntry[] {
    const out: OutboxIndexEntry[] = [];
    const from = this.head + Math.max(0, skip);
    const to = Math.min(this.tail, from + Math.max(0, limit));
    const base = this.firstPos - this.head;
    for (let i = from; i < to; i++) out.push({ pos: base + i, offset: this.offsets[i], length: this.lengths[i] });
    return out;
  }

  /** Moves the live slots to the front, or doubles the arrays when they are more than half full. */
  private makeRoom(): void {
    const size = this.size;
    if (size <= this.offsets.length >> 1) {
      this.offsets.copyWithin(0, this.head, this.tail);
      this.lengths.copyWithin(0, this.head, this.tail);
    } else {
      const offsets = new Float64Array(this.offsets.length * 2);
      const lengths = new Uint32Array(this.lengths.length * 2);
      offsets.set(this.offsets.subarray(this.head, this.tail));
      lengths.set(this.lengths.subarray(this.head, this.tail));
      this.offsets = offsets;
      this.lengths = lengths;
    }
    this.head = 0;
    this.tail = size;
  }
}
