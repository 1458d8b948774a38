import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RiskEngine } from "./engine.js";
import type { LimitSet } from "./limits.js";
import type { Decision } from "./rules.js";
import { limitSet, order, orderEvent, type PlainLimits, type PlainOrder, SESSION, T0 } from "./testkit.js";

type Expect = "allowed" | { rule: string; limit: string; value: string; limitSet?: string };

interface Case {
  name: string;
  sets?: LimitSet[];
  normal?: PlainLimits;
  degraded?: PlainLimits;
  refs?: Record<string, string>;
  /** Orders checked first (each 1 ms apart); their results are not asserted. */
  before?: PlainOrder[];
  order: PlainOrder;
  expect: Expect;
}

function run(c: Case): Decision {
  const engine = new RiskEngine({
    limits: c.sets ?? [limitSet({}, c.normal ?? {}, c.degraded ?? {}, c.refs ?? {})],
  });
  let now = T0;
  for (const b of c.before ?? []) engine.check(order(b), now++);
  return engine.check(order(c.order), now);
}

function table(cases: Case[]): void {
  for (const c of cases) {
    it(c.name, () => {
      const d = run(c);
      if (c.expect === "allowed") {
        assert.equal(d.allowed, true, d.allowed ? "" : `refused: ${d.rule} ${d.message}`);
        return;
      }
      assert.equal(d.allowed, false, "expected a refusal");
      if (d.allowed) return;
      assert.deepEqual(
        { rule: d.rule, limit: d.limit, value: d.value, ...(c.expect.limitSet && { limitSet: d.limitSet }) },
        c.expect,
      );
      assert.ok(d.message.length > 0);
    });
  }
}

describe("MAX_ORDER_QTY", () => {
  table([
    {
      name: "allows a quantity equal to the limit",
      normal: { maxOrderQty: "1000" },
      order: { qty: "1000" },
      expect: "allowed",
    },
    {
      name: "refuses 1000.01 over a limit of 1000, naming both",
      normal: { maxOrderQty: "1000" },
      order: { qty: "1000.01" },
      expect: { rule: "MAX_ORDER_QTY", limit: "1000", value: "1000.01" },
    },
    {
      name: "checks a replace with its new quantity",
      normal: { maxOrderQty: "500" },
      order: { kind: "REPLACE", orderId: "O1", qty: "600" },
      expect: { rule: "MAX_ORDER_QTY", limit: "500", value: "600" },
    },
    { name: "no limit set: anything goes", normal: {}, order: { qty: "99999999" }, expect: "allowed" },
  ]);
});

describe("MAX_NOTIONAL", () => {
  table([
    {
      name: "allows 100 × 100 = 10000 at a limit of 10000",
      normal: { maxNotional: "10000" },
      order: {},
      expect: "allowed",
    },
    {
      name: "refuses 100 × 100.01 = 10001 over 10000, exactly (no float drift)",
      normal: { maxNotional: "10000" },
      order: { price: "100.01" },
      expect: { rule: "MAX_NOTIONAL", limit: "10000", value: "10001" },
    },
    {
      name: "prices a market order at the reference price",
      normal: { maxNotional: "5000" },
      refs: { IBM: "60" },
      order: { orderType: "MARKET", price: "" },
      expect: { rule: "MAX_NOTIONAL", limit: "5000", value: "6000" },
    },
    {
      name: "refuses a market order when no reference price exists to price it",
      normal: { maxNotional: "5000" },
      order: { orderType: "MARKET", price: "" },
      expect: { rule: "NO_REFERENCE_PRICE", limit: "a reference price for IBM", value: "none" },
    },
    {
      name: "0.1 × 0.2 style decimals stay exact: 3 × 0.1 = 0.3 at a limit of 0.3",
      normal: { maxNotional: "0.3" },
      order: { qty: "3", price: "0.1" },
      expect: "allowed",
    },
  ]);
});

