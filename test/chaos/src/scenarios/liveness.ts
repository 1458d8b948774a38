import assert from "node:assert/strict";
import { describe } from "node:test";
import { MsgType } from "@fixmesh/fix";
import { Health } from "@fixmesh/session";
import { assertConverged, assertHealthPath } from "../convergence.js";
import type { OurSide } from "../our-side.js";
import { scenario } from "../scenario.js";
import type { Scoreboard } from "../scoreboard.js";
import { stamp, waitFor } from "../wait.js";

/** HeartBtInt of the liveness scenarios, seconds: the guarantee is detection within 2 × HeartBtInt. */
const HB = 1;
/** Link dropped, reconnect attempts (some refused while the venue still holds the old link), logon, gap, LIVE. */
const RECONNECT_PATH = /^CONNECTING(→LOGON_SENT→CONNECTING)*→LOGON_SENT→(RECOVERY→)?LIVE(→RECOVERY→LIVE)*$/;

/** Timer and event-loop slack allowed on top of 2 × HeartBtInt (a loaded CI machine runs timers late). */
const SLACK_MS = 300;

/**
 * How our session noticed the link was dead: when it left LIVE, how long it had heard nothing by then (from the
 * last message that reached our socket), and whether a TestRequest went out first.
 */
async function detection(us: OurSide, since: number): Promise<{ at: number; silenceMs: number; testRequest: boolean }> {
  await waitFor(
    () => us.health.some((h) => h.at >= since && h.from === Health.Live),
    6 * HB * 1000,
    "the silent link declared dead",
  );
  const left = us.health.find((h) => h.at >= since && h.from === Health.Live);
  assert.ok(left !== undefined);
  const wire = us.wire.entries();
  const lastIn = wire.filter((e) => e.dir === "in" && e.at <= left.at).at(-1);
  assert.ok(lastIn !== undefined, "something was received before the silence");
  const testRequest = wire.some(
    (e) => e.dir === "out" && e.msgType === MsgType.TestRequest && e.at >= lastIn.at && e.at <= left.at,
  );
  return { at: left.at, silenceMs: left.at - lastIn.at, testRequest };
}

function assertDetectedInTime(d: { silenceMs: number; testRequest: boolean }, faultAt: number, at: number): void {
  assert.ok(d.testRequest, "a TestRequest went out before the link was dropped");
  assert.ok(
    d.silenceMs <= 2 * HB * 1000 + SLACK_MS,
    `dropped after ${Math.round(d.silenceMs)} ms of silence; the bound is 2 × HeartBtInt = ${2 * HB * 1000} ms`,
  );
  assert.ok(at - faultAt <= 2 * HB * 1000 + SLACK_MS, `dropped ${at - faultAt} ms after the fault began`);
}

