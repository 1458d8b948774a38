import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe } from "node:test";
import { JetStreamBus } from "@fixmesh/bus";
import { MsgType, Tag } from "@fixmesh/fix";
import { Health } from "@fixmesh/session";
import { startVenueSim } from "@fixmesh/venue-sim";
import { Child } from "../child.js";
import { orderDifferences } from "../convergence.js";
import type { ChildConfig } from "../crash-child.js";
import { type ScenarioContext, scenario } from "../scenario.js";
import type { Scoreboard } from "../scoreboard.js";
import { messageEvents, readStream, rebuildOrders } from "../stream.js";
import { stamp, waitFor } from "../wait.js";

const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

/** A venue for a crash child, a store directory that outlives the child, and a JetStream stream of its own. */
async function crashWorld(s: ScenarioContext) {
  const tag = Math.random().toString(36).slice(2, 8);
  const sender = `CRASH${tag.toUpperCase()}`;
  const venue = await startVenueSim({
    listen: { port: 0 },
    sessions: [{ BeginString: "FIX.4.4", SenderCompID: "VENUE", TargetCompID: sender }],
    policy: { fill: "immediate" },
  });
  s.cleanup(() => venue.stop(100));
  const vs = venue.session(sender);
  const venueExecIds: string[] = [];
  venue.onExecution((e) => {
    if (e.event.kind !== "status") venueExecIds.push(e.event.execId);
  });
  // Every NewOrderSingle the venue's session handed to its application, with its PossDupFlag.
  const arrivals: Array<{ clOrdId: string; possDup: boolean }> = [];
  vs.runner.onMessage((m, possDup) => {
    if (m.msgType === MsgType.NewOrderSingle) arrivals.push({ clOrdId: m.get(Tag.ClOrdID) ?? "", possDup });
  });
  const dir = mkdtempSync(join(tmpdir(), "fixmesh-chaos-crash-"));
  s.cleanup(() => rmSync(dir, { recursive: true, force: true }));
  const stream = `CHAOS_${tag.toUpperCase()}`;
  const subjectPrefix = `chaos_${tag}`;
  const bus = await JetStreamBus.connect({ servers: NATS_URL, stream, subjects: [`${subjectPrefix}.>`] });
  s.cleanup(async () => {
    await bus.deleteStream().catch(() => undefined);
    await bus.close();
  });
  const children: Child[] = [];
  s.cleanup(async () => {
    for (const c of children) await c.kill();
  });
  const session = `FIX.4.4:${sender}->VENUE`;
  return {
    venue,
    vs,
    sender,
    session,
    venueExecIds,
    arrivals,
    bus,
    subjectPrefix,
    spawn(over: Pick<ChildConfig, "orderPrefix" | "count"> & Partial<ChildConfig>): Child {
      const c = new Child({ port: venue.port, dir, sender, nats: NATS_URL, stream, subjectPrefix, ...over });
      children.push(c);
      return c;
    },
  };
}

type World = Awaited<ReturnType<typeof crashWorld>>;

/**
 * Runs the last child to the end and checks convergence the way a restarted service would see it: from the stream.
 * Every order persisted (an `out` NewOrderSingle event) reached the venue once; every execution the venue sent is on
 * the stream once; the order state rebuilt from the stream equals the venue's; the numbers agree both ways.
 */
async function finish(w: World, last: Child): Promise<{ orders: number; executions: number; busDuplicates: number }> {
  await last.line((l) => l === "done", 20_000, "the last child done");
  await waitFor(() => w.vs.pendingReports === 0 && w.vs.loggedOn, 10_000, "venue caught up");
  // Quiet: both directions agree.
  let st = await last.state();
  const deadline = stamp() + 10_000;
  while (!(st.nextSender === w.vs.nextTargetSeq && st.nextTarget === w.vs.nextSenderSeq) && stamp() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    st = await last.state();
  }
  assert.equal(st.nextTarget, w.vs.nextSenderSeq, "child's next expected = venue's next outgoing");
  assert.equal(st.nextSender, w.vs.nextTargetSeq, "child's next outgoing = venue's next expected");
  assert.equal(st.health, Health.Live);
  const health = last.lines.filter((l) => l.startsWith("health ")).map((l) => l.slice(7));
  assert.match(health.join("→"), /^LOGON_SENT→(RECOVERY→)?LIVE$/, "the restarted side: logon, recovery, LIVE");
  last.send("stop");
  const statsLine = await last.line((l) => l.startsWith("stats "), 20_000, "outbox drained");
  await last.exited;
  const busDuplicates = Number(statsLine.split(" ")[2]);

  const events = messageEvents(await readStream(w.bus, `${w.subjectPrefix}.>`));
  const ids = events.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, "no event twice on the stream");
  const ordersOut = events.filter((e) => e.dir === "out" && e.msgType === MsgType.NewOrderSingle).map((e) => e.clOrdId);
  assert.equal(new Set(ordersOut).size, ordersOut.length, "each order once on the stream");
  const execsIn = events.filter((e) => e.dir === "in" && e.msgType === MsgType.ExecutionReport).map((e) => e.execId);
  assert.equal(new Set(execsIn).size, execsIn.length, "each execution once on the stream");
  assert.deepEqual([...execsIn].sort(), [...w.venueExecIds].sort(), "the stream holds every execution the venue sent");

  // Every order that was persisted reached the venue, and was handled there once.
  const atVenue = w.venue.orders().filter((o) => o.session === w.vs.id);
  assert.deepEqual(atVenue.map((o) => o.clOrdId).sort(), [...ordersOut].sort(), "the venue has exactly our orders");
  const originals = new Map<string, number>();
  for (const a of w.arrivals) if (!a.possDup) originals.set(a.clOrdId, (originals.get(a.clOrdId) ?? 0) + 1);
  const twice = [...originals].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], "no order arrived twice without PossDupFlag");

  const { store, applied } = rebuildOrders(events);
  const diffs = [...store.all()].flatMap((o) => orderDifferences(o, w.venue.order(o.chain[0], w.sender)));
  assert.deepEqual(diffs.slice(0, 20), [], "orders rebuilt from the stream equal the venue's");
  assert.deepEqual(
    [...applied].filter(([, n]) => n !== 1),
    [],
    "every execution applied once",
  );
  assert.equal(applied.size, w.venueExecIds.length);
  return { orders: ordersOut.length, executions: execsIn.length, busDuplicates };
}

