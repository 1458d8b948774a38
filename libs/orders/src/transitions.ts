/**
 * What one ExecutionReport or OrderCancelReject does to an order's evidence, and whether it may. `evaluate…` never
 * changes the order: it returns the next facts and requests, or the reason they would be wrong. `apply` commits.
 *
 * The rules, in the order they are checked:
 * 1. The report must agree with itself (FIX 4.2/4.4 ExecutionReport rules): CumQty + LeavesQty = OrderQty, except
 *    that LeavesQty may be 0 once the order no longer works (Filled, Done for Day, Canceled, Expired, Calculated,
 *    Rejected); CumQty ≤ OrderQty; OrdStatus fits the quantities (New: nothing filled; Partially Filled: some but
 *    not all; Filled: all; Canceled or Expired: not all — a fully filled order is Filled by precedence; Rejected:
 *    nothing); a trade has LastQty > 0 and LastPx; a trade correct or cancel names ExecRefID. A report that fails is
 *    `inconsistent`: refused for good, nothing later can make it right.
 * 2. Its effect is added to the evidence: a fill to the fill set, a final status (Canceled, Expired, Rejected — from
 *    ExecType or from OrdStatus) to the finals, a request's progress to the request (sent → pending → accepted or
 *    refused, never back), and so on.
 * 3. The evidence as a whole must still hold together. CumQty never goes backwards other than by a trade cancel or
 *    correct, so:
 *    - a final report whose CumQty is below the fills we hold (their floor: see `FillTotals.floor`) is `stale` —
 *      a Canceled at 50 after fills for 80; a Canceled after a Filled;
 *    - a fill that takes the floor above a final report's CumQty is `fillAfterFinal`;
 *    - fills beyond OrderQty are `overfill`.
 *    These three are held on the order, not dropped: a trade cancel arriving later, or the Replaced that raised the
 *    quantity, can explain them, and they are retried after every report applied to the order.
 *    A non-final report with a CumQty below ours (a late New, a late Pending Cancel) is applied for its other
 *    parts — acknowledgement, request progress, terms — and flagged as behind.
 * 4. Requests: a request the venue both accepted and refused is a `requestConflict`, refused for good.
 */
import { CxlRejResponseTo, type OrderCancelReject } from "./cancel-reject.js";
import { Decimal } from "./decimal.js";
import { qtyFor, termsOf } from "./derive.js";
import { type ExecutionReport, ReportKind } from "./execution-report.js";
import { type Execution, ExecutionKind, fillTotals } from "./fills.js";
import {
  type ConditionFact,
  type FinalFact,
  type Order,
  type OrderFacts,
  type OrderRequest,
  RequestKind,
  RequestState,
} from "./order.js";
import { isDone, OrdStatus } from "./status.js";

export const RejectCode = {
  /** A field is missing or not a number. */
  Malformed: "malformed",
  /** Not an ExecutionReport or OrderCancelReject. */
  UnsupportedMessage: "unsupportedMessage",
  /** An ExecType (with ExecTransType) we do not know. */
  UnknownExecType: "unknownExecType",
  /** The report contradicts itself (quantities, OrdStatus, missing LastQty/ExecRefID). Refused for good. */
  Inconsistent: "inconsistent",
  /** A final report with CumQty below the fills we hold. Held. */
  Stale: "stale",
  /** A fill beyond the CumQty a final report gave. Held. */
  FillAfterFinal: "fillAfterFinal",
  /** Fills beyond OrderQty. Held. */
  Overfill: "overfill",
  /** The venue accepted and refused the same request. Refused for good. */
  RequestConflict: "requestConflict",
  /** An OrderCancelReject naming the order's own ClOrdID rather than a request's. */
  UnknownRequest: "unknownRequest",
  /** Our request: the ClOrdID is already used on the session. */
  DuplicateClOrdID: "duplicateClOrdID",
  /** Our request: the internal id is already used. */
  DuplicateOrderId: "duplicateOrderId",
  /** Our request: cancel or replace of an order that is over. */
  OrderDone: "orderDone",
  /** Our request: a field is missing or not a valid number. */
  InvalidRequest: "invalidRequest",
} as const;
export type RejectCode = (typeof RejectCode)[keyof typeof RejectCode];

export interface Rejection {
  code: RejectCode;
  text: string;
  /** Kept on the order (`held`) and retried after every report applied to it. */
  held: boolean;
}

export interface Next {
  facts: OrderFacts;
  requests: OrderRequest[];
  /** ClOrdIDs learnt from the report (a request someone else made), to index. */
  newClOrdIDs: string[];
}

export type Evaluation = { ok: true; next: Next } | { ok: false; rejection: Rejection };

function refuse(code: RejectCode, text: string, held = false): Evaluation {
  return { ok: false, rejection: { code, text, held } };
}

