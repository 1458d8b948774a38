import type { EventBus } from "./bus.js";
import type { BusEvent } from "./events.js";

/** An event waiting in the store's outbox, with its position there. */
export interface OutboxEntry extends BusEvent {
  pos: number;
}

/** What the publisher needs of a store: read the oldest unpublished events, and drop them once published. */
export interface OutboxSource {
  readOutbox(limit: number): Promise<OutboxEntry[]>;
  ackOutbox(upToPos: number): Promise<void>;
}

export interface PublisherStats {
  published: number;
  duplicates: number;
  failures: number;
  /** The last failure, or null once publishing works again. */
  lastError: string | null;
  /** Why the publisher stopped by itself (a newer epoch fenced the store), or undefined. */
  stoppedBy?: string;
}

/**
 * Drains a store's outbox to the bus, in order: read a batch, publish it, and only after the bus accepted every
 * event drop them from the outbox. When the bus is down the FIX session keeps running; the outbox grows and is
 * published, in order, when the bus returns. A crash between publish and ack republishes the batch, and the
 * bus's duplicate window drops the copies.
 *
 * Events this process commits can be handed over with `offer` (the store's commit says where they sit): while
 * what is offered follows, position by position, what was last published, the publisher takes it from memory and
 * reads nothing back — a store round trip less per batch, and none of the decoding. Anything else — a gap, a
 * failed publish or read, more offered than `maxOffered`, a fresh start — sends it back to reading the outbox,
 * which holds every event until it is acknowledged, so memory only ever saves reads, never decides what is
 * published. Acknowledgements may wait `ackEveryMs` to go together (a read goes after them, so it never returns
 * what was published; `drain` and `stop` send them).
 */
export class OutboxPublisher {
  readonly stats: PublisherStats = { published: 0, duplicates: 0, failures: 0, lastError: null };
  private running = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private pending = false;
  /** Offered events not published yet, positions consecutive. */
  private offered: OutboxEntry[] = [];
  /**
   * The position the next event to publish has: known after a publish; "first-offered" after a read that found
   * the outbox empty (every event committed since is offered, the first of them is next); null: read to find out.
   */
  private next: number | "first-offered" | null = null;
  /** Highest position published and not acknowledged yet (0: none), and since when. */
  private unacked = 0;
  private unackedSince = 0;
  /** Batches published from memory and from reads (for tests). */
  readonly sources = { memory: 0, read: 0 };

  constructor(
    private readonly source: OutboxSource,
    private readonly bus: EventBus,
    private readonly opts: {
      batch?: number;
      retryMinMs?: number;
      retryMaxMs?: number;
      idleMs?: number;
      /** Acknowledgements wait up to this long to go together (default 0: after every batch). */
      ackEveryMs?: number;
      /** Offered events held at most (default 8 × batch); beyond, the outbox is read instead. */
      maxOffered?: number;
    } = {},
  ) {}

  /**
   * Events just committed to the outbox by this process, in commit order (positions as the store gave them). Does
   * not wake the publisher: `notify` does.
   */
  offer(entries: readonly OutboxEntry[]): void {
    if (!this.running || entries.length === 0) return;
    // Each position one more than the one before it, the first one more than the last offered (if any).
    const first = (this.offered.at(-1)?.pos ?? entries[0].pos - 1) + 1;
    const fits = this.offered.length + entries.length <= (this.opts.maxOffered ?? 8 * (this.opts.batch ?? 256));
    if (!fits || !entries.every((e, i) => e.pos === first + i)) {
      this.forget();
      return;
    }
    for (const e of entries) this.offered.push(e);
  }

  /** Back to reading the outbox: what was offered is there too, until acknowledged. */
  private forget(): void {
    this.offered = [];
    this.next = null;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Tells the publisher that new events were committed (it also polls when idle). */
  notify(): void {
    this.pending = true;
    this.wake?.();
  }

  /** Publishes everything in the outbox now (stops on the first failure); for shutdown and tests. */
  async drain(): Promise<void> {
    for (;;) {
      const n = await this.once();
      if (n === 0) break;
    }
    await this.ack();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    // What was published goes out of the outbox now if it can (a newer leader's epoch refuses it: it republishes
    // them, and the bus's duplicate window drops the copies).
    await this.ack().catch(() => undefined);
    this.forget();
  }

  private async once(): Promise<number> {
    const limit = this.opts.batch ?? 256;
    let batch: OutboxEntry[];
    const head = this.offered[0];
    if (head !== undefined && (this.next === head.pos || this.next === "first-offered")) {
      batch = this.offered.splice(0, limit);
      this.sources.memory++;
    } else {
      // A read must not return what was published and is waiting to be acknowledged.
      await this.ack();
      try {
        batch = await this.source.readOutbox(limit);
      } catch (err) {
        this.forget();
        throw err;
      }
      if (batch.length === 0) {
        // Nothing unpublished when the read ran: what was offered since was committed after it, and whatever is
        // committed from now on is offered too — the first offered event is the next one.
        this.next = "first-offered";
        return 0;
      }
      this.sources.read++;
    }
    try {
      const r = await this.bus.publish(batch);
      this.stats.published += r.accepted;
      this.stats.duplicates += r.duplicates;
    } catch (err) {
      this.forget();
      throw err;
    }
    const lastPos = batch[batch.length - 1].pos;
    this.next = lastPos + 1;
    // What a read returned may have been offered too (committed while it was on its way).
    let drop = 0;
    while (drop < this.offered.length && this.offered[drop].pos <= lastPos) drop++;
    if (drop > 0) this.offered.splice(0, drop);
    if (this.unacked === 0) this.unackedSince = Date.now();
    this.unacked = lastPos;
    const every = this.opts.ackEveryMs ?? 0;
    if (every <= 0 || Date.now() - this.unackedSince >= every) await this.ack();
    return batch.length;
  }

  /** Acknowledges what was published (fenced by the store: a newer leader's epoch fails it). */
  private async ack(): Promise<void> {
    if (this.unacked === 0) return;
    const upTo = this.unacked;
    try {
      await this.source.ackOutbox(upTo);
    } catch (err) {
      this.forget();
      throw err;
    }
    if (this.unacked === upTo) this.unacked = 0;
  }

  private async run(): Promise<void> {
    let delay = this.opts.retryMinMs ?? 100;
    while (this.running) {
      this.pending = false;
      let n = 0;
      try {
        n = await this.once();
        delay = this.opts.retryMinMs ?? 100;
        this.stats.lastError = null;
      } catch (err) {
        this.stats.failures++;
        this.stats.lastError = err instanceof Error ? err.message : String(err);
        // A newer leader owns the store: its outbox is no longer ours to publish (and publishing it again and
        // again, never able to ack, would put copies on the bus once the duplicate window has passed).
        if (err instanceof Error && err.name === "StaleEpochError") {
          this.running = false;
          this.stats.stoppedBy = err.message;
          break;
        }
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.opts.retryMaxMs ?? 5000);
        continue;
      }
      // Less than a full batch: the outbox held no more when it was read, so the next read waits for a notify
      // (or the idle poll) instead of asking again at once, an empty read per batch.
      if (n < (this.opts.batch ?? 256) && !this.pending) await this.sleep(this.opts.idleMs ?? 1000);
    }
  }

  private sleep(ms: number): Promise<void> {
    // `stop` may have come while a batch was in flight: its wake-up found no sleep to end.
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }
}
