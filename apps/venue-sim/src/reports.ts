/**
 * Renders the venue's version-neutral events as FIX 4.2 or FIX 4.4 message bodies. The differences, per the
 * specifications' order state change matrices (FIX 4.2 Appendix D, FIX 4.4 Volume 4 Appendix D):
 *
 * | event            | FIX 4.2                                   | FIX 4.4                          |
 * | ---------------- | ----------------------------------------- | -------------------------------- |
 * | every report     | ExecTransType(20)=0 New                   | no ExecTransType                 |
 * | fill             | ExecType 1 (partial) / 2 (fill)           | ExecType F (Trade)               |
 * | replaced         | ExecType 5, OrdStatus 5 unless filled some | ExecType 5, OrdStatus 0/1/2      |
 * | status answer    | ExecTransType 3, ExecType = OrdStatus     | ExecType I (Order Status)        |
 * | reject reasons   | codes 0–8 only                            | adds 11, 13, 99; CxlRejReason 6  |
 */
import { type FieldList, formatUtcTimestamp, Tag } from "@fixmesh/fix";
import type { CancelRejectEvent, CxlRejReason, ExecEvent, OrdRejReason, ReportStatus } from "./order.js";

type Version = "FIX.4.2" | "FIX.4.4";

const ORD_STATUS: Record<ReportStatus, string> = {
  new: "0",
  partiallyFilled: "1",
  filled: "2",
  canceled: "4",
  replaced: "5",
  pendingCancel: "6",
  rejected: "8",
  pendingReplace: "E",
};

const ORD_REJ_REASON: Record<OrdRejReason, [fix42: string, fix44: string]> = {
  brokerOption: ["0", "0"],
  unknownSymbol: ["1", "1"],
  exceedsLimit: ["3", "3"],
  unknownOrder: ["5", "5"],
  duplicateOrder: ["6", "6"],
  // FIX 4.2 has no code for these: "Broker option" with the Text saying why.
  incorrectQuantity: ["0", "13"],
  unsupported: ["0", "11"],
};

const CXL_REJ_REASON: Record<CxlRejReason, [fix42: string, fix44: string]> = {
  tooLate: ["0", "0"],
  unknownOrder: ["1", "1"],
  brokerOption: ["2", "2"],
  duplicateClOrdId: ["2", "6"],
};

function is44(v: string): boolean {
  return v >= "FIX.4.3";
}

/** OrdStatus(39) of `status` in version `v`: FIX 4.4 dropped 5 (Replaced) — the order's own status is reported. */
function ordStatus(v: string, status: ReportStatus, ev: { cumQty: number; leavesQty: number }): string {
  if (status === "replaced" && is44(v)) return ev.leavesQty === 0 ? "2" : ev.cumQty > 0 ? "1" : "0";
  return ORD_STATUS[status];
}

function execType(v: string, ev: ExecEvent, status: string): string {
  switch (ev.kind) {
    case "new":
      return "0";
    case "trade":
      return is44(v) ? "F" : ev.leavesQty === 0 ? "2" : "1";
    case "canceled":
      return "4";
    case "replaced":
      return "5";
    case "pendingCancel":
      return "6";
    case "pendingReplace":
      return "E";
    case "rejected":
      return "8";
    case "status":
      // FIX 4.2: "ExecType = current status of the order" in a status response (ExecTransType=3).
      return is44(v) ? "I" : status;
  }
}

/** Quantities and prices as FIX decimals: no exponent, no float noise. */
export function decimal(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return n.toFixed(8).replace(/0+$/, "").replace(/\.$/, "");
}

/** An ExecutionReport (35=8) body for a session of version `beginString`, fields in ascending tag order. */
export function renderExecution(beginString: string, ev: ExecEvent): FieldList {
  const v = beginString as Version;
  const status = ordStatus(v, ev.status, ev);
  const f: Array<[number, string]> = [
    [Tag.AvgPx, decimal(ev.avgPx)],
    [Tag.ClOrdID, ev.clOrdId],
    [Tag.CumQty, decimal(ev.cumQty)],
    [Tag.ExecID, ev.execId],
    [Tag.OrderID, ev.orderId],
    [Tag.OrderQty, decimal(ev.orderQty)],
    [Tag.OrdStatus, status],
    [Tag.Side, ev.sideCode],
    [Tag.Symbol, ev.symbol],
    [Tag.TransactTime, formatUtcTimestamp(ev.transactTime, 3)],
    [Tag.ExecType, execType(v, ev, status)],
    [Tag.LeavesQty, decimal(ev.leavesQty)],
  ];
  if (!is44(v)) f.push([Tag.ExecTransType, ev.kind === "status" ? "3" : "0"]);
  if (ev.account !== undefined) f.push([Tag.Account, ev.account]);
  if (ev.lastQty !== undefined) f.push([Tag.LastQty, decimal(ev.lastQty)]);
  if (ev.lastPx !== undefined) f.push([Tag.LastPx, decimal(ev.lastPx)]);
  if (ev.ordTypeCode !== undefined) f.push([Tag.OrdType, ev.ordTypeCode]);
  if (ev.origClOrdId !== undefined) f.push([Tag.OrigClOrdID, ev.origClOrdId]);
  if (ev.price !== undefined) f.push([Tag.Price, decimal(ev.price)]);
  if (ev.timeInForce !== undefined) f.push([Tag.TimeInForce, ev.timeInForce]);
  if (ev.text !== undefined) f.push([Tag.Text, ev.text]);
  if (ev.ordRejReason !== undefined) f.push([Tag.OrdRejReason, ORD_REJ_REASON[ev.ordRejReason][is44(v) ? 1 : 0]]);
  if (ev.ordStatusReqId !== undefined && is44(v)) f.push([Tag.OrdStatusReqID, ev.ordStatusReqId]);
  return flatten(f);
}

/** An OrderCancelReject (35=9) body. CxlRejResponseTo(434): 1 for a cancel, 2 for a cancel/replace. */
export function renderCancelReject(beginString: string, ev: CancelRejectEvent): FieldList {
  const v = beginString as Version;
  const status = ev.status === "unknown" ? "8" : ordStatus(v, ev.status, { cumQty: 0, leavesQty: 1 });
  const f: Array<[number, string]> = [
    [Tag.ClOrdID, ev.clOrdId],
    [Tag.OrderID, ev.orderId],
    [Tag.OrdStatus, status],
    [Tag.OrigClOrdID, ev.origClOrdId],
    [Tag.Text, ev.text],
    [Tag.TransactTime, formatUtcTimestamp(ev.transactTime, 3)],
    [Tag.CxlRejReason, CXL_REJ_REASON[ev.reason][is44(v) ? 1 : 0]],
    [Tag.CxlRejResponseTo, ev.responseTo === "cancel" ? "1" : "2"],
  ];
  if (ev.account !== undefined) f.push([Tag.Account, ev.account]);
  return flatten(f);
}

function flatten(f: Array<[number, string]>): FieldList {
  f.sort((a, b) => a[0] - b[0]);
  const out: FieldList = [];
  for (const [t, val] of f) out.push(t, val);
  return out;
}
