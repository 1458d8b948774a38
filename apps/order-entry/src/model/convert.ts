/**
 * The two vocabularies of an order: FIX (chars, as libs/orders keeps them) and the contracts (proto enums, and the
 * enum names order events carry). Converted here, once.
 */

import type { OrderSide, OrderStatusName, OrderTypeName, TimeInForceName } from "@fixmesh/bus";
import { OrderStatus, OrderType, Side, TimeInForce } from "@fixmesh/contracts";
import { OrdStatus } from "@fixmesh/orders";

/** Side(54). */
export const SIDE_TO_FIX: Readonly<Record<number, string>> = {
  [Side.BUY]: "1",
  [Side.SELL]: "2",
  [Side.SELL_SHORT]: "5",
};
/** OrdType(40). */
export const ORDER_TYPE_TO_FIX: Readonly<Record<number, string>> = {
  [OrderType.MARKET]: "1",
  [OrderType.LIMIT]: "2",
  [OrderType.STOP]: "3",
  [OrderType.STOP_LIMIT]: "4",
};
/** TimeInForce(59); unspecified is DAY (FIX's own default). */
export const TIF_TO_FIX: Readonly<Record<number, string>> = {
  [TimeInForce.UNSPECIFIED]: "0",
  [TimeInForce.DAY]: "0",
  [TimeInForce.GTC]: "1",
  [TimeInForce.IOC]: "3",
  [TimeInForce.FOK]: "4",
  [TimeInForce.GTD]: "6",
};

function invert(m: Readonly<Record<number, string>>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of Object.entries(m)) if (!out.has(v) || Number(k) !== 0) out.set(v, Number(k));
  return out;
}
const SIDE_FROM_FIX = invert(SIDE_TO_FIX);
const ORDER_TYPE_FROM_FIX = invert(ORDER_TYPE_TO_FIX);
const TIF_FROM_FIX = invert(TIF_TO_FIX);

export function sideFromFix(s: string): Side {
  return (SIDE_FROM_FIX.get(s) as Side | undefined) ?? Side.UNSPECIFIED;
}
export function orderTypeFromFix(s: string): OrderType {
  return (ORDER_TYPE_FROM_FIX.get(s) as OrderType | undefined) ?? OrderType.UNSPECIFIED;
}
export function tifFromFix(s: string | undefined): TimeInForce {
  return (TIF_FROM_FIX.get(s ?? "0") as TimeInForce | undefined) ?? TimeInForce.DAY;
}

const STATUS_FROM_FIX: Readonly<Record<string, OrderStatus>> = {
  [OrdStatus.New]: OrderStatus.NEW,
  [OrdStatus.PartiallyFilled]: OrderStatus.PARTIALLY_FILLED,
  [OrdStatus.Filled]: OrderStatus.FILLED,
  [OrdStatus.DoneForDay]: OrderStatus.DONE_FOR_DAY,
  [OrdStatus.Canceled]: OrderStatus.CANCELED,
  [OrdStatus.Replaced]: OrderStatus.REPLACED,
  [OrdStatus.PendingCancel]: OrderStatus.PENDING_CANCEL,
  [OrdStatus.Stopped]: OrderStatus.STOPPED,
  [OrdStatus.Rejected]: OrderStatus.REJECTED,
  [OrdStatus.Suspended]: OrderStatus.SUSPENDED,
  [OrdStatus.PendingNew]: OrderStatus.PENDING_NEW,
  [OrdStatus.Calculated]: OrderStatus.CALCULATED,
  [OrdStatus.Expired]: OrderStatus.EXPIRED,
  [OrdStatus.AcceptedForBidding]: OrderStatus.ACCEPTED_FOR_BIDDING,
  [OrdStatus.PendingReplace]: OrderStatus.PENDING_REPLACE,
};

export function statusFromFix(s: string): OrderStatus {
  return STATUS_FROM_FIX[s] ?? OrderStatus.UNSPECIFIED;
}

/** The enum's name without its prefix, as events carry it (`PARTIALLY_FILLED`). */
export function statusName(s: OrderStatus): OrderStatusName {
  return OrderStatus[s] as OrderStatusName;
}
export function statusFromName(n: string): OrderStatus {
  return (OrderStatus as unknown as Record<string, OrderStatus>)[n] ?? OrderStatus.UNSPECIFIED;
}
export function sideName(s: Side): OrderSide {
  return Side[s] as OrderSide;
}
export function orderTypeName(t: OrderType): OrderTypeName {
  return OrderType[t] as OrderTypeName;
}
export function tifName(t: TimeInForce): TimeInForceName {
  return TimeInForce[t] as TimeInForceName;
}
export function sideFromName(n: string): Side {
  return (Side as unknown as Record<string, Side>)[n] ?? Side.UNSPECIFIED;
}
export function orderTypeFromName(n: string): OrderType {
  return (OrderType as unknown as Record<string, OrderType>)[n] ?? OrderType.UNSPECIFIED;
}
export function tifFromName(n: string): TimeInForce {
  return (TimeInForce as unknown as Record<string, TimeInForce>)[n] ?? TimeInForce.DAY;
}
