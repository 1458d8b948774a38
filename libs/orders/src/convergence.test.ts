/**
 * The convergence guarantee (ARCHITECTURE.md): a replayed, duplicated or reordered business event is applied exactly
 * once, and the state does not depend on the order. A small venue simulator writes a valid history for one order —
 * acknowledgements, fills, trade corrects and cancels, status reports, replaces (accepted or refused), and an ending
 * (filled, canceled with a racing fill, a cancel refused as too late, expired, done for day, an unsolicited cancel) —
 * in FIX 4.2 or 4.4. Applied in order, every report is applied. Applied in any order, with PossDup/PossResend (and
 * unflagged) copies, the order ends with the same status, quantities, AvgPx, terms and requests.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type ApplyResult, apply, type OrderInput } from "./apply.js";
import { Decimal } from "./decimal.js";
import type { ExecutionReport } from "./execution-report.js";
import type { Order } from "./order.js";
import { OrderStore } from "./store.js";
import { SESSION, T0 } from "./testkit.js";

// --- the plan a history is written from ----------------------------------------------------------------------

type Op =
  | { t: "fill"; pct: number; px: number }
  | { t: "bust"; pick: number }
  | { t: "correct"; pick: number; pct: number; px: number }
  | { t: "replace"; extra: number; ack: boolean; accept: boolean }
  | { t: "status" };

type Ending =
  | "open"
  | "fill"
  | "cancel"
  | "cancelRacingFill"
  | "cancelTooLate"
  | "expire"
  | "doneForDay"
  | "unsolicited";

interface Plan {
  fix42: boolean;
  qty: number;
  scale: number;
  ack: "none" | "new" | "pendingNewThenNew";
  ops: Op[];
  ending: Ending;
}

const px = fc.integer({ min: 1, max: 2_000_000 }); // in 1/10,000
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant("fill" as const), pct: fc.integer({ min: 1, max: 70 }), px }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("bust" as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("correct" as const),
      pick: fc.nat(),
      pct: fc.integer({ min: 1, max: 100 }),
      px,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("replace" as const),
      extra: fc.integer({ min: 1, max: 5000 }),
      ack: fc.boolean(),
      accept: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("status" as const) }) },
);
const plan: fc.Arbitrary<Plan> = fc.record({
  fix42: fc.boolean(),
  qty: fc.integer({ min: 2, max: 10_000 }),
  scale: fc.constantFrom(0, 2),
  ack: fc.constantFrom("none" as const, "new" as const, "pendingNewThenNew" as const),
  ops: fc.array(op, { maxLength: 10 }),
  ending: fc.constantFrom<Ending>(
    "open",
    "fill",
    "cancel",
    "cancelRacingFill",
    "cancelTooLate",
    "expire",
    "doneForDay",
    "unsolicited",
  ),
});

// --- the venue ------------------------------------------------------------------------------------------------

type Step = { input: OrderInput; request: boolean };

interface Fill {
  execID: string;
  qty: Decimal;
  px: Decimal;
}

/** Writes the history a venue would send (and our requests, where we make them) for a plan. */
function simulate(p: Plan): Step[] {
  const steps: Step[] = [];
  const unit = Decimal.fromBigInt(1n, p.scale);
  let qty = Decimal.fromBigInt(BigInt(p.qty), p.scale);
  let clOrdID = "C1";
  let n = 0;
  let requests = 0;
  const fills: Fill[] = [];
  let pending: "" | "6" | "E" = "";

  const cum = () => fills.reduce((s, f) => s.add(f.qty), Decimal.ZERO);
  const avg = () => {
    const c = cum();
    if (c.isZero()) return "0";
    const notional = fills.reduce((s, f) => s.add(f.qty.mul(f.px)), Decimal.ZERO);
    return notional.div(c, 6).toString();
  };
  const status = () => (pending ? pending : cum().eq(qty) ? "2" : cum().isPositive() ? "1" : "0");
  const request = (input: OrderInput) => steps.push({ input, request: true });
  const report = (f: Partial<ExecutionReport> & { execType: string }, done = false): ExecutionReport => {
    n++;
    const r: ExecutionReport = {
      session: SESSION,
      execID: `X${n}`,
      clOrdID,
      orderID: "V1",
      orderQty: qty.toString(),
      ordStatus: status(),
      cumQty: cum().toString(),
      leavesQty: done ? "0" : qty.sub(cum()).toString(),
      avgPx: avg(),
      transactTime: T0 + n * 1000,
      ...f,
    };
    // FIX 4.2 spells the 4.4 execution kinds with ExecTransType.
    if (p.fix42) {
      if (r.execType === "F") r.execType = cum().eq(qty) ? "2" : "1";
      else if (r.execType === "H") [r.execType, r.execTransType] = [status(), "1"];
      else if (r.execType === "G") [r.execType, r.execTransType] = [status(), "2"];
      else if (r.execType === "I") [r.execType, r.execTransType] = [status(), "3"];
      r.execTransType ??= "0";
    }
    steps.push({ input: { type: "executionReport", report: r }, request: false });
    return r;
  };
  const fill = (q: Decimal, price: number) => {
    fills.push({ execID: `X${n + 1}`, qty: q, px: Decimal.fromBigInt(BigInt(price), 4) });
    report({ execType: "F", lastQty: q.toString(), lastPx: Decimal.fromBigInt(BigInt(price), 4).toString() });
  };
  const part = (of: Decimal, pct: number) => {
    const q = of.mul(Decimal.fromBigInt(BigInt(pct), 2)).div(Decimal.fromBigInt(1n), p.scale);
    return q.isPositive() ? (q.gt(of) ? of : q) : unit;
  };
  const reject = (req: string, to: "1" | "2") =>
    steps.push({
      input: {
        type: "cancelReject",
        reject: { session: SESSION, clOrdID: req, origClOrdID: clOrdID, ordStatus: status(), cxlRejResponseTo: to },
      },
      request: false,
    });

  request({
    type: "newOrder",
    id: "o1",
    session: SESSION,
    clOrdID,
    symbol: "XYZ",
    side: "1",
    ordType: "2",
    price: "10",
    orderQty: qty.toString(),
  });
  if (p.ack === "pendingNewThenNew") report({ execType: "A", ordStatus: "A" });
  if (p.ack !== "none") report({ execType: "0" });

  for (const o of p.ops) {
    const leaves = qty.sub(cum());
    switch (o.t) {
      case "fill":
        if (leaves.isPositive()) fill(part(leaves, o.pct), o.px);
        break;
      case "bust": {
        if (fills.length === 0) break;
        const [f] = fills.splice(o.pick % fills.length, 1);
        report({ execType: "H", execRefID: f.execID });
        break;
      }
      case "correct": {
        if (fills.length === 0) break;
        const f = fills[o.pick % fills.length];
        const room = qty.sub(cum()).add(f.qty);
        f.qty = part(room, o.pct);
        f.px = Decimal.fromBigInt(BigInt(o.px), 4);
        report({ execType: "G", execRefID: f.execID, lastQty: f.qty.toString(), lastPx: f.px.toString() });
        break;
      }
      case "replace": {
        if (!leaves.isPositive()) break;
        const r = `R${++requests}`;
        const newQty = cum().add(Decimal.fromBigInt(BigInt(o.extra), p.scale));
        request({
          type: "replaceRequest",
          orderId: "o1",
          clOrdID: r,
          origClOrdID: clOrdID,
          orderQty: newQty.toString(),
        });
        if (o.ack) {
          pending = "E";
          report({ execType: "E", clOrdID: r, origClOrdID: clOrdID });
        }
        pending = "";
        if (o.accept) {
          const orig = clOrdID;
          [clOrdID, qty] = [r, newQty];
          report({ execType: "5", origClOrdID: orig });
        } else reject(r, "2");
        break;
      }
      case "status":
        report({ execType: "I" });
        break;
    }
  }

  const leaves = qty.sub(cum());
  const cancel = (racingFill: boolean) => {
    const k = `K${++requests}`;
    request({ type: "cancelRequest", orderId: "o1", clOrdID: k, origClOrdID: clOrdID });
    pending = "6";
    report({ execType: "6", clOrdID: k, origClOrdID: clOrdID });
    if (racingFill && leaves.gt(unit)) fill(part(leaves.sub(unit), 50), 100_000);
    pending = "";
    const orig = clOrdID;
    clOrdID = k;
    report({ execType: "4", ordStatus: "4", origClOrdID: orig }, true);
  };
  if (leaves.isPositive()) {
    switch (p.ending) {
      case "fill":
        fill(leaves, 123_456);
        break;
      case "cancel":
        cancel(false);
        break;
      case "cancelRacingFill":
        cancel(true);
        break;
      case "cancelTooLate": {
        // Our cancel crosses the fill of the rest; the venue refuses it as too late.
        const k = `K${++requests}`;
        request({ type: "cancelRequest", orderId: "o1", clOrdID: k, origClOrdID: clOrdID });
        fill(leaves, 99_000);
        reject(k, "1");
        break;
      }
      case "expire":
        report({ execType: "C", ordStatus: "C" }, true);
        break;
      case "doneForDay":
        report({ execType: "3", ordStatus: "3" }, true);
        break;
      case "unsolicited":
        report({ execType: "4", ordStatus: "4" }, true);
        break;
      case "open":
        break;
    }
  }
  return steps;
}

