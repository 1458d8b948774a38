/**
 * The events risk follows: order-entry's order events (positions and open exposure) through a durable
 * consumer, and the sessions' state events (health) through a subscription from the start of the stream.
 */
import {
  type Delivered,
  type DurableBus,
  type DurableConsumer,
  type EventBus,
  type HealthNotice,
  healthNoticeOf,
  type OrderEvent,
  type Subscription,
} from "@fixmesh/bus";
import type { RiskEngine } from "../engine/engine.js";

export interface FeedLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface FeedStats {
  orderEvents: number;
  fills: number;
  duplicateFills: number;
  unreadable: number;
  stateEvents: number;
}

const decoder = new TextDecoder();

/** Applies a batch of order events; an unreadable one is logged and skipped (it would block the stream forever). */
export function applyOrderBatch(
  engine: RiskEngine,
  batch: readonly Delivered[],
  stats: FeedStats,
  log?: FeedLogger,
): void {
  for (const d of batch) {
    let ev: OrderEvent;
    try {
      ev = JSON.parse(decoder.decode(d.payload)) as OrderEvent;
      if (typeof ev?.orderId !== "string" || typeof ev.version !== "number" || typeof ev.order !== "object") {
        throw new Error("not an OrderEvent");
      }
    } catch (err) {
      stats.unreadable++;
      log?.error({ err, subject: d.subject, seq: d.seq, id: d.id }, "unreadable order event skipped");
      continue;
    }
    stats.orderEvents++;
    const r = engine.applyOrderEvent(ev);
    if (r.filled) stats.fills++;
    if (r.duplicateFill) stats.duplicateFills++;
  }
}

export interface OrderFeedOptions {
  bus: DurableBus;
  /** Durable name: one per risk instance (each instance keeps every position in memory). */
  name: string;
  filter: string;
  engine: RiskEngine;
  stats: FeedStats;
  log?: FeedLogger;
  /** Start from the beginning of the stream (delete this instance's durable first): memory starts empty. */
  replay?: (name: string) => Promise<void>;
  /** The server removes this instance's durable after it went unread this long (0 or absent: never). */
  inactiveThresholdMs?: number;
}

export class OrderFeed {
  private consumer: DurableConsumer | null = null;
  constructor(private readonly opts: OrderFeedOptions) {}

  async start(): Promise<void> {
    await this.opts.replay?.(this.opts.name);
    this.consumer = await this.opts.bus.durable({
      name: this.opts.name,
      filter: this.opts.filter,
      deliver: "all",
      ...(this.opts.inactiveThresholdMs ? { inactiveThresholdMs: this.opts.inactiveThresholdMs } : {}),
    });
    this.consumer.start(async (batch) => applyOrderBatch(this.opts.engine, batch, this.opts.stats, this.opts.log));
  }

  /** Resolves once the durable has nothing left to deliver (the replay is done), or rejects after `timeoutMs`. */
  async caughtUp(timeoutMs: number): Promise<void> {
    const c = this.consumer;
    if (c === null) throw new Error("order feed not started");
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lag = await c.lag();
      if (lag === 0) return;
      if (Date.now() >= deadline) {
        throw new Error(
          `order events not replayed within ${timeoutMs} ms (${lag} left): positions would be incomplete`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  lag(): Promise<number> {
    return this.consumer?.lag() ?? Promise.resolve(0);
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
    this.consumer = null;
  }
}

/** Follows `<prefix>.*.state` from the start of the stream: the last health notice of each session wins. */
export async function followSessionHealth(
  bus: EventBus,
  filter: string,
  engine: RiskEngine,
  stats: FeedStats,
  log?: FeedLogger,
): Promise<Subscription> {
  return bus.subscribe(
    filter,
    (d) => {
      let h: HealthNotice | undefined;
      try {
        h = healthNoticeOf(d.payload);
      } catch (err) {
        log?.warn({ err, subject: d.subject }, "unreadable session state event skipped");
        return;
      }
      stats.stateEvents++;
      if (h === undefined) return;
      const before = engine.sessionHealth(h.session);
      engine.setSessionHealth(h.session, h.to);
      if (before !== h.to) log?.info({ session: h.session, from: before, to: h.to }, "session health");
    },
    { fromSeq: 1 },
  );
}
