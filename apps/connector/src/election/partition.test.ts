/**
 * The leader cut off from Redis (its store and its lock behind one proxy, which stops passing anything): it must
 * step down by itself at its renew deadline and drop its FIX socket, sending nothing after the cut (its commits hang,
 * and persist-before-send writes nothing unpersisted); the standby wins only after the lock expired, with the next
 * epoch. At no moment do two processes hold the session's socket. When the link heals, the old leader's held
 * write is refused and it stays a standby.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ChaosProxy } from "@fixmesh/chaos";
import { MsgType } from "@fixmesh/fix";
import { Health } from "@fixmesh/session";
import {
  ConnectorProcess,
  deleteSessionKeys,
  freshPrefix,
  LEASE,
  leaderOf,
  order,
  REDIS_URL,
  sleep,
  startTappedVenue,
  waitFor,
  writeConfig,
} from "./failover-harness.js";

describe("a leader cut off from Redis", () => {
  it("steps down by itself and drops its socket before the standby connects; no two sockets at once", {
    timeout: 40_000,
  }, async (t) => {
    const prefix = freshPrefix();
    const { venue, tap, taken, stop } = await startTappedVenue();
    const redis = new URL(REDIS_URL);
    const link = new ChaosProxy({ target: { host: redis.hostname, port: Number(redis.port || 6379) } });
    const { port } = await link.start();
    const viaLink = `redis://127.0.0.1:${port}`;
    const oldFiles = writeConfig({ redisPrefix: prefix, venuePort: tap.port, storeUrl: viaLink, electionUrl: viaLink });
    const newFiles = writeConfig({ redisPrefix: prefix, venuePort: tap.port });
    const procs: ConnectorProcess[] = [];
    try {
      const old = await ConnectorProcess.spawn("old", oldFiles.config);
      procs.push(old);
      assert.equal(await leaderOf([old], 10_000), old);
      const standby = await ConnectorProcess.spawn("standby", newFiles.config);
      procs.push(standby);
      const oldEpoch = (await old.leading())?.epoch ?? 0;
      const before = await old.rpc.send(order("BEFORE-CUT"), { deadline: Date.now() + 3000 });
      await sleep(200);
      const oldConn = tap.conns.length;

      const cutAt = performance.now();
      link.stall();
      // An order handed over after the cut: its commit hangs on the link, so it must never reach the venue.
      const afterCut = old.rpc.send(order("AFTER-CUT"), { deadline: Date.now() + 10_000 }).then(
        () => "acknowledged",
        (e: unknown) => String((e as { message?: string }).message ?? e),
      );

      await waitFor(() => tap.conns[oldConn - 1].closedAt !== null, 3000, "the old leader to drop its socket");
      const droppedAt = tap.conns[oldConn - 1].closedAt ?? 0;
      assert.ok(
        old.logs.some((l) => l.msg === "deposed" && l.code === "renew-deadline"),
        "stepped down by itself",
      );
      await waitFor(
        () =>
          tap.conns.length > oldConn &&
          venue.session("CLIENT").connected &&
          venue.session("CLIENT").health === Health.Live,
        5000,
        "the standby LIVE",
      );
      const liveAt = performance.now();
      const newConn = tap.conns[tap.conns.length - 1];
      // The old socket was gone before the new leader opened its own.
      assert.ok(droppedAt < newConn.openedAt, "two processes held the session's socket at once");
      for (const c of tap.conns.slice(oldConn)) assert.ok(c.openedAt > droppedAt);
      assert.deepEqual(
        tap.on(oldConn).filter((m) => m.at > cutAt),
        [],
        "the old leader sent nothing after the cut",
      );
      assert.equal((await leaderOf([standby], 3000)) === standby, true);
      assert.equal((await standby.leading())?.epoch, oldEpoch + 1);
      const logon = tap.on(tap.conns.length).find((m) => m.msgType === MsgType.Logon);
      assert.ok(logon !== undefined && !logon.resetSeqNumFlag && logon.seq > before.msgSeqNum);

      // The link heals: the old leader's held writes reach Redis and are refused; it stays a standby.
      link.resume();
      const outcome = await afterCut;
      assert.notEqual(outcome, "acknowledged");
      await sleep(3 * LEASE.retryPeriod * 1000);
      assert.equal(await old.leading(), null, "the old leader is a standby after the heal");
      assert.equal(taken.get("AFTER-CUT") ?? 0, 0);
      assert.equal(taken.get("BEFORE-CUT"), 1);
      t.diagnostic(
        `cut → old leader stepped down and dropped its socket ${Math.round(droppedAt - cutAt)} ms later ` +
          `(renewDeadline ${LEASE.renewDeadline * 1000} ms); standby LIVE ${Math.round(liveAt - cutAt)} ms after the cut ` +
          `(lease ${LEASE.leaseDuration * 1000} ms); the old leader's Send: ${outcome}`,
      );
    } finally {
      link.reset();
      await Promise.all(procs.map((p) => p.kill()));
      await link.stop();
      await stop();
      oldFiles.cleanup();
      newFiles.cleanup();
      await deleteSessionKeys(prefix);
    }
  });
});
