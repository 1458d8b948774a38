/**
 * initTelemetry: one OpenTelemetry tracing SDK per process, configured by the OTEL_* variables (see config.ts
 * and README): OTLP/HTTP (JSON) export through a batch span processor, the AsyncLocalStorage context manager,
 * W3C trace-context propagation. With OTEL_SDK_DISABLED=true (or OTEL_TRACES_EXPORTER=none) nothing is
 * registered and the OpenTelemetry API stays a no-op: spans cost a few nanoseconds and are never exported.
 *
 * Embedded mode runs several services in one process: the first initTelemetry sets the SDK up (its service
 * name names the process' resource), later calls share it, and the SDK shuts down (flushing) when the last
 * handle is shut down.
 */
import { context, propagation, type Tracer, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import { PreciseStartProcessor } from "./clock.js";
import { readTelemetryConfig, SamplerName, type TelemetryConfig } from "./config.js";
import { DEFAULT_SCOPE, state } from "./state.js";

export interface TelemetryOptions {
  /** The service's name (service.name) unless OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES set one. */
  serviceName: string;
  serviceVersion?: string;
  /** Where to read OTEL_* from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Replaces the OTLP exporter (tests, or an in-memory exporter). */
  exporter?: SpanExporter;
  /** Export each span as it ends instead of batching (tests that want spans at once). */
  simpleProcessor?: boolean;
}

export interface Telemetry {
  /** False when the SDK is disabled by configuration. */
  readonly enabled: boolean;
  readonly config: TelemetryConfig;
  /** Tracer whose instrumentation scope is the service name given to initTelemetry. */
  readonly tracer: Tracer;
  /** Exports every ended span now. */
  forceFlush(): Promise<void>;
  /** Flushes and shuts the SDK down (when this is the last handle). Idempotent. */
  shutdown(): Promise<void>;
}

interface Sdk {
  provider: TracerProvider;
  contextManager: AsyncLocalStorageContextManager;
  handles: number;
}
let sdk: Sdk | undefined;

function makeSampler(c: TelemetryConfig): Sampler {
  switch (c.sampler) {
    case SamplerName.AlwaysOn:
      return new AlwaysOnSampler();
    case SamplerName.AlwaysOff:
      return new AlwaysOffSampler();
    case SamplerName.TraceIdRatio:
      return new TraceIdRatioBasedSampler(c.samplerRatio);
    case SamplerName.ParentBasedAlwaysOn:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case SamplerName.ParentBasedAlwaysOff:
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case SamplerName.ParentBasedTraceIdRatio:
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(c.samplerRatio) });
  }
}

function start(config: TelemetryConfig, options: TelemetryOptions): Sdk {
  const exporter = options.exporter ?? new OTLPTraceExporter({ url: config.tracesEndpoint });
  const processor: SpanProcessor = options.simpleProcessor
    ? new SimpleSpanProcessor({ exporter })
    : new BatchSpanProcessor({ exporter, ...config.batch });
  const resource = defaultResource().merge(
    resourceFromAttributes({
      ...config.resourceAttributes,
      [ATTR_SERVICE_NAME]: config.serviceName,
      ...(options.serviceVersion ? { [ATTR_SERVICE_VERSION]: options.serviceVersion } : {}),
    }),
  );
  // Span starts to the microsecond, not Date.now()'s millisecond (clock.ts): an order's hops are sub-millisecond.
  const provider = new TracerProvider({
    resource,
    sampler: makeSampler(config),
    spanProcessors: [new PreciseStartProcessor(), processor],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return { provider, contextManager, handles: 0 };
}

/** Sets tracing up for this process (or joins the SDK another service in this process set up). */
export function initTelemetry(options: TelemetryOptions): Telemetry {
  const config = readTelemetryConfig(options.serviceName, options.env ?? process.env);
  if (!config.enabled) {
    return {
      enabled: false,
      config,
      tracer: trace.getTracer(options.serviceName),
      forceFlush: async () => {},
      shutdown: async () => {},
    };
  }
  sdk ??= start(config, options);
  const mine = sdk;
  mine.handles++;
  state.enabled = true;
  state.defaultTracer = mine.provider.getTracer(DEFAULT_SCOPE);
  let closed = false;
  return {
    enabled: true,
    config,
    tracer: mine.provider.getTracer(options.serviceName),
    forceFlush: () => mine.provider.forceFlush(),
    async shutdown() {
      if (closed) return;
      closed = true;
      if (--mine.handles > 0) {
        await mine.provider.forceFlush();
        return;
      }
      if (sdk === mine) {
        sdk = undefined;
        state.enabled = false;
        state.defaultTracer = undefined;
        trace.disable();
        propagation.disable();
        context.disable();
      }
      await mine.provider.shutdown();
    },
  };
}
