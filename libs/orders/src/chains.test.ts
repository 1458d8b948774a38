/** Cancel/replace chains by ClOrdID/OrigClOrdID, and our requests' own rules. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OrdStatus } from "./status.js";
import { OrdersHarness, SESSION } from "./testkit.js";

function acked(): OrdersHarness {
  const h = new OrdersHarness();
  h.newOrder();
  h.ack();
  return h;
}

function replaced(h: OrdersHarness, clOrdID: string, orig: string, orderQty: string, cumQty = "0") {
  return h.er({
    execType: "5",
    ordStatus: Number(cumQty) > 0 ? "1" : "0",
    clOrdID,
    origClOrdID: orig,
    orderQty,
    cumQty,
  });
}

describe("replace chains", () => {
  it("indexes every ClOrdID of the chain to the same order", () => {
    const h = acked();
    h.replace("R1", { orderQty: "120" });
    h.cancel("K1");
    for (const c of ["C1", "R1", "K1"]) assert.equal(h.store.findByClOrdID(SESSION, c), h.order, c);
    assert.deepEqual(h.order.chain, ["C1", "R1", "K1"]);
  });

  it("applies a fill that names the old ClOrdID while the replace is pending", () => {
    const h = acked();
    h.replace("R1", { orderQty: "120" });
    const r = h.trade("30", "10", "30", "10", { clOrdID: "C1" });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.cumQty, "30");
    assert.equal(h.order.status, OrdStatus.PendingReplace);
  });

  it("applies a fill that names the new ClOrdID after the replace, against the new quantity", () => {
    const h = acked();
    h.replace("R1", { orderQty: "120" });
    replaced(h, "R1", "C1", "120");
    const r = h.trade("100", "10", "100", "10", { clOrdID: "R1", orderQty: "120", ordStatus: "1" });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.status, OrdStatus.PartiallyFilled);
    assert.equal(h.order.leavesQty, "20");
  });

  it("checks a report without OrderQty against the quantity its own ClOrdID asked for", () => {
    const h = acked();
    h.replace("R1", { orderQty: "120" });
    replaced(h, "R1", "C1", "120");
    const r = h.er({
      execType: "F",
      ordStatus: "1",
      clOrdID: "R1",
      lastQty: "20",
      lastPx: "10",
      cumQty: "20",
      leavesQty: "100",
    });
    assert.equal(r.outcome, "applied");
  });

  it("follows a chain of two replaces: the order goes by the newest accepted ClOrdID", () => {
    const h = acked();
    h.replace("R1", { orderQty: "120" });
    replaced(h, "R1", "C1", "120");
    h.replace("R2", { price: "9" });
    assert.equal(h.order.requests[1].origClOrdID, "R1");
    h.er({ execType: "5", ordStatus: "0", clOrdID: "R2", origClOrdID: "R1", orderQty: "120", price: "9", cumQty: "0" });
    assert.equal(h.order.clOrdID, "R2");
    assert.equal(h.order.origClOrdID, "R1");
    assert.equal(h.order.orderQty, "120");
    assert.equal(h.order.price, "9");
  });

  it("ends on the last replace's terms whichever Replaced arrives first", () => {
    const h = acked();
    h.replace("R1", { orderQty: "120" });
    h.replace("R2", { orderQty: "130", origClOrdID: "R1" });
    const r1 = h.report({
      execType: "5",
      ordStatus: "0",
      clOrdID: "R1",
      origClOrdID: "C1",
      orderQty: "120",
      cumQty: "0",
    });
    const r2 = h.report({
      execType: "5",
      ordStatus: "0",
      clOrdID: "R2",
      origClOrdID: "R1",
      orderQty: "130",
      cumQty: "0",
    });
    h.apply({ type: "executionReport", report: r2 });
    h.apply({ type: "executionReport", report: r1 });
    assert.equal(h.order.orderQty, "130");
    assert.equal(h.order.clOrdID, "R2");
  });

  it("keeps chain order even when the venue's TransactTimes disagree with it", () => {
    const h = acked();
    h.replace("R1", { orderQty: "120" });
    h.replace("R2", { orderQty: "130", origClOrdID: "R1" });
    h.er({
      execType: "5",
      ordStatus: "0",
      clOrdID: "R2",
      origClOrdID: "R1",
      orderQty: "130",
      cumQty: "0",
      transactTime: 1,
    });
    h.er({
      execType: "5",
      ordStatus: "0",
      clOrdID: "R1",
      origClOrdID: "C1",
      orderQty: "120",
      cumQty: "0",
      transactTime: 2,
    });
    assert.equal(h.order.orderQty, "130");
  });

  it("an OrderCancelReject of a replace leaves the old terms and ClOrdID, and the order working", () => {
    const h = acked();
    h.replace("R1", { orderQty: "120" });
    const r = h.cancelReject("R1", { cxlRejResponseTo: "2", ordStatus: "0", cxlRejReason: "0" });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.status, OrdStatus.New);
    assert.equal(h.order.orderQty, "100");
    assert.equal(h.order.clOrdID, "C1");
    assert.equal(h.order.requests[0].state, "rejected");
    assert.equal(h.order.requests[0].rejectReason, "0");
  });

  it("rejects a Replaced for a replace the venue already refused, as a request conflict", () => {
    const h = acked();
    h.replace("R1", { orderQty: "120" });
    h.cancelReject("R1", { cxlRejResponseTo: "2", ordStatus: "0" });
    const r = replaced(h, "R1", "C1", "120");
    assert.equal(r.rejection?.code, "requestConflict");
    assert.equal(h.order.orderQty, "100");
  });

  it("learns a replace made by someone else (the broker's desk) from its Replaced report", () => {
    const h = acked();
    const r = replaced(h, "DESK1", "C1", "80");
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.clOrdID, "DESK1");
    assert.equal(h.order.orderQty, "80");
    assert.equal(h.order.requests[0].foreign, true);
    assert.equal(h.store.findByClOrdID(SESSION, "DESK1"), h.order);
  });
});

describe("our cancel and replace requests", () => {
  it("a cancel request makes the order Pending Cancel before the venue answers", () => {
    const h = acked();
    const r = h.cancel("K1");
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.status, OrdStatus.PendingCancel);
    assert.equal(h.order.pendingCancel, "K1");
    assert.deepEqual(r.changes, [
      { field: "status", from: "0", to: "6" },
      { field: "pendingCancel", to: "K1" },
    ]);
  });

  it("a cancel request refers by default to the ClOrdID the order goes by now", () => {
    const h = acked();
    h.replace("R1", { orderQty: "120" });
    replaced(h, "R1", "C1", "120");
    h.cancel("K1");
    assert.equal(h.order.requests[1].origClOrdID, "R1");
  });

  it("refuses a cancel of a finished order", () => {
    const h = acked();
    h.trade("100", "10", "100", "10");
    const r = h.cancel("K1");
    assert.equal(r.outcome, "rejected");
    assert.equal(r.rejection?.code, "orderDone");
    assert.equal(h.store.findByClOrdID(SESSION, "K1"), undefined);
  });

  it("records a replayed cancel of a finished order: it was sent, and its refusal is on its way", () => {
    const h = acked();
    h.trade("100", "10", "100", "10");
    const r = h.apply({ type: "cancelRequest", orderId: "o1", clOrdID: "K1", replay: true });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.status, OrdStatus.Filled);
    assert.equal(h.order.pendingCancel, "K1");
  });

  it("refuses a request whose ClOrdID is already used on the session", () => {
    const h = acked();
    assert.equal(h.cancel("C1").rejection?.code, "duplicateClOrdID");
  });

  it("answers unknownOrder for a request on an order we do not have", () => {
    const h = acked();
    assert.equal(h.cancel("K1", "nope").outcome, "unknownOrder");
  });

  it("refuses a replace that changes nothing", () => {
    const h = acked();
    assert.equal(h.replace("R1", {}).rejection?.code, "invalidRequest");
  });
});
