/**
 * Ingest metrics, kept in the process and exposed in the Prometheus text format (`/metrics` on the metrics
 * port, through @fixmesh/telemetry's registry): ingest rate (events and rows stored), batch size, commit latency,
 * consumer lag, dead letters, failed attempts (database down or slow) and whether the ingest is paused.
 */
import { type Histogram, type Labels, MetricsRegistry } from "@fixmesh/telemetry";
import type { StreamKind } from "./decode.js";

const BATCH_BUCKETS = [1, 10, 50, 100, 250, 500, 1000, 2000, 5000];
const COMMIT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface StreamStats {
  /** Events handled (stored, already stored, or dead-lettered). */
  events: number;
  /** New FIX message rows. */
  rows: number;
  batches: number;
  deadLetters: number;
  /** Batches that failed (database unreachable or slow) and were retried. */
  failures: number;
  lag: number;
  lastError?: string;
  /** True from a failed attempt until the next commit. */
  paused: boolean;
}

export class IngestMetrics {
  readonly streams = new Map<StreamKind, StreamStats>();
  readonly registry = new MetricsRegistry({ scope: "@fixmesh/persistence" });
  private readonly batchSize: Histogram;
  private readonly commit: Histogram;
  private readonly labels = new Map<StreamKind, Labels>();
  private readonly startedAt = Date.now();

  constructor() {
    const r = this.registry;
    const per = (value: (s: StreamStats) => number) => () =>
      [...this.streams].map(([k, s]) => [this.labelsOf(k), value(s)] as const);
    r.observedCounter(
      "fixmesh_persistence_events_total",
      "Events handled (stored or dead-lettered).",
      per((s) => s.events),
    );
    r.observedCounter(
      "fixmesh_persistence_message_rows_total",
      "New FIX message rows written.",
      per((s) => s.rows),
    );
    r.observedCounter(
      "fixmesh_persistence_dead_letters_total",
      "Events that could not be stored.",
      per((s) => s.deadLetters),
    );
    r.observedCounter(
      "fixmesh_persistence_failed_batches_total",
      "Batch attempts that failed and were retried.",
      per((s) => s.failures),
    );
    r.gauge(
      "fixmesh_persistence_consumer_lag",
      "Events in the stream not yet acknowledged.",
      per((s) => s.lag),
    );
    r.gauge(
      "fixmesh_persistence_paused",
      "1 while the database refuses writes.",
      per((s) => (s.paused ? 1 : 0)),
    );
    this.batchSize = r.histogram("fixmesh_persistence_batch_size", "Events per committed batch.", BATCH_BUCKETS);
    this.commit = r.histogram(
      "fixmesh_persistence_commit_seconds",
      "Time to write and commit one batch.",
      COMMIT_BUCKETS,
    );
    r.gauge("fixmesh_persistence_uptime_seconds", "Seconds since start.", () => (Date.now() - this.startedAt) / 1000);
  }

  private labelsOf(kind: StreamKind): Labels {
    let l = this.labels.get(kind);
    if (!l) {
      l = { stream: kind };
      this.labels.set(kind, l);
    }
    return l;
  }

  stats(kind: StreamKind): StreamStats {
    let s = this.streams.get(kind);
    if (!s) {
      s = { events: 0, rows: 0, batches: 0, deadLetters: 0, failures: 0, lag: 0, paused: false };
      this.streams.set(kind, s);
    }
    return s;
  }

  committed(kind: StreamKind, events: number, rows: number, dead: number, seconds: number): void {
    const s = this.stats(kind);
    s.events += events;
    s.rows += rows;
    s.batches++;
    s.deadLetters += dead;
    s.paused = false;
    this.batchSize.observe(events, this.labelsOf(kind));
    this.commit.observe(seconds, this.labelsOf(kind));
  }

  failed(kind: StreamKind, err: unknown): void {
    const s = this.stats(kind);
    s.failures++;
    s.paused = true;
    s.lastError = err instanceof Error ? err.message : String(err);
  }

  /** The Prometheus text exposition of everything above. */
  render(): Promise<string> {
    return this.registry.render();
  }
}
