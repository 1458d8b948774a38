/**
 * The ExecutionReport (35=8) as the order state machine reads it: a plain object with the fields that move an order,
 * built from a parsed `FixMessage` by `executionReportFrom`, or by hand (tests, replays from storage).
 *
 * FIX 4.2 and 4.4 say the same things differently. 4.2 reports a fill with ExecType 1 (partial fill) or 2 (fill) and
 * says with ExecTransType(20) whether the report is new (0), cancels an earlier execution (1, a bust), corrects one
 * (2) or only restates the status (3). 4.4 drops ExecTransType and folds all of that into ExecType: F (trade), H
 * (trade cancel), G (trade correct), I (order status). `kindOf` maps both onto one vocabulary.
 */
import { type FixMessage, MsgType, parseUtcTimestamp, Tag } from "@fixmesh/fix";
import { Decimal } from "./decimal.js";
import { MalformedMessageError } from "./errors.js";

export const ExecType = {
  New: "0",
  /** FIX 4.2 (with ExecTransType 0); 4.4 uses Trade. */
  PartialFill: "1",
  /** FIX 4.2 (with ExecTransType 0); 4.4 uses Trade. */
  Fill: "2",
  DoneForDay: "3",
  Canceled: "4",
  Replaced: "5",
  PendingCancel: "6",
  Stopped: "7",
  Rejected: "8",
  Suspended: "9",
  PendingNew: "A",
  Calculated: "B",
  Expired: "C",
  Restated: "D",
  PendingReplace: "E",
  /** FIX 4.4. */
  Trade: "F",
  /** FIX 4.4. */
  TradeCorrect: "G",
  /** FIX 4.4. */
  TradeCancel: "H",
  /** FIX 4.4. */
  OrderStatus: "I",
} as const;
export type ExecType = (typeof ExecType)[keyof typeof ExecType];

/** ExecTransType(20), FIX 4.2 (removed in 4.3). */
export const ExecTransType = {
  New: "0",
  Cancel: "1",
  Correct: "2",
  Status: "3",
} as const;
export type ExecTransType = (typeof ExecTransType)[keyof typeof ExecTransType];

/** An ExecutionReport, reduced to what the order state machine uses. Quantities and prices are FIX float text. */
export interface ExecutionReport {
  /** The FIX session it arrived on; ExecIDs are unique per session, so dedupe is by (session, ExecID). */
  session: string;
  /** BeginString(8), when known; informational (the kind is read from ExecType/ExecTransType). */
  beginString?: string;
  execID: string;
  execType: string;
  /** ExecTransType(20), FIX 4.2. */
  execTransType?: string;
  /** ExecRefID(19): the execution a trade cancel or correct refers to. */
  execRefID?: string;
  ordStatus: string;
  clOrdID?: string;
  origClOrdID?: string;
  /** OrderID(37), the venue's id. */
  orderID?: string;
  orderQty?: string;
  price?: string;
  /** LastQty(32) — LastShares in FIX 4.2, same tag. */
  lastQty?: string;
  lastPx?: string;
  cumQty: string;
  leavesQty: string;
  avgPx?: string;
  /** TransactTime(60) as epoch milliseconds. */
  transactTime?: number;
  text?: string;
  ordRejReason?: string;
  execRestatementReason?: string;
  /** PossDupFlag(43)=Y. */
  possDup?: boolean;
  /** PossResend(97)=Y. */
  possResend?: boolean;
}

/** What a report does to an order, in one vocabulary for FIX 4.2 and 4.4. */
export const ReportKind = {
  New: "new",
  PendingNew: "pendingNew",
  Trade: "trade",
  TradeCorrect: "tradeCorrect",
  TradeCancel: "tradeCancel",
  Status: "status",
  DoneForDay: "doneForDay",
  Canceled: "canceled",
  Replaced: "replaced",
  PendingCancel: "pendingCancel",
  PendingReplace: "pendingReplace",
  Stopped: "stopped",
  Rejected: "rejected",
  Suspended: "suspended",
  Calculated: "calculated",
  Expired: "expired",
  Restated: "restated",
} as const;
export type ReportKind = (typeof ReportKind)[keyof typeof ReportKind];

const BY_EXEC_TYPE: Readonly<Record<string, ReportKind>> = {
  [ExecType.New]: ReportKind.New,
  [ExecType.PartialFill]: ReportKind.Trade,
  [ExecType.Fill]: ReportKind.Trade,
  [ExecType.DoneForDay]: ReportKind.DoneForDay,
  [ExecType.Canceled]: ReportKind.Canceled,
  [ExecType.Replaced]: ReportKind.Replaced,
  [ExecType.PendingCancel]: ReportKind.PendingCancel,
  [ExecType.Stopped]: ReportKind.Stopped,
  [ExecType.Rejected]: ReportKind.Rejected,
  [ExecType.Suspended]: ReportKind.Suspended,
  [ExecType.PendingNew]: ReportKind.PendingNew,
  [ExecType.Calculated]: ReportKind.Calculated,
  [ExecType.Expired]: ReportKind.Expired,
  [ExecType.Restated]: ReportKind.Restated,
  [ExecType.PendingReplace]: ReportKind.PendingReplace,
  [ExecType.Trade]: ReportKind.Trade,
  [ExecType.TradeCorrect]: ReportKind.TradeCorrect,
  [ExecType.TradeCancel]: ReportKind.TradeCancel,
  [ExecType.OrderStatus]: ReportKind.Status,
};

