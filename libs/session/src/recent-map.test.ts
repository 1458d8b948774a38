import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RecentMap } from "./recent-map.js";

describe("RecentMap", () => {
  it("holds every one of the max most recently used keys, and at most 2 × max", () => {
    const m = new RecentMap<number, number>(100);
    const uses: number[] = []; // every set or successful get, in order
    for (let i = 0; i < 5_000; i++) {
      m.set(i, i * 2);
      uses.push(i);
      if (i % 7 === 0) {
        const k = Math.max(0, i - 60);
        if (m.get(k) !== undefined) uses.push(k);
      }
      assert.ok(m.size <= 200, `size ${m.size} after ${i + 1}`);
      if (i % 97 === 0 || i > 4_990) {
        const recent = new Set<number>();
        for (let u = uses.length - 1; u >= 0 && recent.size < 100; u--) recent.add(uses[u] as number);
        for (const k of recent) assert.equal(m.peek(k), k * 2, `key ${k} after ${i + 1}`);
      }
    }
  });

  it("a read refreshes a key: read keys outlive keys set after them but not read", () => {
    const m = new RecentMap<string, string>(2);
    m.set("a", "A");
    m.set("b", "B");
    assert.equal(m.get("a"), "A");
    m.set("c", "C");
    assert.equal(m.get("b"), undefined, "b was the least recently used");
    assert.equal(m.get("a"), "A");
    assert.equal(m.get("c"), "C");
  });

  it("peek does not refresh; set replaces; delete removes from either generation", () => {
    const m = new RecentMap<string, number>(2);
    m.set("a", 1);
    m.set("b", 2); // rotated: a and b are the old generation
    assert.equal(m.peek("a"), 1);
    m.set("c", 3);
    m.set("d", 4); // rotated again: a and b dropped (peek did not keep a)
    assert.equal(m.has("a"), false);
    m.set("c", 30);
    assert.equal(m.get("c"), 30);
    assert.equal(m.delete("d"), true);
    assert.equal(m.delete("d"), false);
    assert.equal(m.has("d"), false);
    assert.equal(m.size, 1);
    m.clear();
    assert.equal(m.size, 0);
  });

  it("refuses a bound below 1", () => {
    assert.throws(() => new RecentMap(0), /max must be at least 1/);
  });
});
