/**
 * The edge: gRPC requests checked and turned into the engine's typed values (a bad field → INVALID_ARGUMENT
 * naming it by its path in the request), and the engine's values turned into messages.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { OrderSide, OrderTypeName } from "@fixmesh/bus";
import {
  type CheckOrderRequest,
  type CheckOrderResponseSchema,
  type KillSwitchSchema,
  KillSwitchScope as KillSwitchScopeEnum,
  type LimitSet as LimitSetMessage,
  type LimitSetSchema,
  type Limits as LimitsMessage,
  type LimitsSchema,
  OrderType,
  type PositionSchema,
  RiskCheckKind,
  RpcError,
  SessionHealth,
  Side,
} from "@fixmesh/contracts";
import { Decimal } from "@fixmesh/orders";
import type { CheckInput } from "../engine/engine.js";
import type { PositionView } from "../engine/exposure.js";
import { KillSwitchScope, type KillSwitchState } from "../engine/kill-switches.js";
import type { LimitSet, Limits } from "../engine/limits.js";
import type { Decision } from "../engine/rules.js";

const SIDES: Record<number, OrderSide> = { [Side.BUY]: "BUY", [Side.SELL]: "SELL", [Side.SELL_SHORT]: "SELL_SHORT" };
const ORDER_TYPES: Record<number, OrderTypeName> = {
  [OrderType.MARKET]: "MARKET",
  [OrderType.LIMIT]: "LIMIT",
  [OrderType.STOP]: "STOP",
  [OrderType.STOP_LIMIT]: "STOP_LIMIT",
};
const MAX_TEXT = 256;

function requireText(value: string, field: string): string {
  if (value === "") throw RpcError.invalidField(field, "is required");
  if (value.length > MAX_TEXT) throw RpcError.invalidField(field, `must be at most ${MAX_TEXT} characters`);
  return value;
}

function positive(value: string, field: string): Decimal {
  const d = Decimal.parse(value);
  if (d === undefined || !d.isPositive()) {
    throw RpcError.invalidField(field, `must be a decimal greater than 0, got ${JSON.stringify(value)}`);
  }
  return d;
}

/** CheckOrderRequest → CheckInput; `prefix` is the request's path in a stream frame (`check.`). */
export function checkInputFrom(req: CheckOrderRequest, prefix = ""): CheckInput {
  const kind = req.kind === RiskCheckKind.NEW ? "NEW" : req.kind === RiskCheckKind.REPLACE ? "REPLACE" : undefined;
  if (kind === undefined) throw RpcError.invalidField(`${prefix}kind`, "must be NEW or REPLACE");
  const side = SIDES[req.side];
  if (side === undefined) throw RpcError.invalidField(`${prefix}side`, "must be BUY, SELL or SELL_SHORT");
  const orderType = ORDER_TYPES[req.orderType];
  if (orderType === undefined) {
    throw RpcError.invalidField(`${prefix}order_type`, "must be MARKET, LIMIT, STOP or STOP_LIMIT");
  }
  const input: CheckInput = {
    kind,
    sessionId: requireText(req.sessionId, `${prefix}session_id`),
    account: requireText(req.account, `${prefix}account`),
    symbol: requireText(req.symbol, `${prefix}symbol`),
    side,
    quantity: positive(req.quantity, `${prefix}quantity`),
    orderType,
  };
  if (req.price !== "") input.price = positive(req.price, `${prefix}price`);
  else if (orderType === "LIMIT" || orderType === "STOP_LIMIT") {
    throw RpcError.invalidField(`${prefix}price`, `is required for a ${orderType} order`);
  }
  if (req.sessionHealth !== SessionHealth.UNSPECIFIED) {
    const name = SessionHealth[req.sessionHealth];
    if (name === undefined)
      throw RpcError.invalidField(`${prefix}session_health`, `unknown value ${req.sessionHealth}`);
    input.sessionHealth = name;
  }
  if (kind === "REPLACE") input.orderId = requireText(req.orderId, `${prefix}order_id`);
  else if (req.orderId !== "") input.orderId = req.orderId;
  if (req.idempotencyKey !== "") input.idempotencyKey = req.idempotencyKey;
  return input;
}

export function checkResponse(d: Decision): MessageInitShape<typeof CheckOrderResponseSchema> {
  if (d.allowed) return { allowed: true, limitSet: d.limitSet };
  return { allowed: false, rule: d.rule, limit: d.limit, value: d.value, message: d.message, limitSet: d.limitSet };
}

// --- limits ----------------------------------------------------------------------------------------------------