describe("PRICE_COLLAR", () => {
  const refs = { IBM: "100" };
  table([
    {
      name: "allows 105 at ±5 % of 100 (edge included)",
      normal: { priceCollarPct: "5" },
      refs,
      order: { price: "105" },
      expect: "allowed",
    },
    {
      name: "allows 95 at ±5 % of 100",
      normal: { priceCollarPct: "5" },
      refs,
      order: { price: "95" },
      expect: "allowed",
    },
    {
      name: "refuses 105.01, naming the band",
      normal: { priceCollarPct: "5" },
      refs,
      order: { price: "105.01" },
      expect: { rule: "PRICE_COLLAR", limit: "[95, 105]", value: "105.01" },
    },
    {
      name: "refuses 94.99 on the low side",
      normal: { priceCollarPct: "5" },
      refs,
      order: { price: "94.99", side: "SELL" },
      expect: { rule: "PRICE_COLLAR", limit: "[95, 105]", value: "94.99" },
    },
    {
      name: "fractional collar: ±2.5 % of 10.10 is [9.8475, 10.3525]",
      normal: { priceCollarPct: "2.5" },
      refs: { IBM: "10.10" },
      order: { price: "10.36" },
      expect: { rule: "PRICE_COLLAR", limit: "[9.8475, 10.3525]", value: "10.36" },
    },
    {
      name: "refuses a priced order with no reference price when a collar is set",
      normal: { priceCollarPct: "5" },
      order: { price: "100" },
      expect: { rule: "NO_REFERENCE_PRICE", limit: "a reference price for IBM", value: "none" },
    },
    {
      name: "a market order has no price to collar",
      normal: { priceCollarPct: "5" },
      refs,
      order: { orderType: "MARKET", price: "" },
      expect: "allowed",
    },
  ]);
});

describe("MAX_OPEN_ORDERS", () => {
  table([
    {
      name: "allows the 2nd order at a limit of 2",
      normal: { maxOpenOrders: 2 },
      before: [{}],
      order: {},
      expect: "allowed",
    },
    {
      name: "refuses the 3rd order at a limit of 2 (allowed orders count as open before their first event)",
      normal: { maxOpenOrders: 2 },
      before: [{}, {}],
      order: {},
      expect: { rule: "MAX_OPEN_ORDERS", limit: "2", value: "3" },
    },
    {
      name: "counts per account: another account's orders do not count",
      normal: { maxOpenOrders: 1 },
      before: [{ account: "ACC2" }],
      order: {},
      expect: "allowed",
    },
    {
      name: "a replace does not open an order",
      normal: { maxOpenOrders: 1 },
      before: [{}],
      order: { kind: "REPLACE", orderId: "O1" },
      expect: "allowed",
    },
  ]);
});

describe("MAX_POSITION", () => {
  table([
    { name: "allows a buy up to the limit", normal: { maxPosition: "300" }, order: { qty: "300" }, expect: "allowed" },
    {
      name: "counts open buys: 200 open + 150 > 300",
      normal: { maxPosition: "300" },
      before: [{ qty: "200" }],
      order: { qty: "150" },
      expect: { rule: "MAX_POSITION", limit: "300", value: "350" },
    },
    {
      name: "a sell against an open buy is not blocked by the long side",
      normal: { maxPosition: "300" },
      before: [{ qty: "300" }],
      order: { qty: "300", side: "SELL" },
      expect: "allowed",
    },
    {
      name: "short side: open sells 200 + 150 → −350",
      normal: { maxPosition: "300" },
      before: [{ qty: "200", side: "SELL" }],
      order: { qty: "150", side: "SELL_SHORT" },
      expect: { rule: "MAX_POSITION", limit: "300", value: "350" },
    },
    {
      name: "per symbol: an open MSFT buy does not count for IBM",
      normal: { maxPosition: "300" },
      before: [{ qty: "300", symbol: "MSFT" }],
      order: { qty: "300" },
      expect: "allowed",
    },
  ]);

  it("counts filled positions and releases open quantity as orders fill and finish", () => {
    const engine = new RiskEngine({ limits: [limitSet({}, { maxPosition: "300" })] });
    engine.applyOrderEvent(orderEvent({ orderId: "O1", version: 1, status: "NEW", leavesQty: "250", quantity: "250" }));
    assert.equal(engine.check(order({ qty: "100" }), T0).allowed, false, "250 open + 100 > 300");
    engine.applyOrderEvent(
      orderEvent({
        orderId: "O1",
        version: 2,
        status: "FILLED",
        cumQty: "250",
        leavesQty: "0",
        fill: { execId: "E1", lastQty: "250" },
      }),
    );
    const d = engine.check(order({ qty: "60" }), T0 + 1);
    assert.equal(d.allowed, false);
    assert.equal(!d.allowed && d.value, "310", "250 bought + 60 = 310");
    assert.equal(engine.check(order({ qty: "50" }), T0 + 2).allowed, true);
  });

  it("checks a replace with the replaced order's open quantity taken out, not counted twice", () => {
    const engine = new RiskEngine({ limits: [limitSet({}, { maxPosition: "300" })] });
    engine.applyOrderEvent(orderEvent({ orderId: "O1", version: 1, status: "NEW", leavesQty: "200", quantity: "200" }));
    assert.equal(engine.check(order({ kind: "REPLACE", orderId: "O1", qty: "300" }), T0).allowed, true);
    const d = engine.check(order({ kind: "REPLACE", orderId: "O1", qty: "301" }), T0 + 1);
    assert.equal(!d.allowed && `${d.rule} ${d.value}`, "MAX_POSITION 301");
  });
});