export function crashScenarios(board: Scoreboard): void {
  describe("3. our side killed (SIGKILL)", () => {
    scenario(
      board,
      "3a SIGKILL between persist and send",
      "SIGKILL at a random point of an order stream and between persisting an order and sending it: every persisted order reaches the venue once",
      { timeout: 60_000 },
      async (s) => {
        const w = await crashWorld(s);
        // Killed at a random point of a stream of 300 orders.
        const k1 = 20 + Math.floor(Math.random() * 200);
        const c1 = w.spawn({ orderPrefix: "K1", count: 300 });
        await c1.line((l) => l.startsWith(`persisted K1-${k1} `), 20_000, `K1-${k1} persisted`);
        await c1.kill();
        // Killed with an order committed to the store and not yet written to the socket.
        const k2 = 10 + Math.floor(Math.random() * 100);
        const held = `K2-${k2}`;
        const c2 = w.spawn({ orderPrefix: "K2", count: 200, holdAfterCommit: held });
        await c2.line((l) => l === `window ${held}`, 20_000, `${held} committed, not sent`);
        await c2.kill();
        const restarted = stamp();
        const c3 = w.spawn({ orderPrefix: "K3", count: 20 });
        await c3.line((l) => l === "health LIVE", 10_000, "restarted child LIVE");
        const recoverMs = stamp() - restarted;
        const r = await finish(w, c3);
        const arrivals = w.arrivals.filter((a) => a.clOrdId === held);
        assert.deepEqual(arrivals, [{ clOrdId: held, possDup: true }], `${held} arrived once, as a resend (43=Y)`);
        assert.ok(c1.persisted.length >= k1 && c2.persisted.length === k2 - 1);
        const resent = w.arrivals.filter((a) => a.possDup).length;
        s.row.orders = r.orders;
        s.row.executions = r.executions;
        s.row.duplicatesDropped = r.busDuplicates;
        s.row.gapsRecovered = c3.lines.filter((l) => l.startsWith("gapFilled ")).length;
        s.row.recoverMs = recoverMs;
        s.row.note = `killed after K1-${k1} and in the window at ${held}; ${resent} resent with 43=Y`;
        s.row.converged = true;
      },
    );

    scenario(
      board,
      "3b SIGKILL between receive and publish",
      "SIGKILL with executions received but their events unpublished, and after the bus took a batch but before the outbox ack: every event on JetStream once",
      { timeout: 60_000 },
      async (s) => {
        const w = await crashWorld(s);
        // The publisher never runs: executions are received and recorded, their events wait in the outbox.
        const c1 = w.spawn({ orderPrefix: "P1", count: 100, publisher: "paused" });
        await c1.line((l) => l === "done", 20_000, "P1 sent");
        await waitFor(() => w.venueExecIds.length === 200 && c1.execs.length === 200, 10_000, "P1 executions received");
        assert.equal(await w.bus.lastSeq(), 0, "nothing published yet");
        await c1.kill();
        // JetStream accepts a batch, and the child dies before the outbox is acknowledged.
        const c2 = w.spawn({ orderPrefix: "P2", count: 60, publisher: { hangAfterPublish: 3 } });
        await c2.line((l) => l === "published-window 3", 20_000, "a batch published, not acked");
        const published = await w.bus.lastSeq();
        assert.ok(published >= 48, `${published} events on the stream`);
        await c2.kill();
        const restarted = stamp();
        const c3 = w.spawn({ orderPrefix: "P3", count: 20 });
        await c3.line((l) => l === "health LIVE", 10_000, "restarted child LIVE");
        const recoverMs = stamp() - restarted;
        const r = await finish(w, c3);
        assert.ok(r.busDuplicates >= 1, `the unacknowledged batch was published again and dropped: ${r.busDuplicates}`);
        s.row.orders = r.orders;
        s.row.executions = r.executions;
        s.row.duplicatesDropped = r.busDuplicates;
        s.row.gapsRecovered = c3.lines.filter((l) => l.startsWith("gapFilled ")).length;
        s.row.recoverMs = recoverMs;
        s.row.note = `dups dropped by the JetStream duplicate window`;
        s.row.converged = true;
      },
    );
  });
}
