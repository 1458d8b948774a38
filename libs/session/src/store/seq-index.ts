const PAGE = 4096;

interface Page {
  /** File offset of the seq's record. */
  readonly offset: Float64Array;
  /** Record length; 0 = no record. */
  readonly length: Uint32Array;
  count: number;
}

/** Where one stored message's record lies in the log. */
export interface IndexEntry {
  seq: number;
  offset: number;
  length: number;
}

/**
 * seq → (offset, length) of the message's record in the log, in 12 bytes per seq: typed-array pages of 4096
 * seqs, allocated only where messages exist, so a jump in MsgSeqNum (SequenceReset) costs nothing.
 */
export class SeqIndex {
  private readonly pages = new Map<number, Page>();
  private highest = 0;
  private entries = 0;

  get size(): number {
    return this.entries;
  }

  set(seq: number, offset: number, length: number): void {
    const p = Math.floor(seq / PAGE);
    let page = this.pages.get(p);
    if (page === undefined) {
      page = { offset: new Float64Array(PAGE), length: new Uint32Array(PAGE), count: 0 };
      this.pages.set(p, page);
    }
    const i = seq - p * PAGE;
    if (page.length[i] === 0) {
      page.count++;
      this.entries++;
    }
    page.offset[i] = offset;
    page.length[i] = length;
    if (seq > this.highest) this.highest = seq;
  }

  /** Drops every seq below `seq`. */
  deleteBelow(seq: number): void {
    const last = Math.floor(seq / PAGE);
    for (const [p, page] of this.pages) {
      if (p < last) {
        this.entries -= page.count;
        this.pages.delete(p);
      } else if (p === last) {
        for (let i = 0; i < seq - p * PAGE; i++) {
          if (page.length[i] !== 0) {
            page.length[i] = 0;
            page.count--;
            this.entries--;
          }
        }
        if (page.count === 0) this.pages.delete(p);
      }
    }
    if (this.entries === 0) this.highest = 0;
  }

  clear(): void {
    this.pages.clear();
    this.highest = 0;
    this.entries = 0;
  }

  /** Entries with seq in [begin, end], ascending. */
  range(begin: number, end: number): IndexEntry[] {
    const out: IndexEntry[] = [];
    const lo = Math.max(1, Math.ceil(begin));
    const hi = Math.min(Math.floor(end), this.highest);
    if (!(hi >= lo)) return out;
    const first = Math.floor(lo / PAGE);
    const last = Math.floor(hi / PAGE);
    const pageNumbers: number[] = [];
    if (last - first < this.pages.size) {
      for (let p = first; p <= last; p++) if (this.pages.has(p)) pageNumbers.push(p);
    } else {
      for (const p of this.pages.keys()) if (p >= first && p <= last) pageNumbers.push(p);
      pageNumbers.sort((a, b) => a - b);
    }
    for (const p of pageNumbers) {
      const page = this.pages.get(p)!;
      const base = p * PAGE;
      const from = Math.max(lo - base, 0);
      const to = Math.min(hi - base, PAGE - 1);
      for (let i = from; i <= to; i++) {
        if (page.length[i] !== 0) out.push({ seq: base + i, offset: page.offset[i], length: page.length[i] });
      }
    }
    return out;
  }
}