describe("ORDER_RATE", () => {
  table([
    {
      name: "allows 3 orders in a second at 3/s",
      normal: { maxOrdersPerSec: 3 },
      before: [{}, {}],
      order: {},
      expect: "allowed",
    },
    {
      name: "refuses the 4th order within a second at 3/s",
      normal: { maxOrdersPerSec: 3 },
      before: [{}, {}, {}],
      order: {},
      expect: { rule: "ORDER_RATE", limit: "3/s", value: "4/s" },
    },
    {
      name: "counts replaces too",
      normal: { maxOrdersPerSec: 1 },
      before: [{}],
      order: { kind: "REPLACE", orderId: "O1" },
      expect: { rule: "ORDER_RATE", limit: "1/s", value: "2/s" },
    },
  ]);

  it("allows again once the second has passed, and refused orders do not count", () => {
    const engine = new RiskEngine({ limits: [limitSet({}, { maxOrdersPerSec: 2 })] });
    assert.equal(engine.check(order(), T0).allowed, true);
    assert.equal(engine.check(order(), T0 + 10).allowed, true);
    for (let i = 0; i < 5; i++) assert.equal(engine.check(order(), T0 + 20 + i).allowed, false);
    assert.equal(engine.check(order(), T0 + 999).allowed, false, "T0 is still within (T0+999−1000, T0+999]");
    assert.equal(engine.check(order(), T0 + 1000).allowed, true, "T0 left the window; refusals were not counted");
  });
});

describe("DUPLICATE_ORDER", () => {
  table([
    {
      name: "refuses the same account/symbol/side/qty/price within the window",
      normal: { duplicateWindowMs: 500 },
      before: [{}],
      order: {},
      expect: { rule: "DUPLICATE_ORDER", limit: "500 ms", value: "1 ms" },
    },
    {
      name: "another price is not a duplicate",
      normal: { duplicateWindowMs: 500 },
      before: [{}],
      order: { price: "100.5" },
      expect: "allowed",
    },
    {
      name: "another side is not a duplicate",
      normal: { duplicateWindowMs: 500 },
      before: [{}],
      order: { side: "SELL" },
      expect: "allowed",
    },
    {
      name: "another account is not a duplicate",
      normal: { duplicateWindowMs: 500 },
      before: [{}],
      order: { account: "ACC2" },
      expect: "allowed",
    },
    {
      name: "the same idempotency key is a retry, not a duplicate",
      normal: { duplicateWindowMs: 500 },
      before: [{ idempotencyKey: "same" }],
      order: { idempotencyKey: "same" },
      expect: "allowed",
    },
    { name: "off when no window is set", normal: {}, before: [{}], order: {}, expect: "allowed" },
    {
      name: "quantity is compared by value: 100 and 100.0 are the same",
      normal: { duplicateWindowMs: 500 },
      before: [{ qty: "100" }],
      order: { qty: "100.0" },
      expect: { rule: "DUPLICATE_ORDER", limit: "500 ms", value: "1 ms" },
    },
  ]);

  it("allows the same order again once the window has passed", () => {
    const engine = new RiskEngine({ limits: [limitSet({}, { duplicateWindowMs: 500 })] });
    assert.equal(engine.check(order(), T0).allowed, true);
    assert.equal(engine.check(order(), T0 + 499).allowed, false);
    assert.equal(engine.check(order(), T0 + 500).allowed, true);
  });
});

describe("RESTRICTED_SYMBOL", () => {
  table([
    {
      name: "refuses a restricted symbol",
      normal: { restrictedSymbols: ["GME", "IBM"] },
      order: {},
      expect: { rule: "RESTRICTED_SYMBOL", limit: "restricted", value: "IBM" },
    },
    { name: "allows another symbol", normal: { restrictedSymbols: ["GME"] }, order: {}, expect: "allowed" },
    {
      name: "an account's own list cannot lift the global restriction (lists are united)",
      sets: [limitSet({}, { restrictedSymbols: ["IBM"] }), limitSet({ account: "ACC1" }, { restrictedSymbols: [] })],
      order: {},
      expect: { rule: "RESTRICTED_SYMBOL", limit: "restricted", value: "IBM" },
    },
  ]);
});

