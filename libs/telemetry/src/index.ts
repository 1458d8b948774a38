/**
 * @fixmesh/telemetry — OpenTelemetry tracing for every fixmesh service.
 *
 * Setup: `initTelemetry({ serviceName })` once at start (OTEL_* variables), `telemetry.shutdown()` at exit.
 * Spans: `withSpan` / `startSpan`. Propagation (W3C traceparent): gRPC metadata and headers records.
 * Logs: `traceLogMixin` for pino. Test collector: `@fixmesh/telemetry/testing`.
 * Metrics: `MetricsRegistry` (counters, histograms, gauges read at scrape) served by `serveMetrics` at /metrics.
 */
export { readTelemetryConfig, SamplerName, type TelemetryConfig, TelemetryConfigError } from "./config.js";
export { type TraceLogFields, traceLogMixin, withTraceLogMixin } from "./logging.js";
export {
  type Counter,
  type Histogram,
  LATENCY_BUCKETS,
  type Labels,
  METRICS_PATH,
  type MetricsEndpoint,
  MetricsRegistry,
  type Sample,
  serveMetrics,
} from "./prometheus.js";
export {
  contextFromTraceparent,
  extractFromHeaders,
  extractFromMetadata,
  formatTraceparent,
  injectIntoHeaders,
  injectIntoMetadata,
  parseTraceparent,
  TRACEPARENT,
  TRACESTATE,
  traceparentOf,
} from "./propagation.js";
export { initTelemetry, type Telemetry, type TelemetryOptions } from "./sdk.js";
export { lineSignalLogger, type SignalLogger, stopOnSignal } from "./signals.js";
export {
  type Attributes,
  type Context,
  getTracer,
  recordError,
  type Span,
  SpanKind,
  SpanStatusCode,
  type StartSpanOptions,
  startSpan,
  type Tracer,
  tracingEnabled,
  withSpan,
} from "./spans.js";
