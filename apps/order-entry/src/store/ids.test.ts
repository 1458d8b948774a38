import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clOrdIdOf, newOrderId, tradeDate } from "./ids.js";

describe("identifiers", () => {
  it("gives the UTC trading date of every instant, across midnight and back", () => {
    const midnight = Date.UTC(2026, 10, 28);
    assert.equal(tradeDate(midnight - 1), "20261127");
    assert.equal(tradeDate(midnight), "20261128");
    assert.equal(tradeDate(midnight - 1), "20261127");
    assert.equal(tradeDate(Date.UTC(2027, 0, 1, 23, 59, 59, 999)), "20270101");
    assert.equal(tradeDate(Date.UTC(2026, 10, 27, 12)), "20261127");
    assert.equal(clOrdIdOf(midnight + 5, 35), "20261128-z");
  });

  it("makes order ids that do not repeat, 64 random bits after the time", () => {
    const now = Date.UTC(2026, 10, 27, 9);
    const ids = Array.from({ length: 20_000 }, () => newOrderId(now));
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids.slice(0, 600)) assert.match(id, new RegExp(`^o-${now.toString(36)}-[0-9a-f]{16}$`));
  });
});