describe("session health", () => {
  table([
    {
      name: "LIVE allows with the normal set",
      normal: { maxOrderQty: "1000" },
      order: { sessionHealth: "LIVE" },
      expect: "allowed",
    },
    {
      name: "DEGRADED applies the degraded set",
      normal: { maxOrderQty: "1000" },
      degraded: { maxOrderQty: "50" },
      order: { sessionHealth: "DEGRADED" },
      expect: { rule: "MAX_ORDER_QTY", limit: "50", value: "100", limitSet: "degraded" },
    },
    {
      name: "the degraded set is never looser than the normal one",
      normal: { maxOrderQty: "80" },
      degraded: { maxOrderQty: "5000" },
      order: { sessionHealth: "DEGRADED" },
      expect: { rule: "MAX_ORDER_QTY", limit: "80", value: "100", limitSet: "degraded" },
    },
    {
      name: "SAFE refuses",
      order: { sessionHealth: "SAFE" },
      expect: { rule: "SESSION_NOT_LIVE", limit: "LIVE or DEGRADED", value: "SAFE" },
    },
    {
      name: "DISCONNECTED refuses",
      order: { sessionHealth: "DISCONNECTED" },
      expect: { rule: "SESSION_NOT_LIVE", limit: "LIVE or DEGRADED", value: "DISCONNECTED" },
    },
    {
      name: "RECOVERY refuses",
      order: { sessionHealth: "RECOVERY" },
      expect: { rule: "SESSION_NOT_LIVE", limit: "LIVE or DEGRADED", value: "RECOVERY" },
    },
    {
      name: "unknown health (nobody said) refuses: fail closed",
      order: { sessionHealth: undefined },
      expect: { rule: "SESSION_NOT_LIVE", limit: "LIVE or DEGRADED", value: "UNKNOWN" },
    },
  ]);

  it("takes the worse of the reported and the watched health", () => {
    const engine = new RiskEngine({ limits: [limitSet({}, { maxOrderQty: "1000" }, { maxOrderQty: "10" })] });
    engine.setSessionHealth(SESSION, "SAFE");
    const d1 = engine.check(order({ sessionHealth: "LIVE" }), T0);
    assert.equal(!d1.allowed && `${d1.rule} ${d1.value}`, "SESSION_NOT_LIVE SAFE");
    engine.setSessionHealth(SESSION, "LIVE");
    const d2 = engine.check(order({ sessionHealth: "DEGRADED" }), T0 + 1);
    assert.equal(!d2.allowed && `${d2.rule} ${d2.limitSet}`, "MAX_ORDER_QTY degraded");
    assert.equal(
      engine.check(order({ sessionHealth: undefined, qty: "5" }), T0 + 2).allowed,
      true,
      "watched LIVE alone",
    );
  });
});

describe("KILL_SWITCH", () => {
  const ks = (scope: "GLOBAL" | "SESSION" | "ACCOUNT", target: string, engaged = true, at = T0) => ({
    scope,
    target,
    engaged,
    reason: "test",
    operator: "ops",
    at,
    cancelOpenOrders: false,
  });

  for (const [scope, target, covered] of [
    ["GLOBAL", "", true],
    ["SESSION", SESSION, true],
    ["SESSION", "FIX.4.4:OTHER->VENUE", false],
    ["ACCOUNT", "ACC1", true],
    ["ACCOUNT", "ACC2", false],
  ] as const) {
    it(`${scope} ${target || "(all)"} ${covered ? "refuses" : "does not cover"} an ACC1 order on ${SESSION}`, () => {
      const engine = new RiskEngine();
      engine.applyKillSwitch(ks(scope, target));
      const d = engine.check(order(), T0);
      if (!covered) return assert.equal(d.allowed, true);
      assert.equal(d.allowed, false);
      if (!d.allowed) {
        assert.equal(d.rule, "KILL_SWITCH");
        assert.equal(d.value, "engaged");
        assert.match(d.message, /ops: test/);
      }
    });
  }

  it("a release lets orders through again; an older change arriving late is ignored", () => {
    const engine = new RiskEngine();
    engine.applyKillSwitch(ks("GLOBAL", "", true, T0));
    engine.applyKillSwitch(ks("GLOBAL", "", false, T0 + 10));
    assert.equal(engine.check(order(), T0 + 20).allowed, true);
    assert.equal(engine.applyKillSwitch(ks("GLOBAL", "", true, T0 + 5)), false);
    assert.equal(engine.check(order(), T0 + 21).allowed, true);
  });

  it("the kill switch is checked before the session health", () => {
    const engine = new RiskEngine();
    engine.applyKillSwitch(ks("ACCOUNT", "ACC1"));
    const d = engine.check(order({ sessionHealth: "SAFE" }), T0);
    assert.equal(!d.allowed && d.rule, "KILL_SWITCH");
  });
});

