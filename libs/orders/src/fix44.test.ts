/** Every FIX 4.4 ExecType, one behaviour per test, on order o1: buy 100 @ 10, ClOrdID C1. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Tag } from "@fixmesh/fix";
import { OrdStatus } from "./status.js";
import { OrdersHarness, SESSION, VenueWire } from "./testkit.js";

function placed(): OrdersHarness {
  const h = new OrdersHarness();
  h.newOrder();
  return h;
}

function acked(): OrdersHarness {
  const h = placed();
  h.ack();
  return h;
}

describe("our NewOrderSingle", () => {
  it("creates the order Pending New with nothing filled and everything leaving", () => {
    const h = new OrdersHarness();
    const r = h.newOrder();
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.status, OrdStatus.PendingNew);
    assert.equal(h.order.cumQty, "0");
    assert.equal(h.order.leavesQty, "100");
    assert.deepEqual(
      r.changes.find((c) => c.field === "status"),
      { field: "status", to: OrdStatus.PendingNew },
    );
  });

  it("refuses a second order with the same ClOrdID on the session", () => {
    const h = placed();
    const r = h.newOrder({ id: "o2" });
    assert.equal(r.outcome, "rejected");
    assert.equal(r.rejection?.code, "duplicateClOrdID");
  });

  it("allows the same ClOrdID on another session", () => {
    const h = placed();
    assert.equal(h.newOrder({ id: "o2", session: "FIX.4.4:CLIENT->OTHER" }).outcome, "applied");
  });

  it("refuses an order quantity that is not a positive number", () => {
    const h = new OrdersHarness();
    assert.equal(h.newOrder({ orderQty: "0" }).rejection?.code, "invalidRequest");
    assert.equal(h.newOrder({ orderQty: "1e2" }).rejection?.code, "invalidRequest");
  });
});

describe("FIX 4.4 ExecType", () => {
  it("0 New acknowledges the order: New, OrderID learnt", () => {
    const h = placed();
    const r = h.ack();
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.status, OrdStatus.New);
    assert.equal(h.order.orderID, "V1");
    assert.equal(h.store.findByOrderID(SESSION, "V1"), h.order);
  });

  it("A Pending New leaves the order Pending New", () => {
    const h = placed();
    h.er({ execType: "A", ordStatus: "A", cumQty: "0" });
    assert.equal(h.order.status, OrdStatus.PendingNew);
  });

  it("F Trade partially fills: CumQty, LeavesQty, AvgPx, LastQty/LastPx", () => {
    const h = acked();
    const r = h.trade("40", "10.5", "40", "10.5");
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.status, OrdStatus.PartiallyFilled);
    assert.equal(h.order.cumQty, "40");
    assert.equal(h.order.leavesQty, "60");
    assert.equal(h.order.avgPx, "10.5");
    assert.equal(h.order.lastQty, "40");
    assert.equal(h.order.lastPx, "10.5");
    assert.deepEqual(r.discrepancies, []);
  });

  it("F Trade for the rest fills the order, LeavesQty 0, AvgPx the weighted average", () => {
    const h = acked();
    h.trade("40", "10", "40", "10");
    h.trade("60", "11", "100", "10.6");
    assert.equal(h.order.status, OrdStatus.Filled);
    assert.equal(h.order.leavesQty, "0");
    assert.equal(h.order.avgPx, "10.6");
  });

  it("G Trade Correct replaces a trade's quantity and price and recomputes CumQty and AvgPx", () => {
    const h = acked();
    h.trade("40", "10", "40", "10");
    h.trade("20", "11", "60", "10.3333");
    const r = h.er({
      execType: "G",
      ordStatus: "1",
      execRefID: "E2",
      lastQty: "30",
      lastPx: "10",
      cumQty: "50",
      avgPx: "10.4",
    });
    // E2 (40 @ 10) becomes 30 @ 10; with E3 (20 @ 11): 50, (300 + 220) / 50.
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.cumQty, "50");
    assert.equal(h.order.avgPx, "10.4");
    assert.deepEqual(r.discrepancies, []);
  });

  it("H Trade Cancel busts a trade: CumQty and AvgPx without it, a Filled order works again", () => {
    const h = acked();
    h.trade("40", "10", "40", "10");
    h.trade("60", "11", "100", "10.6");
    assert.equal(h.order.status, OrdStatus.Filled);
    const r = h.er({ execType: "H", ordStatus: "1", execRefID: "E3", cumQty: "40", avgPx: "10" });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.cumQty, "40");
    assert.equal(h.order.avgPx, "10");
    assert.equal(h.order.status, OrdStatus.PartiallyFilled);
    assert.equal(h.order.leavesQty, "60");
  });

  it("H Trade Cancel of every fill takes a partially filled order back to New", () => {
    const h = acked();
    h.trade("40", "10", "40", "10");
    h.er({ execType: "H", ordStatus: "0", execRefID: "E2", cumQty: "0" });
    assert.equal(h.order.status, OrdStatus.New);
    assert.equal(h.order.avgPx, "0");
  });

  it("I Order Status moves no quantity and changes nothing that is already known", () => {
    const h = acked();
    h.trade("40", "10", "40", "10");
    const r = h.er({ execType: "I", ordStatus: "1", cumQty: "40", avgPx: "10" });
    assert.equal(r.outcome, "applied");
    assert.deepEqual(r.changes, []);
    assert.equal(h.order.cumQty, "40");
  });

  it("I Order Status ahead of our fills flags the missing quantity without inventing fills", () => {
    const h = acked();
    const r = h.er({ execType: "I", ordStatus: "1", cumQty: "40", avgPx: "10" });
    assert.equal(h.order.cumQty, "0");
    assert.deepEqual(
      r.discrepancies.map((d) => d.code),
      ["cumQtyAhead", "statusDiffers"],
    );
  });

  it("4 Canceled after our cancel request cancels the order and accepts the request", () => {
    const h = acked();
    h.trade("40", "10", "40", "10");
    h.cancel("K1");
    const r = h.er({ execType: "4", ordStatus: "4", clOrdID: "K1", origClOrdID: "C1", cumQty: "40", avgPx: "10" });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.status, OrdStatus.Canceled);
    assert.equal(h.order.leavesQty, "0");
    assert.equal(h.order.cumQty, "40");
    assert.equal(h.order.clOrdID, "K1");
    assert.equal(h.order.origClOrdID, "C1");
    assert.equal(h.order.pendingCancel, undefined);
    assert.equal(h.order.requests[0].state, "accepted");
  });

  it("5 Replaced accepts our replace: new ClOrdID, quantity and price", () => {
    const h = acked();
    h.replace("R1", { orderQty: "150", price: "9.5" });
    const r = h.er({
      execType: "5",
      ordStatus: "0",
      clOrdID: "R1",
      origClOrdID: "C1",
      orderQty: "150",
      price: "9.5",
      cumQty: "0",
    });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.status, OrdStatus.New);
    assert.equal(h.order.clOrdID, "R1");
    assert.equal(h.order.orderQty, "150");
    assert.equal(h.order.price, "9.5");
    assert.equal(h.order.leavesQty, "150");
    assert.equal(h.order.pendingReplace, undefined);
  });

  it("6 Pending Cancel acknowledges our cancel request: Pending Cancel", () => {
    const h = acked();
    h.cancel("K1");
    h.er({ execType: "6", ordStatus: "6", clOrdID: "K1", origClOrdID: "C1", cumQty: "0" });
    assert.equal(h.order.status, OrdStatus.PendingCancel);
    assert.equal(h.order.requests[0].state, "pending");
  });

  it("E Pending Replace acknowledges our replace: Pending Replace, terms unchanged", () => {
    const h = acked();
    h.replace("R1", { orderQty: "150" });
    h.er({ execType: "E", ordStatus: "E", clOrdID: "R1", origClOrdID: "C1", cumQty: "0" });
    assert.equal(h.order.status, OrdStatus.PendingReplace);
    assert.equal(h.order.orderQty, "100");
    assert.equal(h.order.clOrdID, "C1");
  });

  it("8 Rejected rejects the order: Rejected, LeavesQty 0", () => {
    const h = placed();
    const r = h.er({ execType: "8", ordStatus: "8", cumQty: "0", ordRejReason: "1" });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.status, OrdStatus.Rejected);
    assert.equal(h.order.leavesQty, "0");
  });

  it("8 Rejected may follow New: an acknowledged order can still be rejected", () => {
    const h = acked();
    h.er({ execType: "8", ordStatus: "8", cumQty: "0" });
    assert.equal(h.order.status, OrdStatus.Rejected);
  });

  it("C Expired ends the order with what was filled", () => {
    const h = acked();
    h.trade("40", "10", "40", "10");
    h.er({ execType: "C", ordStatus: "C", cumQty: "40", avgPx: "10" });
    assert.equal(h.order.status, OrdStatus.Expired);
    assert.equal(h.order.cumQty, "40");
    assert.equal(h.order.leavesQty, "0");
  });

  it("3 Done for Day rests the order for the day: Done for Day, LeavesQty 0", () => {
    const h = acked();
    h.trade("40", "10", "40", "10");
    h.er({ execType: "3", ordStatus: "3", cumQty: "40", avgPx: "10" });
    assert.equal(h.order.status, OrdStatus.DoneForDay);
    assert.equal(h.order.leavesQty, "0");
  });

  it("3 Done for Day is lifted by a trade on a later day", () => {
    const h = acked();
    h.er({ execType: "3", ordStatus: "3", cumQty: "0" });
    h.trade("10", "10", "10", "10", { transactTime: Date.UTC(2026, 10, 28, 9, 0, 0) });
    assert.equal(h.order.status, OrdStatus.PartiallyFilled);
  });

  it("D Restated changes the terms the venue restates (unsolicited quantity cut)", () => {
    const h = acked();
    h.trade("40", "10", "40", "10");
    const r = h.er({
      execType: "D",
      ordStatus: "1",
      orderQty: "80",
      cumQty: "40",
      avgPx: "10",
      execRestatementReason: "5",
    });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.orderQty, "80");
    assert.equal(h.order.leavesQty, "40");
  });

  it("7 Stopped and 9 Suspended show until the order trades again", () => {
    const h = acked();
    h.er({ execType: "7", ordStatus: "7", cumQty: "0" });
    assert.equal(h.order.status, OrdStatus.Stopped);
    h.trade("10", "10", "10", "10");
    assert.equal(h.order.status, OrdStatus.PartiallyFilled);
    h.er({ execType: "9", ordStatus: "9", cumQty: "10", avgPx: "10" });
    assert.equal(h.order.status, OrdStatus.Suspended);
  });

  it("B Calculated on a filled order reports Calculated, which outranks Filled", () => {
    const h = acked();
    h.trade("100", "10", "100", "10");
    h.er({ execType: "B", ordStatus: "B", cumQty: "100", avgPx: "10" });
    assert.equal(h.order.status, OrdStatus.Calculated);
  });

  it("an unknown ExecType is rejected by name, not thrown", () => {
    const h = acked();
    const r = h.er({ execType: "Z", ordStatus: "0", cumQty: "0" });
    assert.equal(r.outcome, "rejected");
    assert.equal(r.rejection?.code, "unknownExecType");
  });
});

describe("the fixMessage input", () => {
  it("applies a FIX 4.4 trade straight off the wire", () => {
    const h = acked();
    // biome-ignore format: tag, value pairs
    const body = [
      Tag.AvgPx, "10", Tag.ClOrdID, "C1", Tag.CumQty, "40", Tag.ExecID, "W1", Tag.LastPx, "10", Tag.LastQty, "40",
      Tag.OrderID, "V1", Tag.OrderQty, "100", Tag.OrdStatus, "1", Tag.ExecType, "F", Tag.LeavesQty, "60",
    ];
    const r = h.apply({ type: "fixMessage", session: SESSION, message: new VenueWire().msg("8", body) });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.cumQty, "40");
  });

  it("rejects a malformed ExecutionReport as malformed, naming the field, without throwing", () => {
    const h = acked();
    const m = new VenueWire().msg("8", [Tag.ClOrdID, "C1", Tag.ExecID, "W1", Tag.OrdStatus, "1", Tag.ExecType, "F"]);
    const r = h.apply({ type: "fixMessage", session: SESSION, message: m });
    assert.equal(r.outcome, "rejected");
    assert.equal(r.rejection?.code, "malformed");
    assert.match(r.rejection?.text ?? "", /tag 14/);
  });

  it("rejects a message that is neither 8 nor 9 as unsupported", () => {
    const h = acked();
    const r = h.apply({ type: "fixMessage", session: SESSION, message: new VenueWire().msg("D", [Tag.ClOrdID, "X"]) });
    assert.equal(r.rejection?.code, "unsupportedMessage");
  });
});
