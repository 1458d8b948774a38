/**
 * Spans for fixmesh code: `startSpan` for a span the caller ends, `withSpan` for a span around a function (sync
 * or async) that ends it, records a thrown error and marks the span as failed. Both take the parent from
 * `options.parent` (a Context, e.g. from extractFromMetadata) or from the active context.
 */
import {
  type Attributes,
  type Context,
  context,
  type Link,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { DEFAULT_SCOPE, state } from "./state.js";

export type { Attributes, Context, Span, Tracer };
export { SpanKind, SpanStatusCode };

export interface StartSpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** Parent context; default: the active one. */
  parent?: Context;
  links?: Link[];
}

/**
 * A tracer for an instrumentation scope (e.g. "fixmesh.connector"); the default scope's tracer is cached per SDK.
 * A no-op one until initTelemetry. Do not keep a tracer across a shutdown and a new initTelemetry (tests): the
 * API's proxy binds to the first SDK it sees.
 */
export function getTracer(scope: string = DEFAULT_SCOPE): Tracer {
  if (scope === DEFAULT_SCOPE) return state.defaultTracer ?? trace.getTracer(DEFAULT_SCOPE);
  return trace.getTracer(scope);
}

/** True when initTelemetry registered a recording SDK in this process: callers may skip building attributes. */
export function tracingEnabled(): boolean {
  return state.enabled;
}

/** Starts a span; the caller ends it. */
export function startSpan(name: string, options: StartSpanOptions = {}, tracer: Tracer = getTracer()): Span {
  return tracer.startSpan(
    name,
    { kind: options.kind, attributes: options.attributes, links: options.links },
    options.parent ?? context.active(),
  );
}

/** Marks a span failed with the error, without ending it. */
export function recordError(span: Span, err: unknown): void {
  const e = err instanceof Error ? err : new Error(String(err));
  span.recordException(e);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function";
}

/**
 * Runs `fn` inside a new span (active for the duration, so spans and logs inside are its children) and ends the
 * span when `fn` returns or its promise settles. A throw or rejection is recorded on the span and rethrown.
 */
export function withSpan<T>(
  name: string,
  options: StartSpanOptions,
  fn: (span: Span) => T,
  tracer: Tracer = getTracer(),
): T {
  const span = startSpan(name, options, tracer);
  const ctx = trace.setSpan(options.parent ?? context.active(), span);
  let result: T;
  try {
    result = context.with(ctx, fn, undefined, span);
  } catch (err) {
    recordError(span, err);
    span.end();
    throw err;
  }
  if (isPromiseLike(result)) {
    return (result as PromiseLike<unknown>).then(
      (v) => {
        span.end();
        return v;
      },
      (err: unknown) => {
        recordError(span, err);
        span.end();
        throw err;
      },
    ) as T;
  }
  span.end();
  return result;
}
