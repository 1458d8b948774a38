/**
 * Requests checked at the edge: every bad field is INVALID_ARGUMENT/INVALID_FIELD naming it (its path in the
 * request). Inside, the service works on the validated, FIX-ready values.
 */
import {
  type CancelOrderRequest,
  OrderType,
  type ReplaceOrderRequest,
  RpcError,
  type Side,
  type SubmitOrderRequest,
  TimeInForce,
} from "@fixmesh/contracts";
import { canonical, Decimal } from "@fixmesh/orders";
import { status as Code } from "@grpc/grpc-js";
import { ORDER_TYPE_TO_FIX, SIDE_TO_FIX, TIF_TO_FIX } from "../model/convert.js";
import type { ExtraField } from "../model/record.js";
import { RESERVED_TAGS } from "./messages.js";

export interface ValidSubmit {
  idempotencyKey: string;
  sessionId: string;
  account: string;
  symbol: string;
  side: Side;
  quantity: string;
  orderType: OrderType;
  price?: string;
  stopPrice?: string;
  timeInForce: TimeInForce;
  expireTime?: number;
  extraFields: ExtraField[];
  /** FIX values. */
  fix: { side: string; ordType: string; timeInForce: string };
}

const MAX_KEY = 128;

function positive(field: string, v: string): string {
  const d = Decimal.parse(v);
  if (d === undefined || !/^\d+(\.\d+)?$/.test(v.trim()))
    throw RpcError.invalidField(field, `"${v}" is not a decimal number`);
  if (!d.isPositive()) throw RpcError.invalidField(field, `must be greater than 0, got "${v}"`);
  return canonical(v.trim()) ?? v.trim();
}

function required(field: string, v: string): string {
  if (v.trim() === "") throw RpcError.invalidField(field, "required");
  return v.trim();
}

/** A session this order-entry serves, or NOT_FOUND/SESSION_NOT_FOUND. */
export function knownSession(field: string, id: string, sessions: ReadonlySet<string>): string {
  required(field, id);
  if (!sessions.has(id)) {
    throw new RpcError(Code.NOT_FOUND, "SESSION_NOT_FOUND", `${field}: no session "${id}" on this order-entry`, {
      metadata: { session_id: id },
    });
  }
  return id;
}

