/** FIX 4.2: fills as ExecType 1/2, and ExecTransType New, Cancel, Correct, Status. Order o1: buy 100 @ 10, C1. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Tag } from "@fixmesh/fix";
import { OrdStatus } from "./status.js";
import { OrdersHarness, SESSION, VenueWire } from "./testkit.js";

function acked(): OrdersHarness {
  const h = new OrdersHarness();
  h.newOrder();
  h.er({ execType: "0", execTransType: "0", ordStatus: "0", cumQty: "0" });
  return h;
}

/** A FIX 4.2 fill report: ExecType 1 or 2 by whether the order is complete. */
function fill42(h: OrdersHarness, qty: string, px: string, cumQty: string, avgPx: string) {
  const full = Number(cumQty) >= 100;
  return h.er({
    execType: full ? "2" : "1",
    execTransType: "0",
    ordStatus: full ? "2" : "1",
    lastQty: qty,
    lastPx: px,
    cumQty,
    avgPx,
  });
}

describe("FIX 4.2 ExecTransType New", () => {
  it("ExecType 1 Partial fill partially fills the order", () => {
    const h = acked();
    fill42(h, "30", "10", "30", "10");
    assert.equal(h.order.status, OrdStatus.PartiallyFilled);
    assert.equal(h.order.cumQty, "30");
    assert.equal(h.order.leavesQty, "70");
  });

  it("ExecType 2 Fill fills the order", () => {
    const h = acked();
    fill42(h, "30", "10", "30", "10");
    fill42(h, "70", "10", "100", "10");
    assert.equal(h.order.status, OrdStatus.Filled);
    assert.equal(h.order.leavesQty, "0");
  });

  it("ExecType 0 New with no ExecTransType is read as 4.2 New too", () => {
    const h = new OrdersHarness();
    h.newOrder();
    h.er({ execType: "0", ordStatus: "0", cumQty: "0" });
    assert.equal(h.order.status, OrdStatus.New);
  });
});

describe("FIX 4.2 ExecTransType Cancel", () => {
  it("busts the fill named by ExecRefID: CumQty and AvgPx without it", () => {
    const h = acked();
    fill42(h, "30", "10", "30", "10");
    fill42(h, "20", "13", "50", "11.2");
    const r = h.er({ execType: "1", execTransType: "1", execRefID: "E3", ordStatus: "1", cumQty: "30", avgPx: "10" });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.cumQty, "30");
    assert.equal(h.order.avgPx, "10");
    assert.deepEqual(r.discrepancies, []);
  });

  it("of the fill that completed the order reopens it", () => {
    const h = acked();
    fill42(h, "100", "10", "100", "10");
    h.er({ execType: "0", execTransType: "1", execRefID: "E2", ordStatus: "0", cumQty: "0" });
    assert.equal(h.order.status, OrdStatus.New);
    assert.equal(h.order.leavesQty, "100");
  });

  it("without ExecRefID is rejected as inconsistent", () => {
    const h = acked();
    fill42(h, "30", "10", "30", "10");
    const r = h.er({ execType: "1", execTransType: "1", ordStatus: "1", cumQty: "0" });
    assert.equal(r.rejection?.code, "inconsistent");
  });
});

describe("FIX 4.2 ExecTransType Correct", () => {
  it("corrects the fill named by ExecRefID to the report's LastShares and LastPx", () => {
    const h = acked();
    fill42(h, "30", "10", "30", "10");
    fill42(h, "20", "13", "50", "11.2");
    const r = h.er({
      execType: "1",
      execTransType: "2",
      execRefID: "E3",
      ordStatus: "1",
      lastQty: "20",
      lastPx: "12",
      cumQty: "50",
      avgPx: "10.8",
    });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.cumQty, "50");
    assert.equal(h.order.avgPx, "10.8");
    assert.deepEqual(r.discrepancies, []);
  });

  it("a second correction of the same fill wins by TransactTime, whichever arrives first", () => {
    const a = acked();
    const b = acked();
    for (const h of [a, b]) fill42(h, "30", "10", "30", "10");
    const first = { execType: "1", execTransType: "2", execRefID: "E2", ordStatus: "1", lastPx: "10" } as const;
    const c1 = a.report({ ...first, execID: "X1", lastQty: "25", cumQty: "25", transactTime: 1_000 });
    const c2 = a.report({ ...first, execID: "X2", lastQty: "20", cumQty: "20", transactTime: 2_000 });
    a.apply({ type: "executionReport", report: c1 });
    a.apply({ type: "executionReport", report: c2 });
    b.apply({ type: "executionReport", report: c2 });
    b.apply({ type: "executionReport", report: c1 });
    assert.equal(a.order.cumQty, "20");
    assert.equal(b.order.cumQty, "20");
  });
});

describe("FIX 4.2 ExecTransType Status", () => {
  it("moves no quantity even when its ExecType says partial fill", () => {
    const h = acked();
    fill42(h, "30", "10", "30", "10");
    const r = h.er({
      execType: "1",
      execTransType: "3",
      ordStatus: "1",
      lastQty: "30",
      lastPx: "10",
      cumQty: "30",
      avgPx: "10",
    });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.cumQty, "30");
    assert.deepEqual(r.changes, []);
  });
});

describe("FIX 4.2 Replace", () => {
  it("ExecType 5 with OrdStatus 5 Replaced accepts our replace; LeavesQty = new OrderQty − CumQty", () => {
    const h = acked();
    fill42(h, "30", "10", "30", "10");
    h.replace("R1", { orderQty: "200" });
    const r = h.er({
      execType: "5",
      execTransType: "0",
      ordStatus: "5",
      clOrdID: "R1",
      origClOrdID: "C1",
      orderQty: "200",
      cumQty: "30",
      leavesQty: "170",
      avgPx: "10",
    });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.orderQty, "200");
    assert.equal(h.order.leavesQty, "170");
    assert.equal(h.order.status, OrdStatus.PartiallyFilled);
  });
});

describe("FIX 4.2 off the wire", () => {
  it("applies a 4.2 partial fill message (LastShares, ExecTransType 0)", () => {
    const h = acked();
    // biome-ignore format: tag, value pairs
    const body = [
      Tag.AvgPx, "10", Tag.ClOrdID, "C1", Tag.CumQty, "30", Tag.ExecID, "W1", Tag.ExecTransType, "0",
      Tag.LastPx, "10", Tag.LastShares, "30", Tag.OrderID, "V1", Tag.OrderQty, "100", Tag.OrdStatus, "1",
      Tag.ExecType, "1", Tag.LeavesQty, "70",
    ];
    const r = h.apply({ type: "fixMessage", session: SESSION, message: new VenueWire("FIX.4.2").msg("8", body) });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.cumQty, "30");
  });
});
