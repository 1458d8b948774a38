import type { Delivered, EventBus, Subscription } from "./bus.js";
import { type BusEvent, subjectMatches } from "./events.js";

/**
 * The embedded bus: events stay in the process, in memory, with the same duplicate-id semantics as a JetStream
 * stream (an id seen within the window is dropped). A product feature for `fixmesh start` on a laptop — not a
 * stand-in for NATS in tests of the NATS path.
 */
export class InProcessBus implements EventBus {
  readonly kind = "in-process";
  private readonly log: Delivered[] = [];
  private readonly seen = new Map<string, number>();
  private readonly subs = new Set<{ filter: string; handler: (e: Delivered) => void }>();
  private seq = 0;

  constructor(private readonly opts: { duplicateWindowMs?: number; maxEvents?: number; now?: () => number } = {}) {}

  async publish(events: readonly BusEvent[]): Promise<{ accepted: number; duplicates: number }> {
    const now = (this.opts.now ?? Date.now)();
    const window = this.opts.duplicateWindowMs ?? 120_000;
    let accepted = 0;
    let duplicates = 0;
    for (const e of events) {
      const at = this.seen.get(e.id);
      if (at !== undefined && now - at < window) {
        duplicates++;
        continue;
      }
      this.seen.set(e.id, now);
      const d: Delivered = { ...e, seq: ++this.seq };
      this.log.push(d);
      accepted++;
      for (const s of this.subs) if (subjectMatches(s.filter, d.subject)) s.handler(d);
    }
    const max = this.opts.maxEvents ?? 100_000;
    if (this.log.length > max) this.log.splice(0, this.log.length - max);
    if (this.seen.size > max * 2) {
      for (const [id, at] of this.seen) if (now - at >= window) this.seen.delete(id);
    }
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
