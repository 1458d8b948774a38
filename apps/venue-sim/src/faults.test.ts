import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Health, type SessionSettings } from "@fixmesh/session";
import type { StoreConfig, VenueSimConfigInput } from "./config.js";
import { startVenueSim, type VenueSim } from "./sim.js";
import { MsgType, newOrder, startClient, Tag, type TestClient } from "./testing/client.js";

const dir = mkdtempSync(join(tmpdir(), "venue-sim-faults-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A venue with one FIX 4.4 session (CLIENT) and a logged-on client; `fn` runs, then both stop. */
async function withVenue(
  fn: (venue: VenueSim, client: TestClient) => Promise<void>,
  over: Partial<SessionSettings> = {},
  extra: Partial<VenueSimConfigInput> = {},
): Promise<void> {
  const venue = await startVenueSim({
    listen: { port: 0 },
    sessions: [{ BeginString: "FIX.4.4", SenderCompID: "VENUE", TargetCompID: "CLIENT" }],
    ...extra,
  });
  const client = await startClient(venue.port, { beginString: "FIX.4.4", sender: "CLIENT", over });
  try {
    await client.waitLive();
    await fn(venue, client);
  } finally {
    await client.stop();
    await venue.stop(100);
  }
}

/** Sends an order that fills at once and waits for its New and its fill. */
async function fill(client: TestClient, clOrdId: string): Promise<void> {
  await client.send(MsgType.NewOrderSingle, newOrder({ clOrdId, symbol: "IBM", qty: 100, price: 50 }));
  await client.waitFor(() => client.about(clOrdId).length === 2, `New and fill of ${clOrdId}`);
}

const executions = (c: TestClient) => c.received.filter((r) => r.msg.msgType === MsgType.ExecutionReport);

describe("venue-side fault knobs", () => {
  it("jumpOutboundSeq: the client sees a gap, asks for it, gets one GapFill, and goes back to LIVE (small and 100,000)", async () => {
    await withVenue(async (venue, client) => {
      const vs = venue.session("CLIENT");
      for (const [n, id] of [
        [5, "J1"],
        [100_000, "J2"],
      ] as const) {
        const from = client.runner.state.nextTargetSeq;
        assert.equal(vs.jumpOutboundSeq(n), from + n);
        await fill(client, id);
        await client.waitFor(() => client.runner.state.health === Health.Live, "back to LIVE", 5000);
        assert.ok(
          client.notices.some((x) => x.kind === "gap" && x.begin === from && x.end === from + n - 1),
          `gap ${from}..${from + n - 1} detected`,
        );
        assert.ok(client.notices.some((x) => x.kind === "sequenceReset" && x.gapFill && x.nextTargetSeq === from + n));
        assert.equal(client.runner.state.nextTargetSeq, vs.nextSenderSeq, "in step again");
      }
      assert.equal(client.runner.state.counters.resendRequestsSent, 2);
    });
  });

  it("resendExecutionsAsPossDup: the last k reports again with PossDupFlag=Y, the original SendingTime, same ExecIDs, new seqs", async () => {
    await withVenue(async (venue, client) => {
      await fill(client, "D1");
      const originals = executions(client).slice(-2);
      const resent = await venue.session("CLIENT").resendExecutionsAsPossDup(2);
      await client.waitFor(() => executions(client).length === 4, "two copies");
      const copies = executions(client).slice(-2);
      assert.deepEqual(
        copies.map((c) => c.msg.get(Tag.ExecID)),
        originals.map((o) => o.msg.get(Tag.ExecID)),
      );
      for (const [i, c] of copies.entries()) {
        assert.equal(c.possDup, true);
        assert.equal(c.msg.get(Tag.PossDupFlag), "Y");
        assert.equal(c.msg.get(Tag.OrigSendingTime), originals[i].msg.get(Tag.SendingTime));
        assert.ok(
          (c.msg.getInt(Tag.MsgSeqNum) ?? 0) > (originals[1].msg.getInt(Tag.MsgSeqNum) ?? 0),
          "a new MsgSeqNum",
        );
        assert.equal(c.msg.getInt(Tag.MsgSeqNum), resent[i].seq);
      }
      assert.equal(client.runner.state.health, Health.Live, "a PossDup copy under the next number is no gap");
    });
  });

  it("duplicateExecutionsWithoutPossDup: the same reports, same ExecIDs, new seqs, no PossDupFlag", async () => {
    await withVenue(async (venue, client) => {
      await fill(client, "N1");
      const originals = executions(client).slice(-2);
      await venue.session("CLIENT").duplicateExecutionsWithoutPossDup(2);
      await client.waitFor(() => executions(client).length === 4, "two duplicates");
      const dups = executions(client).slice(-2);
      assert.deepEqual(
        dups.map((d) => [d.msg.get(Tag.ExecID), d.possDup, d.msg.get(Tag.PossDupFlag)]),
        originals.map((o) => [o.msg.get(Tag.ExecID), false, undefined]),
      );
      assert.notDeepEqual(
        dups.map((d) => d.msg.get(Tag.MsgSeqNum)),
        originals.map((o) => o.msg.get(Tag.MsgSeqNum)),
      );
    });
  });

  it("skipHeartbeats: the client sends a TestRequest, drops the silent link, reconnects and recovers the gap", async () => {
    await withVenue(
      async (venue, client) => {
        const vs = venue.session("CLIENT");
        const t0 = Date.now();
        vs.skipHeartbeats(2);
        await client.waitFor(() => client.runner.state.health !== Health.Live, "link declared dead", 4000);
        const took = Date.now() - t0;
        assert.ok(took <= 2 * 1000 + 500, `detected after ${took} ms with HeartBtInt 1`);
        assert.ok(client.runner.state.counters.testRequestsSent >= 1, "a TestRequest first");
        assert.ok(vs.heartbeatsSkipped >= 1);
        // After the window the venue's numbers are ahead by the heartbeats it never delivered: a gap, filled.
        await client.waitFor(() => client.notices.some((n) => n.kind === "gapFilled"), "gap recovered", 4000);
        await client.waitFor(() => client.runner.state.health === Health.Live, "LIVE again", 2000);
        await fill(client, "H1");
      },
      { HeartBtInt: 1 },
    );
  });

  it("resetOnNextLogon: the venue answers the next Logon with MsgSeqNum 1 and no ResetSeqNumFlag; the client goes SAFE", async () => {
    await withVenue(async (venue, client) => {
      const vs = venue.session("CLIENT");
      await fill(client, "R1");
      const armed = vs.resetOnNextLogon();
      client.runner.logout("end of day on our side");
      await armed;
      assert.deepEqual([vs.nextSenderSeq, vs.nextTargetSeq], [1, 1], "the venue's store starts a new cycle");
      client.runner.logon();
      await client.waitFor(() => client.runner.state.health === Health.Safe, "client SAFE", 3000);
      assert.match(client.runner.state.safeReason ?? "", /MsgSeqNum too low, expecting \d+ but received 1/);
      await client.waitFor(() => vs.runner.state.counters.resendRequestsSent >= 1, "venue asked to resend");
    });
  });

  for (const store of [{ kind: "memory" }, { kind: "file", dir }] as StoreConfig[]) {
    it(`restartWithWipedStore (${store.kind} store): same port, numbers back at 1, orders kept; the client goes SAFE`, async () => {
      await withVenue(
        async (venue, client) => {
          await fill(client, "W1");
          const port = venue.port;
          const orderId = venue.order("W1")?.orderId;
          await venue.restartWithWipedStore();
          assert.equal(venue.port, port);
          assert.equal(venue.order("W1")?.orderId, orderId, "the matching engine kept its orders");
          await client.waitFor(() => client.runner.state.health === Health.Safe, "client SAFE", 3000);
          assert.match(client.runner.state.safeReason ?? "", /received 1$/);
        },
        {},
        { store },
      );
    });
  }

  it("reports that happen while the client is away are sent, in order, after its next Logon", async () => {
    await withVenue(
      async (_venue, client) => {
        await client.send(MsgType.NewOrderSingle, newOrder({ clOrdId: "A1", symbol: "SLOW", qty: 90, price: 5 }));
        await client.waitFor(() => client.about("A1").length === 1, "the New");
        client.runner.logout();
        await client.waitFor(() => !client.runner.connected, "logged out");
        await new Promise((r) => setTimeout(r, 350));
        assert.equal(client.about("A1").length, 1, "nothing while away");
        client.runner.logon();
        await client.waitFor(() => client.about("A1").length === 4, "the three fills after the logon");
        assert.deepEqual(
          client.about("A1").map((m) => [m.get(Tag.CumQty), m.get(Tag.OrdStatus)]),
          [
            ["0", "0"],
            ["30", "1"],
            ["60", "1"],
            ["90", "2"],
          ],
        );
      },
      {},
      { symbols: { SLOW: { fill: "partial(3)", fillIntervalMs: 100 } } },
    );
  });
});
