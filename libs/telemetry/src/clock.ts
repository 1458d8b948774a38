/**
 * Span start times with sub-millisecond precision. The OpenTelemetry SDK stamps a span's start with Date.now() —
 * whole milliseconds — and measures its duration with the monotonic clock, so the starts of spans a fraction of a
 * millisecond apart (one order's hops on loopback) come out equal or a millisecond off. `PreciseWallClock` maps the
 * monotonic clock (performance.now) onto the wall clock, and `PreciseStartProcessor` re-stamps each span's start
 * with it; the SDK then ends the span at that start plus its monotonic duration.
 */
import type { Context } from "@opentelemetry/api";
import { hrTimeToMilliseconds, millisToHrTime } from "@opentelemetry/core";
import type { ReadableSpan, Span, SpanProcessor } from "@opentelemetry/sdk-trace";

/**
 * Wall-clock time in ms with the monotonic clock's precision. Every reading of Date.now() (d, whole ms) at monotonic
 * time p bounds the offset between the two clocks: d − p ≤ offset < d − p + 1. The estimate is the highest lower
 * bound seen, unless a reading's upper bound falls below it (the wall clock was set back, or runs slower than the
 * monotonic clock), which starts again from that reading. So a reading is never outside Date.now()'s millisecond,
 * and after a few readings is within microseconds of the wall clock.
 */
export class PreciseWallClock {
  private offset = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly monotonic: () => number = () => performance.now(),
    private readonly wall: () => number = Date.now,
  ) {}

  now(): number {
    const p = this.monotonic();
    const lower = this.wall() - p;
    if (lower > this.offset || lower + 1 <= this.offset) this.offset = lower;
    return p + this.offset;
  }
}

/** First of the provider's processors: gives every span a start of the precise wall clock. */
export class PreciseStartProcessor implements SpanProcessor {
  constructor(private readonly clock = new PreciseWallClock()) {}

  onStart(span: Span, _parentContext: Context): void {
    // The SDK stamped the start with Date.now(): a whole millisecond, this one. A start the caller gave is kept.
    const stamped = hrTimeToMilliseconds(span.startTime);
    if (stamped !== Math.floor(stamped) || Math.abs(Date.now() - stamped) > 1) return;
    // The SDK's span keeps its start in a plain field and derives its end from it (start + monotonic duration).
    (span as unknown as { startTime: ReadableSpan["startTime"] }).startTime = millisToHrTime(this.clock.now());
  }

  onEnd(_span: ReadableSpan): void {}

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {}
}