export function validateSubmit(r: SubmitOrderRequest, sessions: ReadonlySet<string>, prefix = ""): ValidSubmit {
  const p = (f: string) => `${prefix}${f}`;
  const key = required(p("idempotency_key"), r.idempotencyKey);
  if (key.length > MAX_KEY) throw RpcError.invalidField(p("idempotency_key"), `longer than ${MAX_KEY} characters`);
  const sessionId = knownSession(p("session_id"), r.sessionId, sessions);
  const account = required(p("account"), r.account);
  const symbol = required(p("symbol"), r.symbol);
  const side = SIDE_TO_FIX[r.side];
  if (side === undefined) throw RpcError.invalidField(p("side"), "required (BUY, SELL or SELL_SHORT)");
  const quantity = positive(p("quantity"), r.quantity);
  const ordType = ORDER_TYPE_TO_FIX[r.orderType];
  if (ordType === undefined)
    throw RpcError.invalidField(p("order_type"), "required (MARKET, LIMIT, STOP or STOP_LIMIT)");
  const needsPrice = r.orderType === OrderType.LIMIT || r.orderType === OrderType.STOP_LIMIT;
  const needsStop = r.orderType === OrderType.STOP || r.orderType === OrderType.STOP_LIMIT;
  let price: string | undefined;
  if (needsPrice) price = positive(p("price"), required(p("price"), r.price));
  else if (r.price.trim() !== "")
    throw RpcError.invalidField(p("price"), `not allowed for ${OrderType[r.orderType]} orders`);
  let stopPrice: string | undefined;
  if (needsStop) stopPrice = positive(p("stop_price"), required(p("stop_price"), r.stopPrice));
  else if (r.stopPrice.trim() !== "")
    throw RpcError.invalidField(p("stop_price"), `only for STOP and STOP_LIMIT orders`);
  const tif = TIF_TO_FIX[r.timeInForce];
  if (tif === undefined) throw RpcError.invalidField(p("time_in_force"), `unknown value ${r.timeInForce}`);
  let expireTime: number | undefined;
  if (r.timeInForce === TimeInForce.GTD) {
    if (!r.expireTime) throw RpcError.invalidField(p("expire_time"), "required for GTD orders");
    expireTime = Number(r.expireTime.seconds) * 1000 + Math.floor(r.expireTime.nanos / 1e6);
  } else if (r.expireTime) {
    throw RpcError.invalidField(p("expire_time"), "only for GTD orders");
  }
  const extraFields: ExtraField[] = [];
  r.extraFields.forEach((f, i) => {
    const path = p(`extra_fields[${i}]`);
    if (f.tag < 1) throw RpcError.invalidField(`${path}.tag`, "must be 1 or more");
    if (RESERVED_TAGS.has(f.tag)) throw RpcError.invalidField(`${path}.tag`, `tag ${f.tag} is set by fixmesh`);
    if (f.value.case !== "stringValue") throw RpcError.invalidField(`${path}.value`, "must be a string value");
    if (f.value.value.includes("\x01")) throw RpcError.invalidField(`${path}.value`, "must not contain SOH");
    extraFields.push({ tag: f.tag, value: f.value.value });
  });
  const out: ValidSubmit = {
    idempotencyKey: key,
    sessionId,
    account,
    symbol,
    side: r.side,
    quantity,
    orderType: r.orderType,
    timeInForce: r.timeInForce === TimeInForce.UNSPECIFIED ? TimeInForce.DAY : r.timeInForce,
    extraFields,
    fix: { side, ordType, timeInForce: tif },
  };
  if (price !== undefined) out.price = price;
  if (stopPrice !== undefined) out.stopPrice = stopPrice;
  if (expireTime !== undefined) out.expireTime = expireTime;
  return out;
}

/** How a request names an order: internal id, or (session, ClOrdID). */
export type OrderRef = { orderId: string } | { sessionId: string; clOrdId: string };

export function orderRef(r: { orderId: string; sessionId: string; clOrdId: string }, prefix = ""): OrderRef {
  if (r.orderId.trim() !== "") return { orderId: r.orderId.trim() };
  if (r.clOrdId.trim() !== "" && r.sessionId.trim() !== "")
    return { sessionId: r.sessionId.trim(), clOrdId: r.clOrdId.trim() };
  throw RpcError.invalidField(`${prefix}order_id`, "required (or session_id with cl_ord_id)");
}

export function validateCancel(r: CancelOrderRequest, prefix = ""): { ref: OrderRef; idempotencyKey?: string } {
  const ref = orderRef(r, prefix);
  if (r.idempotencyKey.length > MAX_KEY)
    throw RpcError.invalidField(`${prefix}idempotency_key`, `longer than ${MAX_KEY} characters`);
  return r.idempotencyKey ? { ref, idempotencyKey: r.idempotencyKey } : { ref };
}

export function validateReplace(
  r: ReplaceOrderRequest,
  prefix = "",
): { ref: OrderRef; quantity?: string; price?: string; idempotencyKey?: string } {
  const ref = orderRef(r, prefix);
  if (r.quantity.trim() === "" && r.price.trim() === "") {
    throw RpcError.invalidField(`${prefix}quantity`, "at least one of quantity and price is required");
  }
  if (r.idempotencyKey.length > MAX_KEY)
    throw RpcError.invalidField(`${prefix}idempotency_key`, `longer than ${MAX_KEY} characters`);
  const out: { ref: OrderRef; quantity?: string; price?: string; idempotencyKey?: string } = { ref };
  if (r.quantity.trim() !== "") out.quantity = positive(`${prefix}quantity`, r.quantity);
  if (r.price.trim() !== "") out.price = positive(`${prefix}price`, r.price);
  if (r.idempotencyKey) out.idempotencyKey = r.idempotencyKey;
  return out;
}
