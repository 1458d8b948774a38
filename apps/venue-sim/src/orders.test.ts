import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { FixMessage } from "@fixmesh/fix";
import type { VenueSimConfigInput } from "./config.js";
import { startVenueSim, type VenueSim } from "./sim.js";
import {
  cancelRequest,
  MsgType,
  newOrder,
  replaceRequest,
  startClient,
  statusRequest,
  Tag,
  type TestClient,
} from "./testing/client.js";

const VERSIONS = ["FIX.4.2", "FIX.4.4"] as const;
type Version = (typeof VERSIONS)[number];
const short = (v: Version) => (v === "FIX.4.2" ? "42" : "44");

// One venue for the whole file, one client per version and a drop-copy client; each test has its own ClOrdIDs
// and (for the book) its own symbols, so the tests do not see each other's orders.
const symbols: NonNullable<VenueSimConfigInput["symbols"]> = {
  IBM: { referencePrice: 100, priceBandPercent: 10, maxQuantity: 10_000 },
  BAD: { restricted: true },
  LAT: { latency: 80 },
};
for (const v of VERSIONS) {
  const s = short(v);
  symbols[`PART${s}`] = { fill: "partial(3)" };
  symbols[`BOOK${s}`] = { fill: "book", referencePrice: 10, priceBandPercent: 50 };
  symbols[`MKT${s}`] = { fill: "book" };
  symbols[`PEND${s}`] = { fill: "book", pendingStates: true };
  symbols[`EXP${s}`] = { fill: "book", unsolicitedCancelAfterMs: 100 };
}

let venue: VenueSim;
const clients = new Map<Version, TestClient>();
let dropCopy: TestClient;

before(async () => {
  venue = await startVenueSim({
    listen: { port: 0 },
    sessions: [
      { BeginString: "FIX.4.2", SenderCompID: "VENUE", TargetCompID: "C42" },
      { BeginString: "FIX.4.4", SenderCompID: "VENUE", TargetCompID: "C44" },
    ],
    dropCopy: { BeginString: "FIX.4.4", SenderCompID: "VENUE", TargetCompID: "DROP" },
    symbols,
  });
  for (const v of VERSIONS) clients.set(v, await startClient(venue.port, { beginString: v, sender: `C${short(v)}` }));
  dropCopy = await startClient(venue.port, { beginString: "FIX.4.4", sender: "DROP" });
  await Promise.all([...clients.values(), dropCopy].map((c) => c.waitLive()));
});

after(async () => {
  await Promise.all([...clients.values(), dropCopy].map((c) => c.stop()));
  await venue.stop();
});

/** Waits for `n` reports about `clOrdId` and returns them. */
async function reports(c: TestClient, clOrdId: string, n: number): Promise<FixMessage[]> {
  await c.waitFor(() => c.about(clOrdId).length >= n, `${n} reports about ${clOrdId}`);
  return c.about(clOrdId);
}

const g = (m: FixMessage, tag: number) => m.get(tag);
const num = (m: FixMessage, tag: number) => Number(m.get(tag));

