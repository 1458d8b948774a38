import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { RunnerLogger } from "@fixmesh/engine";
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { type MeteredRegistry, SessionMeters } from "./session-meters.js";

export interface MetricsOptions {
  /** Interface to bind, e.g. `0.0.0.0` or `127.0.0.1`. */
  host: string;
  /** 0: any free port (the chosen one is returned). */
  port: number;
  /** The sessions to meter; read again at every scrape, so sessions added later are picked up. */
  registry: MeteredRegistry;
  logger?: RunnerLogger;
  /** The wall clock inbound SendingTime(52) is compared with; tests may pass their own. */
  now?: () => number;
}

export interface MetricsHandle {
  /** The port the endpoint listens on. */
  readonly port: number;
  /** Stops listening to the sessions and closes the endpoint (open scrape connections included). */
  close(): Promise<void>;
}

/** The path Prometheus scrapes. */
export const METRICS_PATH = "/metrics";

/** Prometheus text exposition format 0.0.4; Prometheus 3 refuses a scrape whose Content-Type it cannot place. */
const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * Serves the Prometheus exposition of the sessions' metrics at `/metrics` on host:port.
 *
 * The exporter runs as a plain OpenTelemetry MetricReader and our own `node:http` server answers the scrape:
 * the exporter's server reads port 0 as "use the default 9464" and does not tell which port it bound, and its
 * request handler answers a failed collection with status 200 and a bare `text/plain`.
 */
export async function startMetrics(opts: MetricsOptions): Promise<MetricsHandle> {
  const log = opts.logger;
  // No otel_scope_* labels and no target_info: the exposition is our metrics and nothing else.
  const exporter = new PrometheusExporter({
    preventServerStart: true,
    withoutScopeInfo: true,
    withoutTargetInfo: true,
  });
  const serializer = new PrometheusSerializer("", false, undefined, true, true);
  const provider = new MeterProvider({ readers: [exporter] });
  const meters = new SessionMeters(provider.getMeter("@fixmesh/connector"), opts.registry, opts.now);

  const scrape = async (res: ServerResponse, head: boolean): Promise<void> => {
    let body: string;
    try {
      const { resourceMetrics, errors } = await exporter.collect();
      // A callback that threw leaves its instruments out of this scrape; the others are still worth serving.
      if (errors.length > 0) log?.warn({ errors: errors.map(String) }, "metrics collection had errors");
      body = serializer.serialize(resourceMetrics);
    } catch (err) {
      log?.error({ err }, "metrics collection failed");
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

  const shutdown = async (): Promise<void> => {
    meters.close();
    await provider.shutdown();
  };

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: opts.host, port: opts.port }, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    await shutdown();
    const code = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
    throw new Error(`metrics: cannot listen on ${opts.host}:${opts.port}: ${code}`, { cause: err });
  }
  server.on("error", (err) => log?.error({ err }, "metrics endpoint failed"));
  const port = (server.address() as AddressInfo).port;
  log?.info({ host: opts.host, port, path: METRICS_PATH }, "Prometheus metrics listening");

  let closed: Promise<void> | null = null;
  return {
    port,
    close() {
      closed ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          // A scraper's keep-alive connection would hold close() open until it timed out.
          server.closeAllConnections();
        });
        await shutdown();
      })();
      return closed;
    },
  };
}
