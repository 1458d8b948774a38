/**
 * W3C Trace Context (`traceparent`, `tracestate`) in and out of the two carriers fixmesh uses: gRPC Metadata and
 * a plain headers record (NATS message headers, BusEvent.headers). fixmesh speaks W3C only, so these helpers
 * use one module-level W3C propagator and work whether or not the SDK is enabled — a process with tracing off
 * still hands on the context it was given when it is asked to.
 *
 * Hot path: every `extract*` returns the given context untouched, without allocating, when the carrier has no
 * traceparent; every `inject*` does nothing when the context has no valid span.
 */
import type { Metadata } from "@grpc/grpc-js";
import {
  type Context,
  context,
  isSpanContextValid,
  ROOT_CONTEXT,
  type SpanContext,
  type TextMapGetter,
  type TextMapSetter,
  TraceFlags,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";

export const TRACEPARENT = "traceparent";
export const TRACESTATE = "tracestate";

const w3c = new W3CTraceContextPropagator();

const metadataGetter: TextMapGetter<Metadata> = {
  keys: (m) => Object.keys(m.getMap()),
  get: (m, key) => {
    const v = m.get(key);
    if (v.length === 0) return undefined;
    return v.map((x) => (typeof x === "string" ? x : x.toString("latin1")));
  },
};
const metadataSetter: TextMapSetter<Metadata> = { set: (m, k, v) => m.set(k, v) };

type Headers = Record<string, string>;
const headersGetter: TextMapGetter<Headers> = {
  keys: (h) => Object.keys(h),
  get: (h, key) => h[key],
};
const headersSetter: TextMapSetter<Headers> = {
  set: (h, k, v) => {
    h[k] = v;
  },
};

/** Writes the span context of `ctx` (default: the active one) into gRPC metadata. Nothing when there is none. */
export function injectIntoMetadata(metadata: Metadata, ctx: Context = context.active()): Metadata {
  if (trace.getSpanContext(ctx) !== undefined) w3c.inject(ctx, metadata, metadataSetter);
  return metadata;
}

/** The context carried by gRPC metadata (a remote parent), or `base` when there is none or it is malformed. */
export function extractFromMetadata(metadata: Metadata, base: Context = ROOT_CONTEXT): Context {
  if (metadata.get(TRACEPARENT).length === 0) return base;
  return w3c.extract(base, metadata, metadataGetter);
}

/** Writes `traceparent` (and `tracestate`) of `ctx` (default: the active one) into a headers record. */
export function injectIntoHeaders<H extends Headers>(headers: H, ctx: Context = context.active()): H {
  if (trace.getSpanContext(ctx) !== undefined) w3c.inject(ctx, headers, headersSetter);
  return headers;
}

/** The context carried by a headers record, or `base` when it carries none (or a malformed one). */
export function extractFromHeaders(headers: Readonly<Headers> | undefined, base: Context = ROOT_CONTEXT): Context {
  if (headers === undefined || headers[TRACEPARENT] === undefined) return base;
  return w3c.extract(base, headers, headersGetter);
}

/** Version 00 traceparent: 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>. */
const TRACEPARENT_RE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Parses a traceparent value into a remote span context; undefined if absent, malformed or all-zero. */
export function parseTraceparent(value: string | undefined): SpanContext | undefined {
  if (value === undefined || value.length !== 55) return undefined;
  const m = TRACEPARENT_RE.exec(value);
  if (m === null) return undefined;
  const sc: SpanContext = { traceId: m[1], spanId: m[2], traceFlags: Number.parseInt(m[3], 16), isRemote: true };
  return isSpanContextValid(sc) ? sc : undefined;
}

/** The traceparent of a span context. */
export function formatTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-0${(sc.traceFlags & TraceFlags.SAMPLED).toString(16)}`;
}

/** The traceparent of the span in `ctx` (default: the active one), or undefined when it has none. */
export function traceparentOf(ctx: Context = context.active()): string | undefined {
  const sc = trace.getSpanContext(ctx);
  return sc !== undefined && isSpanContextValid(sc) ? formatTraceparent(sc) : undefined;
}

/** A context whose (remote) parent is the given traceparent; `base` when the value is absent or malformed. */
export function contextFromTraceparent(value: string | undefined, base: Context = ROOT_CONTEXT): Context {
  const sc = parseTraceparent(value);
  return sc === undefined ? base : trace.setSpanContext(base, sc);
}
