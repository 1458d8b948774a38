import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Tag } from "@fixmesh/fix";
import { cancelRejectFrom } from "./cancel-reject.js";
import { MalformedMessageError } from "./errors.js";
import { ExecTransType, ExecType, executionReportFrom, kindOf, ReportKind } from "./execution-report.js";
import { SESSION, VenueWire } from "./testkit.js";

describe("kindOf", () => {
  it("maps every FIX 4.4 ExecType", () => {
    const expected: Record<string, ReportKind> = {
      "0": ReportKind.New,
      "3": ReportKind.DoneForDay,
      "4": ReportKind.Canceled,
      "5": ReportKind.Replaced,
      "6": ReportKind.PendingCancel,
      "7": ReportKind.Stopped,
      "8": ReportKind.Rejected,
      "9": ReportKind.Suspended,
      A: ReportKind.PendingNew,
      B: ReportKind.Calculated,
      C: ReportKind.Expired,
      D: ReportKind.Restated,
      E: ReportKind.PendingReplace,
      F: ReportKind.Trade,
      G: ReportKind.TradeCorrect,
      H: ReportKind.TradeCancel,
      I: ReportKind.Status,
    };
    for (const [execType, kind] of Object.entries(expected)) assert.equal(kindOf({ execType }), kind, execType);
  });

  it("maps FIX 4.2 partial fill and fill with ExecTransType New to a trade", () => {
    assert.equal(kindOf({ execType: ExecType.PartialFill, execTransType: ExecTransType.New }), ReportKind.Trade);
    assert.equal(kindOf({ execType: ExecType.Fill, execTransType: ExecTransType.New }), ReportKind.Trade);
  });

  it("lets FIX 4.2 ExecTransType Cancel, Correct and Status decide whatever the ExecType", () => {
    assert.equal(kindOf({ execType: "1", execTransType: ExecTransType.Cancel }), ReportKind.TradeCancel);
    assert.equal(kindOf({ execType: "2", execTransType: ExecTransType.Correct }), ReportKind.TradeCorrect);
    assert.equal(kindOf({ execType: "1", execTransType: ExecTransType.Status }), ReportKind.Status);
  });

  it("gives undefined for an ExecType it does not know", () => {
    assert.equal(kindOf({ execType: "Z" }), undefined);
  });
});

describe("executionReportFrom", () => {
  it("reads a FIX 4.4 trade with PossDupFlag and TransactTime", () => {
    // biome-ignore format: tag, value pairs
    const body = [
      Tag.AvgPx, "10.5", Tag.ClOrdID, "C1", Tag.CumQty, "40", Tag.ExecID, "E7", Tag.LastPx, "10.5",
      Tag.LastQty, "40", Tag.OrderID, "V1", Tag.OrderQty, "100", Tag.OrdStatus, "1",
      Tag.TransactTime, "20261127-09:00:01.500", Tag.ExecType, "F", Tag.LeavesQty, "60",
    ];
    const m = new VenueWire("FIX.4.4").msg("8", body, [Tag.PossDupFlag, "Y"]);
    const r = executionReportFrom(m, SESSION);
    assert.deepEqual(r, {
      session: SESSION,
      beginString: "FIX.4.4",
      execID: "E7",
      execType: "F",
      ordStatus: "1",
      cumQty: "40",
      leavesQty: "60",
      clOrdID: "C1",
      orderID: "V1",
      orderQty: "100",
      lastQty: "40",
      lastPx: "10.5",
      avgPx: "10.5",
      transactTime: Date.UTC(2026, 10, 27, 9, 0, 1, 500),
      possDup: true,
    });
  });

  it("reads a FIX 4.2 trade correct with ExecTransType, ExecRefID and PossResend", () => {
    // biome-ignore format: tag, value pairs
    const body = [
      Tag.AvgPx, "10", Tag.ClOrdID, "C1", Tag.CumQty, "30", Tag.ExecID, "E9", Tag.ExecRefID, "E2",
      Tag.ExecTransType, "2", Tag.LastPx, "10", Tag.LastShares, "30", Tag.OrderID, "V1", Tag.OrdStatus, "1",
      Tag.ExecType, "1", Tag.LeavesQty, "70",
    ];
    const m = new VenueWire("FIX.4.2").msg("8", body, [Tag.PossResend, "Y"]);
    const r = executionReportFrom(m, SESSION);
    assert.equal(r.execTransType, "2");
    assert.equal(r.execRefID, "E2");
    assert.equal(r.lastQty, "30");
    assert.equal(r.possResend, true);
    assert.equal(r.possDup, undefined);
    assert.equal(kindOf(r), ReportKind.TradeCorrect);
  });

  it("throws MalformedMessageError naming CumQty when it is missing", () => {
    const m = new VenueWire().msg("8", [Tag.ExecID, "E1", Tag.OrdStatus, "0", Tag.ExecType, "0", Tag.LeavesQty, "1"]);
    assert.throws(
      () => executionReportFrom(m, SESSION),
      (e: unknown) => e instanceof MalformedMessageError && e.tag === Tag.CumQty,
    );
  });

  it("throws MalformedMessageError naming LastPx when it is not a number", () => {
    // biome-ignore format: tag, value pairs
    const body = [
      Tag.CumQty, "1", Tag.ExecID, "E1", Tag.LastPx, "1e3", Tag.OrdStatus, "1", Tag.ExecType, "F", Tag.LeavesQty, "1",
    ];
    const m = new VenueWire().msg("8", body);
    assert.throws(
      () => executionReportFrom(m, SESSION),
      (e: unknown) => e instanceof MalformedMessageError && e.tag === Tag.LastPx,
    );
  });

  it("refuses a message that is not an ExecutionReport", () => {
    const m = new VenueWire().msg("9", [Tag.ClOrdID, "X"]);
    assert.throws(() => executionReportFrom(m, SESSION), MalformedMessageError);
  });
});

describe("cancelRejectFrom", () => {
  it("reads the refused request's ClOrdID, the order's status and the reason", () => {
    // biome-ignore format: tag, value pairs
    const body = [
      Tag.ClOrdID, "K1", Tag.OrderID, "V1", Tag.OrdStatus, "2", Tag.OrigClOrdID, "C1", Tag.Text, "too late",
      Tag.CxlRejReason, "0", Tag.CxlRejResponseTo, "1",
    ];
    const m = new VenueWire().msg("9", body);
    assert.deepEqual(cancelRejectFrom(m, SESSION), {
      session: SESSION,
      clOrdID: "K1",
      origClOrdID: "C1",
      orderID: "V1",
      ordStatus: "2",
      cxlRejResponseTo: "1",
      cxlRejReason: "0",
      text: "too late",
    });
  });

  it("throws MalformedMessageError when ClOrdID is missing", () => {
    const m = new VenueWire().msg("9", [Tag.OrderID, "V1"]);
    assert.throws(
      () => cancelRejectFrom(m, SESSION),
      (e: unknown) => e instanceof MalformedMessageError && e.tag === Tag.ClOrdID,
    );
  });
});
