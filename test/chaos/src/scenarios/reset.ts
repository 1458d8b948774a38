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

export function resetScenarios(board: Scoreboard): void {
  describe("6. daily reset mismatch", () => {
    scenario(
      board,
      "6 daily reset mismatch",
      "venue reset for the day, we did not: detected at logon, SAFE, nothing skipped, applied or resent, no orders; LIVE again only after an agreed reset (141=Y)",
      { timeout: 30_000 },
      async (s) => {
        const rig = await s.rig();
        const { us, vs, venue } = rig;
        await us.submitMany("RM-D1", 6);
        await waitFor(() => us.executions === 12, 5000, "day 1 filled");
        const armed = vs.resetOnNextLogon();
        us.runner.logout("end of day on our side");
        await armed;
        await waitFor(() => us.state.health === Health.Disconnected, 5000, "our side logged out");
        const expected = us.state.nextTargetSeq;
        const delivered = us.delivered.flat().length;
        const t0 = stamp();
        us.runner.logon();
        await waitFor(() => us.state.health === Health.Safe, 5000, "SAFE");
        const detectedMs = stamp() - t0;
        assert.equal(
          us.state.safeReason,
          `MsgSeqNum too low, expecting ${expected} but received 1`,
          "the venue's Logon at 1 is refused, not adopted",
        );
        await assert.rejects(
          us.runner.send(
            MsgType.NewOrderSingle,
            newOrderBody({ clOrdId: "RM-REFUSED", symbol: "IBM", qty: 1, price: 100 }),
          ),
          SendRefusedError,
          "no order flow while SAFE",
        );
        // It does not log on again by itself: each attempt would move both sides' numbers under the dispute.
        await sleep(1000);
        assert.equal(us.state.health, Health.Safe);
        assert.equal(us.state.status, Status.Disconnected, "stays down until an operator acts");
        const logons = us.wire.session.filter((e) => e.dir === "out" && e.msgType === MsgType.Logon && e.at >= t0);
        assert.equal(logons.length, 1, "one Logon, the one that found the mismatch");
        assert.ok(!us.health.some((h) => h.at >= t0 && h.to === Health.Live), "never LIVE while the numbers disagree");
        assert.equal(us.state.nextTargetSeq, expected, "our expected inbound number was not moved: nothing skipped");
        assert.equal(us.delivered.flat().length, delivered, "nothing handed to the application");
        assert.ok(vs.runner.state.counters.resendRequestsSent >= 1, "the venue saw our numbers as too high and asked");
        assert.equal(venue.order("RM-REFUSED"), undefined);
        const replayed = us.wire.entries().filter((e) => e.dir === "out" && e.at >= t0 && e.possDup);
        assert.deepEqual(replayed, [], "none of yesterday's messages resent into the venue's new day");

        // The agreed way out: restart our side with ResetOnLogon=Y, so both Logons carry ResetSeqNumFlag=Y.
        const resetAt = stamp();
        await us.restart({ ResetOnLogon: true });
        await us.waitLive();
        const logon = us.noticesOf("logon", resetAt);
        assert.ok(logon.length >= 1 && logon.every((n) => n.reset), "logged on with an agreed reset");
        const recoverMs = stamp() - resetAt;
        await us.submitMany("RM-D2", 6);
        const c = await assertConverged(rig, { expectOrders: 12 });
        assert.equal(us.state.nextSenderSeq, 8, "day 2 numbered from 1");
        assertHealthPath(
          us,
          t0,
          // The restart comes back SAFE (the store keeps it) and stays SAFE until the agreed reset's Logon clears it.
          /^CONNECTING→LOGON_SENT→SAFE→SAFE→LIVE$/,
          "SAFE from the Logon to the agreed reset, across the restart",
        );
        s.row.note = `SAFE ${detectedMs.toFixed(1)} ms after logon`;
        s.converged(c, recoverMs);
      },
    );
  });
}
