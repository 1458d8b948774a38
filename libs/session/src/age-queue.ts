/**
 * Keys in the order they were noted, each with its time: what a bounded map with an age (a TTL, a count) forgets
 * first. Two parallel arrays read from a head and compacted as it moves — no object per entry, O(1) amortised.
 * A map's own insertion order will not do: forgetting its oldest entries one by one leaves deleted slots at its
 * front, which every new iteration walks again until V8 compacts the table (~40 µs an insert at 100,000 keys).
 * A key noted again gets a second slot; the map that owns the queue tells a stale slot by its time.
 */
export class AgeQueue<K> {
  private keys: Array<K | undefined> = [];
  private ats: number[] = [];
  private head = 0;

  get length(): number {
    return this.keys.length - this.head;
  }

  push(key: K, at: number): void {
    this.keys.push(key);
    this.ats.push(at);
  }

  /** The oldest key (undefined when empty). */
  get oldestKey(): K | undefined {
    return this.keys[this.head];
  }

  /** The oldest key's time (NaN when empty). */
  get oldestAt(): number {
    return this.head < this.ats.length ? (this.ats[this.head] as number) : Number.NaN;
  }

  /** Drops the oldest slot. */
  shift(): void {
    if (this.head >= this.keys.length) return;
    this.keys[this.head] = undefined;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.keys.length) {
      this.keys = this.keys.slice(this.head);
      this.ats = this.ats.slice(this.head);
      this.head = 0;
    }
  }
}
