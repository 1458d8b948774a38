/**
 * `fixmesh connector --config FILE [--port N]`: runs a connector until SIGTERM or SIGINT, then logs every session
 * out, closes the ports and stores, and exits 0.
 *
 * At start it prints one JSON line on stdout, `{"listening":{"acceptor":5001,"acceptors":[5001],"grpc":…,"metrics":…}}`,
 * so whoever started it (a test, a script) learns the ports it bound when the config said 0.
 */
import { parseArgs } from "node:util";
import { type Connector, ConnectorConfigError, loadConfig, loggerFor, startConnector } from "@fixmesh/connector";
import { ConfigError } from "@fixmesh/session";
import { initTelemetry, stopOnSignal, type Telemetry, TelemetryConfigError } from "@fixmesh/telemetry";

export const CONNECTOR_USAGE = `  connector run a connector: the FIX sessions a configuration file describes
            --config FILE   the YAML configuration (see apps/connector/README.md)
            --port N        the first acceptor's port (acceptors[0]), over the file and FIXMESH_ACCEPTOR_PORT
                            (0: a free one); refused (exit 2) when the file has no acceptor (initiators only)`;

/** Exit codes: 0 stopped cleanly, 1 failed while running or stopping, 2 bad flags or configuration. */
export async function runConnector(args: string[]): Promise<number> {
  let values: { config?: string; port?: string };
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: { config: { type: "string", short: "c" }, port: { type: "string" } },
    }));
  } catch (e) {
    console.error(`fixmesh connector: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  if (values.config === undefined) {
    console.error("fixmesh connector: --config FILE is required");
    return 2;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(values.config, values.port === undefined ? {} : { port: values.port });
  } catch (e) {
    if (!(e instanceof ConnectorConfigError)) throw e;
    console.error(`fixmesh connector: ${e.message}`);
    return 2;
  }
  // Tracing from the OTEL_* variables (libs/telemetry/README.md): the connector's spans for traced sends.
  let telemetry: Telemetry;
  try {
    telemetry = initTelemetry({ serviceName: "fixmesh-connector" });
  } catch (e) {
    if (!(e instanceof TelemetryConfigError)) throw e;
    console.error(`fixmesh connector: ${e.message}`);
    return 2;
  }
  const logger = loggerFor(config);
  let connector: Connector;
  try {
    connector = await startConnector(config, { logger });
  } catch (e) {
    logger.fatal({ err: e }, "connector failed to start");
    console.error(`fixmesh connector: ${e instanceof Error ? e.message : String(e)}`);
    await telemetry.shutdown();
    return e instanceof ConfigError ? 2 : 1;
  }
  process.stdout.write(
    `${JSON.stringify({
      listening: {
        acceptor: connector.acceptorPorts[0] ?? null,
        acceptors: connector.acceptorPorts,
        grpc: connector.grpcPort,
        metrics: connector.metricsPort,
      },
    })}\n`,
  );

  try {
    // A second signal while the sessions log out: stop waiting for them.
    return await stopOnSignal(logger, () => connector.stop(), "connector stopped with errors");
  } finally {
    // Exports the spans still queued.
    await telemetry.shutdown();
  }
}