// --- running it -----------------------------------------------------------------------------------------------

function view(o: Order | undefined) {
  assert.ok(o, "order o1 exists");
  return {
    status: o.status,
    cumQty: o.cumQty,
    leavesQty: o.leavesQty,
    avgPx: o.avgPx,
    orderQty: o.orderQty,
    price: o.price,
    clOrdID: o.clOrdID,
    execCount: o.execCount,
    requests: o.requests.map((r) => `${r.clOrdID}:${r.kind}:${r.state}`).sort(),
  };
}

function run(inputs: OrderInput[]): { store: OrderStore; results: ApplyResult[] } {
  const store = new OrderStore();
  const results = inputs.map((input, i) => apply(store, input, T0 + i));
  return { store, results };
}

type Flag = "possDup" | "possResend" | "both" | "none";
const flagged = (input: OrderInput, flag: Flag): OrderInput => {
  if (input.type === "executionReport") {
    const report = { ...input.report };
    if (flag === "possDup" || flag === "both") report.possDup = true;
    if (flag === "possResend" || flag === "both") report.possResend = true;
    return { type: "executionReport", report };
  }
  if (input.type === "cancelReject") {
    const reject = { ...input.reject };
    if (flag === "possDup" || flag === "both") reject.possDup = true;
    if (flag === "possResend" || flag === "both") reject.possResend = true;
    return { type: "cancelReject", reject };
  }
  return input;
};

