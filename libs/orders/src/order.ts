/**
 * The order as the state machine keeps it. Plain data (strings, numbers, arrays) so that a store can serialise it
 * as it is. The top fields are what a client sees; they are derived, on every change, from `facts` and
 * `requests` — the evidence — never updated piecemeal.
 */
import type { ExecutionReport } from "./execution-report.js";
import type { Execution } from "./fills.js";
import type { OrdStatus } from "./status.js";

/** Where one of our requests stands. `sent` → `pending` (venue acknowledged) → `accepted` or `rejected`. */
export const RequestState = {
  Sent: "sent",
  Pending: "pending",
  Accepted: "accepted",
  Rejected: "rejected",
} as const;
export type RequestState = (typeof RequestState)[keyof typeof RequestState];

export const RequestKind = {
  Cancel: "cancel",
  Replace: "replace",
} as const;
export type RequestKind = (typeof RequestKind)[keyof typeof RequestKind];

/** A cancel or cancel/replace request on the order: ours, or one the venue told us about (`foreign`). */
export interface OrderRequest {
  kind: RequestKind;
  clOrdID: string;
  origClOrdID: string;
  /** Position in the order's chain of requests (1, 2, …): the newest accepted one gives the order its ClOrdID. */
  seq: number;
  state: RequestState;
  /** Made by someone else (a broker's desk, another system) and learnt from a report. */
  foreign?: boolean;
  /** Epoch ms we sent it (undefined when foreign). */
  sentAt?: number;
  /** Requested values (replace). */
  orderQty?: string;
  price?: string;
  ordType?: string;
  timeInForce?: string;
  /** Values the venue confirmed on the Replaced report, which win over the requested ones. */
  acceptedQty?: string;
  acceptedPrice?: string;
  /** TransactTime of the report that accepted it. */
  acceptedAt?: number;
  /** ExecID of the report that accepted it. */
  acceptedBy?: string;
  /** CxlRejReason and Text of the OrderCancelReject. */
  rejectReason?: string;
  rejectText?: string;
}

/** A report that ended the order: Canceled, Expired or Rejected, with the CumQty it reported. */
export interface FinalFact {
  kind: "canceled" | "expired" | "rejected";
  execID: string;
  cumQty: string;
}

/** A condition that holds until a later live report (by TransactTime) shows the order working again. */
export interface ConditionFact {
  kind: "doneForDay" | "stopped" | "suspended" | "calculated";
  execID: string;
  /** TransactTime; undefined when the report had none (the condition then holds for good). */
  at?: number;
}

/** An unsolicited change of the order's terms: Restated (ExecType D) with OrderQty or Price. */
export interface RestatementFact {
  execID: string;
  at?: number;
  orderQty?: string;
  price?: string;
}

/** The evidence the order's state is derived from. Each part only grows, so any arrival order ends the same. */
export interface OrderFacts {
  /** The terms of the original order. */
  initial: { clOrdID: string; orderQty: string; price?: string; ordType: string; timeInForce?: string };
  /** The venue took the order (a report other than Pending New or Rejected). */
  acknowledged: boolean;
  executions: Execution[];
  finals: FinalFact[];
  conditions: ConditionFact[];
  restatements: RestatementFact[];
  /** Latest TransactTime of a report showing the order working (New, trade, Replaced, Restated, live status). */
  liveAt?: number;
  /** Every OrderID the venue used for the order. */
  orderIDs: string[];
}

/** A report that could not be applied yet: it contradicts what we hold, but a later report may explain it. */
export interface HeldReport {
  report: ExecutionReport;
  code: string;
  text: string;
  /** When it was held (the `now` of its apply). */
  at: number;
}

export interface Order {
  /** Our internal id (the caller's: this library makes no ids and reads no clock). */
  readonly id: string;
  readonly session: string;
  /** The ClOrdID the order goes by now: the newest accepted request's, or the original. */
  clOrdID: string;
  /** The ClOrdID it went by before that, when it has been replaced or canceled. */
  origClOrdID?: string;
  /** Every ClOrdID of the order: the original, then each request's in the order they were made. */
  chain: string[];
  /** OrderID(37), the first the venue gave. */
  orderID?: string;
  account?: string;
  symbol: string;
  side: string;
  ordType: string;
  price?: string;
  orderQty: string;
  timeInForce?: string;
  status: OrdStatus;
  cumQty: string;
  leavesQty: string;
  avgPx: string;
  /** The last fill applied (in arrival order). */
  lastQty?: string;
  lastPx?: string;
  /** ClOrdID of the newest cancel request still outstanding. */
  pendingCancel?: string;
  /** ClOrdID of the newest cancel/replace request still outstanding. */
  pendingReplace?: string;
  requests: OrderRequest[];
  /** How many distinct ExecIDs have been applied to the order. */
  execCount: number;
  createdAt: number;
  updatedAt: number;
  /** Reports that contradict what we hold, kept and retried after every report applied to this order. */
  held: HeldReport[];
  facts: OrderFacts;
}
