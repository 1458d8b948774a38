/**
 * Send idempotency keys across a failover, with real processes: two `fixmesh connector` processes (Redis store,
 * Redis election, lease 1 s) for one initiator session against the venue simulator. Orders with idempotency keys
 * stream to the leader, which is SIGKILLed mid-stream; then every order is retried, with the same key and the
 * same request, on the new leader. A retry of an order the old leader persisted must return the first answer
 * (its MsgSeqNum, `duplicate`) and send nothing; one it never persisted is sent now; and the venue must take
 * every order in exactly once.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
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
  sleep,
  startTappedVenue,
  waitFor,
  writeConfig,
} from "./failover-harness.js";

type Request = ReturnType<typeof order> & { idempotencyKey: string };

describe("Send idempotency keys across a failover (2 connector processes, Redis store)", () => {
  it("a retry on the new leader returns the old leader's answer and sends nothing; every order reaches the venue once", {
    timeout: 60_000,
  }, async (t) => {
    const prefix = freshPrefix();
    const { venue, tap, taken, stop } = await startTappedVenue();
    const files = writeConfig({ redisPrefix: prefix, venuePort: tap.port });
    const procs: ConnectorProcess[] = [];
    // The exact request of each order: a retry must be byte-for-byte the same call.
    const requests = new Map<string, Request>();
    const firstAnswer = new Map<string, number>();
    const unanswered: string[] = [];
    try {
      procs.push(await ConnectorProcess.spawn("k1", files.config));
      procs.push(await ConnectorProcess.spawn("k2", files.config));
      const leader = await leaderOf(procs, 10_000);
      const venueSession = venue.session("CLIENT");

      // Four lanes of keyed orders; the leader dies at a random point of the stream.
      let n = 0;
      let stopped = false;
      const lane = async (): Promise<void> => {
        while (!stopped) {
          const id = `K-${++n}`;
          const req: Request = { ...order(id), idempotencyKey: id };
          requests.set(id, req);
          try {
            const r = await leader.rpc.send(req, { deadline: Date.now() + 3000 });
            assert.equal(r.duplicate, false);
            firstAnswer.set(id, r.msgSeqNum);
          } catch {
            unanswered.push(id);
            return;
          }
        }
      };
      const lanes = Promise.all([lane(), lane(), lane(), lane()]);
      await sleep(100 + Math.random() * 300);
      const connsBefore = tap.conns.length;
      leader.signal("SIGKILL");
      await leader.exited;
      stopped = true;
      await lanes;
      assert.ok(firstAnswer.size > 0, "orders were acknowledged before the kill");

      await waitFor(
        () => tap.conns.length > connsBefore && venueSession.connected && venueSession.health === Health.Live,
        3 * LEASE.leaseDuration * 1000 + 2000,
        "the venue LIVE with the new leader",
      );
      const next = await leaderOf(
        procs.filter((p) => p.alive),
        3000,
      );
      const sentBefore = tap.sent.filter((m) => m.msgType === MsgType.NewOrderSingle && !m.possDup).length;

      // Every acknowledged order retried on the new leader: the first answer, and nothing on the wire.
      for (const [id, seq] of firstAnswer) {
        const r = await next.rpc.send(requests.get(id) as Request, { deadline: Date.now() + 3000 });
        assert.deepEqual([r.msgSeqNum, r.duplicate], [seq, true], `retry of ${id}`);
      }
      await sleep(200);
      const sentAfter = tap.sent.filter((m) => m.msgType === MsgType.NewOrderSingle && !m.possDup).length;
      assert.equal(sentAfter, sentBefore, "the retries of acknowledged orders sent nothing new");

      // A key reused with a different request is refused, not answered with another order's number.
      const [someId] = firstAnswer.keys();
      const reused = await next.rpc.send({ ...order("OTHER"), idempotencyKey: someId }).then(
        () => assert.fail("a reused key was accepted"),
        (e: unknown) => RpcError.from(e),
      );
      assert.equal(reused.reason, "IDEMPOTENCY_KEY_REUSED");

      // The orders the client never heard about: whether or not the old leader persisted them, a retry gets one
      // answer, and the venue ends up with exactly one of each.
      let persistedBefore = 0;
      for (const id of unanswered) {
        const r = await next.rpc.send(requests.get(id) as Request, { deadline: Date.now() + 3000 });
        if (r.duplicate) persistedBefore++;
      }
      const all = [...firstAnswer.keys(), ...unanswered];
      await waitFor(() => all.every((id) => (taken.get(id) ?? 0) >= 1), 5000, "every order at the venue");
      await sleep(300);
      const notOnce = all.filter((id) => taken.get(id) !== 1).map((id) => `${id}×${taken.get(id) ?? 0}`);
      assert.deepEqual(notOnce, [], "orders the venue did not take in exactly once");
      t.diagnostic(
        `acknowledged before the kill ${firstAnswer.size}, unanswered ${unanswered.length} ` +
          `(of which the old leader had persisted ${persistedBefore}); all retried, each at the venue once`,
      );
    } finally {
      await Promise.all(procs.map((p) => p.kill()));
      await stop();
      files.cleanup();
      await deleteSessionKeys(prefix);
    }
  });
});
