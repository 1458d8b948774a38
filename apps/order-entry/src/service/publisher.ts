/**
 * ORDERS events: every committed update of every order, published on JetStream stream ORDERS (subject
 * `<prefix>.<session>.<account>`, id `<orderId>:<version>`) for risk and persistence. The update log in the store
 * is the outbox: an entry is published right after its commit and marked; a sweep republishes entries left
 * unmarked (this instance died between commit and publish, or NATS was down) — the stream's duplicate window drops
 * a second copy of an id.
 */
import { type BusEvent, type EventBus, orderEventId, sessionToken } from "@fixmesh/bus";
import type { Logger } from "pino";
import type { LogEntry, OrderRepository } from "../store/types.js";

export interface PublisherOptions {
  bus: EventBus | null;
  repo: OrderRepository;
  /** Subject prefix (default `orders`). */
  subjectPrefix?: string;
  logger: Logger;
  /** Sweep period and the age of an unmarked entry it republishes (default 2 s). */
  sweepMs?: number;
  /**
   * How long the first event waits for others before they are published together (default 5 ms; 0: the next
   * event-loop turn). Nobody waits on these events for an answer (clients read the update log; risk and persistence
   * follow the stream), and at a few hundred orders a second a publish per update was a JetStream round trip, a
   * marking round trip and a delivery to every consumer per event — a wake-up of four processes each time.
   */
  lingerMs?: number;
  /**
   * How long published positions wait to be marked in the store together (default 200 ms; 0: marked right after
   * each publish). A mark is a store round trip that nobody waits for: marked late, an entry is at worst published
   * again by a sweep — never, as the sweep takes entries older than `sweepMs` and marks what is waiting first.
   */
  markMs?: number;
}

const DEFAULT_LINGER_MS = 5;
const DEFAULT_MARK_MS = 200;
/** Positions waiting to be marked that make a mark go at once. */
const MARK_BATCH = 1000;

export function orderEventOf(e: LogEntry, prefix: string): BusEvent {
  const ev = e.event;
  const out: BusEvent = {
    id: orderEventId(ev.orderId, ev.version),
    subject: `${prefix}.${sessionToken(ev.order.sessionId)}.${sessionToken(ev.order.account || "_")}`,
    payload: Buffer.from(JSON.stringify(ev)),
  };
  if (ev.traceparent) out.headers = { traceparent: ev.traceparent };
  return out;
}

export class OrderEventPublisher {
  private queue: LogEntry[] = [];
  private scheduled = false;
  private sweeper: NodeJS.Timeout | null = null;
  private readonly prefix: string;
  private closed = false;
  private inFlight: Promise<void> = Promise.resolve();
  private marks: number[] = [];
  private markTimer: NodeJS.Timeout | null = null;
  published = 0;
  failures = 0;

  constructor(private readonly opts: PublisherOptions) {
    this.prefix = opts.subjectPrefix ?? "orders";
  }

  start(): void {
    const every = this.opts.sweepMs ?? 2000;
    this.sweeper = setInterval(() => void this.sweep(every), every);
    this.sweeper.unref();
  }

  push(entries: readonly LogEntry[]): void {
    if (this.closed) return;
    this.queue.push(...entries);
    if (this.scheduled) return;
    this.scheduled = true;
    const go = () => {
      this.scheduled = false;
      const batch = this.queue;
      this.queue = [];
      this.inFlight = this.inFlight.then(() => this.publish(batch));
    };
    const linger = this.opts.lingerMs ?? DEFAULT_LINGER_MS;
    if (linger > 0) setTimeout(go, linger);
    else setImmediate(go);
  }

  private async publish(batch: LogEntry[]): Promise<void> {
    if (batch.length === 0) return;
    if (this.opts.bus === null) {
      this.mark(batch);
      return;
    }
    try {
      await this.opts.bus.publish(batch.map((e) => orderEventOf(e, this.prefix)));
      this.published += batch.length;
      this.mark(batch);
    } catch (err) {
      // Left unmarked: the sweep publishes them again.
      this.failures++;
      this.opts.logger.warn({ err, events: batch.length }, "ORDERS publish failed; will retry");
    }
  }

  private mark(batch: readonly LogEntry[]): void {
    for (const e of batch) this.marks.push(e.position);
    const wait = this.opts.markMs ?? DEFAULT_MARK_MS;
    if (wait <= 0 || this.marks.length >= MARK_BATCH) {
      void this.flushMarks();
      return;
    }
    if (this.markTimer === null) {
      this.markTimer = setTimeout(() => void this.flushMarks(), wait);
      this.markTimer.unref();
    }
  }

  /** Marks what was published since the last mark; what fails to be marked is published again by a sweep. */
  private async flushMarks(): Promise<void> {
    if (this.markTimer !== null) clearTimeout(this.markTimer);
    this.markTimer = null;
    const positions = this.marks;
    if (positions.length === 0) return;
    this.marks = [];
    await this.opts.repo
      .markPublished(positions)
      .catch((err: unknown) => this.opts.logger.warn({ err, events: positions.length }, "ORDERS marking failed"));
  }

  private async sweep(olderThanMs: number): Promise<void> {
    if (this.closed) return;
    try {
      // Entries published but not marked yet are not stale: marked first, the sweep does not see them.
      await this.flushMarks();
      const stale = await this.opts.repo.unpublished(olderThanMs, Date.now(), 1000);
      if (stale.length > 0) this.inFlight = this.inFlight.then(() => this.publish(stale));
      await this.inFlight;
    } catch (err) {
      this.opts.logger.warn({ err }, "ORDERS sweep failed");
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    const batch = this.queue;
    this.queue = [];
    this.inFlight = this.inFlight.then(() => this.publish(batch));
    await this.inFlight;
    await this.flushMarks();
  }
}