for (const v of VERSIONS) {
  const s = short(v);
  const fix42 = v === "FIX.4.2";
  const id = (name: string) => `${s}-${name}`;

  describe(`${v} order flow`, () => {
    const c = () => clients.get(v) as TestClient;
    const other = () => clients.get(v === "FIX.4.2" ? "FIX.4.4" : "FIX.4.2") as TestClient;

    it("immediate fill: New, then one fill of the whole quantity at the limit price", async () => {
      await c().send(MsgType.NewOrderSingle, newOrder({ clOrdId: id("imm"), symbol: "IBM", qty: 100, price: 100.5 }));
      const [ack, fill] = await reports(c(), id("imm"), 2);
      assert.equal(ack.msgType, MsgType.ExecutionReport);
      assert.deepEqual(
        [g(ack, Tag.ExecType), g(ack, Tag.OrdStatus), g(ack, Tag.CumQty), g(ack, Tag.LeavesQty), g(ack, Tag.AvgPx)],
        ["0", "0", "0", "100", "0"],
      );
      assert.equal(g(ack, Tag.ExecTransType), fix42 ? "0" : undefined, "ExecTransType only in FIX 4.2");
      assert.deepEqual(
        [g(fill, Tag.ExecType), g(fill, Tag.OrdStatus), g(fill, Tag.LastQty), g(fill, Tag.LastPx)],
        [fix42 ? "2" : "F", "2", "100", "100.5"],
      );
      assert.deepEqual([g(fill, Tag.CumQty), g(fill, Tag.LeavesQty), g(fill, Tag.AvgPx)], ["100", "0", "100.5"]);
      assert.equal(g(fill, Tag.ExecTransType), fix42 ? "0" : undefined);
      assert.equal(g(ack, Tag.OrderID), g(fill, Tag.OrderID));
      assert.notEqual(g(ack, Tag.ExecID), g(fill, Tag.ExecID));
    });

    it("partial(3): New, then 3 fills whose LastQty add up to the order quantity", async () => {
      await c().send(
        MsgType.NewOrderSingle,
        newOrder({ clOrdId: id("part"), symbol: `PART${s}`, qty: 100, price: 10 }),
      );
      const [ack, ...fills] = await reports(c(), id("part"), 4);
      assert.equal(g(ack, Tag.ExecType), "0");
      assert.deepEqual(
        fills.map((m) => g(m, Tag.ExecType)),
        fix42 ? ["1", "1", "2"] : ["F", "F", "F"],
      );
      assert.deepEqual(
        fills.map((m) => g(m, Tag.OrdStatus)),
        ["1", "1", "2"],
      );
      let cum = 0;
      for (const f of fills) {
        cum += num(f, Tag.LastQty);
        assert.equal(num(f, Tag.CumQty), cum, "CumQty is the sum of the LastQty so far");
        assert.equal(num(f, Tag.LeavesQty), 100 - cum, "LeavesQty = OrderQty - CumQty");
        assert.equal(num(f, Tag.AvgPx), 10);
        assert.equal(num(f, Tag.LastPx), 10);
      }
      assert.equal(cum, 100);
    });

    it("book: a crossing order from the other client trades at the resting price; the rest stays in the book", async () => {
      const sym = `BOOK${s}`;
      await c().send(
        MsgType.NewOrderSingle,
        newOrder({ clOrdId: id("ask"), symbol: sym, side: "2", qty: 100, price: 10 }),
      );
      const [restAck] = await reports(c(), id("ask"), 1);
      assert.equal(g(restAck, Tag.OrdStatus), "0");
      assert.equal(venue.book(sym).asks[0]?.leavesQty, 100);
      const buyer = other();
      await buyer.send(
        MsgType.NewOrderSingle,
        newOrder({ clOrdId: id("bid"), symbol: sym, side: "1", qty: 60, price: 11 }),
      );
      const [bidAck, bidFill] = await reports(buyer, id("bid"), 2);
      assert.equal(g(bidAck, Tag.ExecType), "0");
      assert.deepEqual(
        [g(bidFill, Tag.OrdStatus), g(bidFill, Tag.LastQty), g(bidFill, Tag.LastPx), g(bidFill, Tag.LeavesQty)],
        ["2", "60", "10", "0"],
      );
      const [, askFill] = await reports(c(), id("ask"), 2);
      assert.deepEqual(
        [g(askFill, Tag.ExecType), g(askFill, Tag.OrdStatus), g(askFill, Tag.LastQty), g(askFill, Tag.LeavesQty)],
        [fix42 ? "1" : "F", "1", "60", "40"],
      );
      assert.deepEqual(
        venue.book(sym).asks.map((a) => [a.clOrdId, a.price, a.leavesQty]),
        [[id("ask"), 10, 40]],
      );
      assert.equal(venue.book(sym).bids.length, 0);
    });

    it("book: a market order takes liquidity level by level and its unfilled rest is canceled", async () => {
      const sym = `MKT${s}`;
      await c().send(
        MsgType.NewOrderSingle,
        newOrder({ clOrdId: id("s1"), symbol: sym, side: "2", qty: 30, price: 21 }),
      );
      await c().send(
        MsgType.NewOrderSingle,
        newOrder({ clOrdId: id("s2"), symbol: sym, side: "2", qty: 30, price: 20 }),
      );
      await reports(c(), id("s2"), 1);
      await c().send(MsgType.NewOrderSingle, newOrder({ clOrdId: id("mkt"), symbol: sym, side: "1", qty: 100 }));
      const r = await reports(c(), id("mkt"), 4);
      assert.deepEqual(
        r.map((m) => [g(m, Tag.ExecType), g(m, Tag.LastQty), g(m, Tag.LastPx), g(m, Tag.OrdStatus)]),
        [
          ["0", undefined, undefined, "0"],
          [fix42 ? "1" : "F", "30", "20", "1"],
          [fix42 ? "1" : "F", "30", "21", "1"],
          ["4", undefined, undefined, "4"],
        ],
      );
      assert.deepEqual([g(r[3], Tag.CumQty), g(r[3], Tag.LeavesQty), g(r[3], Tag.AvgPx)], ["60", "0", "20.5"]);
      assert.match(g(r[3], Tag.Text) ?? "", /no more liquidity/);
    });

    it("rejects an order in a restricted symbol: ExecType=8, OrdStatus=8, OrdRejReason 0 and a Text", async () => {
      await c().send(MsgType.NewOrderSingle, newOrder({ clOrdId: id("restr"), symbol: "BAD", qty: 1, price: 1 }));
      const [rej] = await reports(c(), id("restr"), 1);
      assert.deepEqual(
        [g(rej, Tag.ExecType), g(rej, Tag.OrdStatus), g(rej, Tag.OrdRejReason), g(rej, Tag.LeavesQty)],
        ["8", "8", "0", "0"],
      );
      assert.match(g(rej, Tag.Text) ?? "", /BAD is restricted/);
    });

    it("rejects a limit price outside the band around the reference price", async () => {
      await c().send(MsgType.NewOrderSingle, newOrder({ clOrdId: id("band"), symbol: "IBM", qty: 1, price: 111 }));
      const [rej] = await reports(c(), id("band"), 1);
      assert.deepEqual([g(rej, Tag.ExecType), g(rej, Tag.OrdStatus), g(rej, Tag.OrdRejReason)], ["8", "8", "0"]);
      assert.match(g(rej, Tag.Text) ?? "", /outside the band of ±10% around 100/);
    });

    it("rejects a quantity above the maximum: OrdRejReason 3 (order exceeds limit)", async () => {
      await c().send(MsgType.NewOrderSingle, newOrder({ clOrdId: id("max"), symbol: "IBM", qty: 10_001, price: 100 }));
      const [rej] = await reports(c(), id("max"), 1);
      assert.deepEqual([g(rej, Tag.ExecType), g(rej, Tag.OrdStatus), g(rej, Tag.OrdRejReason)], ["8", "8", "3"]);
      assert.match(g(rej, Tag.Text) ?? "", /exceeds the maximum 10000/);
    });

    it("cancels a resting order: ExecType=4 with the cancel's ClOrdID and the order's as OrigClOrdID", async () => {
      const sym = `BOOK${s}`;
      await c().send(MsgType.NewOrderSingle, newOrder({ clOrdId: id("c1"), symbol: sym, qty: 50, price: 5 }));
      await reports(c(), id("c1"), 1);
      await c().send(
        MsgType.OrderCancelRequest,
        cancelRequest({ clOrdId: id("c2"), origClOrdId: id("c1"), symbol: sym }),
      );
      const [canceled] = await reports(c(), id("c2"), 1);
      assert.deepEqual(
        [
          g(canceled, Tag.ExecType),
          g(canceled, Tag.OrdStatus),
          g(canceled, Tag.OrigClOrdID),
          g(canceled, Tag.LeavesQty),
        ],
        ["4", "4", id("c1"), "0"],
      );
      assert.equal(g(canceled, Tag.CumQty), "0");
      assert.equal(
        venue.book(sym).bids.some((b) => b.clOrdId === id("c1") || b.clOrdId === id("c2")),
        false,
      );
    });

    it("a cancel after the fill is too late: OrderCancelReject CxlRejReason 0, CxlRejResponseTo 1", async () => {
      await c().send(MsgType.NewOrderSingle, newOrder({ clOrdId: id("late"), symbol: "IBM", qty: 10, price: 100 }));
      await reports(c(), id("late"), 2);
      await c().send(
        MsgType.OrderCancelRequest,
        cancelRequest({ clOrdId: id("late-x"), origClOrdId: id("late"), symbol: "IBM" }),
      );
      const [rej] = await reports(c(), id("late-x"), 1);
      assert.equal(rej.msgType, MsgType.OrderCancelReject);
      assert.deepEqual(
        [g(rej, Tag.CxlRejReason), g(rej, Tag.CxlRejResponseTo), g(rej, Tag.OrdStatus), g(rej, Tag.OrigClOrdID)],
        ["0", "1", "2", id("late")],
      );
      assert.equal(g(rej, Tag.OrderID), venue.order(id("late"), `C${s}`)?.orderId);
    });

    it("a cancel of an unknown order: OrderCancelReject CxlRejReason 1, OrderID NONE", async () => {
      await c().send(
        MsgType.OrderCancelRequest,
        cancelRequest({ clOrdId: id("unk-x"), origClOrdId: id("nope"), symbol: "IBM" }),
      );
      const [rej] = await reports(c(), id("unk-x"), 1);
      assert.equal(rej.msgType, MsgType.OrderCancelReject);
      assert.deepEqual(
        [g(rej, Tag.CxlRejReason), g(rej, Tag.CxlRejResponseTo), g(rej, Tag.OrderID)],
        ["1", "1", "NONE"],
      );
    });

    it("replaces twice: ExecType=5, new qty and price, OrigClOrdID chains; a status request by the first ClOrdID finds it", async () => {
      const sym = `BOOK${s}`;
      await c().send(MsgType.NewOrderSingle, newOrder({ clOrdId: id("r1"), symbol: sym, qty: 100, price: 8 }));
      await reports(c(), id("r1"), 1);
      await c().send(
        MsgType.OrderCancelReplaceRequest,
        replaceRequest({ clOrdId: id("r2"), origClOrdId: id("r1"), symbol: sym, qty: 150, price: 8.5 }),
      );
      const [rep1] = await reports(c(), id("r2"), 1);
      assert.deepEqual(
        [
          g(rep1, Tag.ExecType),
          g(rep1, Tag.OrdStatus),
          g(rep1, Tag.OrigClOrdID),
          g(rep1, Tag.OrderQty),
          g(rep1, Tag.Price),
        ],
        ["5", fix42 ? "5" : "0", id("r1"), "150", "8.5"],
      );
      assert.equal(g(rep1, Tag.LeavesQty), "150");
      await c().send(
        MsgType.OrderCancelReplaceRequest,
        replaceRequest({ clOrdId: id("r3"), origClOrdId: id("r2"), symbol: sym, qty: 120, price: 8.5 }),
      );
      const [rep2] = (await reports(c(), id("r3"), 1)).filter((m) => g(m, Tag.ClOrdID) === id("r3"));
      assert.deepEqual(
        [g(rep2, Tag.ExecType), g(rep2, Tag.OrigClOrdID), g(rep2, Tag.OrderQty)],
        ["5", id("r2"), "120"],
      );
      assert.equal(g(rep2, Tag.OrderID), g(rep1, Tag.OrderID), "one order, one OrderID");
      assert.deepEqual(venue.order(id("r1"), `C${s}`)?.chain, [id("r1"), id("r2"), id("r3")]);
      const reqId = fix42 ? undefined : id("q");
      await c().send(MsgType.OrderStatusRequest, statusRequest({ clOrdId: id("r1"), symbol: sym, reqId }));
      await c().waitFor(() => c().about(id("r3")).length >= 2, "status answer");
      const st = c().about(id("r3"))[1];
      assert.equal(g(st, Tag.ExecType), fix42 ? "0" : "I");
      assert.equal(g(st, Tag.ExecTransType), fix42 ? "3" : undefined);
      assert.deepEqual([g(st, Tag.OrdStatus), g(st, Tag.OrderQty), g(st, Tag.LeavesQty)], ["0", "120", "120"]);
      if (!fix42) assert.equal(g(st, Tag.OrdStatusReqID), reqId);
    });

    it("a replace outside the price band is refused: OrderCancelReject with CxlRejResponseTo 2", async () => {
      const sym = `BOOK${s}`;
      await c().send(MsgType.NewOrderSingle, newOrder({ clOrdId: id("rb1"), symbol: sym, qty: 10, price: 9 }));
      await reports(c(), id("rb1"), 1);
      await c().send(
        MsgType.OrderCancelReplaceRequest,
        replaceRequest({ clOrdId: id("rb2"), origClOrdId: id("rb1"), symbol: sym, qty: 10, price: 100 }),
      );
      const [rej] = await reports(c(), id("rb2"), 1);
      assert.equal(rej.msgType, MsgType.OrderCancelReject);
      assert.deepEqual(
        [g(rej, Tag.CxlRejResponseTo), g(rej, Tag.CxlRejReason), g(rej, Tag.OrdStatus)],
        ["2", "2", "0"],
      );
      assert.match(g(rej, Tag.Text) ?? "", /outside the band/);
      assert.equal(venue.order(id("rb1"), `C${s}`)?.price, 9, "the order is unchanged");
    });

    it("pendingStates: PendingReplace (E) before Replaced, PendingCancel (6) before Canceled", async () => {
      const sym = `PEND${s}`;
      await c().send(MsgType.NewOrderSingle, newOrder({ clOrdId: id("p1"), symbol: sym, qty: 10, price: 3 }));
      await reports(c(), id("p1"), 1);
      await c().send(
        MsgType.OrderCancelReplaceRequest,
        replaceRequest({ clOrdId: id("p2"), origClOrdId: id("p1"), symbol: sym, qty: 20, price: 3 }),
      );
      const [pr, rep] = await reports(c(), id("p2"), 2);
      assert.deepEqual(
        [g(pr, Tag.ExecType), g(pr, Tag.OrdStatus), g(pr, Tag.ClOrdID), g(pr, Tag.OrigClOrdID), g(pr, Tag.OrderQty)],
        ["E", "E", id("p2"), id("p1"), "10"],
      );
      assert.deepEqual([g(rep, Tag.ExecType), g(rep, Tag.OrderQty)], ["5", "20"]);
      await c().send(
        MsgType.OrderCancelRequest,
        cancelRequest({ clOrdId: id("p3"), origClOrdId: id("p2"), symbol: sym }),
      );
      const [pc, cxl] = await reports(c(), id("p3"), 2);
      assert.deepEqual(
        [g(pc, Tag.ExecType), g(pc, Tag.OrdStatus), g(pc, Tag.OrigClOrdID), g(pc, Tag.LeavesQty)],
        ["6", "6", id("p2"), "20"],
      );
      assert.deepEqual([g(cxl, Tag.ExecType), g(cxl, Tag.OrdStatus), g(cxl, Tag.LeavesQty)], ["4", "4", "0"]);
    });

    it("unsolicited cancel from the API: ExecType=4 on the order's ClOrdID, no OrigClOrdID", async () => {
      const sym = `BOOK${s}`;
      await c().send(MsgType.NewOrderSingle, newOrder({ clOrdId: id("u1"), symbol: sym, qty: 10, price: 7 }));
      await reports(c(), id("u1"), 1);
      assert.equal(venue.cancelUnsolicited(id("u1"), { session: `C${s}`, text: "trading halt" }), true);
      const [, cxl] = await reports(c(), id("u1"), 2);
      assert.deepEqual(
        [g(cxl, Tag.ExecType), g(cxl, Tag.OrdStatus), g(cxl, Tag.OrigClOrdID), g(cxl, Tag.Text)],
        ["4", "4", undefined, "trading halt"],
      );
      assert.equal(venue.cancelUnsolicited(id("u1")), false, "nothing open any more");
    });

    it("unsolicited cancel by timer: an order still open after unsolicitedCancelAfterMs is canceled", async () => {
      const t0 = Date.now();
      await c().send(MsgType.NewOrderSingle, newOrder({ clOrdId: id("x1"), symbol: `EXP${s}`, qty: 10, price: 7 }));
      const [, cxl] = await reports(c(), id("x1"), 2);
      assert.ok(Date.now() - t0 >= 100);
      assert.deepEqual([g(cxl, Tag.ExecType), g(cxl, Tag.OrdStatus)], ["4", "4"]);
      assert.match(g(cxl, Tag.Text) ?? "", /unsolicited cancel/);
    });

    it("OrderStatusRequest for an unknown order: OrdStatus 8 with OrdRejReason 5", async () => {
      const reqId = fix42 ? undefined : id("q2");
      await c().send(MsgType.OrderStatusRequest, statusRequest({ clOrdId: id("ghost"), symbol: "IBM", reqId }));
      const [st] = await reports(c(), id("ghost"), 1);
      assert.deepEqual(
        [g(st, Tag.ExecType), g(st, Tag.OrdStatus), g(st, Tag.OrdRejReason), g(st, Tag.OrderID)],
        [fix42 ? "8" : "I", "8", "5", "NONE"],
      );
    });

    it("applies the configured latency: the New arrives no sooner than 80 ms after the order", async () => {
      const t0 = Date.now();
      await c().send(MsgType.NewOrderSingle, newOrder({ clOrdId: id("lat"), symbol: "LAT", qty: 1, price: 1 }));
      await reports(c(), id("lat"), 1);
      const at = c().received.find((r) => r.msg.get(Tag.ClOrdID) === id("lat"))?.at ?? 0;
      assert.ok(at - t0 >= 80, `arrived after ${at - t0} ms`);
    });
  });
}

