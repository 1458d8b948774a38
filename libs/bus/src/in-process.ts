import type { Delivered, EventBus, Subscription } from "./bus.js";
import {
  DurableConfigError,
  type DurableConsumer,
  type DurableConsumerOptions,
  type DurableLog,
  InProcessDurableConsumer,
  type InProcessDurableState,
  validateDurableOptions,
} from "./durable.js";
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
  private readonly subs = new Set<{ filter: string; handler: (e: Delivered) => unknown }>();
  private seq = 0;
  private readonly durables = new Map<string, InProcessDurableState>();
  private readonly publishListeners = new Set<() => void>();

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
      for (const s of this.subs) if (subjectMatches(s.filter, d.subject)) deliver(s.handler, d);
    }
    // Keep the last maxEvents for replay; trim in steps, not on every publish. Events a durable has not
    // acknowledged yet are kept too, up to 4 × maxEvents (a durable stuck longer than that loses the oldest).
    const max = this.opts.maxEvents ?? 100_000;
    if (this.log.length > max + Math.max(1024, max >> 3)) {
      const keepFrom = Math.max(this.seq - 4 * max + 1, Math.min(this.seq - max + 1, this.oldestUnacked()));
      const first = this.log[0]?.seq ?? keepFrom;
      if (keepFrom > first) this.log = this.log.slice(keepFrom - first);
    }
    if (accepted > 0) for (const l of this.publishListeners) l();
    return { accepted, duplicates };
  }

  async subscribe(
    filter: string,
    handler: (e: Delivered) => unknown,
    opts: { fromSeq?: number } = {},
  ): Promise<Subscription> {
    const sub = { filter, handler };
    if (opts.fromSeq !== undefined) {
      for (const d of this.log) if (d.seq >= opts.fromSeq && subjectMatches(filter, d.subject)) deliver(handler, d);
    }
    this.subs.add(sub);
    return {
      unsubscribe: async () => {
        this.subs.delete(sub);
      },
    };
  }

  private oldestUnacked(): number {
    let oldest = Number.POSITIVE_INFINITY;
    for (const d of this.durables.values()) {
      oldest = Math.min(oldest, d.nextSeq);
      for (const k of d.inflight.keys()) oldest = Math.min(oldest, k);
      for (const b of d.returned) oldest = Math.min(oldest, b[0]?.seq ?? oldest);
    }
    return oldest;
  }

  private readonly durableLog: DurableLog = {
    readFrom: (fromSeq, filter, max) => {
      const first = this.log[0]?.seq ?? this.seq + 1;
      const events: Delivered[] = [];
      let i = Math.max(0, fromSeq - first);
      for (; i < this.log.length && events.length < max; i++) {
        if (subjectMatches(filter, this.log[i].subject)) events.push(this.log[i]);
      }
      return { events, nextSeq: first + i };
    },
    lastSeq: () => this.seq,
    countFrom: (fromSeq, filter) => {
      const first = this.log[0]?.seq ?? this.seq + 1;
      let n = 0;
      for (let i = Math.max(0, fromSeq - first); i < this.log.length; i++) {
        if (subjectMatches(filter, this.log[i].subject)) n++;
      }
      return n;
    },
    onPublish: (listener) => {
      this.publishListeners.add(listener);
      return () => this.publishListeners.delete(listener);
    },
  };

  /**
   * A durable consumer held in memory (it lives as long as this bus): same name, same position; members
   * started with the same name share the work. See `DurableConsumer` for the delivery rules.
   */
  async durable(options: DurableConsumerOptions): Promise<DurableConsumer> {
    const opts = validateDurableOptions(options);
    let state = this.durables.get(opts.name);
    if (state && state.filter !== opts.filter) {
      throw new DurableConfigError(
        "filter",
        `durable "${opts.name}" already exists with filter "${state.filter}", not "${opts.filter}"`,
      );
    }
    if (!state) {
      const first = this.log[0]?.seq ?? this.seq + 1;
      state = {
        filter: opts.filter,
        nextSeq: opts.deliver === "new" ? this.seq + 1 : first,
        inflight: new Map(),
        returned: [],
      };
      this.durables.set(opts.name, state);
    }
    return new InProcessDurableConsumer(this.durableLog, state, opts);
  }

  async close(): Promise<void> {
    this.subs.clear();
    this.publishListeners.clear();
  }
}

/** Hands `d` to a subscriber without waiting for it (a promise it returns is not awaited, its failure dropped). */
function deliver(handler: (e: Delivered) => unknown, d: Delivered): void {
  const r = handler(d);
  if (r instanceof Promise) r.catch(() => undefined);
}
