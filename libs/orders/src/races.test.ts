/** Races between our requests and the venue's executions, and reports that overtake each other. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OrdStatus } from "./status.js";
import { OrdersHarness } from "./testkit.js";

function acked(): OrdersHarness {
  const h = new OrdersHarness();
  h.newOrder();
  h.ack();
  return h;
}

describe("a cancel that races a fill", () => {
  it("a partial fill after Pending Cancel keeps the order Pending Cancel with the fill counted", () => {
    const h = acked();
    h.cancel("K1");
    h.er({ execType: "6", ordStatus: "6", clOrdID: "K1", origClOrdID: "C1", cumQty: "0" });
    const r = h.trade("40", "10", "40", "10", { ordStatus: "6" });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.status, OrdStatus.PendingCancel);
    assert.equal(h.order.cumQty, "40");
    assert.equal(h.order.leavesQty, "60");
  });

  it("the Canceled that follows counts the racing fill: Canceled with CumQty 40", () => {
    const h = acked();
    h.cancel("K1");
    h.trade("40", "10", "40", "10", { ordStatus: "6" });
    h.er({ execType: "4", ordStatus: "4", clOrdID: "K1", origClOrdID: "C1", cumQty: "40", avgPx: "10" });
    assert.equal(h.order.status, OrdStatus.Canceled);
    assert.equal(h.order.cumQty, "40");
    assert.equal(h.order.leavesQty, "0");
  });

  it("a fill of the rest during Pending Cancel makes the order Filled at once", () => {
    const h = acked();
    h.cancel("K1");
    h.er({ execType: "6", ordStatus: "6", clOrdID: "K1", origClOrdID: "C1", cumQty: "0" });
    h.trade("100", "10", "100", "10");
    assert.equal(h.order.status, OrdStatus.Filled);
    assert.equal(h.order.pendingCancel, "K1"); // still outstanding until the venue refuses it
  });

  it("the OrderCancelReject after the fill closes the request and leaves the order Filled", () => {
    const h = acked();
    h.cancel("K1");
    h.trade("100", "10", "100", "10");
    const r = h.cancelReject("K1", { ordStatus: "2", cxlRejReason: "0", text: "too late to cancel" });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.status, OrdStatus.Filled);
    assert.equal(h.order.pendingCancel, undefined);
    assert.equal(h.order.requests[0].state, "rejected");
    assert.deepEqual(r.discrepancies, []);
  });

  it("an OrderCancelReject after a partial fill takes the order from Pending Cancel to Partially Filled", () => {
    const h = acked();
    h.cancel("K1");
    h.trade("40", "10", "40", "10", { ordStatus: "6" });
    h.cancelReject("K1", { ordStatus: "1" });
    assert.equal(h.order.status, OrdStatus.PartiallyFilled);
  });

  it("an OrderCancelReject before the Pending Cancel acknowledgement stays final: the late ack changes nothing", () => {
    const h = acked();
    h.cancel("K1");
    h.cancelReject("K1", { ordStatus: "0" });
    const r = h.er({ execType: "6", ordStatus: "6", clOrdID: "K1", origClOrdID: "C1", cumQty: "0" });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.requests[0].state, "rejected");
    assert.equal(h.order.status, OrdStatus.New);
  });

  it("rejects a Canceled for a cancel the venue already refused, as a request conflict", () => {
    const h = acked();
    h.cancel("K1");
    h.cancelReject("K1", { ordStatus: "0" });
    const r = h.er({ execType: "4", ordStatus: "4", clOrdID: "K1", origClOrdID: "C1", cumQty: "0" });
    assert.equal(r.rejection?.code, "requestConflict");
    assert.equal(h.order.status, OrdStatus.New);
  });
});

describe("unsolicited cancels", () => {
  it("an unsolicited Canceled under the order's own ClOrdID cancels it", () => {
    const h = acked();
    h.trade("40", "10", "40", "10");
    const r = h.er({ execType: "4", ordStatus: "4", cumQty: "40", avgPx: "10", text: "cancel on disconnect" });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.status, OrdStatus.Canceled);
    assert.equal(h.order.clOrdID, "C1");
  });

  it("an unsolicited Canceled while our cancel is outstanding cancels the order; our request stays open", () => {
    const h = acked();
    h.cancel("K1");
    h.er({ execType: "4", ordStatus: "4", cumQty: "0" });
    assert.equal(h.order.status, OrdStatus.Canceled);
    assert.equal(h.order.requests[0].state, "sent");
  });

  it("a fill that happened before an unsolicited cancel but arrives after it is counted", () => {
    const h = acked();
    const fill = h.report({ execType: "F", ordStatus: "1", lastQty: "40", lastPx: "10", cumQty: "40", avgPx: "10" });
    h.er({ execType: "4", ordStatus: "4", cumQty: "40", avgPx: "10" });
    const r = h.apply({ type: "executionReport", report: fill });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.status, OrdStatus.Canceled);
    assert.equal(h.order.cumQty, "40");
  });

  it("holds a fill beyond the CumQty the order was canceled at", () => {
    const h = acked();
    h.er({ execType: "4", ordStatus: "4", cumQty: "0" });
    const r = h.trade("40", "10", "40", "10");
    assert.equal(r.rejection?.code, "fillAfterFinal");
    assert.equal(h.order.cumQty, "0");
  });
});

describe("reports that a later trade cancel explains", () => {
  it("a Canceled below the fills held is held, then applied when the bust that explains it arrives", () => {
    const h = acked();
    const f1 = h.report({ execType: "F", ordStatus: "1", lastQty: "30", lastPx: "10", cumQty: "30", avgPx: "10" });
    const f2 = h.report({ execType: "F", ordStatus: "1", lastQty: "20", lastPx: "12", cumQty: "50", avgPx: "10.8" });
    const bust = h.report({ execType: "H", ordStatus: "1", execRefID: f1.execID, cumQty: "20", avgPx: "12" });
    const canceled = h.report({ execType: "4", ordStatus: "4", cumQty: "20", avgPx: "12" });
    // Venue order f1, f2, bust, canceled; we receive f1, f2, canceled, bust.
    h.apply({ type: "executionReport", report: f1 });
    h.apply({ type: "executionReport", report: f2 });
    const held = h.apply({ type: "executionReport", report: canceled });
    assert.equal(held.rejection?.code, "stale");
    assert.equal(h.order.status, OrdStatus.PartiallyFilled);
    const r = h.apply({ type: "executionReport", report: bust });
    assert.deepEqual(r.released, [canceled.execID]);
    assert.equal(h.order.status, OrdStatus.Canceled);
    assert.equal(h.order.cumQty, "20");
    assert.equal(h.order.avgPx, "12");
    assert.deepEqual(
      r.changes.map((c) => c.field),
      ["status", "cumQty", "leavesQty", "avgPx"],
    );
  });

  it("a trade cancel that arrives before its trade busts the trade when it comes", () => {
    const h = acked();
    const f1 = h.report({ execType: "F", ordStatus: "1", lastQty: "30", lastPx: "10", cumQty: "30", avgPx: "10" });
    const bust = h.report({ execType: "H", ordStatus: "0", execRefID: f1.execID, cumQty: "0" });
    h.apply({ type: "executionReport", report: bust });
    h.apply({ type: "executionReport", report: f1 });
    assert.equal(h.order.cumQty, "0");
    assert.equal(h.order.status, OrdStatus.New);
  });
});
