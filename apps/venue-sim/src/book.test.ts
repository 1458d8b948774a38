import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OrderBook } from "./book.js";
import type { Side } from "./order.js";

interface O {
  id: string;
  side: Side;
  price: number | undefined;
  priority: number;
  leaves: number;
}

let prio = 0;
const o = (id: string, side: Side, leaves: number, price?: number): O => ({
  id,
  side,
  price,
  priority: ++prio,
  leaves,
});

function trades(book: OrderBook<O>, aggressor: O): Array<[string, number, number]> {
  const out: Array<[string, number, number]> = [];
  book.match(aggressor, (resting, qty, price) => {
    resting.leaves -= qty;
    aggressor.leaves -= qty;
    out.push([resting.id, qty, price]);
  });
  return out;
}

describe("order book", () => {
  it("matches best price first, then earliest at the same price, each trade at the resting price", () => {
    const book = new OrderBook<O>((x) => x.leaves);
    book.add(o("a1", "sell", 10, 101));
    book.add(o("a2", "sell", 10, 100));
    book.add(o("a3", "sell", 10, 100));
    assert.deepEqual(trades(book, o("b", "buy", 25, 101)), [
      ["a2", 10, 100],
      ["a3", 10, 100],
      ["a1", 5, 101],
    ]);
    assert.deepEqual(
      book.snapshot().asks.map((x) => [x.id, x.leaves]),
      [["a1", 5]],
    );
  });

  it("stops at the limit price: an order that does not cross trades nothing", () => {
    const book = new OrderBook<O>((x) => x.leaves);
    book.add(o("b1", "buy", 10, 99));
    book.add(o("b2", "buy", 10, 98));
    assert.deepEqual(trades(book, o("s", "sell", 30, 99)), [["b1", 10, 99]]);
    assert.deepEqual(trades(book, o("s2", "sell", 5, 98.5)), []);
    assert.deepEqual(
      book.snapshot().bids.map((x) => x.id),
      ["b2"],
    );
  });

  it("a market order takes any price; available() sums what an order could trade", () => {
    const book = new OrderBook<O>((x) => x.leaves);
    book.add(o("a1", "sell", 10, 100));
    book.add(o("a2", "sell", 10, 200));
    assert.equal(book.available(o("x", "buy", 1, 150)), 10);
    assert.equal(book.available(o("m", "buy", 1)), 20);
    assert.deepEqual(trades(book, o("m", "buy", 15)), [
      ["a1", 10, 100],
      ["a2", 5, 200],
    ]);
  });

  it("tolerates a trade callback that takes the filled resting order out itself", () => {
    const book = new OrderBook<O>((x) => x.leaves);
    const a1 = o("a1", "sell", 10, 100);
    const a2 = o("a2", "sell", 10, 100);
    book.add(a1);
    book.add(a2);
    const agg = o("b", "buy", 10, 100);
    book.match(agg, (resting, qty) => {
      resting.leaves -= qty;
      agg.leaves -= qty;
      if (resting.leaves === 0) book.remove(resting);
    });
    assert.deepEqual(
      book.snapshot().asks.map((x) => x.id),
      ["a2"],
    );
  });
});
