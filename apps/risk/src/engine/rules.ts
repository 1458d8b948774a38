/**
 * The rules a check can refuse an order by, and the answer of a check. The names travel on the wire
 * (CheckOrderResponse.rule) and in order-entry's RISK_REJECTED metadata: they are stable.
 */
export const Rule = {
  MaxOrderQty: "MAX_ORDER_QTY",
  MaxNotional: "MAX_NOTIONAL",
  PriceCollar: "PRICE_COLLAR",
  MaxOpenOrders: "MAX_OPEN_ORDERS",
  MaxPosition: "MAX_POSITION",
  OrderRate: "ORDER_RATE",
  DuplicateOrder: "DUPLICATE_ORDER",
  RestrictedSymbol: "RESTRICTED_SYMBOL",
  KillSwitch: "KILL_SWITCH",
  SessionNotLive: "SESSION_NOT_LIVE",
  NoReferencePrice: "NO_REFERENCE_PRICE",
} as const;
export type Rule = (typeof Rule)[keyof typeof Rule];

/** Which limit set applied: the session was LIVE ("normal") or DEGRADED ("degraded"); "" when none did. */
export type LimitSetName = "normal" | "degraded" | "";

export interface Allowed {
  allowed: true;
  limitSet: LimitSetName;
}

export interface Refused {
  allowed: false;
  rule: Rule;
  /** The limit as text: a figure ("1000"), a range ("[95, 105]") or a state ("LIVE or DEGRADED"). */
  limit: string;
  /** What the order would reach, as text. */
  value: string;
  message: string;
  limitSet: LimitSetName;
}

export type Decision = Allowed | Refused;

export function refuse(rule: Rule, limit: string, value: string, message: string, limitSet: LimitSetName): Refused {
  return { allowed: false, rule, limit, value, message, limitSet };
}
