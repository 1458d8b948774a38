/**
 * A NATS outage: the connector publishes its events to a private nats-server (its own port and store
 * directory), which is SIGKILLed while orders flow and started again on the same store. The FIX session stays
 * LIVE and orders keep being acknowledged throughout; afterwards every event the connector committed is on the
 * stream exactly once, and in order on each subject.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Delivered, JetStreamBus, sessionToken } from "@fixmesh/bus";
import { SessionHealth } from "@fixmesh/contracts";
import type { SessionNotice } from "@fixmesh/session";
import { sessionKeys } from "@fixmesh/store";
import { parseConfig } from "../config/load.js";
import { type Connector, startConnector } from "../connector.js";
import { createLogger } from "../log/logger.js";
import {
  bodyOf,
  connectorYaml,
  countIds,
  deleteKeysUnder,
  deleteStream,
  freePort,
  NatsServer,
  OrderStream,
  readWholeStream,
  redisClient,
  removeDir,
  SESSION,
  type SessionClient,
  sessionClient,
  sleep,
  startTappedVenue,
  tempDir,
  testNames,
  waitFor,
  waitLive,
} from "./harness.js";

/** How long NATS stays down while orders flow. */
const OUTAGE_MS = 2000;

describe("NATS outage (a private nats-server killed and restarted)", () => {
  it("the FIX session stays LIVE and orders are acknowledged; afterwards every event is on the stream once, in order", {
    timeout: 45_000,
  }, async (t) => {
    const names = testNames();
    const storeDir = tempDir();
    const nats = new NatsServer(await freePort(), storeDir);
    await nats.start();
    const tapped = await startTappedVenue();
    const config = parseConfig(
      connectorYaml({
        id: "e2e-nats",
        venuePort: tapped.port,
        redisPrefix: names.redisPrefix,
        nats: { url: nats.url, stream: names.stream, subjectPrefix: names.subjectPrefix },
      }),
      { env: {} },
    );
    const logLines: string[] = [];
    let connector: Connector | undefined;
    let client: SessionClient | undefined;
    let bus: JetStreamBus | undefined;
    try {
      connector = await startConnector(config, {
        logger: createLogger({ level: "info", destination: { write: (s: string) => logLines.push(s) } }),
      });
      const runner = connector.get(SESSION);
      assert.ok(runner);
      const notices: SessionNotice[] = [];
      runner.onNotice((n) => notices.push(n));
      client = sessionClient(connector.grpcPort as number);
      await waitLive(client);
      const rpc = client.rpc;
      const stream = new OrderStream(client);
      let n = 0;
      const flowFor = async (ms: number): Promise<void> => {
        const end = Date.now() + ms;
        while (Date.now() < end) {
          stream.send(Array.from({ length: 5 }, () => `N-${n++}`));
          await sleep(20);
        }
      };

      await flowFor(500);
      await waitFor(() => stream.acked.length === n, 5000, "the orders before the outage acknowledged");
      const beforeOutage = stream.acked.length;

      await nats.kill();
      const healthDuringOutage: SessionHealth[] = [];
      const outageEnd = Date.now() + OUTAGE_MS;
      while (Date.now() < outageEnd) {
        await flowFor(200);
        const { session } = await rpc.getSession({ sessionId: SESSION }, { deadline: Date.now() + 2000 });
        healthDuringOutage.push(session?.health ?? SessionHealth.UNSPECIFIED);
      }
      await waitFor(() => stream.acked.length === n, 5000, "the orders sent during the outage acknowledged");
      const duringOutage = stream.acked.length - beforeOutage;
      assert.ok(duringOutage > 0, "orders were acknowledged while NATS was down");
      assert.deepEqual(
        healthDuringOutage.filter((h) => h !== SessionHealth.LIVE),
        [],
        "the FIX session stayed LIVE while NATS was down",
      );
      const redis = await redisClient();
      const keys = sessionKeys(names.redisPrefix, SESSION);
      const backlog = await redis.zcard(keys.outbox);
      assert.ok(backlog > 0, "events waited in the outbox while NATS was down");

      await nats.start();
      await flowFor(500);
      stream.end();
      await stream.done;
      assert.equal(stream.error, null, `the order stream failed: ${stream.error?.message}`);
      assert.deepEqual(stream.failed, []);
      assert.equal(stream.acked.length, n);

      // Every order's two reports in, then the outbox drained to the restarted NATS.
      await waitFor(() => runner.state.nextTargetSeq >= 2 + 2 * n, 10_000, "every ExecutionReport at the connector");
      const drained = Date.now();
      let left = -1;
      while (left !== 0 && Date.now() - drained < 20_000) {
        left = await redis.zcard(keys.outbox);
        if (left !== 0) await sleep(50);
      }
      assert.equal(left, 0, "the outbox drained after NATS came back");
      const drainMs = Date.now() - drained;
      const meta = await redis.hmget(keys.meta, "cycle", "nextSenderSeq", "nextTargetSeq");
      await redis.quit();
      const [cycle, nextSender, nextTarget] = [meta[0] as string, Number(meta[1]), Number(meta[2])];
      const observed = [...notices];

      bus = await JetStreamBus.connect({
        servers: nats.url,
        stream: names.stream,
        subjects: [`${names.subjectPrefix}.>`],
      });
      const events = await readWholeStream(bus, `${names.subjectPrefix}.>`);
      const counts = countIds(events);
      for (const [id, c] of counts) assert.equal(c, 1, `${id} is on the stream ${c} times`);

      // Every message in and out the store committed has its event: ids <session>:<cycle>:<in|out>:<seq>.
      const missing: string[] = [];
      for (const [dir, next] of [
        ["out", nextSender],
        ["in", nextTarget],
      ] as const) {
        for (let seq = 1; seq < next; seq++) {
          const id = `${SESSION}:${cycle}:${dir}:${seq}`;
          if (!counts.has(id)) missing.push(id);
        }
      }
      assert.deepEqual(missing, [], "message events missing from the stream");
      const messageEvents = events.filter((e) => !e.subject.endsWith(".state"));
      assert.equal(messageEvents.length, nextSender - 1 + nextTarget - 1, "no message event beyond the committed ones");

      // In order on each subject: message events by MsgSeqNum, state events as the session raised them.
      const bySubject = new Map<string, Delivered[]>();
      for (const e of events) bySubject.set(e.subject, [...(bySubject.get(e.subject) ?? []), e]);
      for (const [subject, list] of bySubject) {
        if (subject.endsWith(".state")) continue;
        const seqs = list.map((e) => bodyOf(e).seq as number);
        assert.deepEqual(
          seqs,
          [...seqs].sort((a, b) => a - b),
          `${subject}: events out of MsgSeqNum order`,
        );
      }
      const state = bySubject.get(`${names.subjectPrefix}.${sessionToken(SESSION)}.state`) ?? [];
      const stateNotices = state.map((e) => bodyOf(e).notice);
      const kinds = stateNotices.map((x) => (x as { kind: string }).kind);
      assert.ok(kinds.includes("logon"), `the logon state event (got ${kinds.join(", ")})`);
      // The notices raised after the test started listening are the last ones on the state subject, in order.
      assert.deepEqual(
        stateNotices.slice(stateNotices.length - observed.length),
        JSON.parse(JSON.stringify(observed)),
        "state events on the stream vs the notices the session raised",
      );

      t.diagnostic(
        `${n} orders: ${beforeOutage} before the outage, ${duringOutage} during it (${OUTAGE_MS} ms), ` +
          `${n - beforeOutage - duringOutage} after; outbox backlog ${backlog} during the outage, drained ` +
          `${drainMs} ms after the last reports; ${events.length} events on the stream (${state.length} state)`,
      );
    } finally {
      client?.close();
      await connector?.stop().catch((e: unknown) => t.diagnostic(`stop: ${e}`));
      await deleteStream(bus, nats.url, names).catch((e: unknown) => t.diagnostic(`stream not deleted: ${e}`));
      await nats.kill();
      await tapped.stop();
      await deleteKeysUnder(names.redisPrefix);
      removeDir(storeDir);
      for (const l of logLines) if (/"level":(50|60)/.test(l)) t.diagnostic(l.trim());
    }
  });
});