const FINAL_BY_KIND: Partial<Record<ReportKind, FinalFact["kind"]>> = {
  [ReportKind.Canceled]: "canceled",
  [ReportKind.Expired]: "expired",
  [ReportKind.Rejected]: "rejected",
};
const FINAL_BY_STATUS: Partial<Record<string, FinalFact["kind"]>> = {
  [OrdStatus.Canceled]: "canceled",
  [OrdStatus.Expired]: "expired",
  [OrdStatus.Rejected]: "rejected",
};
const CONDITION_BY_KIND: Partial<Record<ReportKind, ConditionFact["kind"]>> = {
  [ReportKind.DoneForDay]: "doneForDay",
  [ReportKind.Stopped]: "stopped",
  [ReportKind.Suspended]: "suspended",
  [ReportKind.Calculated]: "calculated",
};
const CONDITION_BY_STATUS: Partial<Record<string, ConditionFact["kind"]>> = {
  [OrdStatus.DoneForDay]: "doneForDay",
  [OrdStatus.Stopped]: "stopped",
  [OrdStatus.Suspended]: "suspended",
  [OrdStatus.Calculated]: "calculated",
};
/** Reports that show the order working at their TransactTime, lifting an earlier Done for Day, Stopped, Suspended. */
const LIVE = new Set<ReportKind>([ReportKind.New, ReportKind.Trade, ReportKind.Replaced, ReportKind.Restated]);

/** Rule 1: the report against itself. */
function selfCheck(order: Order, r: ExecutionReport, kind: ReportKind): string | undefined {
  const q = Decimal.of(r.orderQty ?? qtyFor(order, r.clOrdID));
  const cum = Decimal.of(r.cumQty);
  const leaves = Decimal.of(r.leavesQty);
  if (cum.isNegative() || leaves.isNegative()) return `negative CumQty ${r.cumQty} or LeavesQty ${r.leavesQty}`;
  if (cum.gt(q)) return `CumQty ${r.cumQty} exceeds OrderQty ${q}`;
  const done = isDone(r.ordStatus);
  if (!(done && leaves.isZero()) && !cum.add(leaves).eq(q)) {
    return `CumQty ${r.cumQty} + LeavesQty ${r.leavesQty} ≠ OrderQty ${q} for OrdStatus ${r.ordStatus}`;
  }
  switch (r.ordStatus) {
    case OrdStatus.New:
      if (!cum.isZero()) return `OrdStatus New with CumQty ${r.cumQty}`;
      break;
    case OrdStatus.PartiallyFilled:
      if (!cum.isPositive() || !cum.lt(q)) return `OrdStatus Partially Filled with CumQty ${r.cumQty} of ${q}`;
      break;
    case OrdStatus.Filled:
      if (!cum.eq(q)) return `OrdStatus Filled with CumQty ${r.cumQty} of ${q}`;
      break;
    case OrdStatus.Canceled:
    case OrdStatus.Expired:
      // With everything filled the venue must say Filled: it outranks Canceled and Expired.
      if (cum.eq(q)) return `OrdStatus ${r.ordStatus} with the order fully filled (${r.cumQty}); Filled outranks it`;
      break;
    case OrdStatus.Rejected:
      if (!cum.isZero()) return `OrdStatus Rejected with CumQty ${r.cumQty}`;
      break;
  }
  switch (kind) {
    case ReportKind.Trade:
      if (r.lastQty === undefined || !Decimal.of(r.lastQty).isPositive()) return `trade without a positive LastQty`;
      if (r.lastPx === undefined) return `trade without LastPx`;
      break;
    case ReportKind.TradeCorrect:
      if (!r.execRefID) return `trade correct without ExecRefID`;
      if (r.lastQty === undefined || Decimal.of(r.lastQty).isNegative()) return `trade correct without LastQty`;
      if (r.lastPx === undefined) return `trade correct without LastPx`;
      break;
    case ReportKind.TradeCancel:
      if (!r.execRefID) return `trade cancel without ExecRefID`;
      break;
    case ReportKind.Replaced:
      if (!r.clOrdID) return `Replaced without ClOrdID`;
      break;
  }
  return undefined;
}

/** Moves a request on: states only advance; accepted and refused exclude each other. */
function advance(
  requests: OrderRequest[],
  i: number,
  to: RequestState,
  patch: Partial<OrderRequest> = {},
): string | undefined {
  const cur = requests[i];
  const rank = (s: RequestState) => (s === RequestState.Sent ? 0 : s === RequestState.Pending ? 1 : 2);
  if (rank(cur.state) === 2 && rank(to) === 2 && cur.state !== to) {
    return `request ${cur.clOrdID} was already ${cur.state}; it cannot also be ${to}`;
  }
  if (rank(to) <= rank(cur.state)) return undefined;
  requests[i] = { ...cur, ...patch, state: to };
  return undefined;
}

