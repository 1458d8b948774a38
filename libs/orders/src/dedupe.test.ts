/** Applied once: dedupe by (session, ExecID); reports for unknown orders kept for reconciliation. */
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

describe("dedupe by (session, ExecID)", () => {
  it("counts a PossDup copy of an applied fill as a duplicate and does not apply it", () => {
    const h = acked();
    const fill = h.report({ execType: "F", ordStatus: "1", lastQty: "40", lastPx: "10", cumQty: "40", avgPx: "10" });
    h.apply({ type: "executionReport", report: fill });
    const r = h.apply({ type: "executionReport", report: { ...fill, possDup: true } });
    assert.equal(r.outcome, "duplicate");
    assert.equal(r.order, h.order);
    assert.equal(h.order.cumQty, "40");
    assert.equal(h.order.execCount, 2);
    assert.equal(h.store.counters.duplicates, 1);
    assert.equal(h.store.counters.duplicatesPossDup, 1);
  });

  it("counts a PossResend copy as a duplicate", () => {
    const h = acked();
    const fill = h.report({ execType: "F", ordStatus: "1", lastQty: "40", lastPx: "10", cumQty: "40", avgPx: "10" });
    h.apply({ type: "executionReport", report: fill });
    const r = h.apply({ type: "executionReport", report: { ...fill, possResend: true } });
    assert.equal(r.outcome, "duplicate");
    assert.equal(h.order.cumQty, "40");
    assert.equal(h.store.counters.duplicatesPossResend, 1);
  });

  it("counts an unflagged copy as a duplicate and separately, as worth an alert", () => {
    const h = acked();
    const fill = h.report({ execType: "F", ordStatus: "1", lastQty: "40", lastPx: "10", cumQty: "40", avgPx: "10" });
    h.apply({ type: "executionReport", report: fill });
    assert.equal(h.apply({ type: "executionReport", report: fill }).outcome, "duplicate");
    assert.equal(h.store.counters.duplicatesUnflagged, 1);
  });

  it("applies a PossDup report whose original never arrived", () => {
    const h = acked();
    const r = h.trade("40", "10", "40", "10", { possDup: true });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.cumQty, "40");
  });

  it("treats the same ExecID on another session as a different execution", () => {
    const h = new OrdersHarness();
    const other = "FIX.4.4:CLIENT->OTHER";
    h.newOrder();
    h.newOrder({ id: "o2", session: other });
    const fill = h.report({ execType: "F", ordStatus: "1", lastQty: "40", lastPx: "10", cumQty: "40", avgPx: "10" });
    h.apply({ type: "executionReport", report: fill });
    const r = h.apply({ type: "executionReport", report: { ...fill, session: other } });
    assert.equal(r.outcome, "applied");
    assert.equal(h.store.get("o2")?.cumQty, "40");
  });

  it("counts a duplicate of a held report as a duplicate, not a second hold", () => {
    const h = acked();
    h.trade("100", "10", "100", "10");
    const late = h.report({ execType: "4", ordStatus: "4", cumQty: "40", avgPx: "10" });
    assert.equal(h.apply({ type: "executionReport", report: late }).outcome, "rejected");
    assert.equal(h.apply({ type: "executionReport", report: { ...late, possDup: true } }).outcome, "duplicate");
    assert.equal(h.order.held.length, 1);
  });

  it("applies every Order Status report with ExecID 0 (FIX lets status answers share it) without changing anything", () => {
    const h = acked();
    h.trade("40", "10", "40", "10");
    for (let i = 0; i < 3; i++) {
      const r = h.er({ execID: "0", execType: "I", ordStatus: "1", cumQty: "40", avgPx: "10" });
      assert.equal(r.outcome, "applied");
      assert.deepEqual(r.changes, []);
    }
    assert.equal(h.store.counters.duplicates, 0);
    assert.equal(h.order.execCount, 2);
  });

  it("counts a second OrderCancelReject for the same request as a duplicate", () => {
    const h = acked();
    h.cancel("K1");
    assert.equal(h.cancelReject("K1").outcome, "applied");
    assert.equal(h.cancelReject("K1", { possDup: true }).outcome, "duplicate");
    assert.equal(h.store.counters.duplicatesPossDup, 1);
  });
});

