import type { Side } from "./order.js";

/** What the book needs of an order. */
export interface BookOrder {
  readonly side: Side;
  /** Undefined for a market order (it never rests). */
  readonly price: number | undefined;
  /** Time priority: lower goes first at the same price. */
  readonly priority: number;
}

/**
 * A price-time order book of one symbol: bids best (highest) first, asks best (lowest) first, and within a price
 * the earliest priority first. The book only orders and crosses; quantities live in the orders and are read
 * through `leaves`, and the caller applies each trade.
 */
export class OrderBook<T extends BookOrder> {
  private readonly bids: T[] = [];
  private readonly asks: T[] = [];

  constructor(private readonly leaves: (o: T) => number) {}

  /** Rests a limit order. */
  add(o: T): void {
    if (o.price === undefined) throw new Error("a market order cannot rest in the book");
    const list = o.side === "buy" ? this.bids : this.asks;
    let i = list.length;
    while (i > 0 && ahead(o, list[i - 1])) i--;
    list.splice(i, 0, o);
  }

  remove(o: T): boolean {
    const list = o.side === "buy" ? this.bids : this.asks;
    const i = list.indexOf(o);
    if (i < 0) return false;
    list.splice(i, 1);
    return true;
  }

  has(o: T): boolean {
    return (o.side === "buy" ? this.bids : this.asks).includes(o);
  }

  /**
   * Crosses `aggressor` against the other side, best price first, while it has quantity left and the best resting
   * order's price satisfies its limit (a market order takes any price). Each trade is at the resting order's price;
   * `trade` must reduce both orders' leaves by `qty`. Filled resting orders leave the book.
   */
  match(aggressor: T, trade: (resting: T, qty: number, price: number) => void): void {
    const other = aggressor.side === "buy" ? this.asks : this.bids;
    while (this.leaves(aggressor) > 0 && other.length > 0) {
      const best = other[0];
      if (!crosses(aggressor, best)) break;
      const qty = Math.min(this.leaves(aggressor), this.leaves(best));
      trade(best, qty, best.price as number);
      // `trade` may already have taken a filled order out of the book.
      if (other[0] === best && this.leaves(best) <= 0) other.shift();
    }
  }

  /** The quantity `aggressor` could trade now (for fill-or-kill). */
  available(aggressor: T): number {
    const other = aggressor.side === "buy" ? this.asks : this.bids;
    let q = 0;
    for (const o of other) {
      if (!crosses(aggressor, o)) break;
      q += this.leaves(o);
    }
    return q;
  }

  /** The resting orders, best first on each side. */
  snapshot(): { bids: readonly T[]; asks: readonly T[] } {
    return { bids: [...this.bids], asks: [...this.asks] };
  }
}

/** Whether `a` goes before `b` on their (same) side. */
function ahead(a: BookOrder, b: BookOrder): boolean {
  const pa = a.price as number;
  const pb = b.price as number;
  if (pa !== pb) return a.side === "buy" ? pa > pb : pa < pb;
  return a.priority < b.priority;
}

function crosses(aggressor: BookOrder, resting: BookOrder): boolean {
  if (aggressor.price === undefined) return true;
  const p = resting.price as number;
  return aggressor.side === "buy" ? p <= aggressor.price : p >= aggressor.price;
}
