/**
 * The FIX messages order-entry sends, as SessionService field lists: NewOrderSingle (D), OrderCancelRequest (F),
 * OrderCancelReplaceRequest (G). FIX 4.2 requires HandlInst(21) on D and G; 4.4 made it optional — we send
 * "1" (automated, private) on 4.2 unless the client gave its own.
 */
import { formatUtcTimestamp, MsgType, Tag } from "@fixmesh/fix";
import type { FieldInit } from "../clients/connector.js";
import type { OrderRecord } from "../model/record.js";

/** Body fields fixmesh writes itself; a client's extra_fields may not set them. */
export const RESERVED_TAGS: ReadonlySet<number> = new Set([
  Tag.ClOrdID,
  Tag.OrigClOrdID,
  Tag.OrderID,
  Tag.Account,
  Tag.Symbol,
  Tag.Side,
  Tag.TransactTime,
  Tag.OrderQty,
  Tag.OrdType,
  Tag.Price,
  Tag.StopPx,
  Tag.TimeInForce,
  Tag.ExpireTime,
  // The session's own header and trailer fields.
  8,
  9,
  10,
  34,
  35,
  43,
  49,
  52,
  56,
  97,
  122,
]);

const str = (tag: number, value: string): FieldInit => ({ tag, value: { case: "stringValue", value } });

function isFix42(sessionId: string): boolean {
  return sessionId.startsWith("FIX.4.2:") || sessionId.startsWith("FIX.4.0:") || sessionId.startsWith("FIX.4.1:");
}

function handlInst(rec: OrderRecord, out: FieldInit[]): void {
  if (isFix42(rec.order.session) && !rec.extraFields?.some((f) => f.tag === Tag.HandlInst))
    out.push(str(Tag.HandlInst, "1"));
}

/**
 * The NewOrderSingle of an order. Byte-for-byte the same every time it is built — TransactTime is the order's
 * creation time — so that a resend after a crash is the same request under the same connector idempotency key.
 */
export function newOrderSingle(rec: OrderRecord): { msgType: string; fields: FieldInit[] } {
  const o = rec.order;
  const now = o.createdAt;
  const f: FieldInit[] = [str(Tag.ClOrdID, o.facts.initial.clOrdID)];
  if (rec.account) f.push(str(Tag.Account, rec.account));
  handlInst(rec, f);
  f.push(str(Tag.Symbol, o.symbol), str(Tag.Side, o.side), str(Tag.TransactTime, formatUtcTimestamp(now)));
  f.push(str(Tag.OrderQty, o.facts.initial.orderQty), str(Tag.OrdType, o.ordType));
  if (o.facts.initial.price !== undefined) f.push(str(Tag.Price, o.facts.initial.price));
  if (rec.stopPrice !== undefined) f.push(str(Tag.StopPx, rec.stopPrice));
  if (o.timeInForce !== undefined && o.timeInForce !== "0") f.push(str(Tag.TimeInForce, o.timeInForce));
  if (rec.expireTime !== undefined) f.push(str(Tag.ExpireTime, formatUtcTimestamp(rec.expireTime)));
  for (const x of rec.extraFields ?? []) f.push(str(x.tag, x.value));
  return { msgType: MsgType.NewOrderSingle, fields: f };
}

export function cancelRequest(
  rec: OrderRecord,
  clOrdId: string,
  now: number,
): { msgType: string; fields: FieldInit[] } {
  const o = rec.order;
  const f: FieldInit[] = [str(Tag.OrigClOrdID, o.clOrdID)];
  if (o.orderID) f.push(str(Tag.OrderID, o.orderID));
  f.push(str(Tag.ClOrdID, clOrdId));
  if (rec.account) f.push(str(Tag.Account, rec.account));
  f.push(str(Tag.Symbol, o.symbol), str(Tag.Side, o.side), str(Tag.TransactTime, formatUtcTimestamp(now)));
  f.push(str(Tag.OrderQty, o.orderQty));
  return { msgType: MsgType.OrderCancelRequest, fields: f };
}

export function replaceRequest(
  rec: OrderRecord,
  clOrdId: string,
  terms: { quantity: string; price?: string },
  now: number,
): { msgType: string; fields: FieldInit[] } {
  const o = rec.order;
  const f: FieldInit[] = [str(Tag.OrigClOrdID, o.clOrdID)];
  if (o.orderID) f.push(str(Tag.OrderID, o.orderID));
  f.push(str(Tag.ClOrdID, clOrdId));
  if (rec.account) f.push(str(Tag.Account, rec.account));
  handlInst(rec, f);
  f.push(str(Tag.Symbol, o.symbol), str(Tag.Side, o.side), str(Tag.TransactTime, formatUtcTimestamp(now)));
  f.push(str(Tag.OrderQty, terms.quantity), str(Tag.OrdType, o.ordType));
  if (terms.price !== undefined) f.push(str(Tag.Price, terms.price));
  if (rec.stopPrice !== undefined) f.push(str(Tag.StopPx, rec.stopPrice));
  if (o.timeInForce !== undefined && o.timeInForce !== "0") f.push(str(Tag.TimeInForce, o.timeInForce));
  return { msgType: MsgType.OrderCancelReplaceRequest, fields: f };
}