export function livenessScenarios(board: Scoreboard): void {
  describe("1. silent links, 7. half-open TCP, 8. partition", () => {
    scenario(
      board,
      "1a heartbeats skipped by the venue",
      "venue skips its Heartbeats for 3 intervals: TestRequest, link dropped within 2 × HeartBtInt, reconnect, gap filled",
      { timeout: 30_000 },
      async (s) => {
        const rig = await s.rig({ settings: { HeartBtInt: HB } });
        const { us, vs } = rig;
        await us.submitMany("HB-A", 6);
        await waitFor(() => us.executions === 12, 5000, "filled");
        const t0 = stamp();
        vs.skipHeartbeats(3);
        const d = await detection(us, t0);
        assertDetectedInTime(d, t0, d.at);
        // The venue numbered the Heartbeats it never delivered: after the reconnect that is a gap, filled.
        await waitFor(
          () => us.noticesOf("gapFilled", t0).length > 0 && us.state.health === Health.Live,
          10_000,
          "LIVE again, the skipped numbers gap-filled",
        );
        const recoverMs = stamp() - d.at;
        assert.ok(vs.heartbeatsSkipped >= 1, "the venue kept Heartbeats off the wire");
        await us.submitMany("HB-B", 6);
        const c = await assertConverged(rig, { expectOrders: 12 });
        assert.ok(us.noticesOf("logon", t0).length >= 1, "logged on again");
        assertHealthPath(us, t0, RECONNECT_PATH, "after the silent link");
        s.row.note = `dropped after ${Math.round(d.silenceMs)} ms silent`;
        s.converged(c, recoverMs);
      },
    );

    scenario(
      board,
      "1b heartbeats dropped on the wire",
      "proxy drops every Heartbeat toward us for 3 intervals: TestRequest, link dropped within 2 × HeartBtInt, reconnect, gap filled",
      { timeout: 30_000 },
      async (s) => {
        const rig = await s.rig({ settings: { HeartBtInt: HB } });
        const { us, proxy } = rig;
        await us.submitMany("HD-A", 6);
        await waitFor(() => us.executions === 12, 5000, "filled");
        const t0 = stamp();
        const rule = proxy.toClient.drop({ msgType: MsgType.Heartbeat, persistent: true });
        const lift = setTimeout(() => rule.cancel(), 3 * HB * 1000);
        s.cleanup(() => {
          clearTimeout(lift);
          rule.cancel();
        });
        const d = await detection(us, t0);
        assertDetectedInTime(d, t0, d.at);
        await waitFor(
          () => us.noticesOf("gapFilled", t0).length > 0 && us.state.health === Health.Live,
          10_000,
          "LIVE again, the dropped numbers recovered",
        );
        const recoverMs = stamp() - d.at;
        await waitFor(() => stamp() - t0 > 3 * HB * 1000, 5000, "the drop window over");
        await us.submitMany("HD-B", 6);
        const c = await assertConverged(rig, { expectOrders: 12 });
        assert.ok(rule.hits >= 1, "Heartbeats were dropped");
        assertHealthPath(us, t0, RECONNECT_PATH, "after the silent link");
        assert.ok(rig.faults.some((f) => f.kind === "drop" && f.msgType === MsgType.Heartbeat));
        s.row.note = `dropped after ${Math.round(d.silenceMs)} ms silent`;
        s.converged(c, recoverMs);
      },
    );

    scenario(
      board,
      "7 half-open TCP",
      "half-open link (proxy stalls, nothing closes): detected within 2 × HeartBtInt; orders sent into it arrive once after the reconnect",
      { timeout: 30_000 },
      async (s) => {
        const rig = await s.rig({ settings: { HeartBtInt: HB } });
        const { us, proxy } = rig;
        await us.submitMany("HO-A", 6);
        await waitFor(() => us.executions === 12, 5000, "filled");
        const t0 = stamp();
        // Both directions black-holed: the sockets stay up and every byte is lost.
        proxy.stall({ discard: true });
        // Accepted by our session (it does not know yet), persisted, and lost on the wire.
        await us.submitMany("HO-VOID", 3);
        const d = await detection(us, t0);
        assertDetectedInTime(d, t0, d.at);
        proxy.resume();
        const resumed = stamp();
        await us.waitLive(10_000);
        await waitFor(() => us.executions === 18, 10_000, "the orders sent into the void filled");
        const recoverMs = stamp() - resumed;
        await us.submitMany("HO-B", 6);
        const c = await assertConverged(rig, { expectOrders: 15 });
        // The venue had not seen them: it asked, and got them again with PossDupFlag=Y.
        const resent = us.wire
          .entries()
          .filter((e) => e.dir === "out" && e.msgType === MsgType.NewOrderSingle && e.possDup)
          .map((e) => /11=(\S+)/.exec(e.detail)?.[1]);
        for (let i = 1; i <= 3; i++) {
          assert.ok(resent.includes(`HO-VOID-${i}`), `HO-VOID-${i} resent with PossDupFlag=Y`);
          assert.ok(rig.venue.order(`HO-VOID-${i}`) !== undefined, `HO-VOID-${i} at the venue`);
        }
        assert.ok(proxy.stats().toServer.discarded + proxy.stats().toClient.discarded > 0, "the stall lost traffic");
        assertHealthPath(us, t0, RECONNECT_PATH, "after the half-open link");
        s.row.note = `dropped after ${Math.round(d.silenceMs)} ms silent`;
        s.converged(c, recoverMs);
      },
    );

    scenario(
      board,
      "8 partition 3 s, then heal",
      "network partition longer than the heartbeat timeout: both sides drop the link, reconnect after the heal, orders from inside it arrive once",
      { timeout: 30_000 },
      async (s) => {
        const rig = await s.rig({ settings: { HeartBtInt: HB } });
        const { us, vs, proxy } = rig;
        await us.submitMany("PT-A", 6);
        await waitFor(() => us.executions === 12, 5000, "filled");
        const t0 = stamp();
        // Nothing flows and no new connection gets through until the heal.
        proxy.refuseConnections(true);
        const healed = proxy.partition(3 * HB * 1000);
        await us.submitMany("PT-IN", 3);
        const d = await detection(us, t0);
        assertDetectedInTime(d, t0, d.at);
        await waitFor(() => !vs.connected, 4 * HB * 1000, "the venue drops its side too");
        await healed;
        proxy.refuseConnections(false);
        const healAt = stamp();
        await us.waitLive(10_000);
        await waitFor(() => us.executions === 18, 10_000, "the orders sent into the partition filled");
        const recoverMs = stamp() - healAt;
        await us.submitMany("PT-B", 6);
        const c = await assertConverged(rig, { expectOrders: 15 });
        for (let i = 1; i <= 3; i++)
          assert.ok(rig.venue.order(`PT-IN-${i}`) !== undefined, `PT-IN-${i} reached the venue`);
        assert.ok(proxy.stats().connections.refused >= 1, "reconnects were refused during the partition");
        assertHealthPath(us, t0, RECONNECT_PATH, "across the partition");
        s.row.note = `dropped after ${Math.round(d.silenceMs)} ms silent`;
        s.converged(c, recoverMs);
      },
    );
  });
}
