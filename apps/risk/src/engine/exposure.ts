import type { OrderEvent, OrderSide, OrderStatusName } from "@fixmesh/bus";
import { Decimal } from "@fixmesh/orders";

/**
 * Positions and open exposure per account and symbol, following order-entry's order events:
 *
 * - a fill counts once per (session, ExecID), however often its event is redelivered or republished;
 * - a trade cancel or correction (ExecType H/G) sets the order's filled quantity to its CumQty;
 * - an order's open quantity is its LeavesQty while its status is not final; events older than the newest one
 *   seen for the order (by version) do not move it back;
 * - an order allowed by a check and not yet seen in an event is reserved (counted as open) until its first event
 *   arrives (matched by account and idempotency key) or the reservation expires — so two orders checked back to
 *   back cannot both use the same headroom.
 */

/** Final statuses: the order has nothing left open. */
const FINAL: ReadonlySet<OrderStatusName> = new Set<OrderStatusName>([
  "FILLED",
  "CANCELED",
  "REJECTED",
  "EXPIRED",
  "DONE_FOR_DAY",
  "STOPPED",
  "CALCULATED",
]);

/** ExecType(150) values that carry a trade: 4.4 Trade (F), 4.2 Partial fill (1) and Fill (2). */
const TRADE_EXEC_TYPES: ReadonlySet<string> = new Set(["F", "1", "2"]);
/** Trade Cancel (H) and Trade Correct (G): the order's CumQty, kept right by order-entry, becomes its filled total. */
const TRADE_AMEND_EXEC_TYPES: ReadonlySet<string> = new Set(["H", "G"]);

export type SideKey = "B" | "S";

export function sideKey(side: OrderSide | string): SideKey {
  return side === "BUY" ? "B" : "S";
}

interface Position {
  bought: Decimal;
  sold: Decimal;
  openBuy: Decimal;
  openSell: Decimal;
  openOrders: number;
}

interface OpenOrder {
  account: string;
  symbol: string;
  side: SideKey;
  version: number;
  /** Counted in its position's open quantity (0 when final). */
  open: Decimal;
  isOpen: boolean;
  cumQty: Decimal;
}

interface Reservation {
  key: string;
  account: string;
  symbol: string;
  side: SideKey;
  qty: Decimal;
  expiresAt: number;
}

export interface PositionView {
  account: string;
  symbol: string;
  /** Bought minus sold. */
  netQty: Decimal;
  boughtQty: Decimal;
  soldQty: Decimal;
  openBuyQty: Decimal;
  openSellQty: Decimal;
  openOrders: number;
}

export interface ApplyOutcome {
  /** A fill counted now. */
  filled: boolean;
  /** A fill already counted (same session and ExecID). */
  duplicateFill: boolean;
  /** An event older than the newest one of its order (its fill, if new, still counts). */
  stale: boolean;
}

/** What a new or replacing order would make of its account's and symbol's exposure. */
export interface Projection {
  openOrders: number;
  net: Decimal;
  openBuy: Decimal;
  openSell: Decimal;
  /** For a replace: the open quantity of the order being replaced (already in openBuy/openSell). */
  replacedOpen: Decimal;
  /** For a replace: the order's CumQty (the new quantity minus it is what stays open). */
  replacedCum: Decimal;
  replacedKnown: boolean;
}

export class ExposureBook {
  private readonly positions = new Map<string, Position>();
  private readonly orders = new Map<string, OpenOrder>();
  private readonly openByAccount = new Map<string, number>();
  private readonly execs = new Set<string>();
  /** What this book has counted as filled, per order (fills, then trade cancels and corrections). */
  private readonly filled = new Map<string, Decimal>();
  private readonly reservations = new Map<string, Reservation>();
  private fills = 0;
  private duplicates = 0;

  private position(account: string, symbol: string): Position {
    const key = `${account}\u0000${symbol}`;
    let p = this.positions.get(key);
    if (p === undefined) {
      p = { bought: Decimal.ZERO, sold: Decimal.ZERO, openBuy: Decimal.ZERO, openSell: Decimal.ZERO, openOrders: 0 };
      this.positions.set(key, p);
    }
    return p;
  }

  private countOpen(account: string, delta: number): void {
    this.openByAccount.set(account, (this.openByAccount.get(account) ?? 0) + delta);
  }

  private addOpen(p: Position, side: SideKey, qty: Decimal, orders: number): void {
    if (side === "B") p.openBuy = p.openBuy.add(qty);
    else p.openSell = p.openSell.add(qty);
    p.openOrders += orders;
  }