describe("limit scopes", () => {
  const sets = [
    limitSet({}, { maxOrderQty: "1000", maxNotional: "1000000" }),
    limitSet({ sessionId: SESSION }, { maxOrderQty: "500" }),
    limitSet({ account: "ACC1" }, { maxOrderQty: "200" }),
    limitSet({ sessionId: SESSION, account: "ACC1" }, { maxOrderQty: "150" }),
  ];
  table([
    {
      name: "account on session is the narrowest",
      sets,
      order: { qty: "151" },
      expect: { rule: "MAX_ORDER_QTY", limit: "150", value: "151" },
    },
    {
      name: "account on another session",
      sets,
      order: { qty: "201", sessionId: "S2" },
      expect: { rule: "MAX_ORDER_QTY", limit: "200", value: "201" },
    },
    {
      name: "another account on the session",
      sets,
      order: { qty: "501", account: "ACC9" },
      expect: { rule: "MAX_ORDER_QTY", limit: "500", value: "501" },
    },
    {
      name: "global for everyone else; unset fields inherit (notional from global)",
      sets,
      order: { qty: "1000", price: "1000.01", account: "ACC9", sessionId: "S2" },
      expect: { rule: "MAX_NOTIONAL", limit: "1000000", value: "1000010" },
    },
  ]);

  it("a changed set applies to the next check (the resolution cache is dropped)", () => {
    const engine = new RiskEngine({ limits: sets });
    assert.equal(engine.check(order({ qty: "150" }), T0).allowed, true);
    engine.limits.put(limitSet({ sessionId: SESSION, account: "ACC1" }, { maxOrderQty: "10" }));
    const d = engine.check(order({ qty: "150" }), T0 + 1);
    assert.equal(!d.allowed && d.limit, "10");
  });
});

describe("positions", () => {
  it("a trade cancel takes the busted fill out; a trade correct sets the corrected quantity", () => {
    const engine = new RiskEngine();
    engine.applyOrderEvent(orderEvent({ orderId: "O1", version: 1, status: "NEW", leavesQty: "100" }));
    engine.applyOrderEvent(
      orderEvent({
        orderId: "O1",
        version: 2,
        status: "FILLED",
        cumQty: "100",
        leavesQty: "0",
        fill: { execId: "E1", lastQty: "100" },
      }),
    );
    const net = () => engine.exposure.positionsOf({})[0].netQty.toString();
    assert.equal(net(), "100");
    engine.applyOrderEvent(
      orderEvent({
        orderId: "O1",
        version: 3,
        status: "NEW",
        cumQty: "0",
        leavesQty: "100",
        fill: { execId: "E2", lastQty: "0", execType: "H" },
      }),
    );
    assert.equal(net(), "0", "busted");
    engine.applyOrderEvent(
      orderEvent({
        orderId: "O1",
        version: 4,
        status: "FILLED",
        cumQty: "100",
        leavesQty: "0",
        fill: { execId: "E3", lastQty: "100" },
      }),
    );
    engine.applyOrderEvent(
      orderEvent({
        orderId: "O1",
        version: 5,
        status: "PARTIALLY_FILLED",
        cumQty: "60",
        leavesQty: "40",
        fill: { execId: "E4", lastQty: "60", execType: "G" },
      }),
    );
    assert.equal(net(), "60", "corrected to 60");
    // The correction redelivered changes nothing (stale version).
    engine.applyOrderEvent(
      orderEvent({
        orderId: "O1",
        version: 5,
        status: "PARTIALLY_FILLED",
        cumQty: "60",
        leavesQty: "40",
        fill: { execId: "E4", lastQty: "60", execType: "G" },
      }),
    );
    assert.equal(net(), "60");
  });
});
