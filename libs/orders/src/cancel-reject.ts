/**
 * The OrderCancelReject (35=9): the venue refuses one of our cancel or cancel/replace requests. It names the request
 * by its ClOrdID and carries the order's status as the venue sees it; it has no ExecID, so dedupe is by
 * (session, ClOrdID of the request) — a request is refused at most once.
 */
import { type FixMessage, MsgType, parseUtcTimestamp, Tag } from "@fixmesh/fix";
import { MalformedMessageError } from "./errors.js";

/** CxlRejResponseTo(434). */
export const CxlRejResponseTo = {
  CancelRequest: "1",
  CancelReplaceRequest: "2",
} as const;
export type CxlRejResponseTo = (typeof CxlRejResponseTo)[keyof typeof CxlRejResponseTo];

export interface OrderCancelReject {
  session: string;
  /** ClOrdID(11): the refused request's. */
  clOrdID: string;
  /** OrigClOrdID(41): the order's ClOrdID the request referred to. */
  origClOrdID?: string;
  orderID?: string;
  /** OrdStatus(39): the order's status after the refusal, as the venue sees it. */
  ordStatus?: string;
  cxlRejResponseTo?: string;
  /** CxlRejReason(102): 0 too late to cancel, 1 unknown order, 3 already pending, … */
  cxlRejReason?: string;
  text?: string;
  transactTime?: number;
  possDup?: boolean;
  possResend?: boolean;
}

/** Reads an OrderCancelReject; throws `MalformedMessageError` when it is not one or has no ClOrdID. */
export function cancelRejectFrom(msg: FixMessage, session: string): OrderCancelReject {
  if (msg.msgType !== MsgType.OrderCancelReject) throw new MalformedMessageError(msg.msgType, Tag.MsgType, "is not 9");
  const clOrdID = msg.get(Tag.ClOrdID);
  if (!clOrdID) throw new MalformedMessageError(msg.msgType, Tag.ClOrdID, "is missing");
  const r: OrderCancelReject = { session, clOrdID };
  const optional: Array<[keyof OrderCancelReject, number]> = [
    ["origClOrdID", Tag.OrigClOrdID],
    ["orderID", Tag.OrderID],
    ["ordStatus", Tag.OrdStatus],
    ["cxlRejResponseTo", Tag.CxlRejResponseTo],
    ["cxlRejReason", Tag.CxlRejReason],
    ["text", Tag.Text],
  ];
  const target = r as unknown as Record<string, string>;
  for (const [key, tag] of optional) {
    const v = msg.get(tag);
    if (v !== undefined) target[key] = v;
  }
  const tt = msg.get(Tag.TransactTime);
  if (tt !== undefined) {
    const ms = parseUtcTimestamp(tt);
    if (Number.isNaN(ms)) throw new MalformedMessageError(msg.msgType, Tag.TransactTime, "is not a UTCTimestamp");
    r.transactTime = ms;
  }
  if (msg.flag(Tag.PossDupFlag)) r.possDup = true;
  if (msg.flag(Tag.PossResend)) r.possResend = true;
  return r;
}
