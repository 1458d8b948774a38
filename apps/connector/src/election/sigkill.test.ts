/**
 * Failover with real processes: two `fixmesh connector` processes (Redis store; Redis election, and Lease election
 * against the in-test Lease API server; lease 1 s) for one initiator session against the venue simulator. Orders
 * stream over gRPC to whichever process leads; the leader is SIGKILLed at a random point of the stream, five times
 * with Redis, three with the Lease (`pnpm bench:failover` runs the 20-trial version).
 * Each time the standby must be LIVE with the old leader's sequence numbers (no reset, no SAFE), with the next
 * epoch, and in the end the venue must have received every acknowledged order exactly once.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FakeLeaseApi } from "@fixmesh/election/testing";
import { MsgType } from "@fixmesh/fix";
import { Health } from "@fixmesh/session";
import {
  ConnectorProcess,
  deleteSessionKeys,
  freshPrefix,
  LEASE,
  leaderOf,
  OrderPump,
  sleep,
  startTappedVenue,
  waitFor,
  writeConfig,
} from "./failover-harness.js";

const leaseApi = new FakeLeaseApi();
before(() => leaseApi.start());
after(() => leaseApi.stop());

for (const [backend, TRIALS] of [
  ["redis", 5],
  ["lease", 3],
] as const) {
  describe(`failover under SIGKILL (2 connector processes, ${backend} election)`, () => {
    it(`the standby takes over LIVE with the old numbers and every acknowledged order reaches the venue once (${TRIALS} trials)`, {
      timeout: 80_000,
    }, async (t) => {
      const prefix = freshPrefix();
      const { venue, tap, taken, stop } = await startTappedVenue();
      const files = writeConfig({
        redisPrefix: prefix,
        venuePort: tap.port,
        ...(backend === "lease" && {
          lease: { apiServer: leaseApi.url, namespace: "fixmesh", name: `failover-${prefix.slice(-8).toLowerCase()}` },
        }),
      });
      const procs: ConnectorProcess[] = [];
      const acked: Array<{ clOrdId: string; seq: number }> = [];
      const failed: Array<{ clOrdId: string; reason: string }> = [];
      const failoverMs: number[] = [];
      try {
        procs.push(await ConnectorProcess.spawn("c1", files.config));
        procs.push(await ConnectorProcess.spawn("c2", files.config));
        let leader = await leaderOf(procs, 10_000);
        let epoch = (await leader.leading())?.epoch ?? 0;
        const venueSession = venue.session("CLIENT");
        for (let trial = 1; trial <= TRIALS; trial++) {
          const pump = new OrderPump(leader, `T${trial}`);
          // A random point of the stream, once it flows: commits, writes and acknowledgements are in flight all along.
          await waitFor(() => pump.acked.length > 0 || pump.failed.length > 0, 5000, `trial ${trial}: a first order`);
          await sleep(Math.random() * 370);
          const connsBefore = tap.conns.length;
          const killedAt = performance.now();
          leader.signal("SIGKILL");
          await leader.exited;
          pump.stop();
          await pump.done;
          acked.push(...pump.acked);
          failed.push(...pump.failed);
          assert.ok(pump.acked.length > 0, `trial ${trial}: no order was acknowledged before the kill`);
          const oldConn = connsBefore;
          const lastOldSeq = Math.max(...tap.on(oldConn).map((m) => m.seq));

          await waitFor(
            () => tap.conns.length > connsBefore && venueSession.connected && venueSession.health === Health.Live,
            3 * LEASE.leaseDuration * 1000 + 2000,
            `trial ${trial}: the venue LIVE on a new connection`,
          );
          failoverMs.push(performance.now() - killedAt);
          const next = await leaderOf(
            procs.filter((p) => p.alive),
            3000,
          );
          const view = await next.leading();
          assert.equal(view?.epoch, epoch + 1, `trial ${trial}: the new leader's epoch`);
          // The same sequence numbers go on: the new connection's Logon follows the old leader's last message.
          const newConn = tap.conns.length;
          const logon = tap.on(newConn).find((m) => m.msgType === MsgType.Logon);
          assert.ok(logon !== undefined, `trial ${trial}: a Logon on the new connection`);
          assert.equal(logon.resetSeqNumFlag, false, `trial ${trial}: no sequence reset`);
          assert.ok(logon.seq > lastOldSeq, `trial ${trial}: Logon ${logon.seq} after the old leader's ${lastOldSeq}`);
          assert.ok(logon.seq > 1);
          epoch = view?.epoch ?? 0;
          leader = next;
          // A fresh standby for the next trial.
          if (trial < TRIALS) procs.push(await ConnectorProcess.spawn(`c${procs.length + 1}`, files.config));
        }

        // A few orders through the last leader, then every acknowledged order must be at the venue, once.
        const last = new OrderPump(leader, "LAST", 1);
        await waitFor(() => last.acked.length >= 3, 5000, "orders through the last leader");
        last.stop();
        await last.done;
        acked.push(...last.acked);
        await waitFor(
          () => acked.every((a) => venue.order(a.clOrdId) !== undefined),
          5000,
          "every acknowledged order at the venue",
        );
        await sleep(200);
        const onWire = (id: string) =>
          tap.sent.filter((m) => m.msgType === MsgType.NewOrderSingle && m.clOrdId === id).length;
        const lost = acked.filter((a) => (taken.get(a.clOrdId) ?? 0) === 0 || onWire(a.clOrdId) === 0);
        const duplicated = [...acked, ...failed].filter((a) => (taken.get(a.clOrdId) ?? 0) > 1);
        assert.deepEqual(lost, [], "acknowledged orders the venue never took in");
        assert.deepEqual(duplicated, [], "orders the venue took in more than once");
        const resent = tap.sent.filter((m) => m.msgType === MsgType.NewOrderSingle && m.possDup).length;
        assert.notEqual(venueSession.health, Health.Safe);
        failoverMs.sort((a, b) => a - b);
        t.diagnostic(
          `${backend}: SIGKILL → standby LIVE (lease ${LEASE.leaseDuration} s): ${failoverMs.map((ms) => Math.round(ms)).join(", ")} ms; ` +
            `orders acknowledged ${acked.length}, unacknowledged at the kill ${failed.length}, ` +
            `resent with PossDupFlag on the venue's request ${resent}`,
        );
      } finally {
        await Promise.all(procs.map((p) => p.kill()));
        await stop();
        files.cleanup();
        await deleteSessionKeys(prefix);
      }
    });
  });
}
