import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseVenueSimConfig, type VenueSimConfigInput } from "./config.js";
import type { CancelRejectEvent, ExecEvent } from "./order.js";
import { type NewOrderRequest, Venue } from "./venue.js";

/** A venue on a fake clock, recording what it reports. */
function venueOf(input: Partial<VenueSimConfigInput>) {
  const config = parseVenueSimConfig({
    sessions: [{ BeginString: "FIX.4.4", SenderCompID: "V", TargetCompID: "C" }],
    ...input,
  });
  let now = 1_000;
  const timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  const out: Array<ExecEvent | CancelRejectEvent> = [];
  let n = 0;
  const venue = new Venue(
    config,
    { execId: () => `E${++n}`, orderId: () => `O${++n}` },
    { execution: (_s, ev) => out.push(ev), cancelReject: (_s, ev) => out.push(ev) },
    {
      now: () => now,
      after: (ms, fn) => {
        const t = { at: now + ms, fn, live: true };
        timers.push(t);
        return () => {
          t.live = false;
        };
      },
    },
  );
  const advance = (ms: number) => {
    now += ms;
    for (const t of timers.splice(0).sort((a, b) => a.at - b.at)) {
      if (t.live && t.at <= now) t.fn();
      else if (t.live) timers.push(t);
    }
  };
  const execs = () => out.filter((e): e is ExecEvent => "kind" in e);
  return { venue, out, execs, advance };
}

const order = (o: Partial<NewOrderRequest> & { clOrdId: string }): NewOrderRequest => ({
  symbol: "X",
  side: "1",
  ordType: "2",
  orderQty: "100",
  price: "10",
  ...o,
});

describe("venue", () => {
  it("partial(2) of a decimal quantity: two fills that add up exactly", () => {
    const { venue, execs } = venueOf({ policy: { fill: "partial(2)" } });
    venue.newOrder("S", order({ clOrdId: "A", orderQty: "1.5" }));
    assert.deepEqual(
      execs().map((e) => [e.kind, e.lastQty, e.cumQty, e.leavesQty]),
      [
        ["new", undefined, 0, 1.5],
        ["trade", 0.75, 0.75, 0.75],
        ["trade", 0.75, 1.5, 0],
      ],
    );
  });

  it("partial fills on a timer stop when the order is cancelled between them", () => {
    const { venue, execs, advance } = venueOf({ policy: { fill: "partial(4)", fillIntervalMs: 100 } });
    venue.newOrder("S", order({ clOrdId: "A" }));
    advance(100);
    venue.cancel("S", { clOrdId: "B", origClOrdId: "A" });
    advance(1000);
    assert.deepEqual(
      execs().map((e) => [e.kind, e.cumQty, e.leavesQty]),
      [
        ["new", 0, 100],
        ["trade", 25, 75],
        ["canceled", 25, 0],
      ],
    );
  });

  it("book: IOC cancels its remainder; FOK without enough liquidity is cancelled with no fill", () => {
    const { venue, execs } = venueOf({ policy: { fill: "book" } });
    venue.newOrder("S", order({ clOrdId: "ASK", side: "2", orderQty: "50" }));
    venue.newOrder("S", order({ clOrdId: "FOK", orderQty: "60", timeInForce: "4" }));
    venue.newOrder("S", order({ clOrdId: "IOC", orderQty: "60", timeInForce: "3" }));
    const about = (id: string) =>
      execs()
        .filter((e) => e.clOrdId === id)
        .map((e) => [e.kind, e.cumQty]);
    assert.deepEqual(about("FOK"), [
      ["new", 0],
      ["canceled", 0],
    ]);
    assert.deepEqual(about("IOC"), [
      ["new", 0],
      ["trade", 50],
      ["canceled", 50],
    ]);
    assert.deepEqual(venue.book("X"), { symbol: "X", bids: [], asks: [] });
  });

  it("book: a replace that raises the quantity loses time priority; one that lowers it keeps it", () => {
    const { venue } = venueOf({ policy: { fill: "book" } });
    venue.newOrder("S", order({ clOrdId: "A1" }));
    venue.newOrder("S", order({ clOrdId: "B1" }));
    venue.replace("S", { clOrdId: "A2", origClOrdId: "A1", orderQty: "200" });
    assert.deepEqual(
      venue.book("X").bids.map((b) => b.clOrdId),
      ["B1", "A2"],
    );
    venue.replace("S", { clOrdId: "B2", origClOrdId: "B1", orderQty: "50" });
    assert.deepEqual(
      venue.book("X").bids.map((b) => [b.clOrdId, b.leavesQty]),
      [
        ["B2", 50],
        ["A2", 200],
      ],
    );
  });

  it("a replace down to the executed quantity leaves the order filled (ExecType 5, OrdStatus filled)", () => {
    const { venue, execs } = venueOf({ policy: { fill: "book" } });
    venue.newOrder("S", order({ clOrdId: "ASK", side: "2", orderQty: "30" }));
    venue.newOrder("S", order({ clOrdId: "A1" }));
    venue.replace("S", { clOrdId: "A2", origClOrdId: "A1", orderQty: "30" });
    const last = execs().at(-1) as ExecEvent;
    assert.deepEqual(
      [last.kind, last.status, last.orderQty, last.cumQty, last.leavesQty],
      ["replaced", "filled", 30, 30, 0],
    );
    assert.equal(venue.book("X").bids.length, 0);
  });

  it("a duplicate ClOrdID is rejected without touching the order that has it", () => {
    const { venue, execs } = venueOf({ policy: { fill: "book" } });
    venue.newOrder("S", order({ clOrdId: "A" }));
    venue.newOrder("S", order({ clOrdId: "A", orderQty: "5" }));
    const rej = execs().at(-1) as ExecEvent;
    assert.deepEqual([rej.kind, rej.ordRejReason, rej.orderId], ["rejected", "duplicateOrder", "NONE"]);
    assert.equal(venue.book("X").bids[0].leavesQty, 100);
    venue.newOrder("T", order({ clOrdId: "A", side: "2" }));
    assert.equal((execs().at(-1) as ExecEvent).kind, "trade", "ClOrdIDs are per session");
  });

  it("unknownSymbols: reject answers a symbol not listed under symbols with OrdRejReason unknownSymbol", () => {
    const { venue, execs } = venueOf({ unknownSymbols: "reject", symbols: { X: {} } });
    venue.newOrder("S", order({ clOrdId: "A", symbol: "Y" }));
    venue.newOrder("S", order({ clOrdId: "B", symbol: "X" }));
    assert.deepEqual(
      execs().map((e) => [e.clOrdId, e.kind, e.ordRejReason]),
      [
        ["A", "rejected", "unknownSymbol"],
        ["B", "new", undefined],
        ["B", "trade", undefined],
      ],
    );
  });
});
