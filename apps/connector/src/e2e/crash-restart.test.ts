/**
 * SIGKILL of the connector process in the middle of a stream of orders, then a restart on the same configuration
 * and Redis prefix: every order the gRPC client got a MsgSeqNum for reaches the venue exactly once (a copy resent
 * after the restart carries PossDupFlag=Y), the sequence numbers resume, and the venue's session ends LIVE.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { MsgType } from "@fixmesh/fix";
import { Health } from "@fixmesh/session";
import { sessionKeys } from "@fixmesh/store";
import { type ExecutionNotice, OrderState } from "@fixmesh/venue-sim";
import {
  type ConnectorProcess,
  connectorYaml,
  deleteKeysUnder,
  OrderStream,
  redisClient,
  removeDir,
  SESSION,
  type SessionClient,
  sessionClient,
  spawnConnector,
  startTappedVenue,
  tempDir,
  testNames,
  type WireMessage,
  waitFor,
  waitLive,
} from "./harness.js";

/**
 * Acknowledged sends before the SIGKILL; of them, those acknowledged after LOST_FROM went into the blackhole (the
 * connector wrote them, the venue never got them), as the last bytes of a crashing host do. Then orders after the
 * restart.
 */
const KILL_AFTER = 60;
const LOST_FROM = 40;
const AFTER_RESTART = 20;

