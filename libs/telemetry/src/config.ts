/**
 * The OTEL_* environment variables fixmesh reads (the OpenTelemetry SDK configuration spec's names and meanings),
 * parsed once at start. A malformed value fails the start with a TelemetryConfigError naming the variable: a
 * service that silently traces nothing because of a typo is worse than one that refuses to start.
 */

/** A bad OTEL_* value; `field` is the variable's name. */
export class TelemetryConfigError extends Error {
  override readonly name = "TelemetryConfigError";
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

export const SamplerName = {
  AlwaysOn: "always_on",
  AlwaysOff: "always_off",
  TraceIdRatio: "traceidratio",
  ParentBasedAlwaysOn: "parentbased_always_on",
  ParentBasedAlwaysOff: "parentbased_always_off",
  ParentBasedTraceIdRatio: "parentbased_traceidratio",
} as const;
export type SamplerName = (typeof SamplerName)[keyof typeof SamplerName];

export interface TelemetryConfig {
  /** False when OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none: the API stays a no-op. */
  readonly enabled: boolean;
  readonly serviceName: string;
  /** Full URL the spans are POSTed to (…/v1/traces). */
  readonly tracesEndpoint: string;
  readonly sampler: SamplerName;
  /** Ratio for the traceidratio samplers, 0..1. */
  readonly samplerRatio: number;
  /** From OTEL_RESOURCE_ATTRIBUTES (percent-decoded). */
  readonly resourceAttributes: Readonly<Record<string, string>>;
  /** Batch span processor: OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_BSP_EXPORT_TIMEOUT. */
  readonly batch: {
    readonly scheduledDelayMillis: number;
    readonly maxQueueSize: number;
    readonly maxExportBatchSize: number;
    readonly exportTimeoutMillis: number;
  };
}

const DEFAULT_ENDPOINT = "http://localhost:4318";
const TRACES_PATH = "v1/traces";

function str(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === "" ? undefined : v;
}

function bool(env: NodeJS.ProcessEnv, name: string): boolean {
  const v = str(env, name)?.toLowerCase();
  if (v === undefined || v === "false") return false;
  if (v === "true") return true;
  throw new TelemetryConfigError(name, `expected "true" or "false", got "${v}"`);
}

function int(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number): number {
  const v = str(env, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new TelemetryConfigError(name, `expected an integer ≥ ${min}, got "${v}"`);
  return n;
}

function url(name: string, value: string): string {
  try {
    const u = new URL(value);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("not http(s)");
    return u.toString();
  } catch {
    throw new TelemetryConfigError(name, `expected an http(s) URL, got "${value}"`);
  }
}

/** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as is; OTEL_EXPORTER_OTLP_ENDPOINT gets `/v1/traces` appended. */
function tracesEndpoint(env: NodeJS.ProcessEnv): string {
  const specific = str(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  if (specific !== undefined) return url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", specific);
  const base = url("OTEL_EXPORTER_OTLP_ENDPOINT", str(env, "OTEL_EXPORTER_OTLP_ENDPOINT") ?? DEFAULT_ENDPOINT);
  return base.endsWith("/") ? base + TRACES_PATH : `${base}/${TRACES_PATH}`;
}

/** `key1=value1,key2=value2`, keys and values percent-encoded (W3C Baggage octet rules). */
export function parseResourceAttributes(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined || raw.trim() === "") return out;
  for (const pair of raw.split(",")) {
    if (pair.trim() === "") continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new TelemetryConfigError("OTEL_RESOURCE_ATTRIBUTES", `"${pair}" is not key=value`);
    try {
      out[decodeURIComponent(pair.slice(0, eq).trim())] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      throw new TelemetryConfigError("OTEL_RESOURCE_ATTRIBUTES", `"${pair}" has a bad percent-encoding`);
    }
  }
  return out;
}

function sampler(env: NodeJS.ProcessEnv): { sampler: SamplerName; samplerRatio: number } {
  const name = (str(env, "OTEL_TRACES_SAMPLER") ?? SamplerName.ParentBasedAlwaysOn).toLowerCase();
  const known = Object.values(SamplerName) as string[];
  if (!known.includes(name)) {
    throw new TelemetryConfigError("OTEL_TRACES_SAMPLER", `unknown sampler "${name}" (one of ${known.join(", ")})`);
  }
  const arg = str(env, "OTEL_TRACES_SAMPLER_ARG");
  let ratio = 1;
  if (arg !== undefined && name.endsWith("traceidratio")) {
    ratio = Number(arg);
    if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
      throw new TelemetryConfigError("OTEL_TRACES_SAMPLER_ARG", `expected a ratio in [0, 1], got "${arg}"`);
    }
  }
  return { sampler: name as SamplerName, samplerRatio: ratio };
}

/**
 * Reads the configuration from `env`. `serviceName` is the service's own name, used unless OTEL_SERVICE_NAME
 * (or service.name in OTEL_RESOURCE_ATTRIBUTES) says otherwise — OTEL_SERVICE_NAME wins over both.
 */
export function readTelemetryConfig(serviceName: string, env: NodeJS.ProcessEnv = process.env): TelemetryConfig {
  const disabled = bool(env, "OTEL_SDK_DISABLED");
  // Departure from the SDK's default (otlp to localhost:4318): a trading process does not build and post spans to a
  // collector nobody configured. Tracing is on when an endpoint or OTEL_TRACES_EXPORTER=otlp says where spans go.
  const configured =
    str(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") !== undefined ||
    str(env, "OTEL_EXPORTER_OTLP_ENDPOINT") !== undefined;
  const exporter = str(env, "OTEL_TRACES_EXPORTER")?.toLowerCase() ?? (configured ? "otlp" : "none");
  if (exporter !== "otlp" && exporter !== "none") {
    throw new TelemetryConfigError("OTEL_TRACES_EXPORTER", `only "otlp" and "none" are supported, got "${exporter}"`);
  }
  const protocol = str(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ?? str(env, "OTEL_EXPORTER_OTLP_PROTOCOL");
  if (protocol !== undefined && protocol !== "http/json") {
    // The one exporter installed posts OTLP/HTTP JSON; saying otherwise is a misconfiguration to surface.
    const field = str(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
      ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
      : "OTEL_EXPORTER_OTLP_PROTOCOL";
    throw new TelemetryConfigError(field, `only "http/json" is supported, got "${protocol}"`);
  }
  const resourceAttributes = parseResourceAttributes(str(env, "OTEL_RESOURCE_ATTRIBUTES"));
  const name = str(env, "OTEL_SERVICE_NAME") ?? resourceAttributes["service.name"] ?? serviceName;
  const maxQueueSize = int(env, "OTEL_BSP_MAX_QUEUE_SIZE", 2048, 1);
  const maxExportBatchSize = int(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, 1);
  if (maxExportBatchSize > maxQueueSize) {
    throw new TelemetryConfigError(
      "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
      `must not exceed OTEL_BSP_MAX_QUEUE_SIZE (${maxQueueSize})`,
    );
  }
  return {
    enabled: !disabled && exporter !== "none",
    serviceName: name,
    tracesEndpoint: tracesEndpoint(env),
    ...sampler(env),
    resourceAttributes,
    batch: {
      scheduledDelayMillis: int(env, "OTEL_BSP_SCHEDULE_DELAY", 5000, 0),
      maxQueueSize,
      maxExportBatchSize,
      exportTimeoutMillis: int(env, "OTEL_BSP_EXPORT_TIMEOUT", 30000, 1),
    },
  };
}