describe("reports for unknown orders", () => {
  it("keeps an ExecutionReport for an unknown order in unmatched and counts it, never throwing", () => {
    const h = new OrdersHarness();
    const r = h.er({
      clOrdID: "NOPE",
      orderID: "V9",
      execType: "F",
      ordStatus: "1",
      lastQty: "1",
      lastPx: "1",
      cumQty: "1",
    });
    assert.equal(r.outcome, "unknownOrder");
    assert.equal(r.order, undefined);
    assert.equal(h.store.unmatched.length, 1);
    assert.equal(h.store.counters.unknownOrder, 1);
  });

  it("keeps a copy of an unmatched report once: the copy is a duplicate", () => {
    const h = new OrdersHarness();
    const x = h.report({ clOrdID: "NOPE", execType: "0", ordStatus: "0", cumQty: "0" });
    h.apply({ type: "executionReport", report: x });
    assert.equal(h.apply({ type: "executionReport", report: { ...x, possResend: true } }).outcome, "duplicate");
    assert.equal(h.store.unmatched.length, 1);
  });

  it("applies unmatched reports when their order is created (a replay that delivers the fill before the order)", () => {
    const h = new OrdersHarness();
    h.ack();
    h.trade("40", "10", "40", "10");
    assert.equal(h.store.unmatched.length, 2);
    const r = h.newOrder();
    assert.equal(r.outcome, "applied");
    assert.deepEqual(r.released, ["E1", "E2"]);
    assert.equal(h.order.status, OrdStatus.PartiallyFilled);
    assert.equal(h.order.cumQty, "40");
    assert.equal(h.store.unmatched.length, 0);
    assert.equal(h.store.counters.rematched, 2);
  });

  it("finds the order by OrigClOrdID when the ClOrdID is not ours", () => {
    const h = acked();
    const r = h.er({ clOrdID: "THEIRS", origClOrdID: "C1", execType: "I", ordStatus: "0", cumQty: "0" });
    assert.equal(r.outcome, "applied");
    assert.equal(r.order, h.order);
  });

  it("finds the order by OrderID when neither ClOrdID is ours", () => {
    const h = acked();
    const r = h.er({ clOrdID: "THEIRS", orderID: "V1", execType: "I", ordStatus: "0", cumQty: "0" });
    assert.equal(r.order, h.order);
  });

  it("keeps an OrderCancelReject for an unknown order in unmatched", () => {
    const h = new OrdersHarness();
    const r = h.apply({ type: "cancelReject", reject: { session: SESSION, clOrdID: "K9", origClOrdID: "Q" } });
    assert.equal(r.outcome, "unknownOrder");
    assert.equal(h.store.unmatched.length, 1);
  });

  it("learns an OrderCancelReject that came before its request, and the request adopts it when made", () => {
    const h = acked();
    const early = h.cancelReject("K1");
    assert.equal(early.outcome, "applied");
    assert.equal(h.order.requests[0].foreign, true);
    const r = h.cancel("K1");
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.requests.length, 1);
    assert.equal(h.order.requests[0].state, "rejected");
    assert.equal(h.order.requests[0].foreign, undefined);
    assert.equal(h.order.status, OrdStatus.New);
  });

  it("adopts a replace learnt from its Replaced report, keeping the accepted terms", () => {
    const h = acked();
    h.er({ execType: "5", ordStatus: "0", clOrdID: "R1", origClOrdID: "C1", orderQty: "120", cumQty: "0" });
    const r = h.replace("R1", { orderQty: "120" });
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.requests.length, 1);
    assert.equal(h.order.requests[0].state, "accepted");
    assert.equal(h.order.orderQty, "120");
  });

  it("adopts a cancel learnt from its Canceled report even though the order is over", () => {
    const h = acked();
    h.er({ execType: "4", ordStatus: "4", clOrdID: "K1", origClOrdID: "C1", cumQty: "0" });
    const r = h.cancel("K1");
    assert.equal(r.outcome, "applied");
    assert.equal(h.order.requests[0].state, "accepted");
    assert.equal(h.order.status, OrdStatus.Canceled);
  });
});