function findRequest(requests: readonly OrderRequest[], kind: RequestKind, clOrdID: string | undefined): number {
  if (clOrdID === undefined) return -1;
  return requests.findIndex((r) => r.kind === kind && r.clOrdID === clOrdID);
}

/** Rules 2–4 for an ExecutionReport, after rule 1. */
export function evaluateReport(order: Order, r: ExecutionReport, kind: ReportKind): Evaluation {
  const problem = selfCheck(order, r, kind);
  if (problem) return refuse(RejectCode.Inconsistent, problem);

  const f = order.facts;
  const facts: OrderFacts = {
    ...f,
    executions: f.executions,
    finals: f.finals,
    conditions: f.conditions,
    restatements: f.restatements,
    orderIDs: f.orderIDs,
  };
  const requests = order.requests.slice();
  const newClOrdIDs: string[] = [];

  const notReceivedOnly =
    kind !== ReportKind.PendingNew &&
    kind !== ReportKind.Rejected &&
    r.ordStatus !== OrdStatus.PendingNew &&
    r.ordStatus !== OrdStatus.Rejected;
  if (notReceivedOnly) facts.acknowledged = true;
  if (r.orderID !== undefined && !f.orderIDs.includes(r.orderID)) facts.orderIDs = [...f.orderIDs, r.orderID];
  const live =
    LIVE.has(kind) ||
    (kind === ReportKind.Status && (r.ordStatus === OrdStatus.New || r.ordStatus === OrdStatus.PartiallyFilled));
  if (live && r.transactTime !== undefined && (f.liveAt === undefined || r.transactTime > f.liveAt)) {
    facts.liveAt = r.transactTime;
  }

  const finalKind = FINAL_BY_KIND[kind] ?? FINAL_BY_STATUS[r.ordStatus];
  if (finalKind) facts.finals = [...f.finals, { kind: finalKind, execID: r.execID, cumQty: r.cumQty }];
  const conditionKind = CONDITION_BY_KIND[kind] ?? CONDITION_BY_STATUS[r.ordStatus];
  if (conditionKind) {
    const c: ConditionFact = { kind: conditionKind, execID: r.execID };
    if (r.transactTime !== undefined) c.at = r.transactTime;
    facts.conditions = [...f.conditions, c];
  }

  const execution = (k: Execution["kind"]): Execution => {
    const e: Execution = { execID: r.execID, kind: k };
    if (r.execRefID !== undefined && k !== ExecutionKind.Trade) e.refID = r.execRefID;
    if (k !== ExecutionKind.Bust) {
      e.qty = r.lastQty;
      e.px = r.lastPx;
    }
    if (r.transactTime !== undefined) e.at = r.transactTime;
    return e;
  };

  let conflict: string | undefined;
  switch (kind) {
    case ReportKind.Trade:
      facts.executions = [...f.executions, execution(ExecutionKind.Trade)];
      break;
    case ReportKind.TradeCorrect:
      facts.executions = [...f.executions, execution(ExecutionKind.Correct)];
      break;
    case ReportKind.TradeCancel:
      facts.executions = [...f.executions, execution(ExecutionKind.Bust)];
      break;
    case ReportKind.Restated: {
      if (r.orderQty !== undefined || r.price !== undefined) {
        const s: OrderFacts["restatements"][number] = { execID: r.execID };
        if (r.transactTime !== undefined) s.at = r.transactTime;
        if (r.orderQty !== undefined) s.orderQty = r.orderQty;
        if (r.price !== undefined) s.price = r.price;
        facts.restatements = [...f.restatements, s];
      }
      break;
    }
    case ReportKind.PendingCancel:
    case ReportKind.PendingReplace: {
      const rk = kind === ReportKind.PendingCancel ? RequestKind.Cancel : RequestKind.Replace;
      let i = findRequest(requests, rk, r.clOrdID);
      // Some venues acknowledge with the order's ClOrdID rather than the request's: take our newest outstanding one.
      if (i < 0 && r.clOrdID !== undefined && order.chain.includes(r.clOrdID)) {
        for (let j = requests.length - 1; j >= 0; j--) {
          if (requests[j].kind === rk && requests[j].state === RequestState.Sent) {
            i = j;
            break;
          }
        }
      }
      if (i >= 0) conflict = advance(requests, i, RequestState.Pending);
      else if (r.clOrdID !== undefined && !order.chain.includes(r.clOrdID)) {
        requests.push(foreign(order, requests, rk, r, RequestState.Pending));
        newClOrdIDs.push(r.clOrdID);
      }
      break;
    }
    case ReportKind.Replaced: {
      const i = findRequest(requests, RequestKind.Replace, r.clOrdID);
      const patch: Partial<OrderRequest> = { acceptedBy: r.execID };
      if (r.orderQty !== undefined) patch.acceptedQty = r.orderQty;
      if (r.price !== undefined) patch.acceptedPrice = r.price;
      if (r.transactTime !== undefined) patch.acceptedAt = r.transactTime;
      if (i >= 0) conflict = advance(requests, i, RequestState.Accepted, patch);
      else if (!order.chain.includes(r.clOrdID!)) {
        requests.push({ ...foreign(order, requests, RequestKind.Replace, r, RequestState.Accepted), ...patch });
        newClOrdIDs.push(r.clOrdID!);
      }
      break;
    }
    case ReportKind.Canceled: {
      // Canceled under a cancel request's ClOrdID accepts that request; under any other it is unsolicited.
      // A ClOrdID new to us with an OrigClOrdID of ours is a cancel request someone else made (or ours, not yet
      // replayed to us): learnt, as for Pending Cancel.
      const i = findRequest(requests, RequestKind.Cancel, r.clOrdID);
      const patch: Partial<OrderRequest> = { acceptedBy: r.execID };
      if (r.transactTime !== undefined) patch.acceptedAt = r.transactTime;
      if (i >= 0) conflict = advance(requests, i, RequestState.Accepted, patch);
      else if (r.clOrdID !== undefined && r.origClOrdID !== undefined && !order.chain.includes(r.clOrdID)) {
        requests.push({ ...foreign(order, requests, RequestKind.Cancel, r, RequestState.Accepted), ...patch });
        newClOrdIDs.push(r.clOrdID);
      }
      break;
    }
  }
  if (conflict) return refuse(RejectCode.RequestConflict, conflict);

  // Rule 3: the evidence as a whole.
  const totals = fillTotals(facts.executions);
  const qty = Decimal.of(termsOf(facts, requests).orderQty);
  const isFill = kind === ReportKind.Trade || kind === ReportKind.TradeCorrect;
  for (const fin of facts.finals) {
    if (totals.floor.gt(Decimal.of(fin.cumQty))) {
      return fin.execID === r.execID && !isFill
        ? refuse(
            RejectCode.Stale,
            `${fin.kind} at CumQty ${fin.cumQty}, but the order holds fills for at least ${totals.floor}`,
            true,
          )
        : refuse(
            RejectCode.FillAfterFinal,
            `fills for at least ${totals.floor} exceed the CumQty ${fin.cumQty} the order was ${fin.kind} at`,
            true,
          );
    }
  }
  if (totals.floor.gt(qty)) {
    return refuse(RejectCode.Overfill, `fills for at least ${totals.floor} exceed OrderQty ${qty}`, true);
  }
  return { ok: true, next: { facts, requests, newClOrdIDs } };
}

