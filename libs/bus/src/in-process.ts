import { AgeQueue } from "@fixmesh/session";
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
import { type BusEvent, subjectMatcher } from "./events.js";

/**
 * The embedded bus: events stay in the process, in memory, with the same duplicate-id semantics as a JetStream
 * stream (an id seen within the window is dropped). A product feature for `fixmesh start` on a laptop — not a
 * stand-in for NATS in tests of the NATS path.
 */
export class InProcessBus implements EventBus {
  readonly kind = "in-process";
  private log: Delivered[] = [];
  /** Ids seen within the duplicate window → when. */
  private readonly seen = new Map<string, number>();
  /** The same ids oldest first, at most `maxIds` of them. */
  private readonly ages = new AgeQueue<string>();
  private readonly idCapacity: number;
  private readonly subs = new Set<{ matches: (subject: string) => boolean; handler: (e: Delivered) => unknown }>();
  /** Each filter a subscriber or durable reads with, compiled once. */
  private readonly matchers = new Map<string, (subject: string) => boolean>();
  private seq = 0;
  private readonly durables = new Map<string, InProcessDurableState>();
  private readonly publishListeners = new Set<() => void>();

  constructor(
    private readonly opts: {
      /** An id seen again within this time is dropped (JetStream's duplicate window; 2 min). */
      duplicateWindowMs?: number;
      /** Events kept for replay (`fromSeq`) beyond what durables still need (100,000). */
      maxEvents?: number;
      /**
       * At most this many ids are remembered for the duplicate window, the oldest forgotten first (2 × maxEvents).
       * Unlike JetStream's window, which is time only: at thousands of events a second two minutes of ids would
       * hold hundreds of MB of heap in the process. A copy comes from a publish retried within moments (the outbox
       * re-publishing what it could not mark), far inside this bound.
       */
      maxIds?: number;
      now?: () => number;
    } = {},
  ) {
    this.idCapacity = Math.max(1, opts.maxIds ?? 2 * (opts.maxEvents ?? 100_000));
  }

  async publish(events: readonly BusEvent[]): Promise<{ accepted: number; duplicates: number }> {
    const now = (this.opts.now ?? Date.now)();
    const window = this.opts.duplicateWindowMs ?? 120_000;
    // Forget ids older than the window, oldest first (amortised O(1) per event).
    while (this.ages.length > 0 && now - this.ages.oldestAt >= window) this.forgetOldest();
    let accepted = 0;
    let duplicates = 0;
    for (const e of events) {
      const at = this.seen.get(e.id);
      if (at !== undefined && now - at < window) {
        duplicates++;
        continue;
      }
      this.remember(e.id, now);
      // A literal, not a spread of `e` (the spread cost about a microsecond an event).
      const d: Delivered =
        e.headers === undefined
          ? { id: e.id, subject: e.subject, payload: e.payload, seq: ++this.seq }
          : { id: e.id, subject: e.subject, payload: e.payload, headers: e.headers, seq: ++this.seq };
      this.log.push(d);
      accepted++;
      for (const s of this.subs) if (s.matches(d.subject)) deliver(s.handler, d);
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

  /** Notes an id as seen now, forgetting the oldest when `maxIds` are held. */
  private remember(id: string, now: number): void {
    if (this.ages.length >= this.idCapacity) this.forgetOldest();
    this.ages.push(id, now);
    this.seen.set(id, now);
  }

  private forgetOldest(): void {
    const id = this.ages.oldestKey as string;
    // The id may have been noted again since (after its window): only this noting is forgotten.
    if (this.seen.get(id) === this.ages.oldestAt) this.seen.delete(id);
    this.ages.shift();
  }

  async subscribe(
    filter: string,
    handler: (e: Delivered) => unknown,
    opts: { fromSeq?: number } = {},
  ): Promise<Subscription> {
    const sub = { matches: this.matcher(filter), handler };
    if (opts.fromSeq !== undefined) {
      for (const d of this.log) if (d.seq >= opts.fromSeq && sub.matches(d.subject)) deliver(handler, d);
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

  private matcher(filter: string): (subject: string) => boolean {
    let m = this.matchers.get(filter);
    if (m === undefined) {
      m = subjectMatcher(filter);
      this.matchers.set(filter, m);
    }
    return m;
  }

  private readonly durableLog: DurableLog = {
    readFrom: (fromSeq, filter, max) => {
      const first = this.log[0]?.seq ?? this.seq + 1;
      const events: Delivered[] = [];
      const matches = this.matcher(filter);
      let i = Math.max(0, fromSeq - first);
      for (; i < this.log.length && events.length < max; i++) {
        if (matches(this.log[i].subject)) events.push(this.log[i]);
      }
      return { events, nextSeq: first + i };
    },
    lastSeq: () => this.seq,
    countFrom: (fromSeq, filter) => {
      const first = this.log[0]?.seq ?? this.seq + 1;
      let n = 0;
      const matches = this.matcher(filter);
      for (let i = Math.max(0, fromSeq - first); i < this.log.length; i++) {
        if (matches(this.log[i].subject)) n++;
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
