/**
 * The stalled process that wakes up believing it still leads (the fencing-token case): the leader has a store
 * write on its way — held in a proxy on its store link, as a slow network would — when it is paused with
 * SIGSTOP past its lease. The standby wins, fences the store with the next epoch and leads; the write reaches
 * Redis only after that, and the old leader is resumed with SIGCONT. Its write must be refused (StaleEpochError:
 * the gRPC caller sees SESSION_FENCED), it must send nothing more on its FIX connection, and it must drop it at
 * once. A gRPC Send that reached it while it was paused is refused too. The venue refuses the new leader's
 * connections while the old socket is up (duplicate identity), so no two processes ever hold the session's
 * socket: the new leader is LIVE once the old one is gone.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ChaosProxy } from "@fixmesh/chaos";
import { RpcError } from "@fixmesh/contracts";
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

describe("a leader paused past its lease (SIGSTOP), then resumed (SIGCONT)", () => {
  it("its write is refused (stale epoch), it sends nothing, and it drops its socket", {
    timeout: 40_000,
  }, async (t) => {
    const prefix = freshPrefix();
    const { venue, tap, stop } = await startTappedVenue();
    const redis = new URL(REDIS_URL);
    const storeLink = new ChaosProxy({ target: { host: redis.hostname, port: Number(redis.port || 6379) } });
    const { port: storePort } = await storeLink.start();
    const oldFiles = writeConfig({
      redisPrefix: prefix,
      venuePort: tap.port,
      heartBtInt: 10,
      storeUrl: `redis://127.0.0.1:${storePort}`,
    });
    const newFiles = writeConfig({ redisPrefix: prefix, venuePort: tap.port, heartBtInt: 10 });
    const procs: ConnectorProcess[] = [];
    try {
      const old = await ConnectorProcess.spawn("old", oldFiles.config);
      procs.push(old);
      assert.equal(await leaderOf([old], 10_000), old);
      const standby = await ConnectorProcess.spawn("standby", newFiles.config);
      procs.push(standby);
      const oldEpoch = (await old.leading())?.epoch ?? 0;
      const before = await old.rpc.send(order("BEFORE-PAUSE"), { deadline: Date.now() + 3000 });
      const oldConn = tap.conns.length;

      // Let the venue's answer to that order be checkpointed first, so the next commit is the order's own.
      await sleep(200);
      // A write on its way: the commit of this order is held on the old leader's store link.
      storeLink.toServer.stall();
      const inFlight = old.rpc.send(order("IN-FLIGHT"), { deadline: Date.now() + 20_000 }).then(
        () => null,
        (e: unknown) => RpcError.from(e),
      );
      await waitFor(() => storeLink.stats().toServer.held > 0, 2000, "the commit held on the store link");
      old.signal("SIGSTOP");
      const pausedAt = performance.now();
      // A Send that waits in the kernel's buffers until the process runs again.
      const queued = old.rpc.send(order("SENT-WHILE-PAUSED"), { deadline: Date.now() + 20_000 }).then(
        () => null,
        (e: unknown) => RpcError.from(e),
      );

      // The standby wins once the lock has expired, and fences the store with the next epoch.
      await waitFor(() => standby.logged("leading the session") !== undefined, 5000, "the standby to lead");
      const newEpoch = Number(standby.logged("leading the session")?.epoch);
      assert.equal(newEpoch, oldEpoch + 1);
      assert.equal(tap.conns[oldConn - 1].closedAt, null, "the paused leader's socket is still up");
      // Only now does the old leader's write reach Redis; then the old leader wakes up (within the store's 2 s
      // command timeout, so it reads Redis's answer rather than giving up on it).
      storeLink.toServer.resume();
      await sleep(50);
      const resumedAt = performance.now();
      old.signal("SIGCONT");

      const refused = await inFlight;
      assert.ok(refused !== null, "the write the paused leader had on its way was accepted");
      assert.equal(refused.reason, "SESSION_FENCED", refused.message);
      await waitFor(
        () => old.logs.some((l) => l.msg === "fenced by a newer epoch; dropping the socket"),
        2000,
        "the old leader to log the refusal",
      );
      await waitFor(() => tap.conns[oldConn - 1].closedAt !== null, 3000, "the old leader to drop its socket");
      const droppedMs = (tap.conns[oldConn - 1].closedAt ?? 0) - resumedAt;
      const late = await queued;
      assert.ok(late !== null, "the Send queued during the pause was not refused");
      assert.ok(["NOT_LEADER", "SESSION_FENCED"].includes(late.reason), `${late.reason}: ${late.message}`);
      assert.deepEqual(
        tap.on(oldConn).filter((m) => m.at >= pausedAt),
        [],
        "the old leader sent nothing after its pause",
      );

      // The new leader is LIVE on its own connection, the numbers going on, with the next epoch.
      await waitFor(
        () => venue.session("CLIENT").connected && venue.session("CLIENT").health === Health.Live,
        5000,
        "the venue LIVE with the new leader",
      );
      const liveAt = performance.now();
      const newConn = tap.conns.length;
      assert.ok(newConn > oldConn);
      const logon = tap.on(newConn).find((m) => m.msgType === MsgType.Logon);
      assert.ok(logon !== undefined && !logon.resetSeqNumFlag && logon.seq > before.msgSeqNum);
      assert.equal((await leaderOf([standby], 3000)) === standby, true);
      assert.equal((await standby.leading())?.epoch, newEpoch);
      const copies = (id: string) => tap.sent.filter((m) => m.clOrdId === id && m.msgType === MsgType.NewOrderSingle);
      assert.equal(copies("BEFORE-PAUSE").length, 1);
      assert.equal(copies("IN-FLIGHT").length, 0);
      assert.equal(copies("SENT-WHILE-PAUSED").length, 0);
      const deposed = old.logs.find(
        (l) => l.msg === "deposed" || l.msg === "standing by: socket dropped without a Logout",
      );
      t.diagnostic(
        `old leader (epoch ${oldEpoch}) paused ${Math.round(resumedAt - pausedAt)} ms; after SIGCONT: write refused ` +
          `(SESSION_FENCED), socket dropped in ${Math.round(droppedMs)} ms, queued Send ${late.reason}, ` +
          `first reaction: ${String(deposed?.code ?? deposed?.reason ?? "?")}; new leader (epoch ${newEpoch}) LIVE ` +
          `${Math.round(liveAt - resumedAt)} ms after SIGCONT (lease ${LEASE.leaseDuration} s)`,
      );
    } finally {
      for (const p of procs) p.signal("SIGCONT");
      await Promise.all(procs.map((p) => p.kill()));
      await storeLink.stop();
      await stop();
      oldFiles.cleanup();
      newFiles.cleanup();
      await deleteSessionKeys(prefix);
    }
  });
});
