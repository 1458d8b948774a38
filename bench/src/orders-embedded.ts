/**
 * The one-process stack of `bench:orders --only=embedded` (a child process): the venue simulator, the connector
 * (memory store, no NATS), the risk service (memory state) and order-entry (memory store) in one Node process,
 * wired as `fixmesh start` wires them (apps/cli/src/demo/stack.ts): one in-process bus carries the connector's FIX
 * events (order-entry's durable reads the ExecutionReports from it) and order-entry's order events (risk reads
 * both). Every service still calls the next over gRPC on loopback, as `fixmesh start` runs them. Unlike
 * `fixmesh start`: the connector's store is memory, not a file fsynced at every commit, and the persistence service
 * (PGlite) is not run — the order path's cost, not the disk's.
 *
 * argv[2]: a directory holding `limits.yaml`. Prints `{"listening":ORDER_ENTRY_PORT}` once the FIX session is
 * LIVE, runs until SIGTERM/SIGINT.
 */
import { join } from "node:path";
import { InProcessBus } from "@fixmesh/bus";
import { loggerFor, parseConfig, startConnector } from "@fixmesh/connector";
import { parseOrderEntryConfig, startOrderEntry } from "@fixmesh/order-entry";
import { parseRiskConfig, startRisk } from "@fixmesh/risk";
import { parseVenueSimConfig, startVenueSim } from "../../apps/venue-sim/dist/index.js";

const SESSION = "FIX.4.4:CLIENT->VENUE";

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error("usage: orders-embedded.js DIR (holding limits.yaml)");
  const venue = await startVenueSim(
    parseVenueSimConfig({
      listen: { host: "127.0.0.1", port: 0 },
      store: { kind: "memory" },
      sessions: [{ BeginString: "FIX.4.4", SenderCompID: "VENUE", TargetCompID: "CLIENT", HeartBtInt: 30 }],
      policy: { fill: "immediate", latency: 0, referencePrice: 100, priceBandPercent: 50 },
    }),
  );
  const cfg = parseConfig(
    [
      "connector: { id: bench-embedded }",
      "store: { kind: memory }",
      "grpc: { plaintext: true, host: 127.0.0.1, port: 0 }",
      "metrics: { host: 127.0.0.1, port: 0 }",
      "log: { level: warn }",
      "sessions:",
      "  - BeginString: FIX.4.4",
      "    SenderCompID: CLIENT",
      "    TargetCompID: VENUE",
      "    ConnectionType: initiator",
      "    HeartBtInt: 30",
      "    NonStopSession: Y",
      "    ReconnectInterval: 1",
      `    initiator: { hosts: [{ host: 127.0.0.1, port: ${venue.port} }] }`,
    ].join("\n"),
    { env: {} },
  );
  // One in-process bus for every service, as `fixmesh start` wires them (apps/cli/src/demo/stack.ts): the connector
  // publishes its FIX events on it, order-entry consumes the ExecutionReports from it and publishes its order events
  // on it, risk reads both.
  const bus = new InProcessBus();
  const connector = await startConnector(cfg, { logger: loggerFor(cfg), bus });
  const risk = await startRisk(
    parseRiskConfig(
      [
        "risk: { id: bench-embedded }",
        "grpc: { plaintext: true, host: 127.0.0.1, port: 0 }",
        `limits: { file: "${join(dir, "limits.yaml")}" }`,
        "state: { kind: memory }",
        "bus: { kind: in-process }",
        "log: { level: warn }",
      ].join("\n"),
      { env: {} },
    ),
    { buses: { orders: bus, fix: bus, audit: bus } },
  );
  const oe = await startOrderEntry(
    parseOrderEntryConfig({
      orderEntry: { id: "bench-embedded" },
      grpc: { plaintext: true, host: "127.0.0.1", port: 0 },
      sessions: [{ id: SESSION, connector: `127.0.0.1:${connector.grpcPort}` }],
      risk: { address: `127.0.0.1:${risk.port}` },
      store: { kind: "memory" },
      log: { level: "warn" },
    }),
    { fixBus: bus, ordersBus: bus },
  );
  process.stdout.write(`${JSON.stringify({ listening: oe.port })}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  await oe.close();
  await risk.close();
  await connector.stop();
  await venue.stop(0);
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`orders-embedded: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
