/**
 * Prometheus metrics for a service: counters, histograms and gauges read at scrape time, kept by the OpenTelemetry
 * metrics SDK and written in the text exposition format by its PrometheusSerializer (the connector's per-session
 * meters go the same way), and the `/metrics` endpoint that serves them. This module only adapts the SDK to the
 * shape the services use (a registry per process, children bound to a label set for the hot paths).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type {
  Attributes,
  Meter,
  ObservableResult,
  Counter as OtelCounter,
  Histogram as OtelHistogram,
} from "@opentelemetry/api";
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";

export type Labels = Readonly<Record<string, string>>;

/** A value read at scrape time: one number, or one per label set. */
export type Sample = number | ReadonlyArray<readonly [Labels, number]>;

export class Counter {
  constructor(private readonly counter: OtelCounter) {}
  inc(labels?: Labels, by = 1): void {
    this.counter.add(by, labels);
  }
  /** The series of one label set, for a hot path that counts it often. */
  child(labels?: Labels): { inc(by?: number): void } {
    const attributes: Attributes | undefined = labels === undefined ? undefined : { ...labels };
    return {
      inc: (by = 1) => this.counter.add(by, attributes),
    };
  }
}

export class Histogram {
  constructor(private readonly histogram: OtelHistogram) {}
  observe(value: number, labels?: Labels): void {
    this.histogram.record(value, labels);
  }
  /** The series of one label set, for a hot path that observes it often. */
  child(labels?: Labels): { observe(value: number): void } {
    const attributes: Attributes | undefined = labels === undefined ? undefined : { ...labels };
    return { observe: (value) => this.histogram.record(value, attributes) };
  }
}

function observer(read: () => Sample | Promise<Sample>) {
  return async (result: ObservableResult): Promise<void> => {
    const v = await read();
    if (typeof v === "number") result.observe(v);
    else for (const [labels, n] of v) result.observe(n, labels);
  };
}

/** Latency buckets in seconds, 100 µs to 5 s. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** What `/metrics` serves: the exposition text, or a rejection (answered 500, which Prometheus shows as `up` 0). */
export interface MetricsSource {
  render(): Promise<string>;
}

export class MetricsRegistry implements MetricsSource {
  // No otel_scope_* labels and no target_info: the exposition is our metrics and nothing else.
  private readonly exporter = new PrometheusExporter({
    preventServerStart: true,
    withoutScopeInfo: true,
    withoutTargetInfo: true,
  });
  private readonly serializer = new PrometheusSerializer("", false, undefined, true, true);
  private readonly provider = new MeterProvider({ readers: [this.exporter] });
  /** The SDK meter, for instruments this adapter does not cover (the connector's per-session meters). */
  readonly meter: Meter;
  private readonly onPartial: ((errors: unknown[]) => void) | undefined;

  /**
   * `onPartial`: a scrape where some callbacks failed serves the other instruments and reports the errors here,
   * instead of failing whole (500).
   */
  constructor(opts: { scope?: string; onPartial?: (errors: unknown[]) => void } = {}) {
    this.meter = this.provider.getMeter(opts.scope ?? "@fixmesh");
    this.onPartial = opts.onPartial;
  }
  counter(name: string, help: string): Counter {
    return new Counter(this.meter.createCounter(name, { description: help }));
  }
  histogram(name: string, help: string, buckets: readonly number[] = LATENCY_BUCKETS): Histogram {
    return new Histogram(
      this.meter.createHistogram(name, { description: help, advice: { explicitBucketBoundaries: [...buckets] } }),
    );
  }
  /** A gauge read at every scrape (a failed read fails the scrape, which Prometheus reports as `up` 0). */
  gauge(name: string, help: string, read: () => Sample | Promise<Sample>): void {
    this.meter.createObservableGauge(name, { description: help }).addCallback(observer(read));
  }
  /** A counter kept elsewhere (a component's own tally), read at every scrape. */
  observedCounter(name: string, help: string, read: () => Sample | Promise<Sample>): void {
    this.meter.createObservableCounter(name, { description: help }).addCallback(observer(read));
  }
  async render(): Promise<string> {
    const { resourceMetrics, errors } = await this.exporter.collect();
    if (errors.length > 0) {
      if (this.onPartial === undefined) throw new AggregateError(errors, "metrics collection failed");
      this.onPartial(errors);
    }
    return this.serializer.serialize(resourceMetrics);
  }
  /** Stops the SDK's instruments; the registry renders nothing afterwards. */
  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}

export const METRICS_PATH = "/metrics";
const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface MetricsEndpoint {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `registry` at `/metrics` on host:port (0: any free port; the bound one is returned). */
export async function serveMetrics(opts: {
  host: string;
  port: number;
  registry: MetricsSource;
  /** Says where it listens (info) and what failed (error). */
  logger?: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
}): Promise<MetricsEndpoint> {
  const scrape = async (res: ServerResponse, head: boolean) => {
    let body: string;
    try {
      body = await opts.registry.render();
    } catch (err) {
      opts.logger?.error({ err }, "metrics collection failed");
      res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" }).end("metrics collection failed\n");
      return;
    }
    res.writeHead(200, { "Content-Type": CONTENT_TYPE, "Content-Length": Buffer.byteLength(body) });
    res.end(head ? undefined : body);
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (path !== METRICS_PATH) {
      res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end(`not found: try ${METRICS_PATH}\n`);
    } else if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { Allow: "GET, HEAD" }).end();
    } else {
      void scrape(res, req.method === "HEAD");
    }
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: opts.host, port: opts.port }, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new Error(`metrics: cannot listen on ${opts.host}:${opts.port}: ${code}`, { cause: err });
  }
  server.on("error", (err) => opts.logger?.error({ err }, "metrics endpoint failed"));
  const port = (server.address() as AddressInfo).port;
  opts.logger?.info({ host: opts.host, port, path: METRICS_PATH }, "Prometheus metrics listening");
  let closed: Promise<void> | null = null;
  return {
    port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scraper's keep-alive connection would hold close() open until it timed out.
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
