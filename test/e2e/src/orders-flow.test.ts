/**
 * Orders end to end, each service its own process on real Redis and NATS, with the venue simulator: a client
 * submits over gRPC to order-entry, which checks risk, sends through the connector's SendStream, and follows the
 * order through the ExecutionReports the connector publishes on JetStream — what the client sees on GetOrder and on
 * StreamOrderUpdates.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { KillSwitchScope, OrderStatus, RpcError, Side } from "@fixmesh/contracts";
import type { OrderEntryClient } from "@fixmesh/order-entry";
import { eventually, OrdersStack, rand, SESSION, submitReq, UpdateCollector } from "./orders-harness.js";

async function statusOf(c: OrderEntryClient, orderId: string) {
  return (await c.rpc.getOrder({ orderId }, { deadline: Date.now() + 5000 })).order;
}

async function until(c: OrderEntryClient, orderId: string, status: OrderStatus, what = OrderStatus[status]) {
  return eventually(
    async () => {
      const o = await statusOf(c, orderId);
      return o?.status === status && !o.pending ? o : undefined;
    },
    15_000,
    `order ${orderId} ${what}`,
  );
}

describe("orders end to end", { timeout: 180_000 }, () => {
  const stack = new OrdersStack();
  let client: OrderEntryClient;
  let updates: UpdateCollector;

  before(async () => {
    await stack.start();
    ({ client } = await stack.startOrderEntry());
    updates = new UpdateCollector(client, 1n);
  });
  after(async () => {
    updates?.cancel();
    await stack.stop();
  });

  it("fills an order: PENDING_NEW on submit, then NEW and FILLED, every change on the update stream", async () => {
    const r = await client.rpc.submitOrder(submitReq("IBM"), { deadline: Date.now() + 10_000 });
    assert.equal(r.replayed, false);
    assert.equal(r.order?.status, OrderStatus.PENDING_NEW);
    const id = r.order!.orderId;
    const o = await until(client, id, OrderStatus.FILLED);
    assert.equal(o.cumQty, "100");
    assert.equal(o.leavesQty, "0");
    assert.equal(o.avgPx, "100");
    assert.equal(o.executions.length, 1);
    assert.ok(o.venueOrderId);
    await eventually(() => updates.of(id).length >= 3, 5000, "three updates");
    assert.deepEqual(
      updates.of(id).map((u) => u.change),
      ["NEW_REQUEST", "ACK", "FILL"],
    );
  });

  it("applies partial fills in order: CumQty 34, 67, 100 with the average price exact", async () => {
    const r = await client.rpc.submitOrder(submitReq("PART"), { deadline: Date.now() + 10_000 });
    const id = r.order!.orderId;
    const o = await until(client, id, OrderStatus.FILLED);
    assert.equal(o.executions.length, 3);
    assert.deepEqual(
      o.executions.map((e) => e.lastQty),
      ["34", "33", "33"],
    );
    await eventually(() => updates.of(id).length >= 5, 5000, "five updates");
    const u = updates.of(id);
    assert.deepEqual(
      u.map((x) => x.change),
      ["NEW_REQUEST", "ACK", "PARTIAL_FILL", "PARTIAL_FILL", "FILL"],
    );
    assert.deepEqual(
      u.slice(2).map((x) => x.order?.cumQty),
      ["34", "67", "100"],
    );
  });

  it("cancels a resting order: PENDING_CANCEL, then CANCELED with nothing filled", async () => {
    const r = await client.rpc.submitOrder(submitReq("BOOK", { price: "90" }), { deadline: Date.now() + 10_000 });
    const id = r.order!.orderId;
    await until(client, id, OrderStatus.NEW);
    const c = await client.rpc.cancelOrder(
      { orderId: id, sessionId: "", clOrdId: "", idempotencyKey: "" },
      { deadline: Date.now() + 10_000 },
    );
    assert.equal(c.order?.status, OrderStatus.PENDING_CANCEL);
    assert.equal(c.order?.pending, true);
    const o = await until(client, id, OrderStatus.CANCELED);
    assert.equal(o.cumQty, "0");
    assert.equal(o.leavesQty, "0");
    const again = await client.rpc
      .cancelOrder({ orderId: id, sessionId: "", clOrdId: "", idempotencyKey: "" })
      .catch((e: unknown) => e);
    assert.ok(again instanceof RpcError);
    assert.equal(again.reason, "ORDER_NOT_OPEN");
  });

  it("replaces a resting order's quantity and price; the order goes by the new ClOrdID and is found by both", async () => {
    const r = await client.rpc.submitOrder(submitReq("BOOK", { price: "91" }), { deadline: Date.now() + 10_000 });
    const id = r.order!.orderId;
    const first = r.order!.clOrdId;
    await until(client, id, OrderStatus.NEW);
    const rep = await client.rpc.replaceOrder(
      { orderId: id, sessionId: "", clOrdId: "", quantity: "60", price: "92", idempotencyKey: "" },
      { deadline: Date.now() + 10_000 },
    );
    assert.equal(rep.order?.status, OrderStatus.PENDING_REPLACE);
    const o = await eventually(
      async () => {
        const x = await statusOf(client, id);
        return x?.quantity === "60" && !x.pending ? x : undefined;
      },
      15_000,
      "replaced",
    );
    assert.equal(o.price, "92");
    assert.equal(o.status, OrderStatus.NEW);
    assert.notEqual(o.clOrdId, first);
    assert.equal(o.origClOrdId, first);
    for (const cl of [first, o.clOrdId]) {
      const byCl = await client.rpc.getOrder({ orderId: "", sessionId: SESSION, clOrdId: cl });
      assert.equal(byCl.order?.orderId, id);
    }
    await eventually(() => updates.of(id).some((u) => u.change === "REPLACED"), 5000, "REPLACED update");
  });

  it("shows a venue reject as REJECTED with the venue's text", async () => {
    const r = await client.rpc.submitOrder(submitReq("REJ"), { deadline: Date.now() + 10_000 });
    const o = await until(client, r.order!.orderId, OrderStatus.REJECTED);
    assert.ok(o.text.length > 0, "the venue's Text(58)");
    assert.equal(o.leavesQty, "0");
  });

  it("turns a cancel that arrives after the fill into CANCEL_REJECTED, the order FILLED", async () => {
    const r = await client.rpc.submitOrder(submitReq("SLOW"), { deadline: Date.now() + 10_000 });
    const id = r.order!.orderId;
    // The venue handles each request 400 ms after it arrives, the order first: it fills before it sees the cancel.
    const c = await client.rpc.cancelOrder(
      { orderId: id, sessionId: "", clOrdId: "", idempotencyKey: "" },
      { deadline: Date.now() + 10_000 },
    );
    assert.equal(c.order?.status, OrderStatus.PENDING_CANCEL);
    const o = await until(client, id, OrderStatus.FILLED);
    assert.equal(o.cumQty, "100");
    await eventually(
      () => updates.of(id).some((u) => u.change === "CANCEL_REJECTED"),
      10_000,
      "CANCEL_REJECTED update",
    );
    assert.equal(o.pending, false);
  });

  it("applies duplicated ExecutionReports once, with and without PossDup", async () => {
    const r = await client.rpc.submitOrder(submitReq("PART"), { deadline: Date.now() + 10_000 });
    const id = r.order!.orderId;
    await until(client, id, OrderStatus.FILLED);
    const before = updates.of(id).length;
    const venueSession = stack.venue.session("CLIENT");
    const possDup = await venueSession.resendExecutionsAsPossDup(3);
    const possResend = await venueSession.resendExecutionsAsPossDup(2, { possResend: true });
    await venueSession.duplicateExecutionsWithoutPossDup(3);

    assert.equal(possDup.length + possResend.length, 5);
    // Wait until the connector has handed all 8 copies to the bus and order-entry has consumed them: a fill of
    // another order after them is applied only once they are (one durable, in stream order).
    const marker = await client.rpc.submitOrder(submitReq("IBM"), { deadline: Date.now() + 10_000 });
    await until(client, marker.order!.orderId, OrderStatus.FILLED);
    const o = await statusOf(client, id);
    assert.equal(o?.cumQty, "100");
    assert.equal(o?.executions.length, 3);
    assert.equal(updates.of(id).length, before, "no update for a duplicate");
    // The store's counters (shared by every instance): 5 PossDup copies (2 of them also PossResend), 3 unflagged.
    const after8 = await stack.storeCounters();
    assert.equal(after8.duplicates, 8);
    assert.equal(after8.duplicatesPossDup, 5);
    assert.equal(after8.duplicatesPossResend, 2);
    assert.equal(after8.duplicatesUnflagged, 3);
  });

  it("refuses what risk refuses, with the rule and the figures, and sends nothing", async () => {
    const sentBefore = (await stack.sentMessages("D")).length;
    const risk = stack.risk!;
    try {
      for (const [rule, code, reason] of [
        ["MAX_ORDER_QTY", 9, "RISK_REJECTED"],
        ["ORDER_RATE", 8, "THROTTLED"],
        ["KILL_SWITCH", 9, "KILL_SWITCH_ENGAGED"],
      ] as const) {
        risk.refuse = { rule, limit: "50", value: "100" };
        const e = await client.rpc.submitOrder(submitReq("IBM")).catch((x: unknown) => x);
        assert.ok(e instanceof RpcError, rule);
        assert.equal(e.code, code, rule);
        assert.equal(e.reason, reason, rule);
        assert.equal(e.metadata.rule, rule);
        assert.equal(e.metadata.limit, "50");
        assert.equal(e.metadata.value, "100");
      }
    } finally {
      risk.refuse = null;
    }
    assert.equal((await stack.sentMessages("D")).length, sentBefore);
  });

  it("cancels an account's open orders when a kill switch with cancel_open_orders engages", async () => {
    const mine = await Promise.all(
      [91, 92, 93].map((px) => client.rpc.submitOrder(submitReq("BOOK", { account: "KS1", price: String(px) }))),
    );
    const other = await client.rpc.submitOrder(submitReq("BOOK", { account: "KS2", price: "90" }));
    for (const r of [...mine, other]) await until(client, r.order!.orderId, OrderStatus.NEW);
    stack.risk!.killSwitches = [
      {
        scope: KillSwitchScope.ACCOUNT,
        target: "KS1",
        engaged: true,
        reason: "e2e",
        operator: "tester",
        cancelOpenOrders: true,
        at: { seconds: BigInt(Math.floor(Date.now() / 1000)), nanos: 0 },
      },
    ];
    try {
      for (const r of mine) await until(client, r.order!.orderId, OrderStatus.CANCELED);
      assert.equal((await statusOf(client, other.order!.orderId))?.status, OrderStatus.NEW);
    } finally {
      stack.risk!.killSwitches = [];
    }
  });

  it("mass-cancels the open orders of an account and streams only that account's updates to its watcher", async () => {
    const acct = `MC${rand()}`;
    const watcher = new UpdateCollector(client, 0n, acct);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const mine = await Promise.all(
        [81, 82].map((px) => client.rpc.submitOrder(submitReq("BOOK", { account: acct, price: String(px) }))),
      );
      const other = await client.rpc.submitOrder(submitReq("BOOK", { account: "MC-OTHER", price: "80" }));
      for (const r of [...mine, other]) await until(client, r.order!.orderId, OrderStatus.NEW);
      const m = await client.rpc.massCancel(
        { account: acct, sessionId: "", symbol: "", reason: "e2e" },
        { deadline: Date.now() + 10_000 },
      );
      assert.deepEqual([...m.orderIds].sort(), mine.map((r) => r.order!.orderId).sort());
      assert.equal(m.failures.length, 0);
      for (const r of mine) await until(client, r.order!.orderId, OrderStatus.CANCELED);
      assert.equal((await statusOf(client, other.order!.orderId))?.status, OrderStatus.NEW);
      await eventually(
        () => mine.every((r) => watcher.of(r.order!.orderId).some((u) => u.change === "CANCELED")),
        5000,
        "the watcher's CANCELED updates",
      );
      assert.ok(
        watcher.updates.every((u) => u.order?.account === acct),
        "only the account's updates",
      );
      const none = await client.rpc
        .massCancel({ account: "", sessionId: "", symbol: "", reason: "" })
        .catch((x: unknown) => x);
      assert.ok(none instanceof RpcError);
      assert.equal(none.reason, "INVALID_FIELD");
    } finally {
      watcher.cancel();
    }
  });

  it("refuses bad requests with INVALID_ARGUMENT naming the field", async () => {
    for (const [over, field] of [
      [{ quantity: "-5" }, "quantity"],
      [{ idempotencyKey: "" }, "idempotency_key"],
      [{ price: "" }, "price"],
      [{ side: Side.UNSPECIFIED }, "side"],
      [{ extraFields: [{ tag: 11, value: { case: "stringValue", value: "X" } }] }, "extra_fields[0].tag"],
    ] as const) {
      const e = await client.rpc.submitOrder(submitReq("IBM", over)).catch((x: unknown) => x);
      assert.ok(e instanceof RpcError, `${field}: ${String(e)}`);
      assert.equal(e.reason, "INVALID_FIELD");
      assert.equal(e.metadata.field, field);
    }
  });
});
