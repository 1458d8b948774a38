/**
 * Ingest metrics, kept in the process and exposed in the Prometheus text format (`/metrics` on the metrics
 * port): ingest rate (events and rows stored), batch size, commit latency, consumer lag, dead letters,
 * failed attempts (database down or slow) and whether the ingest is paused.
 */
import type { StreamKind } from "./decode.js";

const BATCH_BUCKETS = [1, 10, 50, 100, 250, 500, 1000, 2000, 5000];
const COMMIT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly buckets: readonly number[]) {
    this.counts = buckets.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) this.counts[i]++;
  }
  render(name: string, labels: string): string[] {
    const l = labels === "" ? "" : `${labels},`;
    const lines = this.buckets.map((b, i) => `${name}_bucket{${l}le="${b}"} ${this.counts[i]}`);
    lines.push(`${name}_bucket{${l}le="+Inf"} ${this.count}`);
    lines.push(`${name}_sum${labels === "" ? "" : `{${labels}}`} ${this.sum}`);
    lines.push(`${name}_count${labels === "" ? "" : `{${labels}}`} ${this.count}`);
    return lines;
  }
}

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
  private readonly batchSize = new Map<StreamKind, Histogram>();
  private readonly commit = new Map<StreamKind, Histogram>();
  private readonly startedAt = Date.now();

  stats(kind: StreamKind): StreamStats {
    let s = this.streams.get(kind);
    if (!s) {
      s = { events: 0, rows: 0, batches: 0, deadLetters: 0, failures: 0, lag: 0, paused: false };
      this.streams.set(kind, s);
      this.batchSize.set(kind, new Histogram(BATCH_BUCKETS));
      this.commit.set(kind, new Histogram(COMMIT_BUCKETS));
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
    this.batchSize.get(kind)?.observe(events);
    this.commit.get(kind)?.observe(seconds);
  }

  failed(kind: StreamKind, err: unknown): void {
    const s = this.stats(kind);
    s.failures++;
    s.paused = true;
    s.lastError = err instanceof Error ? err.message : String(err);
  }

  render(): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string) =>
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    const each = (f: (k: StreamKind, s: StreamStats) => string) => {
      for (const [k, s] of this.streams) out.push(f(k, s));
    };
    family("fixmesh_persistence_events_total", "counter", "Events handled (stored or dead-lettered).");
    each((k, s) => `fixmesh_persistence_events_total{stream="${k}"} ${s.events}`);
    family("fixmesh_persistence_message_rows_total", "counter", "New FIX message rows written.");
    each((k, s) => `fixmesh_persistence_message_rows_total{stream="${k}"} ${s.rows}`);
    family("fixmesh_persistence_dead_letters_total", "counter", "Events that could not be stored.");
    each((k, s) => `fixmesh_persistence_dead_letters_total{stream="${k}"} ${s.deadLetters}`);
    family("fixmesh_persistence_failed_batches_total", "counter", "Batch attempts that failed and were retried.");
    each((k, s) => `fixmesh_persistence_failed_batches_total{stream="${k}"} ${s.failures}`);
    family("fixmesh_persistence_consumer_lag", "gauge", "Events in the stream not yet acknowledged.");
    each((k, s) => `fixmesh_persistence_consumer_lag{stream="${k}"} ${s.lag}`);
    family("fixmesh_persistence_paused", "gauge", "1 while the database refuses writes.");
    each((k, s) => `fixmesh_persistence_paused{stream="${k}"} ${s.paused ? 1 : 0}`);
    family("fixmesh_persistence_batch_size", "histogram", "Events per committed batch.");
    for (const [k, h] of this.batchSize) out.push(...h.render("fixmesh_persistence_batch_size", `stream="${k}"`));
    family("fixmesh_persistence_commit_seconds", "histogram", "Time to write and commit one batch.");
    for (const [k, h] of this.commit) out.push(...h.render("fixmesh_persistence_commit_seconds", `stream="${k}"`));
    family("fixmesh_persistence_uptime_seconds", "gauge", "Seconds since start.");
    out.push(`fixmesh_persistence_uptime_seconds ${(Date.now() - this.startedAt) / 1000}`);
    return `${out.join("\n")}\n`;
  }
}
