/**
 * `pnpm bench:orders --trace`: where a lone order's time goes. The services export their spans (OTLP/HTTP) to a
 * collector in the benchmark process; each lone order is one trace, rooted at order-entry's SubmitOrder span. For
 * every span of those traces (a name that repeats in a trace — the venue's two ExecutionReports — is told apart by
 * its rank in start order) the table gives the median start after the root's start and the median duration, and
 * for the client the median time from its submit to the root and to the fill on its update stream.
 *
 * The services' span starts are exact to the microsecond (@fixmesh/telemetry re-stamps the SDK's whole-millisecond
 * Date.now() starts, clock.ts). Tracing costs the services some CPU, so a traced order is slower than an untraced
 * one (compare the lone orders' line of a run without --trace): the shares are what to read.
 */
import type { CollectedSpan, OtlpCollector } from "@fixmesh/telemetry/testing";

/** The root span of an order's trace in every mode (the bench's client sends no trace context of its own). */
const ROOT = "order-entry.SubmitOrder";

/** What the client saw of one lone order, wall clock (ms since the epoch, as the span start times). */
export interface LoneTiming {
  submittedAt: number;
  filledAt: number;
}

const ms = (ns: bigint) => Number(ns) / 1e6;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.floor((s.length - 1) / 2)] as number);
}

/** Root spans, oldest first, once each of `count` traces has at least `minSpans` spans (at most `timeoutMs`). */
export async function loneTraces(
  collector: OtlpCollector,
  since: number,
  count: number,
  minSpans: number,
  timeoutMs = 10_000,
): Promise<CollectedSpan[][]> {
  const traces = (spans: CollectedSpan[]) => {
    const roots = spans.filter((s) => s.name === ROOT && ms(s.startTimeUnixNano) >= since);
    roots.sort((a, b) => (a.startTimeUnixNano < b.startTimeUnixNano ? -1 : 1));
    return roots.map((r) => spans.filter((s) => s.traceId === r.traceId));
  };
  try {
    await collector.waitFor(
      (spans) => {
        const t = traces(spans);
        return t.length >= count && t.every((x) => x.length >= minSpans);
      },
      { timeoutMs },
    );
  } catch {
    // Whatever arrived is reported; the table says how many orders it covers.
  }
  return traces(collector.spans());
}

/** The table: one row per span of the order's path, in median start order, then the client's two figures. */
export function stageTable(traces: CollectedSpan[][], client: readonly LoneTiming[]): string {
  const rows = new Map<string, { starts: number[]; durations: number[] }>();
  const clientRoot: number[] = [];
  const clientFill: number[] = [];
  traces.forEach((spans, i) => {
    const root = spans.find((s) => s.name === ROOT);
    if (root === undefined) return;
    const t0 = ms(root.startTimeUnixNano);
    const rank = new Map<string, number>();
    for (const s of [...spans].sort((a, b) => (a.startTimeUnixNano < b.startTimeUnixNano ? -1 : 1))) {
      const base = `${s.serviceName.replace(/^fixmesh-/, "")}: ${s.name}`;
      const n = (rank.get(base) ?? 0) + 1;
      rank.set(base, n);
      const key = n === 1 ? base : `${base} #${n}`;
      const row = rows.get(key) ?? { starts: [], durations: [] };
      row.starts.push(ms(s.startTimeUnixNano) - t0);
      row.durations.push(ms(s.endTimeUnixNano - s.startTimeUnixNano));
      rows.set(key, row);
    }
    const c = client[i];
    if (c !== undefined) {
      clientRoot.push(t0 - c.submittedAt);
      clientFill.push(c.filledAt - c.submittedAt);
    }
  });
  const ordered = [...rows].sort((a, b) => median(a[1].starts) - median(b[1].starts));
  const width = Math.max(40, ...ordered.map(([k]) => k.length));
  const fmt = (x: number) => (Number.isNaN(x) ? "—" : x.toFixed(1)).padStart(8);
  const lines = [
    `  where a lone order's time goes (${traces.length} traces; median ms after order-entry's SubmitOrder span starts):`,
    `  ${"span".padEnd(width)}   start  duration  orders`,
    ...ordered.map(
      ([k, r]) =>
        `  ${k.padEnd(width)}${fmt(median(r.starts))}${fmt(median(r.durations))}${String(r.starts.length).padStart(8)}`,
    ),
    `  ${"client: submit → SubmitOrder span starts".padEnd(width)}${fmt(median(clientRoot))}`,
    `  ${"client: submit → FILLED on its update stream".padEnd(width)}${fmt(median(clientFill))}`,
  ];
  return lines.join("\n");
}
