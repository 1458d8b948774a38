/**
 * Orders end to end when things go wrong, each service its own process on real Redis and NATS: a retry on
 * another order-entry instance, a session that is not LIVE, risk unreachable or stuck, and an order-entry instance
 * SIGKILLed in the middle of a burst and restarted. What is asserted is what a client and the venue see: answers,
 * the NewOrderSingles on the wire (the connector's own events), every order's final state, and the update stream.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { OrderStatus, RpcError } from "@fixmesh/contracts";
import type { OrderEntryClient } from "@fixmesh/order-entry";
import { eventually, OrdersStack, SESSION, submitReq } from "./orders-harness.js";

const deadline = (ms = 10_000) => ({ deadline: Date.now() + ms });

async function filled(c: OrderEntryClient, orderId: string) {
  return eventually(
    async () => {
      const o = (await c.rpc.getOrder({ orderId }, deadline(5000))).order;
      return o?.status === OrderStatus.FILLED ? o : undefined;
    },
    20_000,
    `order ${orderId} FILLED`,
  );
}

describe("orders end to end, under failure", { timeout: 300_000 }, () => {
  const stack = new OrdersStack();
  let a: OrderEntryClient;
  let b: OrderEntryClient;

  before(async () => {
    await stack.start();
    a = (await stack.startOrderEntry({ id: "oe-a" })).client;
    b = (await stack.startOrderEntry({ id: "oe-b" })).client;
  });
  after(async () => {
    await stack.stop();
  });

  it("answers a retry on the other instance with the first result and sends nothing twice", async () => {
    const req = submitReq("IBM");
    const first = await a.rpc.submitOrder(req, deadline());
    const retry = await b.rpc.submitOrder(req, deadline());
    assert.equal(first.replayed, false);
    assert.equal(retry.replayed, true);
    assert.equal(retry.order?.orderId, first.order?.orderId);
    assert.equal(retry.order?.clOrdId, first.order?.clOrdId);
    // Racing: the same key on both instances at once.
    const raced = submitReq("IBM");
    const [x, y] = await Promise.all([a.rpc.submitOrder(raced, deadline()), b.rpc.submitOrder(raced, deadline())]);
    assert.equal(x.order?.orderId, y.order?.orderId);
    assert.equal([x.replayed, y.replayed].filter(Boolean).length, 1);
    await filled(a, first.order!.orderId);
    await filled(b, x.order!.orderId);
    const sent = await stack.sentMessages("D");
    assert.equal(sent.filter((m) => m.clOrdId === first.order!.clOrdId).length, 1);
    assert.equal(sent.filter((m) => m.clOrdId === x.order!.clOrdId).length, 1);
    // The same key for a different order is refused.
    const e = await b.rpc.submitOrder({ ...req, quantity: "7" }).catch((err: unknown) => err);
    assert.ok(e instanceof RpcError);
    assert.equal(e.reason, "IDEMPOTENCY_KEY_REUSED");
  });

  it("refuses orders while the session is not LIVE, and sends none", async () => {
    const before = (await stack.sentMessages("D")).length;
    await stack.session.logout({ sessionId: SESSION, reason: "e2e: session down" }, deadline());
    try {
      await eventually(
        async () => {
          const e = await a.rpc.submitOrder(submitReq("IBM"), deadline()).catch((err: unknown) => err);
          return e instanceof RpcError && e.reason === "SESSION_NOT_LIVE" ? e : undefined;
        },
        10_000,
        "SESSION_NOT_LIVE",
      );
      const e = await b.rpc.submitOrder(submitReq("IBM"), deadline()).catch((err: unknown) => err);
      assert.ok(e instanceof RpcError);
      assert.equal(e.code, 9 /* FAILED_PRECONDITION */);
      assert.equal(e.reason, "SESSION_NOT_LIVE");
    } finally {
      await stack.session.logon({ sessionId: SESSION }, deadline());
    }
    await stack.waitSession(5 /* LIVE */);
    assert.equal((await stack.sentMessages("D")).length, before);
    // And once LIVE again (as order-entry sees it), orders flow.
    const ok = await eventually(
      () => a.rpc.submitOrder(submitReq("IBM"), deadline()).catch(() => undefined),
      10_000,
      "an order accepted",
    );
    await filled(a, ok.order!.orderId);
  });

  it("refuses orders when risk cannot answer in time (stuck or unreachable) and sends none", async () => {
    const before = (await stack.sentMessages("D")).length;
    stack.risk!.hang = true;
    try {
      const e = await a.rpc.submitOrder(submitReq("IBM"), deadline()).catch((err: unknown) => err);
      assert.ok(e instanceof RpcError);
      assert.equal(e.code, 14 /* UNAVAILABLE */);
      assert.equal(e.reason, "RISK_UNAVAILABLE");
    } finally {
      stack.risk!.hang = false;
    }
    // An instance whose risk address has nobody listening.
    const { client: c, proc } = await stack.startOrderEntry({ id: "oe-norisk", riskAddress: "127.0.0.1:1" });
    const key = submitReq("IBM");
    const e = await c.rpc.submitOrder(key, deadline()).catch((err: unknown) => err);
    assert.ok(e instanceof RpcError);
    assert.equal(e.reason, "RISK_UNAVAILABLE");
    await proc.stop();
    // Refused, not stored: the key is free, and a retry on a healthy instance places the order once.
    const placed = await a.rpc.submitOrder(key, deadline());
    assert.equal(placed.replayed, false);
    await filled(a, placed.order!.orderId);
    assert.equal((await stack.sentMessages("D")).length, before + 1);
  });
});
