/**
 * `apply(store, input, now)`: the one entry to the order state machine. An input is one of our requests, an
 * ExecutionReport, an OrderCancelReject, or a raw FIX message that is one of the two. No I/O, no clock: `now` is the
 * caller's, and only stamps `createdAt`/`updatedAt` and the held and unmatched lists.
 *
 * Never throws on what the venue sends. Every report ends in one outcome:
 * - `applied` — the order changed (or learnt something) and `changes` lists its visible fields that moved;
 * - `duplicate` — a report already seen, by (session, ExecID) — PossDup and PossResend copies included — or, for an
 *   OrderCancelReject, by (session, ClOrdID of the request); counted, not applied;
 * - `unknownOrder` — no order has the report's ClOrdID, OrigClOrdID or OrderID; kept in `store.unmatched` and
 *   counted, and applied later if that order or request is made;
 * - `rejected` — it contradicts itself or the order (`rejection` says how; see transitions.ts for the rules).
 */
import type { FixMessage } from "@fixmesh/fix";
import { MsgType } from "@fixmesh/fix";
import { cancelRejectFrom, type OrderCancelReject } from "./cancel-reject.js";
import { Decimal } from "./decimal.js";
import { derive } from "./derive.js";
import { MalformedMessageError } from "./errors.js";
import { type ExecutionReport, executionReportFrom, kindOf, ReportKind, reportProblem } from "./execution-report.js";
import { avgPxMatches, fillTotals } from "./fills.js";
import type { Order } from "./order.js";
import { addRequest, createOrder, type OrderRequestInput, type RequestResult } from "./requests.js";
import { OrdStatus } from "./status.js";
import type { OrderStore } from "./store.js";
import { type Evaluation, evaluateCancelReject, evaluateReport, RejectCode, type Rejection } from "./transitions.js";

export type OrderInput =
  | OrderRequestInput
  | { type: "executionReport"; report: ExecutionReport }
  | { type: "cancelReject"; reject: OrderCancelReject }
  /** An ExecutionReport (35=8) or OrderCancelReject (35=9) as parsed off the wire. */
  | { type: "fixMessage"; session: string; message: FixMessage };

