/**
 * Trace ids in logs: a pino `mixin` that adds `traceId` and `spanId` of the active span to every line logged
 * inside it, so a log line and a trace find each other. `pino({ mixin: traceLogMixin })`.
 */
import { context, isSpanContextValid, trace } from "@opentelemetry/api";

export interface TraceLogFields {
  traceId?: string;
  spanId?: string;
}

/**
 * `{ traceId, spanId }` of the active span, or `{}` outside any span. A new object every call: pino's default
 * mixin merge writes the line's own fields into the object the mixin returns.
 */
export function traceLogMixin(): TraceLogFields {
  const sc = trace.getSpanContext(context.active());
  if (sc === undefined || !isSpanContextValid(sc)) return {};
  return { traceId: sc.traceId, spanId: sc.spanId };
}

/**
 * Chains the trace fields with an existing pino mixin (its fields win on a clash). For loggers that already
 * have a mixin of their own.
 */
export function withTraceLogMixin<A extends unknown[]>(mixin: (...args: A) => object): (...args: A) => object {
  return (...args: A) => {
    const own = mixin(...args);
    const t = traceLogMixin();
    return t.traceId === undefined ? own : { ...t, ...own };
  };
}
