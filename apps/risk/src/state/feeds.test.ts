import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Delivered } from "@fixmesh/bus";
import { RiskEngine } from "../engine/engine.js";
import { orderEvent } from "../engine/testkit.js";
import { applyOrderBatch, type FeedStats } from "./feeds.js";

function delivered(payload: unknown, seq: number): Delivered {
  return { id: `e${seq}`, subject: "orders.S.ACC1", payload: Buffer.from(JSON.stringify(payload)), seq };
}

describe("order feed", () => {
  it("a batch delivered twice (redelivery after a lost ack) moves positions once", () => {
    const engine = new RiskEngine();
    const stats: FeedStats = { orderEvents: 0, fills: 0, duplicateFills: 0, unreadable: 0, stateEvents: 0 };
    const batch = [
      delivered(orderEvent({ orderId: "O1", version: 1, status: "NEW", leavesQty: "100" }), 1),
      delivered(
        orderEvent({
          orderId: "O1",
          version: 2,
          status: "PARTIALLY_FILLED",
          cumQty: "60",
          leavesQty: "40",
          fill: { execId: "X1", lastQty: "60" },
        }),
        2,
      ),
    ];
    applyOrderBatch(engine, batch, stats);
    applyOrderBatch(engine, batch, stats);
    const [p] = engine.exposure.positionsOf({});
    assert.deepEqual([p.boughtQty.toString(), p.openBuyQty.toString(), p.openOrders], ["60", "40", 1]);
    assert.deepEqual([stats.fills, stats.duplicateFills], [1, 1]);
  });

  it("skips an unreadable event, counting it, and applies the rest of the batch", () => {
    const engine = new RiskEngine();
    const stats: FeedStats = { orderEvents: 0, fills: 0, duplicateFills: 0, unreadable: 0, stateEvents: 0 };
    const bad: Delivered = { id: "x", subject: "orders.S.A", payload: Buffer.from("{not json"), seq: 1 };
    const wrong = delivered({ hello: "world" }, 2);
    const good = delivered(
      orderEvent({
        orderId: "O2",
        version: 1,
        status: "FILLED",
        cumQty: "5",
        leavesQty: "0",
        fill: { execId: "X9", lastQty: "5" },
      }),
      3,
    );
    applyOrderBatch(engine, [bad, wrong, good], stats);
    assert.equal(stats.unreadable, 2);
    assert.equal(engine.exposure.positionsOf({})[0].boughtQty.toString(), "5");
  });
});
