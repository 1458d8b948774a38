import { sessionToken } from "./events.js";

/**
 * Order events: order-entry publishes one per change of an order, on JetStream stream `ORDERS`, subject
 * `orders.<session token>.<account token>`, id `<orderId>:<version>` (a republish is a duplicate). Risk follows
 * them for open orders and positions; persistence stores them. Payload: JSON of `OrderEvent`.
 *
 * Audit events (admin actions, denials, limit and kill-switch changes): stream `AUDIT`, subject
 * `audit.<service>.<action>`, id unique per act. Payload: JSON of `AuditEvent`.
 */
export const ORDERS_STREAM = "ORDERS";
export const ORDERS_SUBJECTS = ["orders.>"];
export const AUDIT_STREAM = "AUDIT";
export const AUDIT_SUBJECTS = ["audit.>"];

export type OrderSide = "BUY" | "SELL" | "SELL_SHORT";
export type OrderTypeName = "MARKET" | "LIMIT" | "STOP" | "STOP_LIMIT";
export type TimeInForceName = "DAY" | "GTC" | "IOC" | "FOK" | "GTD";
/** The OrderStatus enum names of proto/fixmesh/v1/orders.proto without the prefix. */
export type OrderStatusName =
  | "PENDING_NEW"
  | "NEW"
  | "PARTIALLY_FILLED"
  | "FILLED"
  | "DONE_FOR_DAY"
  | "CANCELED"
  | "REPLACED"
  | "PENDING_CANCEL"
  | "STOPPED"
  | "REJECTED"
  | "SUSPENDED"
  | "CALCULATED"
  | "EXPIRED"
  | "ACCEPTED_FOR_BIDDING"
  | "PENDING_REPLACE";

/** An order as events carry it. Quantities and prices are decimal strings; times are epoch ms. */
export interface OrderSnapshot {
  orderId: string;
  sessionId: string;
  clOrdId: string;
  origClOrdId: string;
  venueOrderId?: string;
  account: string;
  symbol: string;
  side: OrderSide;
  orderType: OrderTypeName;
  timeInForce: TimeInForceName;
  quantity: string;
  price?: string;
  stopPrice?: string;
  status: OrderStatusName;
  cumQty: string;
  leavesQty: string;
  avgPx: string;
  text?: string;
  pending: boolean;
  createdAt: number;
  updatedAt: number;
  idempotencyKey?: string;
}

export interface ExecutionSnapshot {
  execId: string;
  /** ExecType(150) as the venue sent it. */
  execType: string;
  lastQty: string;
  lastPx: string;
  msgSeqNum: number;
  transactTime?: string;
}

export interface OrderEvent {
  orderId: string;
  /** 1 for the order's first event, +1 per change. */
  version: number;
  /** NEW_REQUEST, ACK, FILL, PARTIAL_FILL, CANCELED, REPLACED, REJECTED, CANCEL_REJECTED, … (orders.proto). */
  change: string;
  at: number;
  order: OrderSnapshot;
  execution?: ExecutionSnapshot;
  /** W3C traceparent of the order's trace. */
  traceparent?: string;
}

export interface AuditEvent {
  /** Unique id of this act (also the bus event id). */
  id: string;
  at: number;
  service: string;
  /** Who: the principal (certificate URI SAN/CN, JWT subject) or the operator named in the request. */
  principal: string;
  /** e.g. ResetSequence, Logout, Logon, SetKillSwitch, SetLimits, MassCancel, or the denied method. */
  action: string;
  /** What it acted on: a session id, an account, a limit scope. */
  resource?: string;
  reason?: string;
  /** "ok", "denied" (with the missing grant in `detail`), or "failed". */
  outcome: "ok" | "denied" | "failed";
  detail?: string;
}

export function orderSubject(sessionId: string, account: string): string {
  return `orders.${sessionToken(sessionId)}.${sessionToken(account)}`;
}

export function orderEventId(orderId: string, version: number): string {
  return `${orderId}:${version}`;
}

export function auditSubject(service: string, action: string): string {
  return `audit.${sessionToken(service)}.${sessionToken(action)}`;
}