function limitsToMessage(l: Limits): MessageInitShape<typeof LimitsSchema> {
  return {
    maxOrderQty: l.maxOrderQty?.toString() ?? "",
    maxNotional: l.maxNotional?.toString() ?? "",
    priceCollarPct: l.priceCollarPct?.toString() ?? "",
    maxOpenOrders: l.maxOpenOrders ?? 0,
    maxPosition: l.maxPosition?.toString() ?? "",
    maxOrdersPerSec: l.maxOrdersPerSec ?? 0,
    duplicateWindowMs: l.duplicateWindowMs ?? 0,
    restrictedSymbols: [...(l.restrictedSymbols ?? [])],
  };
}

export function limitSetToMessage(s: LimitSet): MessageInitShape<typeof LimitSetSchema> {
  return {
    scope: { sessionId: s.scope.sessionId, account: s.scope.account },
    normal: limitsToMessage(s.normal),
    degraded: limitsToMessage(s.degraded),
    referencePrices: Object.fromEntries([...s.referencePrices].map(([k, v]) => [k, v.toString()])),
  };
}

function optionalDecimal(v: string, field: string, zeroOk: boolean): Decimal | undefined {
  if (v === "") return undefined;
  const d = Decimal.parse(v);
  if (d === undefined || d.isNegative() || (!zeroOk && d.isZero())) {
    throw RpcError.invalidField(
      field,
      `must be a decimal ${zeroOk ? "of 0 or more" : "greater than 0"}, got ${JSON.stringify(v)}`,
    );
  }
  return d;
}

function limitsFrom(m: LimitsMessage | undefined, prefix: string): Limits {
  const out: Limits = {};
  if (m === undefined) return out;
  const set = <K extends keyof Limits>(k: K, v: Limits[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set("maxOrderQty", optionalDecimal(m.maxOrderQty, `${prefix}.max_order_qty`, true));
  set("maxNotional", optionalDecimal(m.maxNotional, `${prefix}.max_notional`, true));
  set("priceCollarPct", optionalDecimal(m.priceCollarPct, `${prefix}.price_collar_pct`, false));
  set("maxPosition", optionalDecimal(m.maxPosition, `${prefix}.max_position`, true));
  if (m.maxOpenOrders > 0) out.maxOpenOrders = m.maxOpenOrders;
  if (m.maxOrdersPerSec > 0) out.maxOrdersPerSec = m.maxOrdersPerSec;
  if (m.duplicateWindowMs > 0) out.duplicateWindowMs = m.duplicateWindowMs;
  m.restrictedSymbols.forEach((s, i) => {
    if (s === "") throw RpcError.invalidField(`${prefix}.restricted_symbols[${i}]`, "must not be empty");
  });
  if (m.restrictedSymbols.length > 0) out.restrictedSymbols = [...m.restrictedSymbols];
  return out;
}

/** SetLimitsRequest.limit_set → LimitSet (0 and "" mean "not set": the wider scope's value applies). */
export function limitSetFrom(m: LimitSetMessage | undefined): LimitSet {
  if (m === undefined) throw RpcError.invalidField("limit_set", "is required");
  const referencePrices = new Map<string, Decimal>();
  for (const [sym, px] of Object.entries(m.referencePrices)) {
    const d = optionalDecimal(px, `limit_set.reference_prices[${sym}]`, false);
    if (d === undefined) throw RpcError.invalidField(`limit_set.reference_prices[${sym}]`, "must not be empty");
    referencePrices.set(sym, d);
  }
  return {
    scope: { sessionId: m.scope?.sessionId ?? "", account: m.scope?.account ?? "" },
    normal: limitsFrom(m.normal, "limit_set.normal"),
    degraded: limitsFrom(m.degraded, "limit_set.degraded"),
    referencePrices,
  };
}

// --- kill switches and positions -----------------------------------------------------------------------------

export function killSwitchScopeFrom(v: KillSwitchScopeEnum): KillSwitchState["scope"] {
  switch (v) {
    case KillSwitchScopeEnum.GLOBAL:
      return KillSwitchScope.Global;
    case KillSwitchScopeEnum.SESSION:
      return KillSwitchScope.Session;
    case KillSwitchScopeEnum.ACCOUNT:
      return KillSwitchScope.Account;
    default:
      throw RpcError.invalidField("scope", "must be GLOBAL, SESSION or ACCOUNT");
  }
}

export function killSwitchToMessage(s: KillSwitchState): MessageInitShape<typeof KillSwitchSchema> {
  return {
    scope: KillSwitchScopeEnum[s.scope],
    target: s.target,
    engaged: s.engaged,
    reason: s.reason,
    operator: s.operator,
    at: timestampFromMs(s.at),
    cancelOpenOrders: s.cancelOpenOrders,
  };
}

export function positionToMessage(p: PositionView): MessageInitShape<typeof PositionSchema> {
  return {
    account: p.account,
    symbol: p.symbol,
    netQty: p.netQty.toString(),
    boughtQty: p.boughtQty.toString(),
    soldQty: p.soldQty.toString(),
    openBuyQty: p.openBuyQty.toString(),
    openSellQty: p.openSellQty.toString(),
    openOrders: p.openOrders,
  };
}
