/**
 * A rolling update: SIGTERM to the leader while orders stream to it. It must finish the sends already handed to
 * it, log out cleanly (its last message on the wire is the Logout), release the lock, and exit 0; the standby
 * must take over at once (the release is published) and be LIVE well under a second later, continuing the
 * sequence numbers exactly where the Logout left them.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MsgType } from "@fixmesh/fix";
import { Health } from "@fixmesh/session";
import {
  ConnectorProcess,
  deleteSessionKeys,
  freshPrefix,
  leaderOf,
  OrderPump,
  sleep,
  startTappedVenue,
  waitFor,
  writeConfig,
} from "./failover-harness.js";

describe("a rolling update (SIGTERM to the leader)", () => {
  it("finishes in-flight sends, logs out, releases the lock; the standby is LIVE < 1.5 s later", {
    timeout: 40_000,
  }, async (t) => {
    const prefix = freshPrefix();
    const { venue, tap, taken, stop } = await startTappedVenue();
    const files = writeConfig({ redisPrefix: prefix, venuePort: tap.port });
    const procs: ConnectorProcess[] = [];
    try {
      procs.push(await ConnectorProcess.spawn("c1", files.config));
      procs.push(await ConnectorProcess.spawn("c2", files.config));
      const old = await leaderOf(procs, 10_000);
      const standby = procs.find((p) => p !== old) as ConnectorProcess;
      const oldEpoch = (await old.leading())?.epoch ?? 0;
      const pump = new OrderPump(old, "ROLL");
      await sleep(300);
      const oldConn = tap.conns.length;
      const termAt = performance.now();
      old.signal("SIGTERM");
      const exit = await old.exited;
      const exitedAt = performance.now();
      pump.stop();
      await pump.done;
      assert.equal(exit.code, 0, `exit ${exit.code ?? exit.signal}`);

      const venueSession = venue.session("CLIENT");
      await waitFor(
        () => tap.conns.length > oldConn && venueSession.connected && venueSession.health === Health.Live,
        3000,
        "the venue LIVE with the new leader",
      );
      const liveAt = performance.now();
      const gracefulMs = liveAt - termAt;

      // The old leader logged out: its Logout is the last thing it sent, and the venue answered it.
      const oldSent = tap.on(oldConn);
      const logout = oldSent.at(-1);
      assert.equal(logout?.msgType, MsgType.Logout, "the old leader's last message is its Logout");
      const oldClosedAt = tap.conns[oldConn - 1].closedAt ?? 0;
      assert.ok(old.logged("leadership ended") !== undefined, "the old leader's term ended by stopping");
      // The new leader continues exactly after the Logout: nothing lost, nothing reset.
      const newConn = tap.conns.length;
      const logon = tap.on(newConn).find((m) => m.msgType === MsgType.Logon);
      assert.ok(logon !== undefined);
      assert.equal(logon.resetSeqNumFlag, false);
      assert.equal(logon.seq, (logout?.seq ?? 0) + 1, "the new leader's Logon follows the old leader's Logout");
      assert.equal((await leaderOf([standby], 3000)) === standby, true);
      assert.equal((await standby.leading())?.epoch, oldEpoch + 1);

      // Every acknowledged order reached the venue, once; nothing was sent twice.
      assert.ok(pump.acked.length > 0);
      await waitFor(
        () => pump.acked.every((a) => venue.order(a.clOrdId) !== undefined),
        5000,
        "the orders at the venue",
      );
      await sleep(200);
      for (const a of pump.acked)
        assert.equal(taken.get(a.clOrdId), 1, `${a.clOrdId} taken in ${taken.get(a.clOrdId)} times`);
      for (const f of pump.failed) assert.ok((taken.get(f.clOrdId) ?? 0) <= 1, `${f.clOrdId} taken in twice`);
      assert.ok(gracefulMs < 1500, `standby LIVE ${gracefulMs} ms after SIGTERM`);
      t.diagnostic(
        `SIGTERM → standby LIVE ${Math.round(gracefulMs)} ms (old leader exited after ${Math.round(exitedAt - termAt)} ms; ` +
          `old socket closed → new leader LIVE ${Math.round(liveAt - oldClosedAt)} ms); ${pump.acked.length} orders acknowledged`,
      );
    } finally {
      await Promise.all(procs.map((p) => p.kill()));
      await stop();
      files.cleanup();
      await deleteSessionKeys(prefix);
    }
  });
});
