/**
 * The venue's orders and the events it reports about them, independent of the FIX version: `reports.ts` renders
 * an event as a FIX 4.2 or 4.4 ExecutionReport / OrderCancelReject for each session it goes to (a drop-copy
 * session may speak another version than the session that traded).
 */

export type Side = "buy" | "sell";

/** Where an order is in its life. Pending states are reported but never kept: the venue answers at once. */
export const OrderState = {
  New: "new",
  PartiallyFilled: "partiallyFilled",
  Filled: "filled",
  Canceled: "canceled",
  Rejected: "rejected",
} as const;
export type OrderState = (typeof OrderState)[keyof typeof OrderState];

/** OrdStatus(39) of a report, version-neutral: an order state, or one of the transient states of a report. */
export type ReportStatus = OrderState | "pendingCancel" | "pendingReplace" | "replaced";

/** ExecType(150), version-neutral. */
export const ExecKind = {
  New: "new",
  Trade: "trade",
  Canceled: "canceled",
  Replaced: "replaced",
  PendingCancel: "pendingCancel",
  PendingReplace: "pendingReplace",
  Rejected: "rejected",
  /** The answer to an OrderStatusRequest (4.4 ExecType=I; 4.2 ExecTransType=3). Not an execution. */
  Status: "status",
} as const;
export type ExecKind = (typeof ExecKind)[keyof typeof ExecKind];

/** OrdRejReason(103), version-neutral; `reports.ts` picks the code each version has. */
export type OrdRejReason =
  | "brokerOption"
  | "unknownSymbol"
  | "exceedsLimit"
  | "unknownOrder"
  | "duplicateOrder"
  | "incorrectQuantity"
  | "unsupported";

/** CxlRejReason(102), version-neutral. */
export type CxlRejReason = "tooLate" | "unknownOrder" | "brokerOption" | "duplicateClOrdId";

export interface VenueOrder {
  readonly orderId: string;
  /** The venue session that owns it. */
  readonly session: string;
  /** The current ClOrdID (the last accepted cancel or replace moved it on). */
  clOrdId: string;
  /** The ClOrdID before the current one, when a cancel or replace moved it on. */
  origClOrdId: string | undefined;
  /** Every ClOrdID the order has had, oldest first. */
  readonly chain: string[];
  readonly symbol: string;
  readonly side: Side;
  /** Side(54) as received (1, 2, 5, 6), echoed in every report. */
  readonly sideCode: string;
  /** OrdType(40) as received: 1 market or 2 limit. */
  ordTypeCode: string;
  price: number | undefined;
  orderQty: number;
  cumQty: number;
  /** Σ LastQty × LastPx, for AvgPx. */
  notional: number;
  timeInForce: string | undefined;
  account: string | undefined;
  state: OrderState;
  /** Time priority in the book (lower first); a replace that raises qty or moves the price loses it. */
  priority: number;
  /** partial(N): fills still to come. */
  fillsLeft: number;
  /** Timers of this order (partial fills, unsolicited cancel): cancelled when it is done. */
  readonly timers: Array<() => void>;
}

export function isOpen(o: VenueOrder): boolean {
  return o.state === OrderState.New || o.state === OrderState.PartiallyFilled;
}

export function leavesOf(o: VenueOrder): number {
  return isOpen(o) ? roundQty(o.orderQty - o.cumQty) : 0;
}

export function avgPxOf(o: VenueOrder): number {
  return o.cumQty > 0 ? o.notional / o.cumQty : 0;
}

/** Quantities are decimals: keep them to 9 places so that parts always add up to the whole. */
export function roundQty(q: number): number {
  return Math.round(q * 1e9) / 1e9;
}

/** One report about one order, before it is rendered for a FIX version. */
export interface ExecEvent {
  kind: ExecKind;
  /** Unique across the venue and across its restarts (a start-time token is its prefix). */
  execId: string;
  status: ReportStatus;
  orderId: string;
  clOrdId: string;
  origClOrdId?: string;
  symbol: string;
  sideCode: string;
  ordTypeCode?: string;
  price?: number;
  timeInForce?: string;
  account?: string;
  orderQty: number;
  cumQty: number;
  leavesQty: number;
  avgPx: number;
  lastQty?: number;
  lastPx?: number;
  ordRejReason?: OrdRejReason;
  text?: string;
  /** OrdStatusReqID(790) of the OrderStatusRequest answered (FIX 4.4). */
  ordStatusReqId?: string;
  /** Epoch ms. */
  transactTime: number;
}

/** An OrderCancelReject (35=9), before it is rendered. */
export interface CancelRejectEvent {
  /** `NONE` when the order is unknown. */
  orderId: string;
  clOrdId: string;
  origClOrdId: string;
  /** The order's status; `unknown` when there is no such order (rendered as 8, Rejected). */
  status: ReportStatus | "unknown";
  responseTo: "cancel" | "replace";
  reason: CxlRejReason;
  text: string;
  account?: string;
  transactTime: number;
}

/** A report of `o` as it is now. */
export function eventOf(o: VenueOrder, kind: ExecKind, execId: string, now: number): ExecEvent {
  const ev: ExecEvent = {
    kind,
    execId,
    status: o.state,
    orderId: o.orderId,
    clOrdId: o.clOrdId,
    symbol: o.symbol,
    sideCode: o.sideCode,
    ordTypeCode: o.ordTypeCode,
    orderQty: o.orderQty,
    cumQty: o.cumQty,
    leavesQty: leavesOf(o),
    avgPx: avgPxOf(o),
    transactTime: now,
  };
  if (o.price !== undefined) ev.price = o.price;
  if (o.timeInForce !== undefined) ev.timeInForce = o.timeInForce;
  if (o.account !== undefined) ev.account = o.account;
  return ev;
}

/** What tests and operators see of an order. */
export interface OrderSnapshot {
  orderId: string;
  session: string;
  clOrdId: string;
  chain: readonly string[];
  symbol: string;
  side: Side;
  price: number | undefined;
  orderQty: number;
  cumQty: number;
  leavesQty: number;
  avgPx: number;
  state: OrderState;
}

export function snapshotOf(o: VenueOrder): OrderSnapshot {
  return {
    orderId: o.orderId,
    session: o.session,
    clOrdId: o.clOrdId,
    chain: [...o.chain],
    symbol: o.symbol,
    side: o.side,
    price: o.price,
    orderQty: o.orderQty,
    cumQty: o.cumQty,
    leavesQty: leavesOf(o),
    avgPx: avgPxOf(o),
    state: o.state,
  };
}