function foreign(
  order: Order,
  requests: readonly OrderRequest[],
  kind: RequestKind,
  r: ExecutionReport,
  state: RequestState,
): OrderRequest {
  const req: OrderRequest = {
    kind,
    clOrdID: r.clOrdID!,
    origClOrdID: r.origClOrdID ?? order.clOrdID,
    seq: requests.length + 1,
    state,
    foreign: true,
  };
  if (kind === RequestKind.Replace && r.orderQty !== undefined) req.orderQty = r.orderQty;
  if (kind === RequestKind.Replace && r.price !== undefined) req.price = r.price;
  return req;
}

/** An OrderCancelReject: the named request is refused. */
export function evaluateCancelReject(order: Order, x: OrderCancelReject): Evaluation {
  const requests = order.requests.slice();
  const i = requests.findIndex((q) => q.clOrdID === x.clOrdID);
  const patch: Partial<OrderRequest> = {};
  if (x.cxlRejReason !== undefined) patch.rejectReason = x.cxlRejReason;
  if (x.text !== undefined) patch.rejectText = x.text;
  if (i < 0) {
    if (order.chain.includes(x.clOrdID)) {
      return refuse(RejectCode.UnknownRequest, `OrderCancelReject names ClOrdID ${x.clOrdID}, which is no request`);
    }
    // A refused request we have no record of: someone else's, or ours not yet replayed to us. Learnt, refused.
    const req: OrderRequest = {
      kind: x.cxlRejResponseTo === CxlRejResponseTo.CancelReplaceRequest ? RequestKind.Replace : RequestKind.Cancel,
      clOrdID: x.clOrdID,
      origClOrdID: x.origClOrdID ?? order.clOrdID,
      seq: requests.length + 1,
      state: RequestState.Rejected,
      foreign: true,
      ...patch,
    };
    requests.push(req);
    return { ok: true, next: { facts: order.facts, requests, newClOrdIDs: [x.clOrdID] } };
  }
  const conflict = advance(requests, i, RequestState.Rejected, patch);
  if (conflict) return refuse(RejectCode.RequestConflict, conflict);
  return { ok: true, next: { facts: order.facts, requests, newClOrdIDs: [] } };
}