  applyOrderEvent(ev: OrderEvent): ApplyOutcome {
    const o = ev.order;
    const side = sideKey(o.side);
    const out: ApplyOutcome = { filled: false, duplicateFill: false, stale: false };
    const x = ev.execution;
    if (x !== undefined && x.execId !== "" && TRADE_EXEC_TYPES.has(x.execType)) {
      const qty = Decimal.parse(x.lastQty);
      if (qty?.isPositive()) {
        const key = `${o.sessionId}\u0000${x.execId}`;
        if (this.execs.has(key)) {
          out.duplicateFill = true;
          this.duplicates++;
        } else {
          this.execs.add(key);
          this.addFilled(o.orderId, o.account, o.symbol, side, qty);
          out.filled = true;
          this.fills++;
        }
      }
    }
    if (o.idempotencyKey !== undefined && o.idempotencyKey !== "") this.release(o.account, o.idempotencyKey);

    const prev = this.orders.get(o.orderId);
    if (prev !== undefined && prev.version >= ev.version) {
      out.stale = true;
      return out;
    }
    if (x !== undefined && TRADE_AMEND_EXEC_TYPES.has(x.execType)) {
      // A bust or correction has no quantity of its own to add: the order's CumQty after it is the truth. Events
      // of one order arrive in version order (one subject, one consumer), so every fill before it is counted.
      const cum = Decimal.parse(o.cumQty);
      if (cum !== undefined) {
        const delta = cum.sub(this.filled.get(o.orderId) ?? Decimal.ZERO);
        if (!delta.isZero()) this.addFilled(o.orderId, o.account, o.symbol, side, delta);
      }
    }
    const leaves = Decimal.parse(o.leavesQty) ?? Decimal.ZERO;
    const isOpen = !FINAL.has(o.status) && leaves.isPositive();
    const open = isOpen ? leaves : Decimal.ZERO;
    const p = this.position(o.account, o.symbol);
    if (prev !== undefined) {
      this.addOpen(p, prev.side, prev.open.neg(), prev.isOpen ? -1 : 0);
      if (prev.isOpen) this.countOpen(prev.account, -1);
    }
    this.addOpen(p, side, open, isOpen ? 1 : 0);
    if (isOpen) this.countOpen(o.account, 1);
    this.orders.set(o.orderId, {
      account: o.account,
      symbol: o.symbol,
      side,
      version: ev.version,
      open,
      isOpen,
      cumQty: Decimal.parse(o.cumQty) ?? Decimal.ZERO,
    });
    return out;
  }

  private addFilled(orderId: string, account: string, symbol: string, side: SideKey, qty: Decimal): void {
    this.filled.set(orderId, (this.filled.get(orderId) ?? Decimal.ZERO).add(qty));
    const p = this.position(account, symbol);
    if (side === "B") p.bought = p.bought.add(qty);
    else p.sold = p.sold.add(qty);
  }

  /** Counts an allowed order as open until its first event arrives or `expiresAt` passes. */
  reserve(account: string, key: string, symbol: string, side: SideKey, qty: Decimal, expiresAt: number): void {
    const k = `${account}\u0000${key}`;
    if (this.reservations.has(k)) return;
    this.reservations.set(k, { key: k, account, symbol, side, qty, expiresAt });
    this.addOpen(this.position(account, symbol), side, qty, 1);
    this.countOpen(account, 1);
  }

  private release(account: string, key: string): void {
    const k = `${account}\u0000${key}`;
    const r = this.reservations.get(k);
    if (r === undefined) return;
    this.drop(r);
  }

  private drop(r: Reservation): void {
    this.reservations.delete(r.key);
    this.addOpen(this.position(r.account, r.symbol), r.side, r.qty.neg(), -1);
    this.countOpen(r.account, -1);
  }

  /** Drops the reservations that expired by `now` (oldest first: they expire in the order they were made). */
  expire(now: number): void {
    for (const r of this.reservations.values()) {
      if (r.expiresAt > now) break;
      this.drop(r);
    }
  }

  project(account: string, symbol: string, replacing?: string): Projection {
    const p = this.positions.get(`${account}\u0000${symbol}`);
    const r = replacing === undefined ? undefined : this.orders.get(replacing);
    return {
      openOrders: this.openByAccount.get(account) ?? 0,
      net: p === undefined ? Decimal.ZERO : p.bought.sub(p.sold),
      openBuy: p?.openBuy ?? Decimal.ZERO,
      openSell: p?.openSell ?? Decimal.ZERO,
      replacedOpen: r?.open ?? Decimal.ZERO,
      replacedCum: r?.cumQty ?? Decimal.ZERO,
      replacedKnown: r !== undefined && r.account === account && r.symbol === symbol,
    };
  }

  positionsOf(filter: { account?: string; symbol?: string } = {}): PositionView[] {
    const out: PositionView[] = [];
    for (const [key, p] of this.positions) {
      const [account, symbol] = key.split("\u0000");
      if (filter.account && filter.account !== account) continue;
      if (filter.symbol && filter.symbol !== symbol) continue;
      out.push({
        account,
        symbol,
        netQty: p.bought.sub(p.sold),
        boughtQty: p.bought,
        soldQty: p.sold,
        openBuyQty: p.openBuy,
        openSellQty: p.openSell,
        openOrders: p.openOrders,
      });
    }
    return out.sort((a, b) => (a.account === b.account ? cmp(a.symbol, b.symbol) : cmp(a.account, b.account)));
  }

  stats(): { fills: number; duplicateFills: number; orders: number; reservations: number } {
    return {
      fills: this.fills,
      duplicateFills: this.duplicates,
      orders: this.orders.size,
      reservations: this.reservations.size,
    };
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
