/**
 * Events end to end: a connector (Redis store, NATS JetStream on 4222, an initiator session to the venue
 * simulator) takes 50 orders over gRPC SendStream; the stream then holds every order's `out.D` event and every
 * venue ExecutionReport's `in.8` event exactly once, under the ids ARCHITECTURE.md gives, plus the session's state
 * events — and the FIX password configured through PasswordEnv appears in none of them.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Delivered, JetStreamBus, sessionToken } from "@fixmesh/bus";
import { MsgType } from "@fixmesh/fix";
import { Health } from "@fixmesh/session";
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
  NATS_URL,
  OrderStream,
  rand,
  readWholeStream,
  redisClient,
  SESSION,
  sessionClient,
  startTappedVenue,
  testNames,
  waitFor,
} from "./harness.js";

const ORDERS = 50;

describe("events end to end (connector → NATS JetStream)", () => {
  it("every out.D and every venue ExecutionReport's in.8 is on the stream exactly once, with state events, and no password", {
    timeout: 30_000,
  }, async (t) => {
    const names = testNames();
    const nats = { url: NATS_URL, stream: names.stream, subjectPrefix: names.subjectPrefix };
    const passwordEnv = `FIXMESH_E2E_PASSWORD_${rand().toUpperCase()}`;
    const password = `pw-${rand()}${rand()}`;
    const tapped = await startTappedVenue();
    const config = parseConfig(
      connectorYaml({ id: "e2e-events", venuePort: tapped.port, redisPrefix: names.redisPrefix, nats, passwordEnv }),
      { env: { [passwordEnv]: password } },
    );
    assert.equal(config.sessions[0].password?.reveal(), password, "the password comes from the variable");
    const logLines: string[] = [];
    let connector: Connector | undefined;
    let bus: JetStreamBus | undefined;
    try {
      connector = await startConnector(config, {
        logger: createLogger({
          level: "info",
          secrets: config.secrets,
          destination: { write: (s: string) => logLines.push(s) },
        }),
      });
      const runner = connector.get(SESSION);
      assert.ok(runner);
      await waitFor(() => runner.state.health === Health.Live, 10_000, "the connector's session LIVE");
      const client = sessionClient(connector.grpcPort as number);
      const stream = new OrderStream(client);
      try {
        const ids = Array.from({ length: ORDERS }, (_, i) => `EV-${i}`);
        for (let i = 0; i < ORDERS; i += 10) stream.send(ids.slice(i, i + 10));
        stream.end();
        await stream.done;
      } finally {
        client.close();
      }
      assert.equal(stream.error, null, `the stream ended with ${stream.error?.message}`);
      assert.deepEqual(stream.failed, []);
      assert.equal(stream.acked.length, ORDERS);

      // The venue answers each order with New and Trade; once they are all in, stop the connector: its outbox
      // is drained to the stream at stop, so the stream then holds everything it will ever get.
      const venueSession = tapped.venue.session("CLIENT");
      await waitFor(
        () => runner.state.nextTargetSeq >= 2 + 2 * ORDERS,
        10_000,
        "every ExecutionReport at the connector",
      );
      const venueOut = await venueSession.runner.messageStore.getRange(1, venueSession.nextSenderSeq - 1);
      const reports = venueOut.filter((m) => m.msgType === MsgType.ExecutionReport);
      assert.equal(reports.length, 2 * ORDERS, "the venue sent a New and a Trade per order");

      const redis = await redisClient();
      const cycle = await redis.hget(sessionKeys(names.redisPrefix, SESSION).meta, "cycle");
      await redis.quit();
      assert.ok(cycle, "the session's cycle in Redis");

      await connector.stop();
      connector = undefined;
      // A graceful stop drains the outbox: the Logout exchange and the last state changes are on the stream too.
      const redisAfter = await redisClient();
      const left = await redisAfter.zcard(sessionKeys(names.redisPrefix, SESSION).outbox);
      await redisAfter.quit();
      assert.equal(left, 0, "events left in the outbox after a graceful stop");

      bus = await JetStreamBus.connect({
        servers: NATS_URL,
        stream: names.stream,
        subjects: [`${names.subjectPrefix}.>`],
      });
      const events = await readWholeStream(bus, `${names.subjectPrefix}.>`);
      const counts = countIds(events);
      const token = sessionToken(SESSION);
      const byId = new Map<string, Delivered>(events.map((e) => [e.id, e]));

      for (const { clOrdId, seq } of stream.acked) {
        const id: string = `${SESSION}:${cycle}:out:${seq}`;
        assert.equal(counts.get(id), 1, `${id} (order ${clOrdId}) on the stream exactly once`);
        const e = byId.get(id) as Delivered;
        assert.equal(e.subject, `${names.subjectPrefix}.${token}.out.D`);
        const body = bodyOf(e);
        assert.equal(body.clOrdId, clOrdId);
        assert.equal(body.seq, seq);
      }
      for (const r of reports) {
        const id: string = `${SESSION}:${cycle}:in:${r.seq}`;
        assert.equal(counts.get(id), 1, `${id} (the venue's ExecutionReport ${r.seq}) on the stream exactly once`);
        assert.equal((byId.get(id) as Delivered).subject, `${names.subjectPrefix}.${token}.in.8`);
      }
      const outD = events.filter((e) => e.subject.endsWith(".out.D"));
      const in8 = events.filter((e) => e.subject.endsWith(".in.8"));
      assert.equal(outD.length, ORDERS, "no other out.D event");
      assert.equal(in8.length, 2 * ORDERS, "no other in.8 event");
      for (const [id, n] of counts) assert.equal(n, 1, `${id} is on the stream ${n} times`);

      const state = events.filter((e) => e.subject === `${names.subjectPrefix}.${token}.state`);
      const notices = state.map((e) => (bodyOf(e).notice as { kind: string }).kind);
      assert.ok(notices.includes("logon"), `a logon state event (got ${notices.join(", ")})`);
      assert.ok(
        state.some((e) => {
          const n = bodyOf(e).notice as { kind: string; to?: string };
          return n.kind === "health" && n.to === Health.Live;
        }),
        "a health → LIVE state event",
      );

      // The Logon carried Password(554) on the wire, masked in its event; the literal is nowhere on the stream.
      const logonOnWire = tapped.wire.find((m) => m.msgType === MsgType.Logon);
      assert.equal(logonOnWire?.password, password, "the venue got the password in the Logon");
      const logon = events.find((e) => e.subject.endsWith(".out.A"));
      assert.ok(logon);
      const logonRaw = Buffer.from(bodyOf(logon).raw as string, "base64").toString("latin1");
      assert.match(logonRaw, /\x01554=\*+\x01/, "the Logon event carries Password(554), masked");
      for (const e of events) {
        const payload = Buffer.from(e.payload).toString("latin1");
        assert.ok(!payload.includes(password), `the password in the payload of ${e.id}`);
        const raw = bodyOf(e).raw;
        if (typeof raw === "string") {
          assert.ok(
            !Buffer.from(raw, "base64").toString("latin1").includes(password),
            `the password in ${e.id}'s raw FIX`,
          );
        }
        assert.ok(!JSON.stringify(e.headers ?? {}).includes(password), `the password in the headers of ${e.id}`);
      }
      assert.ok(!logLines.join("").includes(password), "the password in a log line");
      for (const l of logLines) if (/"level":(40|50|60)/.test(l)) t.diagnostic(l.trim());
      t.diagnostic(
        `${events.length} events: ${outD.length} out.D, ${in8.length} in.8, ${state.length} state (${notices.join(",")})`,
      );
    } finally {
      await connector?.stop().catch((e: unknown) => t.diagnostic(`stop: ${e}`));
      await deleteStream(bus, NATS_URL, names).catch((e: unknown) => t.diagnostic(`stream not deleted: ${e}`));
      await tapped.stop();
      await deleteKeysUnder(names.redisPrefix);
    }
  });
});
