/**
 * Risk end to end, each service its own process on real Redis and NATS, with the venue simulator: the real
 * risk service (`fixmesh risk-service`) between order-entry and the connector. Each rule refuses an order and
 * nothing reaches the venue; a position built from real fills (the ORDERS stream) limits the next order; a kill
 * switch engaged with the CLI refuses new orders and mass-cancels the open ones; with risk killed (SIGKILL) orders
 * are refused, none sent.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { OrderStatus, OrderType, RpcError, Side, TimeInForce } from "@fixmesh/contracts";
import type { OrderEntryClient } from "@fixmesh/order-entry";
import * as grpc from "@grpc/grpc-js";
import { CLI, eventually, OrdersStack, REPO, rand, SESSION, type ServiceProcess } from "./orders-harness.js";

const LIMITS = `
limits:
  - normal: { maxOrderQty: 1000, maxNotional: 50000, priceCollarPct: 10, restrictedSymbols: [GME] }
    referencePrices: { IBM: 100, BOOK: 100, GME: 20 }
  - scope: { account: OPEN }
    normal: { maxOpenOrders: 1 }
  - scope: { account: POS }
    normal: { maxPosition: 150 }
  - scope: { account: RATE }
    normal: { maxOrdersPerSec: 2 }
  - scope: { account: DUP }
    normal: { duplicateWindowMs: 60000 }
`;

function submitReq(account: string, symbol: string, over: Record<string, unknown> = {}) {
  return {
    idempotencyKey: `k-${rand()}`,
    sessionId: SESSION,
    account,
    symbol,
    side: Side.BUY,
    quantity: "10",
    orderType: OrderType.LIMIT,
    price: "100",
    timeInForce: TimeInForce.DAY,
    ...over,
  };
}

describe("risk end to end", { timeout: 240_000 }, () => {
  const stack = new OrdersStack();
  let risk: ServiceProcess;
  let riskAddress = "";
  let client: OrderEntryClient;
  /** Orders order-entry accepted (each one sent as a NewOrderSingle). */
  let accepted = 0;

  before(async () => {
    await stack.start({ risk: "real" });
    risk = await stack.startRealRisk(LIMITS);
    riskAddress = stack.riskAddress;
    ({ client } = await stack.startOrderEntry());
  });

  after(async () => {
    await stack.stop();
  });

  async function submit(req: ReturnType<typeof submitReq>) {
    const r = await client.rpc.submitOrder(req, { deadline: Date.now() + 10_000 });
    accepted++;
    return r;
  }

  async function refused(req: ReturnType<typeof submitReq>): Promise<RpcError> {
    try {
      await client.rpc.submitOrder(req, { deadline: Date.now() + 10_000 });
    } catch (e) {
      return RpcError.from(e);
    }
    accepted++;
    return assert.fail(`order ${JSON.stringify(req)} was accepted`);
  }

  async function assertNothingElseSent(): Promise<void> {
    const sent = await stack.sentMessages("D");
    assert.equal(sent.length, accepted, "NewOrderSingles sent = orders accepted: no refused order reached the venue");
  }

  async function until(orderId: string, status: OrderStatus) {
    return eventually(
      async () => {
        const o = (await client.rpc.getOrder({ orderId }, { deadline: Date.now() + 5000 })).order;
        return o?.status === status && !o.pending ? o : undefined;
      },
      15_000,
      `order ${orderId} ${OrderStatus[status]}`,
    );
  }

  const ruleCases: Array<{
    rule: string;
    account: string;
    symbol: string;
    over?: Record<string, unknown>;
    limit: string;
    value: string;
  }> = [
    { rule: "MAX_ORDER_QTY", account: "Q", symbol: "IBM", over: { quantity: "1001" }, limit: "1000", value: "1001" },
    { rule: "MAX_NOTIONAL", account: "N", symbol: "IBM", over: { quantity: "600" }, limit: "50000", value: "60000" },
    { rule: "PRICE_COLLAR", account: "C", symbol: "IBM", over: { price: "111" }, limit: "[90, 110]", value: "111" },
    {
      rule: "RESTRICTED_SYMBOL",
      account: "S",
      symbol: "GME",
      over: { price: "20" },
      limit: "restricted",
      value: "GME",
    },
  ];
  for (const c of ruleCases) {
    it(`${c.rule}: refused with RISK_REJECTED naming the limit and the value; nothing sent`, async () => {
      const e = await refused(submitReq(c.account, c.symbol, c.over));
      assert.equal(e.code, grpc.status.FAILED_PRECONDITION);
      assert.equal(e.reason, "RISK_REJECTED");
      assert.deepEqual([e.metadata.rule, e.metadata.limit, e.metadata.value], [c.rule, c.limit, c.value]);
      await assertNothingElseSent();
    });
  }

  it("MAX_OPEN_ORDERS: a resting order counts; the second is refused", async () => {
    const first = await submit(submitReq("OPEN", "BOOK"));
    await until(first.order!.orderId, OrderStatus.NEW);
    const e = await refused(submitReq("OPEN", "BOOK", { price: "99" }));
    assert.deepEqual(
      [e.reason, e.metadata.rule, e.metadata.limit, e.metadata.value],
      ["RISK_REJECTED", "MAX_OPEN_ORDERS", "1", "2"],
    );
    await assertNothingElseSent();
  });

  it("MAX_POSITION: a position built from real fills limits the next order", async () => {
    const first = await submit(submitReq("POS", "IBM", { quantity: "100" }));
    await until(first.order!.orderId, OrderStatus.FILLED);
    // Risk follows the fill on the ORDERS stream: 100 long, + 60 > 150.
    const e = await eventually(
      async () => {
        try {
          await client.rpc.submitOrder(submitReq("POS", "IBM", { quantity: "60", price: "100.5" }), {
            deadline: Date.now() + 10_000,
          });
          accepted++;
          return assert.fail("accepted");
        } catch (err) {
          const r = RpcError.from(err);
          return r.metadata.rule === "MAX_POSITION" ? r : undefined;
        }
      },
      10_000,
      "MAX_POSITION refusal",
    );
    assert.deepEqual([e.reason, e.metadata.limit, e.metadata.value], ["RISK_REJECTED", "150", "160"]);
    const ok = await submit(submitReq("POS", "IBM", { quantity: "50", price: "100.25" }));
    await until(ok.order!.orderId, OrderStatus.FILLED);
    await assertNothingElseSent();
  });

  it("ORDER_RATE: the third order within a second is throttled (RESOURCE_EXHAUSTED)", async () => {
    await submit(submitReq("RATE", "IBM", { quantity: "1" }));
    await submit(submitReq("RATE", "IBM", { quantity: "2" }));
    const e = await refused(submitReq("RATE", "IBM", { quantity: "3" }));
    assert.equal(e.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.deepEqual([e.reason, e.metadata.rule, e.metadata.limit], ["THROTTLED", "ORDER_RATE", "2/s"]);
    await assertNothingElseSent();
  });

  it("DUPLICATE_ORDER: the same order under another idempotency key is refused", async () => {
    await submit(submitReq("DUP", "IBM", { quantity: "7" }));
    const e = await refused(submitReq("DUP", "IBM", { quantity: "7" }));
    assert.deepEqual([e.reason, e.metadata.rule, e.metadata.limit], ["RISK_REJECTED", "DUPLICATE_ORDER", "60000 ms"]);
    await assertNothingElseSent();
  });

  it("a replace is checked with its new quantity and price; a refused replace sends nothing", async () => {
    const resting = await submit(submitReq("REP", "BOOK"));
    const id = resting.order!.orderId;
    await until(id, OrderStatus.NEW);
    const replaces = async () => (await stack.sentMessages("G")).length;
    const before = await replaces();
    const replace = async (over: Record<string, string>) => {
      try {
        await client.rpc.replaceOrder(
          { orderId: id, idempotencyKey: `r-${rand()}`, ...over },
          { deadline: Date.now() + 10_000 },
        );
        return undefined;
      } catch (e) {
        return RpcError.from(e);
      }
    };
    const big = await replace({ quantity: "1001" });
    assert.deepEqual(
      [big?.reason, big?.metadata.rule, big?.metadata.value],
      ["RISK_REJECTED", "MAX_ORDER_QTY", "1001"],
    );
    const far = await replace({ price: "89" });
    assert.deepEqual([far?.reason, far?.metadata.rule, far?.metadata.value], ["RISK_REJECTED", "PRICE_COLLAR", "89"]);
    assert.equal(await replaces(), before, "no OrderCancelReplaceRequest sent for a refused replace");
    assert.equal(await replace({ quantity: "20" }), undefined);
    await eventually(async () => (await replaces()) === before + 1, 10_000, "the allowed replace sent");
    await assertNothingElseSent();
  });

  it("kill switch engaged with the CLI: open orders cancelled, new ones refused; released: accepted again", async () => {
    const resting = await submit(submitReq("KILL", "BOOK"));
    await until(resting.order!.orderId, OrderStatus.NEW);
    const cli = (args: string[]) =>
      spawnSync(process.execPath, [CLI, "risk", ...args, "--address", riskAddress], {
        cwd: REPO,
        encoding: "utf8",
        timeout: 20_000,
      });
    const engaged = cli([
      "kill-switch",
      "engage",
      "--scope",
      "account",
      "--target",
      "KILL",
      "--reason",
      "e2e drill",
      "--operator",
      "tester",
      "--cancel-open-orders",
      "--json",
    ]);
    assert.equal(engaged.status, 0, engaged.stderr);
    assert.equal(JSON.parse(engaged.stdout).engaged, true);
    await until(resting.order!.orderId, OrderStatus.CANCELED);
    const e = await refused(submitReq("KILL", "IBM"));
    assert.equal(e.code, grpc.status.FAILED_PRECONDITION);
    assert.equal(e.reason, "KILL_SWITCH_ENGAGED");
    const listed = cli(["kill-switch"]);
    assert.match(listed.stdout, /ACCOUNT\s+KILL\s+ENGAGED\s+tester/);
    assert.equal(
      cli([
        "kill-switch",
        "release",
        "--scope",
        "account",
        "--target",
        "KILL",
        "--reason",
        "over",
        "--operator",
        "tester",
      ]).status,
      0,
    );
    const again = await submit(submitReq("KILL", "IBM", { quantity: "3" }));
    await until(again.order!.orderId, OrderStatus.FILLED);
    await assertNothingElseSent();
    const positions = cli(["positions", "--account", "POS", "--json"]);
    assert.equal(positions.status, 0, positions.stderr);
    assert.deepEqual(
      JSON.parse(positions.stdout).map((p: { symbol: string; netQty: string }) => [p.symbol, p.netQty]),
      [["IBM", "150"]],
    );
  });

  it("risk unreachable (killed with SIGKILL): orders refused with RISK_UNAVAILABLE, none sent", async () => {
    await risk.kill();
    const e = await refused(submitReq("GONE", "IBM"));
    assert.equal(e.code, grpc.status.UNAVAILABLE);
    assert.equal(e.reason, "RISK_UNAVAILABLE");
    await assertNothingElseSent();
  });
});
