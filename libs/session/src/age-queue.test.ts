import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AgeQueue } from "./age-queue.js";

describe("AgeQueue", () => {
  it("gives keys back oldest first with their times, across compactions", () => {
    const q = new AgeQueue<string>();
    assert.equal(q.length, 0);
    assert.equal(q.oldestKey, undefined);
    assert.ok(Number.isNaN(q.oldestAt));
    q.shift(); // nothing to drop
    let next = 0;
    for (let i = 0; i < 10_000; i++) {
      q.push(`k${i}`, i * 2);
      // Drop two of every three pushed: the head passes the compaction point many times.
      if (i % 3 !== 0) {
        assert.equal(q.oldestKey, `k${next}`);
        assert.equal(q.oldestAt, next * 2);
        q.shift();
        next++;
      }
    }
    assert.equal(q.length, 10_000 - next);
    while (q.length > 0) {
      assert.equal(q.oldestKey, `k${next}`);
      q.shift();
      next++;
    }
    assert.equal(next, 10_000);
    assert.equal(q.oldestKey, undefined);
  });
});