/**
 * The kind of a report, or undefined for an ExecType we do not know. A FIX 4.2 ExecTransType other than New decides
 * on its own: with Cancel or Correct the ExecType only echoes the order's status, and a Status report never carries
 * a new execution even when its ExecType says partial fill.
 */
export function kindOf(r: Pick<ExecutionReport, "execType" | "execTransType">): ReportKind | undefined {
  switch (r.execTransType) {
    case ExecTransType.Cancel:
      return ReportKind.TradeCancel;
    case ExecTransType.Correct:
      return ReportKind.TradeCorrect;
    case ExecTransType.Status:
      return ReportKind.Status;
    default:
      return BY_EXEC_TYPE[r.execType];
  }
}

/** The first problem with a report's fields, as [tag, detail], or undefined when it is well formed. */
export function reportProblem(r: ExecutionReport): [number, string] | undefined {
  if (!r.execID) return [Tag.ExecID, "is missing"];
  if (!r.execType) return [Tag.ExecType, "is missing"];
  if (!r.ordStatus) return [Tag.OrdStatus, "is missing"];
  if (r.execTransType !== undefined && !/^[0-3]$/.test(r.execTransType)) return [Tag.ExecTransType, "is not 0-3"];
  const numbers: Array<[number, string | undefined, boolean]> = [
    [Tag.CumQty, r.cumQty, true],
    [Tag.LeavesQty, r.leavesQty, true],
    [Tag.AvgPx, r.avgPx, false],
    [Tag.OrderQty, r.orderQty, false],
    [Tag.Price, r.price, false],
    [Tag.LastQty, r.lastQty, false],
    [Tag.LastPx, r.lastPx, false],
  ];
  for (const [tag, value, required] of numbers) {
    if (value === undefined) {
      if (required) return [tag, "is missing"];
      continue;
    }
    if (Decimal.parse(value) === undefined) return [tag, `is not a number: ${JSON.stringify(value)}`];
  }
  return undefined;
}

/**
 * Reads an ExecutionReport out of a parsed message. Throws `MalformedMessageError` naming the field when the message
 * is not an ExecutionReport, lacks ExecID, ExecType, OrdStatus, CumQty or LeavesQty, or carries a number that is not
 * a FIX float. Copies the values out, so the message (a view of a shared parser slab) may be dropped afterwards.
 */
export function executionReportFrom(msg: FixMessage, session: string): ExecutionReport {
  if (msg.msgType !== MsgType.ExecutionReport) throw new MalformedMessageError(msg.msgType, Tag.MsgType, "is not 8");
  const r: ExecutionReport = {
    session,
    execID: msg.get(Tag.ExecID) ?? "",
    execType: msg.get(Tag.ExecType) ?? "",
    ordStatus: msg.get(Tag.OrdStatus) ?? "",
    cumQty: msg.get(Tag.CumQty) ?? "",
    leavesQty: msg.get(Tag.LeavesQty) ?? "",
  };
  const optional: Array<[keyof ExecutionReport, number]> = [
    ["beginString", Tag.BeginString],
    ["execTransType", Tag.ExecTransType],
    ["execRefID", Tag.ExecRefID],
    ["clOrdID", Tag.ClOrdID],
    ["origClOrdID", Tag.OrigClOrdID],
    ["orderID", Tag.OrderID],
    ["orderQty", Tag.OrderQty],
    ["price", Tag.Price],
    ["lastQty", Tag.LastQty],
    ["lastPx", Tag.LastPx],
    ["avgPx", Tag.AvgPx],
    ["text", Tag.Text],
    ["ordRejReason", Tag.OrdRejReason],
    ["execRestatementReason", Tag.ExecRestatementReason],
  ];
  const target = r as unknown as Record<string, string>;
  for (const [key, tag] of optional) {
    const v = msg.get(tag);
    if (v !== undefined) target[key] = v;
  }
  const tt = msg.get(Tag.TransactTime);
  if (tt !== undefined) {
    const ms = parseUtcTimestamp(tt);
    if (Number.isNaN(ms)) throw new MalformedMessageError(msg.msgType, Tag.TransactTime, "is not a UTCTimestamp");
    r.transactTime = ms;
  }
  if (msg.flag(Tag.PossDupFlag)) r.possDup = true;
  if (msg.flag(Tag.PossResend)) r.possResend = true;
  const problem = reportProblem(r);
  if (problem) throw new MalformedMessageError(msg.msgType, problem[0], problem[1]);
  return r;
}