describe("across sessions", () => {
  it("every ExecID is unique and starts with the run's start token", () => {
    const ids = [...clients.values()].flatMap((c) =>
      c.received.filter((r) => r.msg.msgType === MsgType.ExecutionReport).map((r) => r.msg.get(Tag.ExecID) ?? ""),
    );
    assert.ok(ids.length > 40);
    assert.equal(new Set(ids).size, ids.length);
    for (const e of ids) assert.ok(e.startsWith(`${venue.startToken}-`), e);
  });

  it("the drop copy receives every execution (not status answers), same ExecIDs, in its own version", async () => {
    const isStatus = (m: FixMessage) => m.get(Tag.ExecTransType) === "3" || m.get(Tag.ExecType) === "I";
    const expected = new Map<string, string>();
    for (const [v, c] of clients) {
      for (const r of c.received) {
        if (r.msg.msgType === MsgType.ExecutionReport && !isStatus(r.msg)) {
          expected.set(r.msg.get(Tag.ExecID) ?? "", `C${short(v)}`);
        }
      }
    }
    await dropCopy.waitFor(() => dropCopy.received.length >= expected.size, `${expected.size} drop copies`);
    const copies = dropCopy.received.map((r) => r.msg);
    assert.equal(copies.length, expected.size);
    for (const m of copies) {
      const execId = m.get(Tag.ExecID) ?? "";
      assert.equal(m.get(Tag.OnBehalfOfCompID), expected.get(execId), `copy of ${execId}`);
      assert.ok(!["1", "2"].includes(m.get(Tag.ExecType) ?? ""), "FIX 4.4 ExecType on the 4.4 drop copy");
    }
    assert.deepEqual(new Set(copies.map((m) => m.get(Tag.ExecID))), new Set(expected.keys()));
  });

  it("no client had to reject a message from the venue (every report is valid for its dictionary)", () => {
    for (const c of [...clients.values(), dropCopy]) {
      assert.deepEqual(
        c.notices.filter((n) => n.kind === "reject"),
        [],
      );
    }
  });
});
