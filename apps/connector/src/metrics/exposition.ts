import type { RunnerLogger } from "@fixmesh/engine";
import { MetricsRegistry, serveMetrics } from "@fixmesh/telemetry";
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

/**
 * Serves the Prometheus exposition of the sessions' metrics at `/metrics` on host:port.
 *
 * The exporter runs as a plain OpenTelemetry MetricReader and our own `node:http` server answers the scrape:
 * the exporter's server reads port 0 as "use the default 9464" and does not tell which port it bound, and its
 * request handler answers a failed collection with status 200 and a bare `text/plain`.
 */
export async function startMetrics(opts: MetricsOptions): Promise<MetricsHandle> {
  const log = opts.logger;
  // A callback that threw leaves its instruments out of this scrape; the others are still worth serving.
  const registry = new MetricsRegistry({
    scope: "@fixmesh/connector",
    onPartial: (errors) => log?.warn({ errors: errors.map(String) }, "metrics collection had errors"),
  });
  const meters = new SessionMeters(registry.meter, opts.registry, opts.now);
  const shutdown = async (): Promise<void> => {
    meters.close();
    await registry.shutdown();
  };
  let endpoint: Awaited<ReturnType<typeof serveMetrics>>;
  try {
    endpoint = await serveMetrics({ host: opts.host, port: opts.port, registry, ...(log && { logger: log }) });
  } catch (err) {
    await shutdown();
    throw err;
  }
  let closed: Promise<void> | null = null;
  return {
    port: endpoint.port,
    close() {
      closed ??= endpoint.close().then(shutdown);
      return closed;
    },
  };
}
