import assert from "node:assert/strict";
import { describe } from "node:test";
import { OrdStatus } from "@fixmesh/orders";
import { Health } from "@fixmesh/session";
import { assertConverged, assertHealthPath } from "../convergence.js";
import type { Rig } from "../rig.js";
import { scenario } from "../scenario.js";
import type { Scoreboard } from "../scoreboard.js";
import { sleep, stamp, waitFor } from "../wait.js";
import { dropRun, liveFlow, resendRequests } from "./faults.js";

/** Size of the replay of real messages in 2c (CHAOS_REPLAY overrides; the suite's default fits well under 30 s). */
const REPLAY = Number(process.env.CHAOS_REPLAY ?? 100_000);

export function gapScenarios(board: Scoreboard): void {
  describe("2. gaps and 4. replays", () => {
    scenario(
      board,
      "2a gap bursts of 5",
      "small gap bursts: each venue jump of 5 is detected, asked for, gap-filled, and the session is LIVE again",
      { timeout: 20_000 },
      async (s) => {
        const rig = await s.rig();
        const { us, vs } = rig;
        await us.submitMany("G5-0", 4);
        const t0 = stamp();
        for (let k = 1; k <= 3; k++) {
          const from = us.state.nextTargetSeq;
          assert.equal(vs.jumpOutboundSeq(5), from + 5);
          await us.submitMany(`G5-${k}`, 4);
          await waitFor(
            () => us.noticesOf("gapFilled").some((g) => g.begin === from) && us.state.health === Health.Live,
            5000,
            `gap ${from}..${from + 4} filled`,
          );
          assert.ok(
            us.noticesOf("gap").some((g) => g.begin === from && g.end === from + 4),
            `gap ${from}..${from + 4}`,
          );
          assert.ok(
            us.noticesOf("sequenceReset").some((r) => r.gapFill && r.nextTargetSeq === from + 5),
            "closed by a SequenceReset-GapFill to the jumped-to number",
          );
        }
        const c = await assertConverged(rig, { expectOrders: 16 });
        assert.equal(us.state.counters.gapsDetected, 3);
        assertHealthPath(us, t0, /^RECOVERY→LIVE→RECOVERY→LIVE→RECOVERY→LIVE$/, "LIVE → RECOVERY → LIVE per burst");
        s.converged(c, stamp() - t0);
      },
    );

    scenario(
      board,
      "2b gap burst of 100,000",
      "a gap burst of 100,000 is asked for in chunks of 1,000 and closed by the venue's GapFills; LIVE again",
      { timeout: 30_000 },
      async (s) => {
        const rig = await s.rig();
        const { us, vs } = rig;
        await us.submitMany("GL-0", 4);
        await waitFor(() => us.executions === 8, 5000, "first orders filled");
        const from = us.state.nextTargetSeq;
        const t0 = stamp();
        vs.jumpOutboundSeq(100_000);
        await us.submitMany("GL-1", 4);
        await waitFor(
          () => us.state.health === Health.Live && us.state.nextTargetSeq === vs.nextSenderSeq,
          20_000,
          "100,000 gap recovered",
        );
        const recoverMs = stamp() - t0;
        assert.ok(
          us.noticesOf("gap").some((g) => g.begin === from && g.end === from + 99_999),
          "one gap of 100,000",
        );
        const asks = resendRequests(us, t0);
        assert.ok(asks.length >= 1 && asks.length <= 101, `${asks.length} ResendRequests`);
        assert.deepEqual(asks[0], [from, from + 999], "the first ask is the first chunk of 1,000");
        for (const [b, e] of asks) assert.ok(e === 0 || e - b + 1 <= 1000, `ResendRequest ${b}..${e} is one chunk`);
        const c = await assertConverged(rig, { expectOrders: 8 });
        assertHealthPath(us, t0, /^RECOVERY→LIVE$/, "through the 100,000 gap");
        s.row.note = `${asks.length} ResendRequests`;
        s.converged(c, recoverMs);
      },
    );

    scenario(
      board,
      `2c replay of ${REPLAY.toLocaleString("en-US")}`,
      `a replay of ${REPLAY.toLocaleString("en-US")} real ExecutionReports lost on the wire, in chunks of 1,000, while live orders flow: every execution applied once`,
      { timeout: 60_000 },
      async (s) => {
        // HeartBtInt 10: the dropped run includes the venue's Heartbeats, and producing it takes a few seconds of
        // silence toward us that must not be mistaken for a dead link (that is scenario 1's business).
        const rig = await s.rig({
          settings: { HeartBtInt: 10 },
          symbols: { TEN: { fill: "partial(9)" } },
        });
        const { us, vs } = rig;
        const run = dropRun(rig, REPLAY);
        s.cleanup(() => run.cancel());
        const live = liveFlow(us, "RL-LIVE", 4, 20);
        // Each TEN order makes ten ExecutionReports (New + nine fills): the run is made of real executions.
        const orders = Math.ceil(REPLAY / 10);
        for (let i = 0; i < orders; i += 500) {
          await us.submitMany(`RL-${i}`, Math.min(500, orders - i), { symbol: "TEN", qty: 90, price: 100 });
          await sleep(0);
        }
        await waitFor(() => vs.nextSenderSeq > run.to, 30_000, "the venue past the dropped run");
        const detected = stamp();
        await waitFor(
          () => us.noticesOf("gapFilled").some((g) => g.end >= run.to) && us.state.health === Health.Live,
          40_000,
          "replay done and LIVE",
        );
        const recoverMs = stamp() - detected;
        const liveOrders = await live.stop();
        const c = await assertConverged(rig, { timeoutMs: 20_000 });
        assert.equal(c.orders, orders + liveOrders);
        assert.equal(rig.proxy.stats().toClient.dropped, REPLAY, "the whole run was lost on the wire");
        const gap = us.noticesOf("gap").find((g) => g.begin === run.from);
        assert.ok(gap !== undefined && gap.end >= run.to, `a gap from ${run.from} past ${run.to}`);
        const asks = resendRequests(us, 0);
        assert.ok(asks.length >= REPLAY / 1000, `asked in chunks of 1,000: ${asks.length} ResendRequests`);
        for (const [b, e] of asks) assert.ok(e === 0 || e - b + 1 <= 1000, `ResendRequest ${b}..${e} is one chunk`);
        assert.ok(us.state.counters.messagesIn >= REPLAY, "every lost message came back");
        const path = assertHealthPath(
          us,
          0,
          /^LOGON_SENT→LIVE→RECOVERY(→DEGRADED)?→LIVE$/,
          "RECOVERY (DEGRADED once the backlog passed 1,000), LIVE once drained",
        );
        for (const o of us.orders.all()) assert.equal(o.status, OrdStatus.Filled);
        s.row.note = `${asks.length} ResendRequests, ${liveOrders} live orders, ${path.includes("DEGRADED") ? "DEGRADED" : "RECOVERY"}`;
        s.converged(c, recoverMs);
      },
    );

    scenario(
      board,
      "4 replay delayed and reordered",
      "replayed chunks held back and released reversed, then shuffled: the session reorders them by MsgSeqNum, asks chunk after chunk, applies each once",
      { timeout: 40_000 },
      async (s) => {
        // Chunks of 20 asked for, so a replay of 100 is five ResendRequests whose answers the proxy scrambles.
        const rig = await s.rig({ settings: { ResendRequestChunkSize: 20 } });
        const { us, proxy } = rig;
        await us.submitMany("RO-0", 4);
        await waitFor(() => us.executions === 8, 5000, "filled");
        const reverse = await reorderedReplay(rig, "RO-R", { chunk: 10, order: "reverse", releaseAfterMs: 150 });
        const shuffle = await reorderedReplay(rig, "RO-S", { chunk: 7, order: "shuffle", releaseAfterMs: 100 });
        const c = await assertConverged(rig, { expectOrders: 4 + 2 * 54 });
        const stats = proxy.stats().toClient;
        assert.ok(stats.held >= 200, `${stats.held} replayed messages held`);
        assert.ok(stats.reordered >= 100, `${stats.reordered} released out of order`);
        assert.ok(rig.faults.some((f) => f.kind === "release" && f.order === "reverse"));
        assert.ok(rig.faults.some((f) => f.kind === "release" && f.order === "shuffle"));
        assert.ok(us.state.counters.resendRequestsSent >= 10, "asked chunk after chunk");
        assertHealthPath(us, 0, /^LOGON_SENT→LIVE→RECOVERY→LIVE→RECOVERY→LIVE$/, "one recovery per round");
        s.row.note = `${stats.reordered} reordered`;
        s.converged(c, Math.max(reverse, shuffle));
      },
    );
  });
}

/** One round of scenario 4: a run of reports lost, then their replay held by the proxy and released out of order. */
async function reorderedReplay(
  rig: Rig,
  prefix: string,
  hold: { chunk: number; order: "reverse" | "shuffle"; releaseAfterMs: number },
): Promise<number> {
  const { us, proxy } = rig;
  const run = dropRun(rig, 100);
  proxy.toClient.holdReplay(hold);
  try {
    const t0 = stamp();
    await us.submitMany(`${prefix}-LOST`, 50);
    await waitFor(() => rig.vs.nextSenderSeq > run.to, 5000, "the run sent");
    await us.submitMany(`${prefix}-LIVE`, 4);
    await waitFor(
      () => us.noticesOf("gapFilled", t0).some((g) => g.end >= run.to) && us.state.health === Health.Live,
      15_000,
      `${hold.order} replay recovered`,
    );
    return stamp() - t0;
  } finally {
    run.cancel();
    proxy.toClient.holdReplay(null);
  }
}