describe("SIGKILL of the connector process mid-stream, then a restart", () => {
  it("every acknowledged order reaches the venue exactly once, sequence numbers resume, the venue ends LIVE", {
    timeout: 40_000,
  }, async (t) => {
    const names = testNames();
    const dir = tempDir();
    const tapped = await startTappedVenue();
    const reports: ExecutionNotice[] = [];
    tapped.venue.onExecution((e) => reports.push(e));
    const file = join(dir, "connector.yaml");
    writeFileSync(file, connectorYaml({ id: "e2e-crash", venuePort: tapped.port, redisPrefix: names.redisPrefix }));
    const venueSession = tapped.venue.session("CLIENT");
    const procs: ConnectorProcess[] = [];
    const clients: SessionClient[] = [];
    try {
      // --- run 1: orders streamed until KILL_AFTER of them are acknowledged, then SIGKILL ------------------------
      const first = await spawnConnector(file);
      procs.push(first);
      await waitFor(() => venueSession.health === Health.Live, 10_000, "the venue's session LIVE (run 1)");
      const c1 = sessionClient(first.grpcPort);
      clients.push(c1);
      await waitLive(c1);
      const s1 = new OrderStream(c1);
      let n = 0;
      // Frames of 5 every 2 ms. Once LOST_FROM are acknowledged, what the connector writes goes into the blackhole;
      // at KILL_AFTER acknowledged the process dies with sends in flight (some persisted, not yet answered).
      while (s1.acked.length < LOST_FROM && !s1.ended) {
        if (n < LOST_FROM) s1.send(Array.from({ length: 5 }, () => `K1-${n++}`));
        await new Promise((r) => setTimeout(r, 2));
      }
      tapped.blackhole(true);
      while (s1.acked.length < KILL_AFTER && !s1.ended) {
        s1.send(Array.from({ length: 5 }, () => `K1-${n++}`));
        await new Promise((r) => setTimeout(r, 2));
      }
      // One more frame, and the kill a moment later: it lands while the connector handles it.
      s1.send(Array.from({ length: 20 }, () => `K1-${n++}`));
      await new Promise((r) => setTimeout(r, 1));
      assert.equal(s1.error, null, `the stream failed before the kill: ${s1.error?.message}`);
      await first.kill();
      const exit = await first.exited;
      assert.equal(exit.signal, "SIGKILL");
      tapped.blackhole(false);
      await s1.done;
      const acked1 = [...s1.acked];
      assert.deepEqual(s1.failed, [], "no send failed before the kill");
      const lastAcked = Math.max(...acked1.map((a) => a.seq));
      const sent1 = n;
      await waitFor(() => !venueSession.connected, 5000, "the venue to see the connection drop");
      const venueNextAtKill = venueSession.nextTargetSeq;
      const redis = await redisClient();
      const persisted = Number(await redis.hget(sessionKeys(names.redisPrefix, SESSION).meta, "nextSenderSeq")) - 1;
      await redis.quit();
      t.diagnostic(
        `run 1: ${sent1} orders sent, ${acked1.length} acknowledged (last MsgSeqNum ${lastAcked}), ` +
          `${persisted} MsgSeqNums persisted in Redis, the venue had received up to ${venueNextAtKill - 1}`,
      );

      // --- run 2: the same configuration and Redis prefix; more orders --------------------------------------------
      const second = await spawnConnector(file);
      procs.push(second);
      await waitFor(
        () => venueSession.health === Health.Live && venueSession.nextTargetSeq > persisted,
        10_000,
        "the venue's session LIVE again, with the gap recovered",
      );
      const c2 = sessionClient(second.grpcPort);
      clients.push(c2);
      await waitLive(c2);
      const s2 = new OrderStream(c2);
      s2.send(Array.from({ length: AFTER_RESTART }, (_, i) => `K2-${i}`));
      s2.end();
      await s2.done;
      assert.equal(s2.error, null, `run 2's stream failed: ${s2.error?.message}`);
      assert.deepEqual(s2.failed, []);
      assert.equal(s2.acked.length, AFTER_RESTART);
      const acked = [...acked1, ...s2.acked];
      await waitFor(
        () => acked.every((a) => tapped.venue.order(a.clOrdId) !== undefined),
        10_000,
        "every acknowledged order at the venue",
      );
      // Both ExecutionReports of the last order are out: anything sent twice would have arrived by now.
      const last = s2.acked[s2.acked.length - 1].clOrdId;
      await waitFor(
        () => reports.filter((r) => r.event.clOrdId === last).length === 2,
        10_000,
        "the last order's reports",
      );

      // --- what the venue saw -------------------------------------------------------------------------------------
      const orders = tapped.wire.filter((m) => m.msgType === MsgType.NewOrderSingle && !m.lost);
      const byId = new Map<string, WireMessage[]>();
      for (const m of orders) byId.set(m.clOrdId ?? "", [...(byId.get(m.clOrdId ?? "") ?? []), m]);
      for (const a of acked) {
        const copies = byId.get(a.clOrdId) ?? [];
        // At most one original; any other copy is a resend with PossDupFlag=Y under the same MsgSeqNum.
        assert.ok(
          copies.filter((m) => !m.possDup).length <= 1,
          `${a.clOrdId} went out more than once without PossDupFlag: ${JSON.stringify(copies)}`,
        );
        assert.ok(copies.length >= 1, `${a.clOrdId} (MsgSeqNum ${a.seq}) never reached the venue`);
        for (const m of copies) assert.equal(m.seq, a.seq, `${a.clOrdId} on the wire under another MsgSeqNum`);
        const atVenue = tapped.venue.orders().filter((o) => o.chain[0] === a.clOrdId);
        assert.equal(atVenue.length, 1, `${a.clOrdId} is ${atVenue.length} orders at the venue`);
        assert.equal(atVenue[0].state, OrderState.Filled);
      }
      const duplicateRejects = reports.filter((r) => r.event.ordRejReason === "duplicateOrder");
      assert.deepEqual(duplicateRejects, [], "the venue rejected an order as a duplicate ClOrdID");
      // Orders sent but never answered may have reached the venue (persisted before the kill): once at most.
      for (const [id, copies] of byId) {
        assert.ok(copies.filter((m) => !m.possDup).length <= 1, `${id} went out twice without PossDupFlag`);
        assert.ok(tapped.venue.orders().filter((o) => o.chain[0] === id).length <= 1, `${id} twice at the venue`);
      }

      // The restarted session resumed its numbers: its Logon (the first message of the second connection)
      // carries a MsgSeqNum above the last acknowledged one, without ResetSeqNumFlag.
      const connections = [...new Set(tapped.wire.map((m) => m.connection))];
      assert.equal(connections.length, 2, "one connection per run");
      const logon2 = tapped.wire.find((m) => m.connection === connections[1]);
      assert.ok(logon2);
      assert.equal(logon2.msgType, MsgType.Logon);
      assert.ok(
        logon2.seq > lastAcked,
        `the restarted Logon's MsgSeqNum ${logon2.seq} ≤ last acknowledged ${lastAcked}`,
      );
      assert.equal(logon2.resetSeqNumFlag, false, "the restarted session reset its numbers");
      assert.ok(
        s2.acked.every((a) => a.seq > logon2.seq),
        "orders after the restart are numbered after its Logon",
      );

      // The acknowledged orders the venue never got before the crash came after the restart, resent with
      // PossDupFlag=Y under their own MsgSeqNums.
      const lostAcked = acked1.filter((a) =>
        tapped.wire.some((m) => m.lost && m.clOrdId === a.clOrdId && m.msgType === MsgType.NewOrderSingle),
      );
      assert.ok(lostAcked.length > 0, "some acknowledged orders were lost on the wire at the crash");
      for (const a of lostAcked) {
        const arrived = (byId.get(a.clOrdId) ?? []).map((m) => [m.connection, m.possDup]);
        assert.deepEqual(arrived, [[connections[1], true]], `${a.clOrdId}: resent once, with PossDupFlag=Y`);
      }
      const resent = tapped.wire.filter((m) => m.connection === connections[1] && m.possDup);
      t.diagnostic(
        `run 2: Logon MsgSeqNum ${logon2.seq}; ${resent.length} message(s) resent with PossDupFlag=Y ` +
          `(${resent.filter((m) => m.msgType === MsgType.NewOrderSingle).length} orders, ` +
          `${lostAcked.length} of them acknowledged before the kill and lost on the wire); ` +
          `${tapped.venue.orders().length} orders at the venue for ${sent1 + AFTER_RESTART} sent, ` +
          `${acked.length} acknowledged`,
      );
      assert.equal(venueSession.health, Health.Live, "the venue's session is LIVE");
      assert.notEqual(venueSession.health, Health.Safe);
    } finally {
      for (const c of clients) c.close();
      for (const p of procs) await p.kill();
      await tapped.stop();
      await deleteKeysUnder(names.redisPrefix);
      removeDir(dir);
    }
  });
});
