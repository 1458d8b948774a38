/**
 * Builders for engine tests (and the benchmark): limit sets and orders from plain text, order events as
 * order-entry publishes them.
 */
import type { OrderEvent, OrderSide, OrderStatusName } from "@fixmesh/bus";
import { Decimal } from "@fixmesh/orders";
import type { CheckInput } from "./engine.js";
import type { LimitSet, Limits } from "./limits.js";

export const SESSION = "FIX.4.4:CLIENT->VENUE";
export const T0 = Date.UTC(2026, 10, 27, 9, 0, 0);

export interface PlainLimits {
  maxOrderQty?: string;
  maxNotional?: string;
  priceCollarPct?: string;
  maxOpenOrders?: number;
  maxPosition?: string;
  maxOrdersPerSec?: number;
  duplicateWindowMs?: number;
  restrictedSymbols?: string[];
}

export function limits(p: PlainLimits): Limits {
  const out: Limits = {};
  if (p.maxOrderQty !== undefined) out.maxOrderQty = Decimal.of(p.maxOrderQty);
  if (p.maxNotional !== undefined) out.maxNotional = Decimal.of(p.maxNotional);
  if (p.priceCollarPct !== undefined) out.priceCollarPct = Decimal.of(p.priceCollarPct);
  if (p.maxOpenOrders !== undefined) out.maxOpenOrders = p.maxOpenOrders;
  if (p.maxPosition !== undefined) out.maxPosition = Decimal.of(p.maxPosition);
  if (p.maxOrdersPerSec !== undefined) out.maxOrdersPerSec = p.maxOrdersPerSec;
  if (p.duplicateWindowMs !== undefined) out.duplicateWindowMs = p.duplicateWindowMs;
  if (p.restrictedSymbols !== undefined) out.restrictedSymbols = p.restrictedSymbols;
  return out;
}

export function limitSet(
  scope: { sessionId?: string; account?: string },
  normal: PlainLimits,
  degraded: PlainLimits = {},
  referencePrices: Record<string, string> = {},
): LimitSet {
  return {
    scope: { sessionId: scope.sessionId ?? "", account: scope.account ?? "" },
    normal: limits(normal),
    degraded: limits(degraded),
    referencePrices: new Map(Object.entries(referencePrices).map(([k, v]) => [k, Decimal.of(v)])),
  };
}

export interface PlainOrder extends Partial<Omit<CheckInput, "quantity" | "price">> {
  qty?: string;
  price?: string;
}

let keySeq = 0;

/** A LIVE limit buy of 100 IBM @ 100 by ACC1 on SESSION with a fresh idempotency key, changed by `o`. */
export function order(o: PlainOrder = {}): CheckInput {
  const { qty, price, ...rest } = o;
  const input: CheckInput = {
    kind: "NEW",
    sessionId: SESSION,
    account: "ACC1",
    symbol: "IBM",
    side: "BUY",
    quantity: Decimal.of(qty ?? "100"),
    orderType: "LIMIT",
    sessionHealth: "LIVE",
    idempotencyKey: `k${++keySeq}`,
    ...rest,
  };
  if (price !== "") input.price = Decimal.of(price ?? "100");
  return input;
}

export interface PlainOrderEvent {
  orderId: string;
  version: number;
  account?: string;
  symbol?: string;
  side?: OrderSide;
  quantity?: string;
  status: OrderStatusName;
  cumQty?: string;
  leavesQty: string;
  sessionId?: string;
  idempotencyKey?: string;
  /** A fill: ExecID and LastQty (ExecType F). */
  fill?: { execId: string; lastQty: string; lastPx?: string; execType?: string };
}

/** An order event as order-entry publishes it. */
export function orderEvent(e: PlainOrderEvent): OrderEvent {
  const ev: OrderEvent = {
    orderId: e.orderId,
    version: e.version,
    change: e.fill ? "FILL" : e.status,
    at: T0,
    order: {
      orderId: e.orderId,
      sessionId: e.sessionId ?? SESSION,
      clOrdId: `C-${e.orderId}`,
      origClOrdId: "",
      account: e.account ?? "ACC1",
      symbol: e.symbol ?? "IBM",
      side: e.side ?? "BUY",
      orderType: "LIMIT",
      timeInForce: "DAY",
      quantity: e.quantity ?? "100",
      price: "100",
      status: e.status,
      cumQty: e.cumQty ?? "0",
      leavesQty: e.leavesQty,
      avgPx: "0",
      pending: false,
      createdAt: T0,
      updatedAt: T0,
      ...(e.idempotencyKey !== undefined && { idempotencyKey: e.idempotencyKey }),
    },
  };
  if (e.fill) {
    ev.execution = {
      execId: e.fill.execId,
      execType: e.fill.execType ?? "F",
      lastQty: e.fill.lastQty,
      lastPx: e.fill.lastPx ?? "100",
      msgSeqNum: 1,
    };
  }
  return ev;
}
