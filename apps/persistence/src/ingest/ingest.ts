/**
 * The ingest: one durable consumer per stream (FIX messages and session events; order events; audit events),
 * each handing batches to the writer (up to `pipeline` at once). A batch is acknowledged only after its
 * transaction commits, and after every batch before it (the durable acknowledges in stream order when the
 * handler resolves). When the database is down or slow the handler throws, the durable keeps the batch, backs
 * off and tries again, and fetches nothing more meanwhile: memory stays bounded by `pipeline` + 1 batches per
 * stream, and the backlog waits in JetStream, to be caught up in order.
 */
import type { Delivered, DurableBus, DurableConsumer } from "@fixmesh/bus";
import type { Logger } from "pino";
import { decodeEvent, type Redactor, type StreamKind } from "./decode.js";
import type { IngestMetrics } from "./metrics.js";
import type { BatchWriter } from "./writer.js";

export interface IngestSource {
  kind: StreamKind;
  bus: DurableBus;
  /** Durable consumer name. */
  durable: string;
  filter: string;
}

export interface IngestOptions {
  writer: BatchWriter;
  redactor: Redactor;
  metrics: IngestMetrics;
  logger?: Logger;
  batch: number;
  ackWaitMs: number;
  /**
   * Consumers per stream sharing one durable (default 1). More than one writes batches in parallel (more of
   * PostgreSQL's cores), but batches then commit in any order: rows are the same, the order of commits is not.
   */
  parallel?: number;
  /**
   * Batches each consumer hands over before the first is acknowledged (default 1): 2 overlaps one batch's commit
   * with the next one's decoding and copy. Acks stay in stream order (see `DurableConsumerOptions.pipeline`).
   */
  pipeline?: number;
  /** How often consumer lag is sampled for the metrics (default 5 s). */
  lagIntervalMs?: number;
}

export class Ingest {
  private readonly consumers: Array<{ kind: StreamKind; consumer: DurableConsumer }> = [];
  private readonly extra: DurableConsumer[] = [];
  private lagTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: IngestOptions) {}

  /** Opens the durable consumer of `source` and starts storing its events. */
  async add(source: IngestSource): Promise<void> {
    for (let i = 0; i < Math.max(1, this.opts.parallel ?? 1); i++) {
      const consumer = await source.bus.durable({
        name: source.durable,
        filter: source.filter,
        batch: this.opts.batch,
        ackWaitMs: this.opts.ackWaitMs,
        deliver: "all",
        pipeline: this.opts.pipeline ?? 1,
      });
      // Lag is the durable's: counted once however many consumers share it.
      if (i === 0) this.consumers.push({ kind: source.kind, consumer });
      else this.extra.push(consumer);
      consumer.start((batch) => this.handle(source.kind, batch));
    }
    this.opts.logger?.info({ stream: source.kind, durable: source.durable, filter: source.filter }, "ingest started");
    if (this.lagTimer === null) {
      this.lagTimer = setInterval(() => void this.sampleLag(), this.opts.lagIntervalMs ?? 5000);
      this.lagTimer.unref();
    }
  }

  private async handle(kind: StreamKind, batch: readonly Delivered[]): Promise<void> {
    const { writer, redactor, metrics, logger } = this.opts;
    const started = performance.now();
    const decoded = batch.map((e) => decodeEvent(kind, e, redactor));
    try {
      const r = await writer.write(kind, decoded);
      const wasPaused = metrics.stats(kind).paused;
      metrics.committed(kind, batch.length, r.inserted, r.deadLetters.length, (performance.now() - started) / 1000);
      if (wasPaused) logger?.info({ stream: kind }, "database is back: ingest resumed");
      for (const d of r.deadLetters) {
        logger?.warn({ stream: kind, subject: d.subject, seq: d.streamSeq, reason: d.reason }, "event dead-lettered");
      }
    } catch (err) {
      const s = metrics.stats(kind);
      // One line when the ingest pauses, then one per 20 failed attempts: an outage does not flood the log.
      if (!s.paused || s.failures % 20 === 0) {
        logger?.warn(
          { stream: kind, err: (err as Error).message, failures: s.failures + 1 },
          "cannot write batch: ingest paused, retrying",
        );
      }
      metrics.failed(kind, err);
      throw err;
    }
  }

  async sampleLag(): Promise<void> {
    for (const { kind, consumer } of this.consumers) {
      try {
        this.opts.metrics.stats(kind).lag = await consumer.lag();
      } catch {
        // The bus is unreachable right now; the next sample will tell.
      }
    }
  }

  /** Total events not yet acknowledged, over every stream. */
  async lag(): Promise<number> {
    let n = 0;
    for (const { consumer } of this.consumers) n += await consumer.lag();
    return n;
  }

  async stop(): Promise<void> {
    if (this.lagTimer) clearInterval(this.lagTimer);
    this.lagTimer = null;
    await Promise.all([...this.consumers.map((c) => c.consumer.stop()), ...this.extra.map((c) => c.stop())]);
    this.consumers.length = 0;
    this.extra.length = 0;
  }
}