/** A plan, its history, an arrival order for the venue's messages and copies to slip in. */
const scenario = plan.chain((p) => {
  const steps = simulate(p);
  const reports = steps.filter((s) => !s.request).map((s) => s.input);
  const idx = reports.map((_, i) => i);
  return fc.record({
    plan: fc.constant(p),
    steps: fc.constant(steps),
    reports: fc.constant(reports),
    order: fc.shuffledSubarray(idx, { minLength: idx.length, maxLength: idx.length }),
    copies: fc.array(
      fc.record({
        of: fc.nat({ max: Math.max(0, idx.length - 1) }),
        at: fc.nat({ max: idx.length }),
        flag: fc.constantFrom<Flag>("possDup", "possResend", "both", "none"),
      }),
      { maxLength: idx.length === 0 ? 0 : 6 },
    ),
    newOrderAt: fc.nat({ max: idx.length }),
  });
});

function arrivals(s: { reports: OrderInput[]; order: number[]; copies: { of: number; at: number; flag: Flag }[] }) {
  const out = s.order.map((i) => s.reports[i]);
  for (const c of s.copies) out.splice(Math.min(c.at, out.length), 0, flagged(s.reports[c.of], c.flag));
  return out;
}

describe("convergence", () => {
  it("applies every report of a valid history, in order, exactly once", () => {
    fc.assert(
      fc.property(plan, (p) => {
        const { store, results } = run(simulate(p).map((s) => s.input));
        for (const [i, r] of results.entries()) {
          assert.equal(r.outcome, "applied", `step ${i}: ${r.rejection?.code} ${r.rejection?.text}`);
        }
        assert.equal(store.get("o1")?.held.length, 0);
      }),
      { numRuns: 300 },
    );
  });

  it("any permutation and duplication of the venue's reports ends in the same order state as applying them in order once", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const inOrder = run(s.steps.map((x) => x.input));
        const requests = s.steps.filter((x) => x.request).map((x) => x.input);
        const shuffled = run([...requests, ...arrivals(s)]);
        assert.deepEqual(view(shuffled.store.get("o1")), view(inOrder.store.get("o1")));
        assert.deepEqual(shuffled.store.get("o1")?.held, []);
        assert.deepEqual(shuffled.store.unmatched, []);
        assert.equal(shuffled.store.counters.duplicates, s.copies.length);
        // Each report applied exactly once, some of them only after being held.
        assert.equal(shuffled.store.counters.applied, inOrder.store.counters.applied);
      }),
      { numRuns: 500 },
    );
  });

  it("converges too when the reports come before the order itself (rebuilding from a stream), held in unmatched", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const inOrder = run(s.steps.map((x) => x.input));
        const requests = s.steps
          .filter((x) => x.request)
          .map((x) => (x.input.type === "newOrder" ? x.input : { ...x.input, replay: true }));
        const arrived = arrivals(s);
        arrived.splice(Math.min(s.newOrderAt, arrived.length), 0, ...requests);
        const shuffled = run(arrived);
        assert.deepEqual(view(shuffled.store.get("o1")), view(inOrder.store.get("o1")));
        assert.deepEqual(shuffled.store.unmatched, []);
        assert.equal(shuffled.store.counters.duplicates, s.copies.length);
      }),
      { numRuns: 500 },
    );
  });
});
