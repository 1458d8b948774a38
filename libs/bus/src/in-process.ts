import type { Delivered, EventBus, Subscription } from "./bus.js";
import { type BusEvent, subjectMatches } from "./events.js";

/**
 * The embedded bus: events stay in the process, in memory, with the same duplicate-id semantics as a JetStream
 * stream (an id seen within the window is dropped). A product feature for `fixmesh start` on a laptop — not a
 * stand-in for NATS in tests of the NATS path.
 */
export class InProcessBus implements EventBus {
  readonly kind = "in-process";
  private log: Delivered[] = [];
  private readonly seen = new Map<string, number>();
  private seenOrder: Array<{ id: string; at: number }> = [];
  private seenHead = 0;
  private readonly subs = new Set<{ filter: string; handler: (e: Delivered) => void }>();
  private seq = 0;

  constructor(private readonly opts: { duplicateWindowMs?: number; maxEvents?: number; now?: () => number } = {}) {}

  async publish(events: readonly BusEvent[]): Promise<{ accepted: number; duplicates: number }> {
    const now = (this.opts.now ?? Date.now)();
    const window = this.opts.duplicateWindowMs ?? 120_000;
    // Forget ids older than the window, oldest first (amortised O(1) per event).
    while (this.seenOrder.length > this.seenHead && now - this.seenOrder[this.seenHead].at >= window) {
      const old = this.seenOrder[this.seenHead++];
      if (this.seen.get(old.id) === old.at) this.seen.delete(old.id);
    }
    if (this.seenHead > 4096 && this.seenHead * 2 > this.seenOrder.length) {
      this.seenOrder = this.seenOrder.slice(this.seenHead);
      this.seenHead = 0;
    }
    let accepted = 0;
    let duplicates = 0;
    for (const e of events) {
      const at = this.seen.get(e.id);
      if (at !== undefined && now - at < window) {
        duplicates++;
        continue;
      }
      this.seen.set(e.id, now);
      this.seenOrder.push({ id: e.id, at: now });
      const d: Delivered = { ...e, seq: ++this.seq };
      this.log.push(d);
      accepted++;
      for (const s of this.subs) if (subjectMatches(s.filter, d.subject)) s.handler(d);
    }
    // Keep the last maxEvents for replay; trim in steps, not on every publish.
    const max = this.opts.maxEvents ?? 100_000;
    if (this.log.length > max + Math.max(1024, max >> 3)) this.log = this.log.slice(this.log.length - max);
    return { accepted, duplicates };
  }

  async subscribe(
    filter: string,
    handler: (e: Delivered) => void,
    opts: { fromSeq?: number } = {},
  ): Promise<Subscription> {
    const sub = { filter, handler };
    if (opts.fromSeq !== undefined) {
      for (const d of this.log) if (d.seq >= opts.fromSeq && subjectMatches(filter, d.subject)) handler(d);
    }
    this.subs.add(sub);
    return {
      unsubscribe: async () => {
        this.subs.delete(sub);
      },
    };
  }

  async close(): Promise<void> {
    this.subs.clear();
  }
}
