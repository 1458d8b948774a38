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
 */
export class OutboxPublisher {
  readonly stats: PublisherStats = { published: 0, duplicates: 0, failures: 0, lastError: null };
  private running = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private pending = false;

  constructor(
    private readonly source: OutboxSource,
    private readonly bus: EventBus,
    private readonly opts: { batch?: number; retryMinMs?: number; retryMaxMs?: number; idleMs?: number } = {},
  ) {}

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
      if (n === 0) return;
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private async once(): Promise<number> {
    const batch = await this.source.readOutbox(this.opts.batch ?? 256);
    if (batch.length === 0) return 0;
    const r = await this.bus.publish(batch);
    this.stats.published += r.accepted;
    this.stats.duplicates += r.duplicates;
    await this.source.ackOutbox(batch[batch.length - 1].pos);
    return batch.length;
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
