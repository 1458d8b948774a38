import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clone, step } from "./record.js";
import { testRecord } from "./record.testkit.js";

const T0 = Date.UTC(2026, 10, 27, 9, 0, 0);

function filledRecord() {
  const rec = testRecord({ orderId: "o-1", clOrdId: "20261127-1", idempotencyKey: "k-1" }, 1, T0);
  const sent = step(rec, { type: "sent", msgSeqNum: 7 }, T0 + 1).record;
  assert.ok(sent);
  const fill = step(
    sent,
    {
      type: "report",
      report: {
        session: "FIX.4.4:CLIENT->VENUE",
        execID: "E1",
        clOrdID: "20261127-1",
        orderID: "V1",
        execType: "F",
        ordStatus: "1",
        orderQty: "100",
        cumQty: "40",
        leavesQty: "60",
        avgPx: "10",
        lastQty: "40",
        lastPx: "10",
        transactTime: T0 + 2,
      },
      msgSeqNum: 3,
    },
    T0 + 2,
  ).record;
  assert.ok(fill);
  return fill;
}

describe("order record copy", () => {
  it("copies a record to what a JSON round trip gives, sharing nothing with the original", () => {
    const rec = filledRecord();
    assert.ok(rec.executions.length > 0 && rec.order.facts.executions.length > 0, "a record with a fill");
    const copy = clone(rec);
    assert.deepEqual(copy, JSON.parse(JSON.stringify(rec)));
    copy.order.chain.push("other");
    copy.executions[0]!.lastQty = "0";
    copy.order.facts.orderIDs.push("V2");
    assert.deepEqual(rec.order.chain, ["20261127-1"]);
    assert.equal(rec.executions[0]!.lastQty, "40");
    assert.deepEqual(rec.order.facts.orderIDs, ["V1"]);
  });

  it("leaves out properties set to undefined, as the stored JSON does", () => {
    const copy = clone({ a: 1, b: undefined, c: { d: undefined, e: [1, { f: "x" }] } });
    assert.deepEqual(Object.keys(copy), ["a", "c"]);
    assert.deepEqual(copy.c, { e: [1, { f: "x" }] });
  });
});
