import assert from "node:assert/strict";
import { describe } from "node:test";
import { MsgType } from "@fixmesh/fix";
import { OrdStatus, RequestState } from "@fixmesh/orders";
import { Health } from "@fixmesh/session";
import { assertConverged } from "../convergence.js";
import { scenario } from "../scenario.js";
import type { Scoreboard } from "../scoreboard.js";
import { stamp, waitFor } from "../wait.js";

/** The seed scenarios: the order flow with no fault, then a reset both sides agree on. */
export function seedScenarios(board: Scoreboard): void {
  describe("seed scenarios", () => {
    scenario(
      board,
      "happy path",
      "happy path: limit and market orders on both sides are acked and filled; both sides agree on every order",
      { timeout: 20_000 },
      async (s) => {
        const rig = await s.rig();
        const { us } = rig;
        await us.submitMany("HP-L", 30, { symbol: "IBM", qty: 100, price: 101 });
        await us.submitMany("HP-M", 10, { symbol: "MSFT", qty: 250 });
        const c = await assertConverged(rig, { expectOrders: 40 });
        assert.equal(c.executions, 80, "a New and a fill per order");
        for (const o of us.orders.all()) assert.equal(o.status, OrdStatus.Filled);
        assert.equal(us.healthPath(), "LOGON_SENT→LIVE", "LIVE from the logon on, never anything else");
        s.converged(c);
      },
    );

    scenario(
      board,
      "partial fills",
      "partial fills: N-part fills and book trades at several prices give the venue's CumQty, LeavesQty and AvgPx",
      { timeout: 20_000 },
      async (s) => {
        const rig = await s.rig({
          symbols: {
            PART: { fill: "partial(4)", fillIntervalMs: 10 },
            BOOK: { fill: "book" },
            BOOK2: { fill: "book" },
          },
        });
        const { us } = rig;
        await us.submitMany("PF", 10, { symbol: "PART", qty: 100, price: 100 });
        // Three resting sells at 101, 102, 103; one buy sweeps them: AvgPx 102.
        for (const [i, px] of [101, 102, 103].entries())
          await us.submit({ clOrdId: `PF-S${i}`, symbol: "BOOK", side: "2", qty: 100, price: px });
        await us.waitOrder("PF-S2", (o) => o.status === OrdStatus.New, "resting");
        await us.submit({ clOrdId: "PF-SWEEP", symbol: "BOOK", side: "1", qty: 300, price: 103 });
        // A buy larger than the liquidity: partially filled, the rest rests.
        await us.submit({ clOrdId: "PF-ASK", symbol: "BOOK2", side: "2", qty: 100, price: 99 });
        await us.waitOrder("PF-ASK", (o) => o.status === OrdStatus.New, "resting");
        await us.submit({ clOrdId: "PF-BIG", symbol: "BOOK2", side: "1", qty: 150, price: 100 });
        for (let i = 1; i <= 10; i++) await us.waitOrder(`PF-${i}`, (o) => o.status === OrdStatus.Filled, "filled");
        const c = await assertConverged(rig, { expectOrders: 16 });
        assert.equal(us.order("PF-SWEEP").avgPx, "102");
        assert.equal(us.order("PF-SWEEP").execCount, 4, "New and three fills");
        assert.equal(us.order("PF-BIG").status, OrdStatus.PartiallyFilled);
        assert.equal(us.order("PF-BIG").leavesQty, "50");
        for (let i = 1; i <= 10; i++) assert.equal(us.order(`PF-${i}`).execCount, 5, "New and four fills");
        s.converged(c);
      },
    );

    scenario(
      board,
      "rejects",
      "rejects: restricted symbol, price outside the band and quantity over the limit end Rejected on both sides",
      { timeout: 20_000 },
      async (s) => {
        const rig = await s.rig({
          symbols: { GME: { restricted: true }, SMALL: { maxQuantity: 1000 } },
        });
        const { us } = rig;
        await us.submit({ clOrdId: "RJ-RESTRICTED", symbol: "GME", qty: 10, price: 100 });
        await us.submit({ clOrdId: "RJ-BAND", symbol: "IBM", qty: 10, price: 300 });
        await us.submit({ clOrdId: "RJ-QTY", symbol: "SMALL", qty: 5000, price: 100 });
        await us.submit({ clOrdId: "RJ-OK", symbol: "SMALL", qty: 500, price: 100 });
        const c = await assertConverged(rig, { expectOrders: 4 });
        for (const id of ["RJ-RESTRICTED", "RJ-BAND", "RJ-QTY"])
          assert.equal(us.order(id).status, OrdStatus.Rejected, id);
        assert.equal(us.order("RJ-OK").status, OrdStatus.Filled);
        s.converged(c);
      },
    );

    scenario(
      board,
      "cancel/replace",
      "cancel/replace: replaces and cancels (with and without pending states) and a cancel too late all converge",
      { timeout: 20_000 },
      async (s) => {
        const rig = await s.rig({
          symbols: { BOOK: { fill: "book" }, PEND: { fill: "book", pendingStates: true } },
        });
        const { us } = rig;
        const resting = (id: string) => us.waitOrder(id, (o) => o.status === OrdStatus.New, "resting");
        // A → A1 (replaced: more and higher) → A2 (canceled).
        await us.submit({ clOrdId: "CR-A", symbol: "BOOK", side: "1", qty: 100, price: 95 });
        await resting("CR-A");
        await us.replace("CR-A", "CR-A1", 150, 96);
        await us.waitOrder("CR-A1", (o) => o.clOrdID === "CR-A1" && o.pendingReplace === undefined, "replaced");
        await us.cancel("CR-A1", "CR-A2");
        await us.waitOrder("CR-A2", (o) => o.status === OrdStatus.Canceled, "canceled");
        // The same with PendingReplace / PendingCancel reports first.
        await us.submit({ clOrdId: "CR-P", symbol: "PEND", side: "2", qty: 100, price: 105 });
        await resting("CR-P");
        await us.replace("CR-P", "CR-P1", 80, 104);
        await us.waitOrder("CR-P1", (o) => o.clOrdID === "CR-P1" && o.pendingReplace === undefined, "replaced");
        await us.cancel("CR-P1", "CR-P2");
        await us.waitOrder("CR-P2", (o) => o.status === OrdStatus.Canceled, "canceled");
        // A cancel sent right behind an order the venue fills at once: too late (OrderCancelReject, CxlRejReason 0).
        await us.submit({ clOrdId: "CR-F", symbol: "IBM", qty: 100, price: 100 });
        await us.cancel("CR-F", "CR-F1");
        await us.waitOrder("CR-F", (o) => o.requests.some((r) => r.state === RequestState.Rejected), "cancel refused");
        // Partly filled, then a replace below the executed quantity (refused), then a cancel of the rest.
        await us.submit({ clOrdId: "CR-D", symbol: "BOOK", side: "1", qty: 200, price: 97 });
        await resting("CR-D");
        await us.submit({ clOrdId: "CR-E", symbol: "BOOK", side: "2", qty: 50, price: 97 });
        await us.waitOrder("CR-D", (o) => o.status === OrdStatus.PartiallyFilled, "partially filled");
        await us.replace("CR-D", "CR-D1", 40, 97);
        await us.waitOrder("CR-D", (o) => o.requests.some((r) => r.state === RequestState.Rejected), "replace refused");
        await us.cancel("CR-D", "CR-D2");
        await us.waitOrder("CR-D", (o) => o.status === OrdStatus.Canceled, "rest canceled");
        const c = await assertConverged(rig, { expectOrders: 5 });
        assert.equal(us.order("CR-A").status, OrdStatus.Canceled);
        assert.equal(us.order("CR-A").orderQty, "150");
        assert.equal(us.order("CR-P").orderQty, "80");
        assert.equal(us.order("CR-F").status, OrdStatus.Filled, "a refused cancel leaves the fill");
        assert.equal(us.order("CR-D").cumQty, "50");
        assert.equal(us.orders.counters.applied, c.executions + 2, "every report applied, the two cancel rejects too");
        s.converged(c);
      },
    );

    scenario(
      board,
      "session reset",
      "session reset: after an end-of-day Logout both Logons carry ResetSeqNumFlag=Y, numbers restart at 1, orders converge",
      { timeout: 20_000 },
      async (s) => {
        // IntradayLogoutTolerance=N: a graceful Logout ends the day, so our next Logon asks for a reset (141=Y).
        const rig = await s.rig({ settings: { IntradayLogoutTolerance: false } });
        const { us, vs } = rig;
        await us.submitMany("SR-D1", 10);
        await waitFor(() => us.executions === 20, 5000, "day 1 filled");
        const day1 = { ours: us.state.nextSenderSeq, venue: vs.nextSenderSeq };
        us.runner.logout("end of day");
        await waitFor(() => us.state.health === Health.Disconnected, 5000, "logged out");
        const t0 = stamp();
        us.runner.logon();
        await us.waitLive();
        const logon = us.noticesOf("logon", t0);
        assert.equal(logon.length, 1);
        assert.equal(logon[0].reset, true, "the Logon exchange reset the numbers");
        const logons = us.wire.entries().filter((e) => e.msgType === MsgType.Logon && e.at >= t0);
        assert.deepEqual(
          logons.map((e) => [e.dir, e.seq, e.detail.includes("141=Y")]),
          [
            ["out", 1, true],
            ["in", 1, true],
          ],
          "both Logons: MsgSeqNum 1, ResetSeqNumFlag=Y",
        );
        assert.ok(day1.ours > 10 && day1.venue > 20, `day 1 ended at ${JSON.stringify(day1)}`);
        await us.submitMany("SR-D2", 10);
        const c = await assertConverged(rig, { expectOrders: 20 });
        assert.equal(us.state.nextSenderSeq, 12, "day 2 numbered from 1: the Logon, then orders 2..11");
        assert.ok(!us.health.some((h) => h.to === Health.Safe), "an agreed reset is not a mismatch");
        s.converged(c, stamp() - t0);
      },
    );
  });
}
