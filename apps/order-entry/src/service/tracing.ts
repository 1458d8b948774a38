/**
 * Where order-entry's spans start: SubmitOrder (continuing the caller's trace from the gRPC metadata), the risk
 * check, the send, an ExecutionReport applied (continuing the trace of the bus event's traceparent), an update
 * streamed. On @fixmesh/telemetry: no-ops until `initTelemetry` registered an SDK from the OTEL_* variables. The
 * order's traceparent is kept on its record and travels on its ORDERS events.
 */
import {
  type Context,
  contextFromTraceparent,
  extractFromMetadata,
  recordError,
  type Span,
  SpanKind,
  startSpan,
  traceparentOf,
  tracingEnabled,
} from "@fixmesh/telemetry";
import type { Metadata } from "@grpc/grpc-js";
import { context, INVALID_SPAN_CONTEXT, trace } from "@opentelemetry/api";

/** What `fn` gets when no SDK records: a span that records nothing. */
const NOT_RECORDING = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** Runs `fn` in a new span (child of `parent`, default the active context), ending it when `fn` settles. */
export async function inSpan<T>(
  name: string,
  attributes: Record<string, string | number>,
  fn: (span: Span) => Promise<T>,
  parent?: Context,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  // Tracing off costs nothing per call: no span, no context of its own. The parent's context (a caller's or a bus
  // event's traceparent) is still made active, so what `fn` hands on (currentTraceparent) is what it was.
  if (!tracingEnabled())
    return parent === undefined ? fn(NOT_RECORDING) : context.with(parent, () => fn(NOT_RECORDING));
  const span = startSpan(name, { attributes, kind, ...(parent !== undefined && { parent }) });
  const ctx = trace.setSpan(parent ?? context.active(), span);
  try {
    return await context.with(ctx, () => fn(span));
  } catch (err) {
    recordError(span, err);
    throw err;
  } finally {
    span.end();
  }
}

export interface OpenSpan {
  /** The span's own traceparent (without a recording tracer: the parent's, as `inSpan` would hand on). */
  readonly traceparent: string | undefined;
  /** Ends the span, with the error that ended the work if it failed. */
  end(err?: unknown, attributes?: Record<string, string | number>): void;
}

/**
 * A span continuing `traceparent` (a bus event's), for work that is not one call of its own — several reports
 * applied in one commit, each keeping its span — ended by the caller.
 */
export function openSpan(name: string, attributes: Record<string, string | number>, traceparent?: string): OpenSpan {
  const parent = contextOf(traceparent);
  if (!tracingEnabled()) return { traceparent: traceparentOf(parent), end: () => undefined };
  const span = startSpan(name, { attributes, kind: SpanKind.INTERNAL, parent });
  return {
    traceparent: traceparentOf(trace.setSpan(parent, span)),
    end(err, more) {
      if (more) span.setAttributes(more);
      if (err !== undefined) recordError(span, err);
      span.end();
    },
  };
}

/** The active context's traceparent (undefined without a recording tracer). */
export function currentTraceparent(): string | undefined {
  return traceparentOf();
}

/** A context continuing the trace of `traceparent` (an order's, from its record or a bus header). */
export function contextOf(traceparent: string | undefined): Context {
  return contextFromTraceparent(traceparent, context.active());
}

/** The caller's trace context from a gRPC call's metadata. */
export function callerContext(metadata: Metadata): Context {
  return extractFromMetadata(metadata);
}

export { SpanKind };
