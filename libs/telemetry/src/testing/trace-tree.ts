/** Reading a collected trace: the parent of a span, and a printable tree for assertion messages. */
import type { CollectedSpan } from "./otlp.js";

/** The span named `name` in `spans` (the only one: a second one with that name is an error). */
export function spanNamed(spans: CollectedSpan[], name: string): CollectedSpan {
  const found = spans.filter((s) => s.name === name);
  if (found.length !== 1) {
    throw new Error(`expected one span named "${name}", found ${found.length} in:\n${renderTrace(spans)}`);
  }
  return found[0];
}

/** The parent span of `span` within `spans`, undefined for a root or a parent not (yet) received. */
export function parentOf(spans: CollectedSpan[], span: CollectedSpan): CollectedSpan | undefined {
  return span.parentSpanId === undefined ? undefined : spans.find((s) => s.spanId === span.parentSpanId);
}

/** True when `ancestor` is `span`'s parent, grandparent, … */
export function isAncestor(spans: CollectedSpan[], ancestor: CollectedSpan, span: CollectedSpan): boolean {
  for (let p = parentOf(spans, span); p !== undefined; p = parentOf(spans, p))
    if (p.spanId === ancestor.spanId) return true;
  return false;
}

/**
 * An indented tree, `service: name` per line, children in start order. With `timings`, each line also says when
 * the span started (ms after the trace's first span) and how long it lasted: where an order's time goes.
 */
export function renderTrace(spans: CollectedSpan[], opts: { timings?: boolean } = {}): string {
  let origin = spans[0]?.startTimeUnixNano ?? 0n;
  for (const s of spans) if (s.startTimeUnixNano < origin) origin = s.startTimeUnixNano;
  const ms = (ns: bigint) => (Number(ns) / 1e6).toFixed(2);
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string | undefined, CollectedSpan[]>();
  for (const s of spans) {
    const key = s.parentSpanId !== undefined && ids.has(s.parentSpanId) ? s.parentSpanId : undefined;
    const l = children.get(key) ?? [];
    l.push(s);
    children.set(key, l);
  }
  const lines: string[] = [];
  const walk = (parent: string | undefined, depth: number) => {
    const kids = (children.get(parent) ?? []).sort((a, b) => (a.startTimeUnixNano < b.startTimeUnixNano ? -1 : 1));
    for (const k of kids) {
      const orphan = depth === 0 && k.parentSpanId !== undefined ? ` (parent ${k.parentSpanId} missing)` : "";
      const at = opts.timings
        ? ` @${ms(k.startTimeUnixNano - origin)} ms +${ms(k.endTimeUnixNano - k.startTimeUnixNano)} ms`
        : "";
      lines.push(`${"  ".repeat(depth)}${k.serviceName}: ${k.name}${orphan}${at}`);
      walk(k.spanId, depth + 1);
    }
  };
  walk(undefined, 0);
  return lines.join("\n");
}
