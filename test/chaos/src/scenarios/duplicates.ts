import assert from "node:assert/strict";
import { describe } from "node:test";
import { SendRefusedError } from "@fixmesh/engine";
import { MsgType } from "@fixmesh/fix";
import { Health, Status } from "@fixmesh/session";
import { assertConverged, assertHealthPath } from "../convergence.js";
import { newOrderBody } from "../our-side.js";
import { scenario } from "../scenario.js";
import type { Scoreboard } from "../scoreboard.js";
import { sleep, stamp, waitFor } from "../wait.js";
import { dropRun } from "./faults.js";

export function duplicateScenarios(board: Scoreboard): void {
  describe("5. duplicated execution reports", () => {
    scenario(
      board,
      "5a venue re-sends reports",
      "reports re-sent by the venue under new MsgSeqNums, with PossDupFlag, with PossResend and with neither, are applied once and counted",
      { timeout: 20_000 },
      async (s) => {
        const rig = await s.rig();
        const { us, vs } = rig;
        await us.submitMany("DV", 20);
        await waitFor(() => us.executions === 40, 5000, "filled");
        const possDup = await vs.resendExecutionsAsPossDup(10);
        const possResend = await vs.resendExecutionsAsPossDup(6, { possResend: true });
        const plain = await vs.duplicateExecutionsWithoutPossDup(8);
        const copies = [...possDup, ...possResend, ...plain];
        await waitFor(() => us.duplicates.length === copies.length, 5000, `${copies.length} copies dropped`);
        const c = await assertConverged(rig, { expectOrders: 20 });
        const k = us.orders.counters;
        assert.equal(k.duplicates, 24);
        assert.equal(k.duplicatesPossDup, 16, "PossDupFlag=Y copies (6 of them also PossResend=Y)");
        assert.equal(k.duplicatesPossResend, 6);
        assert.equal(k.duplicatesUnflagged, 8, "copies with no flag: told apart by ExecID alone");
        assert.deepEqual([...us.duplicates].sort(), copies.map((x) => x.execId).sort(), "the copies, by ExecID");
        assertHealthPath(us, 0, /^LOGON_SENT→LIVE$/, "copies under new numbers are no gap: LIVE throughout");
        s.converged(c);
      },
    );

    scenario(
      board,
      "5b proxy doubles resent copies",
      "a replay whose PossDup copies the proxy doubles (same MsgSeqNum): the second copies are dropped by the session, nothing applied twice",
      { timeout: 20_000 },
      async (s) => {
        const rig = await s.rig();
        const { us, proxy } = rig;
        await us.submitMany("DP-A", 4);
        await waitFor(() => us.executions === 8, 5000, "filled");
        const run = dropRun(rig, 20);
        const doubled = proxy.toClient.duplicate({ possDup: true, persistent: true });
        s.cleanup(() => {
          run.cancel();
          doubled.cancel();
        });
        const t0 = stamp();
        await us.submitMany("DP-LOST", 10);
        await waitFor(() => rig.vs.nextSenderSeq > run.to, 5000, "the run sent");
        await us.submitMany("DP-B", 4);
        await waitFor(
          () => us.noticesOf("gapFilled", t0).length > 0 && us.state.health === Health.Live,
          5000,
          "replay done",
        );
        const recoverMs = stamp() - t0;
        const c = await assertConverged(rig, { expectOrders: 18 });
        assertHealthPath(us, t0, /^RECOVERY→LIVE$/, "one recovery");
        assert.ok(doubled.hits >= 20, `${doubled.hits} resent copies doubled`);
        assert.ok(
          us.state.counters.duplicatesIgnored >= doubled.hits,
          `${us.state.counters.duplicatesIgnored} ignored by the session for ${doubled.hits} doubled`,
        );
        s.converged(c, recoverMs);
      },
    );

    scenario(
      board,
      "5c proxy doubles a live report",
      "an exact copy of a live report (same MsgSeqNum, no PossDupFlag) is MsgSeqNum too low: SAFE, not applied, no orders, no reconnect; LIVE only after the operator clears",
      { timeout: 20_000 },
      async (s) => {
        const rig = await s.rig();
        const { us, proxy, venue } = rig;
        await us.submitMany("DL-A", 4);
        await waitFor(() => us.executions === 8, 5000, "filled");
        const t0 = stamp();
        proxy.toClient.duplicate({ msgType: MsgType.ExecutionReport, possDup: false });
        await us.submitMany("DL-B", 1);
        await waitFor(() => us.state.health === Health.Safe, 5000, "SAFE");
        assert.match(us.state.safeReason ?? "", /MsgSeqNum too low, expecting \d+ but received \d+/);
        await assert.rejects(
          us.runner.send(
            MsgType.NewOrderSingle,
            newOrderBody({ clOrdId: "DL-REFUSED", symbol: "IBM", qty: 1, price: 100 }),
          ),
          SendRefusedError,
          "no order flow while SAFE",
        );
        // SAFE stops our initiator: it does not log on again by itself with numbers in dispute.
        await sleep(500);
        assert.equal(us.state.status, Status.Disconnected, "stays down until an operator acts");
        const safeAt = us.health.find((h) => h.to === Health.Safe)?.at ?? 0;
        assert.ok(
          !us.wire.session.some((e) => e.dir === "out" && e.msgType === MsgType.Logon && e.at > safeAt),
          "no Logon attempt while SAFE",
        );
        // The operator checks with the venue (a copy on the wire, not a reset), clears SAFE and logs on: the report
        // that was on the wire behind the copy is recovered by the usual ResendRequest.
        const cleared = stamp();
        us.runner.clearSafe("checked with the venue: a copy on the wire, not a reset");
        us.runner.logon();
        await us.waitLive();
        const c = await assertConverged(rig, { expectOrders: 5 });
        assert.equal(venue.order("DL-REFUSED"), undefined, "the refused order never reached the venue");
        const liveAgain = us.health.filter((h) => h.to === Health.Live && h.at >= safeAt);
        assert.ok(liveAgain.length > 0 && liveAgain.every((h) => h.at >= cleared), "LIVE again only after the clear");
        assert.equal(us.duplicates.length, 0, "the copy never reached the application");
        assertHealthPath(
          us,
          t0,
          /^SAFE→DISCONNECTED→CONNECTING→LOGON_SENT→RECOVERY→LIVE$/,
          "SAFE, down, LIVE after the clear",
        );
        s.row.note = `SAFE ${(safeAt - t0).toFixed(1)} ms after the copy; LIVE only after the operator's clear and logon`;
        s.converged(c, stamp() - cleared);
      },
    );
  });
}
