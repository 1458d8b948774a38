/**
 * order-entry learns a session's health from the connector's state events, not from its GetSession poll: with the
 * poll set to ten minutes, the venue going away is seen within seconds, and from then on an order is refused by
 * order-entry itself: before risk is asked and before anything reaches the connector. Real processes (connector, order-entry) on real Redis and NATS.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { OrderStatus, RpcError } from "@fixmesh/contracts";
import { type OrderEntryClient, orderEntryClient } from "@fixmesh/order-entry";
import { eventually, OrdersStack, spawnFixmesh, submitReq } from "./orders-harness.js";

describe("order-entry follows the connector's session state events", { timeout: 120_000 }, () => {
  const stack = new OrdersStack();
  let client: OrderEntryClient;

  before(async () => {
    await stack.start();
    // GetSession only at start and then every 10 minutes: whatever order-entry learns later comes from events.
    const file = join(stack.dir, "order-entry-events.yaml");
    writeFileSync(
      file,
      stack.orderEntryYaml({ id: "oe-events" }).replace("sessions:", "connector: { healthPollMs: 600000 }\nsessions:"),
    );
    const proc = await spawnFixmesh("order-entry", ["order-entry", "--config", file]);
    stack.orderEntries.push(proc);
    client = orderEntryClient(`127.0.0.1:${proc.listening as number}`);
  });
  after(async () => {
    client?.close();
    await stack.stop();
  });

  it("refuses the next order with SESSION_NOT_LIVE as soon as the venue goes away, asking risk nothing", async () => {
    // LIVE at start (read once with GetSession): an order goes through and fills.
    const ok = await client.rpc.submitOrder(submitReq("IBM"), { deadline: Date.now() + 10_000 });
    await eventually(
      async () =>
        (await client.rpc.getOrder({ orderId: ok.order!.orderId })).order?.status === OrderStatus.FILLED || undefined,
      20_000,
      "the first order FILLED",
    );
    const down = Date.now();
    await stack.venue.stop(0);
    // Until the event arrives an order may still reach the connector, which refuses it itself (the session is down
    // there first): wait for order-entry's own refusal, made before risk is asked and before any send.
    const own = (e: unknown): e is RpcError =>
      e instanceof RpcError && e.reason === "SESSION_NOT_LIVE" && /nothing was sent/.test(e.message);
    await eventually(
      async () => own(await client.rpc.submitOrder(submitReq("IBM"), { deadline: Date.now() + 5000 }).catch((e) => e)),
      10_000,
      "order-entry's own SESSION_NOT_LIVE",
    );
    const seenAfterMs = Date.now() - down;
    const checksBefore = stack.risk!.checks.length;
    const sentBefore = (await stack.sentMessages("D")).length;
    const refused = await client.rpc.submitOrder(submitReq("IBM"), { deadline: Date.now() + 5000 }).catch((e) => e);
    assert.ok(own(refused), String(refused));
    assert.equal(refused.code, 9 /* FAILED_PRECONDITION */);
    assert.equal(stack.risk!.checks.length, checksBefore, "risk was not asked");
    assert.equal((await stack.sentMessages("D")).length, sentBefore, "nothing sent");
    assert.ok(seenAfterMs < 10_000, `seen after ${seenAfterMs} ms`);
  });
});
