/**
 * order-entry embedded: venue simulator, connector (memory store, no NATS: its in-process bus), a RiskService and
 * order-entry (memory store) in one process, as `fixmesh start` runs them — an order placed over gRPC fills, and
 * close() stops it cleanly.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loggerFor, parseConfig, startConnector } from "@fixmesh/connector";
import { OrderStatus, OrderType, Side, TimeInForce } from "@fixmesh/contracts";
import { orderEntryClient, parseOrderEntryConfig, startOrderEntry } from "@fixmesh/order-entry";
import { eventually, SESSION, startTestRisk, startVenue, UpdateCollector } from "./orders-harness.js";

describe("order-entry embedded", { timeout: 60_000 }, () => {
  it("places an order that fills, with memory state and no NATS, and closes cleanly", async () => {
    const venue = await startVenue();
    const cfg = parseConfig(
      [
        "connector: { id: embedded }",
        "store: { kind: memory }",
        "grpc: { plaintext: true, host: 127.0.0.1, port: 0 }",
        "metrics: { host: 127.0.0.1, port: 0 }",
        "log: { level: silent }",
        "sessions:",
        "  - BeginString: FIX.4.4",
        "    SenderCompID: CLIENT",
        "    TargetCompID: VENUE",
        "    ConnectionType: initiator",
        "    HeartBtInt: 30",
        "    ReconnectInterval: 1",
        `    initiator: { hosts: [{ host: 127.0.0.1, port: ${venue.port} }] }`,
      ].join("\n"),
      { env: {} },
    );
    const connector = await startConnector(cfg, { logger: loggerFor(cfg) });
    const risk = await startTestRisk();
    const oe = await startOrderEntry(
      parseOrderEntryConfig({
        grpc: { plaintext: true, port: 0 },
        sessions: [{ id: SESSION, connector: `127.0.0.1:${connector.grpcPort}` }],
        risk: { address: risk.address },
        store: { kind: "memory" },
        log: { level: "silent" },
      }),
    );
    const client = orderEntryClient(`127.0.0.1:${oe.port}`);
    try {
      assert.equal(oe.repo.kind, "memory");
      const updates = new UpdateCollector(client, 1n);
      const r = await eventually(
        () =>
          client.rpc
            .submitOrder({
              idempotencyKey: "embedded-1",
              sessionId: SESSION,
              account: "ACC1",
              symbol: "IBM",
              side: Side.BUY,
              quantity: "10",
              orderType: OrderType.LIMIT,
              price: "100",
              timeInForce: TimeInForce.DAY,
            })
            .catch(() => undefined),
        15_000,
        "the session LIVE and the order accepted",
      );
      const o = await eventually(
        async () => {
          const x = (await client.rpc.getOrder({ orderId: r.order!.orderId })).order;
          return x?.status === OrderStatus.FILLED ? x : undefined;
        },
        15_000,
        "FILLED",
      );
      assert.equal(o.cumQty, "10");
      await eventually(() => updates.of(o.orderId).some((u) => u.change === "FILL"), 5000, "the FILL update");
      updates.cancel();
    } finally {
      client.close();
      await oe.close();
      await risk.stop();
      await connector.stop();
      await venue.stop(0);
    }
  });
});
