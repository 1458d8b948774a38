/**
 * `fixmesh order-entry --config FILE [--port N]`: runs order-entry until SIGTERM/SIGINT. Prints
 * `{"listening":PORT}` once serving (scripts and tests read it), after `{"metrics":PORT}` when metrics are served.
 * A bad configuration exits 2 naming the field.
 */
import { parseArgs } from "node:util";
import { initTelemetry, lineSignalLogger, stopOnSignal, TelemetryConfigError } from "@fixmesh/telemetry";
import { loadOrderEntryConfig, OrderEntryConfigError } from "./config/load.js";
import { REBUILD_USAGE, runRebuildCli } from "./rebuild-cli.js";
import { startOrderEntry } from "./start.js";

export const ORDER_ENTRY_USAGE = `  order-entry --config FILE [--port N]   OrderEntryService (apps/order-entry/examples/order-entry.yaml)
${REBUILD_USAGE}`;

export async function runOrderEntryCli(
  args: string[],
  io: { out: (l: string) => void; err: (l: string) => void } = {
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
  },
): Promise<number> {
  if (args[0] === "rebuild") return runRebuildCli(args.slice(1), io);
  let values: { config?: string; port?: string };
  try {
    ({ values } = parseArgs({ args, options: { config: { type: "string" }, port: { type: "string" } } }));
  } catch (err) {
    io.err(`order-entry: ${(err as Error).message}\nusage:\n${ORDER_ENTRY_USAGE}`);
    return 2;
  }
  if (!values.config) {
    io.err(`order-entry: --config FILE is required\nusage:\n${ORDER_ENTRY_USAGE}`);
    return 2;
  }
  let config: ReturnType<typeof loadOrderEntryConfig>;
  try {
    config = loadOrderEntryConfig(values.config, {
      ...process.env,
      ...(values.port !== undefined && { FIXMESH_GRPC_PORT: values.port }),
    });
  } catch (err) {
    if (err instanceof OrderEntryConfigError) {
      io.err(err.message);
      return 2;
    }
    throw err;
  }
  // Tracing from the standard OTEL_* variables (off unless an exporter is configured).
  let telemetry: ReturnType<typeof initTelemetry>;
  try {
    telemetry = initTelemetry({ serviceName: "fixmesh-order-entry" });
  } catch (err) {
    if (!(err instanceof TelemetryConfigError)) throw err;
    io.err(`order-entry: ${err.message}`);
    return 2;
  }
  let handle: Awaited<ReturnType<typeof startOrderEntry>>;
  try {
    handle = await startOrderEntry(config);
  } catch (err) {
    io.err(`order-entry: failed to start: ${(err as Error).message}`);
    await telemetry.shutdown().catch(() => undefined);
    return 1;
  }
  // Before the listening line, which scripts wait for: by then they have the metrics port too.
  if (handle.metricsPort !== null) io.out(JSON.stringify({ metrics: handle.metricsPort }));
  io.out(JSON.stringify({ listening: handle.port }));
  try {
    return await stopOnSignal(lineSignalLogger("order-entry", io.err), () => handle.close(), "stopped with errors");
  } finally {
    await telemetry.shutdown().catch(() => undefined);
  }
}