export const Outcome = {
  Applied: "applied",
  Duplicate: "duplicate",
  UnknownOrder: "unknownOrder",
  Rejected: "rejected",
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/** Fields of `Order` a client sees change. */
export const CHANGE_FIELDS = [
  "status",
  "clOrdID",
  "origClOrdID",
  "orderID",
  "orderQty",
  "price",
  "ordType",
  "timeInForce",
  "cumQty",
  "leavesQty",
  "avgPx",
  "lastQty",
  "lastPx",
  "pendingCancel",
  "pendingReplace",
] as const;
export type ChangeField = (typeof CHANGE_FIELDS)[number];

export interface OrderChange {
  field: ChangeField;
  from?: string;
  to?: string;
}

/** Something an applied report says that disagrees with what we hold. Informational: the state is ours. */
export const DiscrepancyCode = {
  /** The report's CumQty is above the fills we hold: fills are missing (not yet arrived, or lost). */
  CumQtyAhead: "cumQtyAhead",
  /** The report's CumQty is below the fills we hold: it is older than them (late, replayed). */
  CumQtyBehind: "cumQtyBehind",
  /** Same CumQty as ours but an AvgPx the fills do not average to. */
  AvgPxMismatch: "avgPxMismatch",
  /** The report's OrdStatus is not the one we derive (a late New after a fill, say). */
  StatusDiffers: "statusDiffers",
} as const;
export type DiscrepancyCode = (typeof DiscrepancyCode)[keyof typeof DiscrepancyCode];

export interface Discrepancy {
  code: DiscrepancyCode;
  text: string;
  execID?: string;
}

export interface ApplyResult {
  outcome: Outcome;
  /** The order concerned, when one was found or made: the store's own object — read it, do not write it. */
  order?: Order;
  /** Visible fields of the order that moved, including through reports released below. */
  changes: OrderChange[];
  /** Why, when `rejected`. */
  rejection?: Rejection;
  discrepancies: Discrepancy[];
  /** ExecIDs (or ClOrdIDs, for an OrderCancelReject) of held or unmatched reports this input let us apply. */
  released: string[];
}

type Snapshot = Partial<Record<ChangeField, string>>;

function snapshot(order: Order | undefined): Snapshot {
  const s: Snapshot = {};
  if (order) for (const f of CHANGE_FIELDS) s[f] = order[f];
  return s;
}

function diff(before: Snapshot, order: Order): OrderChange[] {
  const out: OrderChange[] = [];
  for (const field of CHANGE_FIELDS) {
    const from = before[field];
    const to = order[field];
    if (from === to) continue;
    const c: OrderChange = { field };
    if (from !== undefined) c.from = from;
    if (to !== undefined) c.to = to;
    out.push(c);
  }
  return out;
}

function result(outcome: Outcome, order?: Order, extra: Partial<ApplyResult> = {}): ApplyResult {
  const r: ApplyResult = { outcome, changes: [], discrepancies: [], released: [], ...extra };
  if (order) r.order = order;
  return r;
}

function rejected(store: OrderStore, rejection: Rejection, order?: Order): ApplyResult {
  store.counters.rejected++;
  return result(Outcome.Rejected, order, { rejection });
}

export function apply(store: OrderStore, input: OrderInput, now: number): ApplyResult {
  switch (input.type) {
    case "newOrder": {
      const res = createOrder(store, input, now);
      return requestResult(store, res, undefined, now);
    }
    case "cancelRequest":
    case "replaceRequest": {
      const order = store.get(input.orderId);
      if (!order) return result(Outcome.UnknownOrder);
      const before = snapshot(order);
      return requestResult(store, addRequest(store, order, input, now), before, now);
    }
    case "executionReport":
      return applyReport(store, input.report, now);
    case "cancelReject":
      return applyCancelReject(store, input.reject, now);
    case "fixMessage":
      return applyMessage(store, input.session, input.message, now);
  }
}

function requestResult(store: OrderStore, res: RequestResult, before: Snapshot | undefined, now: number) {
  if (!res.ok) return rejected(store, res.rejection, res.order);
  const order = res.order;
  const out = result(Outcome.Applied, order);
  // A report may have come in before the request that explains it (replaying a stream whose inbound and outbound
  // halves are consumed separately): it waited in `unmatched`.
  out.released = rematch(store, order, now, out.discrepancies);
  out.changes = diff(before ?? snapshot(undefined), order);
  return out;
}

function applyMessage(store: OrderStore, session: string, msg: FixMessage, now: number): ApplyResult {
  try {
    if (msg.msgType === MsgType.ExecutionReport) return applyReport(store, executionReportFrom(msg, session), now);
    if (msg.msgType === MsgType.OrderCancelReject) return applyCancelReject(store, cancelRejectFrom(msg, session), now);
  } catch (e) {
    if (e instanceof MalformedMessageError)
      return rejected(store, { code: RejectCode.Malformed, text: e.message, held: false });
    throw e;
  }
  const text = `MsgType ${msg.msgType} is neither ExecutionReport (8) nor OrderCancelReject (9)`;
  return rejected(store, { code: RejectCode.UnsupportedMessage, text, held: false });
}

/**
 * The dedupe key of a report. An Order Status report (ExecType I, or 4.2 ExecTransType 3) may carry ExecID "0"
 * (FIX: status responses need no unique ExecID); such a report has no key and is applied every time — harmlessly,
 * as a status report moves no quantity and its facts are already in the set the second time.
 */
function reportKey(r: ExecutionReport, kind: ReportKind): string | undefined {
  if (kind === ReportKind.Status && r.execID === "0") return undefined;
  return `8\x01${r.session}\x01${r.execID}`;
}

function countDuplicate(store: OrderStore, x: { possDup?: boolean; possResend?: boolean }): void {
  const c = store.counters;
  c.duplicates++;
  if (x.possDup) c.duplicatesPossDup++;
  if (x.possResend) c.duplicatesPossResend++;
  if (!x.possDup && !x.possResend) c.duplicatesUnflagged++;
}

function applyReport(store: OrderStore, r: ExecutionReport, now: number): ApplyResult {
  if (!r.session)
    return rejected(store, { code: RejectCode.Malformed, text: "ExecutionReport without session", held: false });
  const problem = reportProblem(r);
  if (problem) {
    const text = `ExecutionReport: tag ${problem[0]} ${problem[1]}`;
    return rejected(store, { code: RejectCode.Malformed, text, held: false });
  }
  const kind = kindOf(r);
  if (kind === undefined) {
    const text = `ExecType ${r.execType}${r.execTransType ? ` with ExecTransType ${r.execTransType}` : ""}`;
    return rejected(store, { code: RejectCode.UnknownExecType, text, held: false });
  }
  const order = store.match(r.session, r.clOrdID, r.origClOrdID, r.orderID);
  const key = reportKey(r, kind);
  if (key !== undefined && !store.markSeen(key)) {
    countDuplicate(store, r);
    return result(Outcome.Duplicate, order);
  }
  if (!order) {
    store.unmatched.push({ type: "executionReport", report: r, at: now });
    store.counters.unknownOrder++;
    return result(Outcome.UnknownOrder);
  }
  const before = snapshot(order);
  const out = result(Outcome.Applied, order);
  const ev = evaluateReport(order, r, kind);
  if (!ev.ok) {
    if (ev.rejection.held) {
      order.held.push({ report: r, code: ev.rejection.code, text: ev.rejection.text, at: now });
      store.counters.held++;
    }
    return rejected(store, ev.rejection, order);
  }
  const indexed = commitReport(store, order, r, kind, ev, now, out.discrepancies);
  out.released = retryHeld(store, order, now, out.discrepancies);
  if (indexed) out.released.push(...rematch(store, order, now, out.discrepancies));
  out.changes = diff(before, order);
  return out;
}

/** Commits an accepted evaluation; true when it taught the store a new ClOrdID or OrderID for the order. */
function commitReport(
  store: OrderStore,
  order: Order,
  r: ExecutionReport,
  kind: ReportKind,
  ev: Evaluation & { ok: true },
  now: number,
  discrepancies: Discrepancy[],
): boolean {
  const { facts, requests, newClOrdIDs } = ev.next;
  let indexed = false;
  for (const id of facts.orderIDs) {
    if (!order.facts.orderIDs.includes(id)) {
      store.indexOrderID(order, id);
      indexed = true;
    }
  }
  order.facts = facts;
  order.requests = requests;
  for (const c of newClOrdIDs) {
    if (store.indexClOrdID(order, c)) {
      order.chain = [...order.chain, c];
      indexed = true;
    }
  }
  if (kind === ReportKind.Trade) {
    order.lastQty = Decimal.of(r.lastQty!).toString();
    order.lastPx = Decimal.of(r.lastPx!).toString();
  }
  if (reportKey(r, kind) !== undefined) order.execCount++;
  order.updatedAt = now;
  derive(order);
  store.counters.applied++;
  noteDiscrepancies(store, order, r, discrepancies);
  return indexed;
}

function noteDiscrepancies(store: OrderStore, order: Order, r: ExecutionReport, out: Discrepancy[]): void {
  const theirs = Decimal.of(r.cumQty);
  const ours = Decimal.of(order.cumQty);
  const execID = r.execID;
  if (theirs.gt(ours)) {
    out.push({ code: DiscrepancyCode.CumQtyAhead, execID, text: `report CumQty ${r.cumQty}, fills held ${ours}` });
  } else if (theirs.lt(ours)) {
    out.push({ code: DiscrepancyCode.CumQtyBehind, execID, text: `report CumQty ${r.cumQty}, fills held ${ours}` });
  } else if (r.avgPx !== undefined) {
    const totals = fillTotals(order.facts.executions);
    if (!avgPxMatches(totals, Decimal.of(r.avgPx), store.avgPxTolerance)) {
      const text = `report AvgPx ${r.avgPx}, fills average ${order.avgPx}`;
      out.push({ code: DiscrepancyCode.AvgPxMismatch, execID, text });
    }
  }
  // FIX 4.2's OrdStatus Replaced (5) is a report type more than a status; 4.4 dropped it. Not worth a flag.
  if (r.ordStatus !== order.status && r.ordStatus !== OrdStatus.Replaced) {
    out.push({
      code: DiscrepancyCode.StatusDiffers,
      execID,
      text: `report OrdStatus ${r.ordStatus}, ours ${order.status}`,
    });
  }
}

/** Retries the order's held reports until none more applies; returns the ExecIDs applied. */
function retryHeld(store: OrderStore, order: Order, now: number, discrepancies: Discrepancy[]): string[] {
  const released: string[] = [];
  for (let progress = true; progress && order.held.length > 0; ) {
    progress = false;
    for (const h of order.held.slice()) {
      const kind = kindOf(h.report)!;
      const ev = evaluateReport(order, h.report, kind);
      if (!ev.ok) continue;
      order.held = order.held.filter((x) => x !== h);
      commitReport(store, order, h.report, kind, ev, now, discrepancies);
      store.counters.released++;
      released.push(h.report.execID);
      progress = true;
    }
  }
  return released;
}

function matchesOrder(order: Order, session: string, ids: Array<string | undefined>, orderID?: string): boolean {
  if (session !== order.session) return false;
  for (const id of ids) if (id !== undefined && order.chain.includes(id)) return true;
  return orderID !== undefined && order.facts.orderIDs.includes(orderID);
}

/** Applies the unmatched reports that now belong to `order`; returns their ExecIDs (ClOrdIDs for rejects). */
function rematch(store: OrderStore, order: Order, now: number, discrepancies: Discrepancy[]): string[] {
  const released: string[] = [];
  for (let progress = true; progress; ) {
    progress = false;
    for (let i = 0; i < store.unmatched.length; i++) {
      const u = store.unmatched[i];
      const mine =
        u.type === "executionReport"
          ? matchesOrder(order, u.report.session, [u.report.clOrdID, u.report.origClOrdID], u.report.orderID)
          : matchesOrder(order, u.reject.session, [u.reject.clOrdID], u.reject.orderID);
      if (!mine) continue;
      store.unmatched.splice(i--, 1);
      store.counters.rematched++;
      const res =
        u.type === "executionReport"
          ? applyMatchedReport(store, order, u.report, now)
          : applyMatchedCancelReject(store, order, u.reject, now);
      discrepancies.push(...res.discrepancies);
      released.push(u.type === "executionReport" ? u.report.execID : u.reject.clOrdID, ...res.released);
      progress = true;
    }
  }
  return released;
}

/** A report already deduped and matched (from `unmatched`). */
function applyMatchedReport(store: OrderStore, order: Order, r: ExecutionReport, now: number): ApplyResult {
  const kind = kindOf(r)!;
  const out = result(Outcome.Applied, order);
  const ev = evaluateReport(order, r, kind);
  if (!ev.ok) {
    if (ev.rejection.held) {
      order.held.push({ report: r, code: ev.rejection.code, text: ev.rejection.text, at: now });
      store.counters.held++;
    }
    return rejected(store, ev.rejection, order);
  }
  commitReport(store, order, r, kind, ev, now, out.discrepancies);
  out.released = retryHeld(store, order, now, out.discrepancies);
  return out;
}

function cancelRejectKey(x: OrderCancelReject): string {
  return `9\x01${x.session}\x01${x.clOrdID}`;
}

function applyCancelReject(store: OrderStore, x: OrderCancelReject, now: number): ApplyResult {
  if (!x.session || !x.clOrdID) {
    return rejected(store, {
      code: RejectCode.Malformed,
      text: "OrderCancelReject without session or ClOrdID",
      held: false,
    });
  }
  const order = store.match(x.session, x.clOrdID, x.origClOrdID, x.orderID);
  if (!store.markSeen(cancelRejectKey(x))) {
    countDuplicate(store, x);
    return result(Outcome.Duplicate, order);
  }
  if (!order) {
    store.unmatched.push({ type: "cancelReject", reject: x, at: now });
    store.counters.unknownOrder++;
    return result(Outcome.UnknownOrder);
  }
  return applyMatchedCancelReject(store, order, x, now);
}

function applyMatchedCancelReject(store: OrderStore, order: Order, x: OrderCancelReject, now: number): ApplyResult {
  const before = snapshot(order);
  const ev = evaluateCancelReject(order, x);
  if (!ev.ok) return rejected(store, ev.rejection, order);
  order.requests = ev.next.requests;
  let indexed = false;
  for (const c of ev.next.newClOrdIDs) {
    if (store.indexClOrdID(order, c)) {
      order.chain = [...order.chain, c];
      indexed = true;
    }
  }
  order.updatedAt = now;
  derive(order);
  store.counters.applied++;
  const out = result(Outcome.Applied, order);
  if (x.ordStatus !== undefined && x.ordStatus !== order.status) {
    out.discrepancies.push({
      code: DiscrepancyCode.StatusDiffers,
      text: `OrderCancelReject OrdStatus ${x.ordStatus}, ours ${order.status}`,
    });
  }
  out.released = retryHeld(store, order, now, out.discrepancies);
  if (indexed) out.released.push(...rematch(store, order, now, out.discrepancies));
  out.changes = diff(before, order);
  return out;
}
