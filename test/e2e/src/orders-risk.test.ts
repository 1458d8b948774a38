/**
 * Orders through the real risk service (`fixmesh risk-service`, its own process, kill switches in Redis, order
 * events from ORDERS): allowed orders fill; refused ones come back with the rule and figures and are never sent;
 * a kill switch engaged with cancel_open_orders cancels the open orders it covers; risk killed means orders are
 * refused (fail closed).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createGrpcClient, KillSwitchScope, OrderStatus, RiskService, RpcError } from "@fixmesh/contracts";
import type { OrderEntryClient } from "@fixmesh/order-entry";
import * as grpc from "@grpc/grpc-js";
import { eventually, OrdersStack, submitReq } from "./orders-harness.js";

const LIMITS = `limits:
  - normal:
      maxOrderQty: 1000
      priceCollarPct: 20
      maxOpenOrders: 1000
      maxPosition: 1000000
      maxOrdersPerSec: 1000
      restrictedSymbols: [GME]
    referencePrices:
      IBM: "100"
      BOOK: "100"
      GME: "100"
`;

const deadline = (ms = 10_000) => ({ deadline: Date.now() + ms });

async function until(c: OrderEntryClient, orderId: string, status: OrderStatus) {
  return eventually(
    async () => {
      const o = (await c.rpc.getOrder({ orderId }, deadline(5000))).order;
      return o?.status === status && !o.pending ? o : undefined;
    },
    20_000,
    `order ${orderId} ${OrderStatus[status]}`,
  );
}

describe("orders through the real risk service", { timeout: 240_000 }, () => {
  const stack = new OrdersStack();
  let client: OrderEntryClient;
  let riskConn: grpc.Client;

  before(async () => {
    await stack.start({ risk: "real" });
    await stack.startRealRisk(LIMITS);
    ({ client } = await stack.startOrderEntry());
    riskConn = new grpc.Client(stack.riskAddress, grpc.credentials.createInsecure());
  });
  after(async () => {
    riskConn?.close();
    await stack.stop();
  });

  it("fills an order risk allows", async () => {
    const r = await client.rpc.submitOrder(submitReq("IBM"), deadline());
    await until(client, r.order!.orderId, OrderStatus.FILLED);
  });

  it("refuses orders over a limit, on a restricted symbol or outside the collar — with the rule — and sends none", async () => {
    const before = (await stack.sentMessages("D")).length;
    for (const [over, rule] of [
      [{ quantity: "5000" }, "MAX_ORDER_QTY"],
      [{ symbol: "GME" }, "RESTRICTED_SYMBOL"],
      [{ price: "150" }, "PRICE_COLLAR"],
    ] as const) {
      const e = await client.rpc.submitOrder(submitReq("IBM", over), deadline()).catch((x: unknown) => x);
      assert.ok(e instanceof RpcError, rule);
      assert.equal(e.reason, "RISK_REJECTED", `${rule}: ${e.message}`);
      assert.equal(e.metadata.rule, rule);
      assert.ok(e.metadata.limit, `${rule} names the limit`);
    }
    assert.equal((await stack.sentMessages("D")).length, before);
  });

  it("cancels the covered open orders when a kill switch with cancel_open_orders engages, and refuses new ones", async () => {
    const risk = createGrpcClient(RiskService, riskConn);
    const open = await Promise.all(
      [95, 96].map((px) =>
        client.rpc.submitOrder(submitReq("BOOK", { account: "KILL", price: String(px) }), deadline()),
      ),
    );
    for (const r of open) await until(client, r.order!.orderId, OrderStatus.NEW);
    await risk.setKillSwitch(
      {
        scope: KillSwitchScope.ACCOUNT,
        target: "KILL",
        engaged: true,
        reason: "e2e",
        operator: "tester",
        cancelOpenOrders: true,
      },
      deadline(),
    );
    try {
      for (const r of open) await until(client, r.order!.orderId, OrderStatus.CANCELED);
      const e = await client.rpc
        .submitOrder(submitReq("IBM", { account: "KILL" }), deadline())
        .catch((x: unknown) => x);
      assert.ok(e instanceof RpcError);
      assert.equal(e.reason, "KILL_SWITCH_ENGAGED");
    } finally {
      await risk.setKillSwitch(
        { scope: KillSwitchScope.ACCOUNT, target: "KILL", engaged: false, reason: "e2e done", operator: "tester" },
        deadline(),
      );
    }
  });

  it("refuses every order once the risk process is killed, and sends none", async () => {
    const before = (await stack.sentMessages("D")).length;
    await stack.riskProc!.kill();
    const e = await client.rpc.submitOrder(submitReq("IBM"), deadline()).catch((x: unknown) => x);
    assert.ok(e instanceof RpcError);
    assert.equal(e.code, grpc.status.UNAVAILABLE);
    assert.equal(e.reason, "RISK_UNAVAILABLE");
    assert.equal((await stack.sentMessages("D")).length, before);
  });
});
