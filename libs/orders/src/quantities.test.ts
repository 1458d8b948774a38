/** CumQty, LeavesQty and AvgPx: exact, consistent, and checked against what the venue says. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OrdStatus } from "./status.js";
import { OrdersHarness } from "./testkit.js";

function acked(orderQty = "100"): OrdersHarness {
  const h = new OrdersHarness();
  h.newOrder({ orderQty });
  h.ack({ orderQty });
  return h;
}

describe("report self-consistency", () => {
  it("rejects a report whose CumQty + LeavesQty is not OrderQty, as inconsistent", () => {
    const h = acked();
    const r = h.er({ execType: "F", ordStatus: "1", lastQty: "40", lastPx: "10", cumQty: "40", leavesQty: "50" });
    assert.equal(r.outcome, "rejected");
    assert.equal(r.rejection?.code, "inconsistent");
    assert.match(r.rejection?.text ?? "", /CumQty 40 \+ LeavesQty 50 ≠ OrderQty 100/);
    assert.equal(h.order.cumQty, "0");
  });

  it("accepts LeavesQty 0 once the order is done (Canceled with 40 of 100 filled)", () => {
    const h = acked();
    h.trade("40", "10", "40", "10");
    const r = h.er({ execType: "4", ordStatus: "4", cumQty: "40", leavesQty: "0", avgPx: "10" });
    assert.equal(r.outcome, "applied");
  });

  it("accepts OrderQty − CumQty as LeavesQty on a done order too (FIX says 'could be 0')", () => {
    const h = acked();
    h.trade("40", "10", "40", "10");
    const r = h.er({ execType: "C", ordStatus: "C", cumQty: "40", leavesQty: "60", avgPx: "10" });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.leavesQty, "0");
  });

  it("rejects a report with CumQty above its OrderQty", () => {
    const h = acked();
    const r = h.er({ execType: "F", ordStatus: "2", lastQty: "120", lastPx: "10", cumQty: "120", leavesQty: "0" });
    assert.equal(r.rejection?.code, "inconsistent");
  });

  it("rejects OrdStatus Partially Filled with nothing filled", () => {
    const h = acked();
    const r = h.er({ execType: "I", ordStatus: "1", cumQty: "0" });
    assert.equal(r.rejection?.code, "inconsistent");
  });

  it("rejects a trade without LastQty", () => {
    const h = acked();
    const r = h.er({ execType: "F", ordStatus: "1", lastPx: "10", cumQty: "40" });
    assert.equal(r.rejection?.code, "inconsistent");
  });

  it("rejects a plain report with a quantity that is not a number, as malformed", () => {
    const h = acked();
    const r = h.er({ execType: "F", ordStatus: "1", lastQty: "forty", lastPx: "10", cumQty: "40" });
    assert.equal(r.rejection?.code, "malformed");
  });
});

describe("CumQty never goes backwards", () => {
  it("keeps CumQty when a stale Pending Cancel reports less, applying its other parts", () => {
    const h = acked();
    h.cancel("K1");
    const stale = h.report({ execType: "6", ordStatus: "6", clOrdID: "K1", origClOrdID: "C1", cumQty: "0" });
    h.trade("40", "10", "40", "10", { ordStatus: "6" });
    const r = h.apply({ type: "executionReport", report: stale });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.cumQty, "40");
    assert.equal(h.order.requests[0].state, "pending");
    assert.ok(r.discrepancies.some((d) => d.code === "cumQtyBehind"));
  });

  it("flags a report ahead of the fills held (a fill is missing) without inventing the missing fill", () => {
    const h = acked();
    h.trade("40", "10", "40", "10");
    const r = h.trade("20", "10", "80", "10"); // the venue says 80: a fill of 20 never reached us
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.cumQty, "60");
    assert.equal(r.discrepancies[0].code, "cumQtyAhead");
  });
});

describe("overfill", () => {
  it("holds a fill beyond OrderQty, and applies it once the Replaced that raised the quantity arrives", () => {
    const h = acked();
    h.trade("60", "10", "60", "10");
    h.replace("R1", { orderQty: "150" });
    // The fill under the new ClOrdID overtakes the Replaced: 150 of fills against an OrderQty still 100.
    const early = h.trade("90", "10", "150", "10", { clOrdID: "R1", orderQty: "150" });
    assert.equal(early.outcome, "rejected");
    assert.equal(early.rejection?.code, "overfill");
    assert.equal(h.order.cumQty, "60");
    const r = h.er({ execType: "5", ordStatus: "1", clOrdID: "R1", origClOrdID: "C1", orderQty: "150", cumQty: "60" });
    assert.equal(r.outcome, "applied");
    assert.deepEqual(r.released, ["E3"]);
    assert.equal(h.order.cumQty, "150");
    assert.equal(h.order.status, OrdStatus.Filled);
    assert.equal(h.order.held.length, 0);
    assert.equal(h.store.counters.released, 1);
  });
});

describe("AvgPx", () => {
  it("is the exact quantity-weighted average of the fills", () => {
    const h = acked("3");
    h.trade("1", "10", "1", "10", { orderQty: "3" });
    h.trade("1", "10", "2", "10", { orderQty: "3" });
    h.trade("1", "11", "3", "10.3333", { orderQty: "3" });
    assert.equal(h.order.avgPx, "10.3333333333");
    assert.equal(h.results.at(-1)?.discrepancies.length, 0); // the venue's 4 places are within its own rounding
  });

  it("flags a reported AvgPx the fills do not average to", () => {
    const h = acked();
    h.trade("40", "10", "40", "10");
    const r = h.trade("60", "11", "100", "10.7");
    assert.equal(h.order.avgPx, "10.6");
    assert.equal(r.discrepancies[0].code, "avgPxMismatch");
  });

  it("accepts a reported AvgPx within the configured tolerance", () => {
    const h = new OrdersHarness({ avgPxTolerance: "0.01" });
    h.newOrder();
    h.trade("40", "10", "40", "10");
    const r = h.trade("60", "11", "100", "10.605");
    assert.deepEqual(r.discrepancies, []);
  });

  it("sums decimal quantities without drift: 0.1 + 0.2 fills an order of 0.3", () => {
    const h = acked("0.3");
    h.trade("0.1", "100.1", "0.1", "100.1", { orderQty: "0.3" });
    h.trade("0.2", "100.2", "0.3", "100.1666666667", { orderQty: "0.3" });
    assert.equal(h.order.cumQty, "0.3");
    assert.equal(h.order.status, OrdStatus.Filled);
    assert.equal(h.order.leavesQty, "0");
    assert.equal(h.order.avgPx, "100.1666666667");
  });
});
