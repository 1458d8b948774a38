/** OrdStatus precedence: a late or out-of-order report never moves the status backwards. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deriveStatus, OrdStatus, OrdStatusPrecedence, type StatusFacts } from "./status.js";
import { OrdersHarness } from "./testkit.js";

function acked(): OrdersHarness {
  const h = new OrdersHarness();
  h.newOrder();
  h.ack();
  return h;
}

const none: StatusFacts = {
  acknowledged: false,
  rejected: false,
  canceled: false,
  expired: false,
  filled: false,
  partiallyFilled: false,
  doneForDay: false,
  calculated: false,
  stopped: false,
  suspended: false,
  pendingCancel: false,
  pendingReplace: false,
};

describe("deriveStatus", () => {
  it("ranks Pending Cancel over Partially Filled, as FIX reports a partially filled order with a cancel pending", () => {
    assert.equal(deriveStatus({ ...none, acknowledged: true, partiallyFilled: true, pendingCancel: true }), "6");
  });

  it("ranks Pending Cancel over Pending Replace and Done for Day", () => {
    const f = { ...none, acknowledged: true, pendingCancel: true, pendingReplace: true, doneForDay: true };
    assert.equal(deriveStatus(f), OrdStatus.PendingCancel);
  });

  it("ranks Filled over Canceled", () => {
    assert.equal(deriveStatus({ ...none, filled: true, canceled: true, partiallyFilled: true }), OrdStatus.Filled);
  });

  it("ranks Filled over a pending cancel: a finished order's request can only be refused", () => {
    assert.equal(deriveStatus({ ...none, filled: true, partiallyFilled: true, pendingCancel: true }), "2");
  });

  it("ranks Done for Day over Stopped, Suspended and Partially Filled", () => {
    const f = { ...none, acknowledged: true, doneForDay: true, stopped: true, suspended: true, partiallyFilled: true };
    assert.equal(deriveStatus(f), OrdStatus.DoneForDay);
  });

  it("ranks Partially Filled over New, and New over Pending New", () => {
    assert.equal(deriveStatus({ ...none, acknowledged: true, partiallyFilled: true }), OrdStatus.PartiallyFilled);
    assert.equal(deriveStatus({ ...none, acknowledged: true }), OrdStatus.New);
    assert.equal(deriveStatus(none), OrdStatus.PendingNew);
  });

  it("follows the FIX precedence numbers for the working statuses", () => {
    const working = [
      OrdStatus.PendingCancel,
      OrdStatus.PendingReplace,
      OrdStatus.DoneForDay,
      OrdStatus.Stopped,
      OrdStatus.Suspended,
      OrdStatus.PartiallyFilled,
      OrdStatus.New,
    ];
    for (let i = 1; i < working.length; i++) {
      assert.ok(OrdStatusPrecedence[working[i - 1]] > OrdStatusPrecedence[working[i]], working[i]);
    }
  });
});

describe("late and out-of-order reports", () => {
  it("a fill before the New leaves the order Partially Filled", () => {
    const h = new OrdersHarness();
    h.newOrder();
    h.trade("40", "10", "40", "10");
    assert.equal(h.order.status, OrdStatus.PartiallyFilled);
    const r = h.ack();
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.status, OrdStatus.PartiallyFilled);
    assert.deepEqual(r.changes, []);
  });

  it("a fill of everything before the New leaves the order Filled", () => {
    const h = new OrdersHarness();
    h.newOrder();
    h.trade("100", "10", "100", "10");
    h.ack();
    assert.equal(h.order.status, OrdStatus.Filled);
  });

  it("a late New after a fill is applied but flagged as behind and as a different status", () => {
    const h = new OrdersHarness();
    h.newOrder();
    h.trade("40", "10", "40", "10");
    const r = h.ack();
    assert.deepEqual(
      r.discrepancies.map((d) => d.code),
      ["cumQtyBehind", "statusDiffers"],
    );
  });

  it("a Canceled after a Filled is rejected as stale and held, the order staying Filled", () => {
    const h = acked();
    h.trade("100", "10", "100", "10");
    const r = h.er({ execType: "4", ordStatus: "4", cumQty: "40", avgPx: "10" });
    assert.equal(r.outcome, "rejected");
    assert.equal(r.rejection?.code, "stale");
    assert.equal(r.rejection?.held, true);
    assert.equal(h.order.status, OrdStatus.Filled);
    assert.equal(h.order.held.length, 1);
  });

  it("a Canceled that claims the whole quantity filled is rejected as inconsistent: Filled outranks Canceled", () => {
    const h = acked();
    h.trade("100", "10", "100", "10");
    const r = h.er({ execType: "4", ordStatus: "4", cumQty: "100", avgPx: "10" });
    assert.equal(r.rejection?.code, "inconsistent");
    assert.equal(r.rejection?.held, false);
    assert.equal(h.order.held.length, 0);
  });

  it("a Rejected after a fill is rejected as stale", () => {
    const h = acked();
    h.trade("40", "10", "40", "10");
    const r = h.er({ execType: "8", ordStatus: "8", cumQty: "0" });
    assert.equal(r.rejection?.code, "stale");
    assert.equal(h.order.status, OrdStatus.PartiallyFilled);
  });

  it("a late Pending Cancel after the Canceled leaves the order Canceled", () => {
    const h = acked();
    h.cancel("K1");
    h.er({ execType: "4", ordStatus: "4", clOrdID: "K1", origClOrdID: "C1", cumQty: "0" });
    const r = h.er({ execType: "6", ordStatus: "6", clOrdID: "K1", origClOrdID: "C1", cumQty: "0" });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.status, OrdStatus.Canceled);
    assert.equal(h.order.requests[0].state, "accepted");
  });

  it("a late Pending Replace after the Replaced leaves the order on its new terms", () => {
    const h = acked();
    h.replace("R1", { orderQty: "150" });
    h.er({ execType: "5", ordStatus: "0", clOrdID: "R1", origClOrdID: "C1", orderQty: "150", cumQty: "0" });
    h.er({ execType: "E", ordStatus: "E", clOrdID: "R1", origClOrdID: "C1", cumQty: "0" });
    assert.equal(h.order.status, OrdStatus.New);
    assert.equal(h.order.orderQty, "150");
    assert.equal(h.order.pendingReplace, undefined);
  });

  it("a late partial fill after the order is Filled adds nothing new and keeps it Filled", () => {
    const h = acked();
    const first = h.report({ execType: "F", ordStatus: "1", lastQty: "40", lastPx: "10", cumQty: "40", avgPx: "10" });
    h.trade("60", "10", "100", "10");
    assert.equal(h.order.status, OrdStatus.PartiallyFilled);
    h.apply({ type: "executionReport", report: first });
    assert.equal(h.order.status, OrdStatus.Filled);
    assert.equal(h.order.cumQty, "100");
  });

  it("a trade after the Done for Day on the same day does not lift it if it happened before (by TransactTime)", () => {
    const h = acked();
    const early = h.report({ execType: "F", ordStatus: "1", lastQty: "10", lastPx: "10", cumQty: "10", avgPx: "10" });
    h.er({ execType: "3", ordStatus: "3", cumQty: "10", avgPx: "10" });
    h.apply({ type: "executionReport", report: early });
    assert.equal(h.order.status, OrdStatus.DoneForDay);
  });
});
