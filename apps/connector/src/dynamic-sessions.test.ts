/**
 * Dynamic acceptor sessions (QuickFIX's AcceptorTemplate): a session entry with `AcceptorTemplate: Y` and `*` for
 * the counterparty's CompID creates a session, with its own store keys, when a Logon with a new CompID arrives on
 * its port — after the Logon passed the template's check. Real TCP on loopback, real Redis.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SessionRunner, tcpConnector } from "@fixmesh/engine";
import { ConfigError, Health, MemoryStore, resolveSettings } from "@fixmesh/session";
import { sessionKeys } from "@fixmesh/store";
import { ConnectorConfigError, parseConfig } from "./config/load.js";
import { type Connector, startConnector } from "./connector.js";
import { keysUnder, type Redis, redisClient } from "./e2e/harness.js";
import { createLogger } from "./log/logger.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const T = { timeout: 30_000 };

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function yaml(prefix: string, extra = ""): string {
  return [
    "connector: { id: hub }",
    `store: { kind: redis, redis: { url: "${REDIS_URL}", prefix: ${prefix} } }`,
    "acceptors: [{ name: hub, host: 127.0.0.1, port: 0 }]",
    "sessions:",
    '  - { BeginString: FIX.4.4, SenderCompID: HUB, TargetCompID: "*", ConnectionType: acceptor, AcceptorTemplate: Y,',
    `      HeartBtInt: 30, auth: { username: trader } ${extra} }`,
    "grpc: { plaintext: true, host: 127.0.0.1, port: 0 }",
    "metrics: { host: 127.0.0.1, port: 0 }",
  ].join("\n");
}

/** A counterparty (initiator) of the hub, with its own memory store that outlives a reconnect. */
async function client(sender: string, port: number, username: string, beginString = "FIX.4.4") {
  return SessionRunner.start({
    settings: resolveSettings({
      BeginString: beginString,
      SenderCompID: sender,
      TargetCompID: "HUB",
      ConnectionType: "initiator",
      HeartBtInt: 30,
      Username: username,
      ReconnectInterval: 0.1,
      ReconnectMaxInterval: 0.2,
    }),
    store: new MemoryStore(),
    connect: tcpConnector([{ host: "127.0.0.1", port }]),
    schedule: null,
  });
}

describe("dynamic acceptor sessions from a template (AcceptorTemplate)", () => {
  const prefix = `fixmesh-test-dyn-${process.pid}-${Date.now().toString(36)}`;
  let redis: Redis;
  before(async () => {
    redis = await redisClient();
  });
  after(async () => {
    const left = await keysUnder(redis, prefix);
    if (left.length > 0) await redis.del(...left);
    await redis.quit();
  });

  it(
    "a Logon from a new CompID creates its session with its own store keys; a bad one creates nothing",
    T,
    async () => {
      const made: SessionRunner[] = [];
      let hub: Connector | undefined;
      try {
        hub = await startConnector(parseConfig(yaml(prefix), { env: {} }), {
          logger: createLogger({ level: "silent" }),
        });
        const port = hub.acceptorPorts[0];
        assert.deepEqual(hub.list(), [], "a template is not a session");

        const c1 = await client("CLIENT1", port, "trader");
        const c2 = await client("CLIENT2", port, "trader");
        made.push(c1, c2);
        await waitFor(() => c1.state.health === Health.Live && c2.state.health === Health.Live, 5000, "both LIVE");
        const h = hub;
        assert.deepEqual(
          h
            .list()
            .map((r) => r.id)
            .sort(),
          ["FIX.4.4:HUB->CLIENT1", "FIX.4.4:HUB->CLIENT2"],
        );
        assert.equal(h.get("FIX.4.4:HUB->CLIENT1")?.state.health, Health.Live);
        await c1.send("D", [11, "A1", 55, "IBM", 54, "1", 60, "20260101-00:00:00", 38, "100", 40, "1"]);
        await waitFor(() => h.get("FIX.4.4:HUB->CLIENT1")?.state.nextTargetSeq === 3, 5000, "the order in");
        // Each its own keys: the sequence numbers of one are not the other's.
        const meta1 = await redis.hgetall(sessionKeys(prefix, "FIX.4.4:HUB->CLIENT1").meta);
        const meta2 = await redis.hgetall(sessionKeys(prefix, "FIX.4.4:HUB->CLIENT2").meta);
        assert.equal(meta1.nextTargetSeq, "3");
        assert.equal(meta2.nextTargetSeq, "2");
        assert.notEqual(meta1.cycle, meta2.cycle);

        // The template's check comes first: a wrong Username, or another BeginString, creates no session at all.
        const bad = await client("INTRUDER", port, "mallory");
        const other = await client("CLIENT3", port, "trader", "FIX.4.2");
        made.push(bad, other);
        await waitFor(() => h.acceptorRefusals().reduce((n, r) => n + r.count, 0) >= 2, 5000, "both Logons refused");
        assert.equal(h.get("FIX.4.4:HUB->INTRUDER"), undefined);
        assert.equal(h.get("FIX.4.2:HUB->CLIENT3"), undefined);
        assert.deepEqual(await keysUnder(redis, `${prefix}:{FIX.4.4:HUB->INTRUDER}`), [], "no store keys for it");
        const reasons = new Set(h.acceptorRefusals().map((r) => r.reason));
        assert.ok(reasons.has("credentials"), [...reasons].join());
        assert.ok(reasons.has("unknown_session"), [...reasons].join());
        for (const r of [bad, other]) await r.stop(0);

        // A restart: the session comes back from its keys on the counterparty's next Logon, numbers resumed.
        await h.stop();
        await waitFor(() => c1.state.health !== Health.Live, 5000, "c1 disconnected");
        hub = await startConnector(parseConfig(yaml(prefix).replace("port: 0", `port: ${port}`), { env: {} }), {
          logger: createLogger({ level: "silent" }),
        });
        const h2 = hub;
        await waitFor(() => h2.get("FIX.4.4:HUB->CLIENT1")?.state.health === Health.Live, 10_000, "CLIENT1 back");
        assert.ok((h2.get("FIX.4.4:HUB->CLIENT1")?.state.nextTargetSeq ?? 0) > 3, "numbers resumed, not reset");
      } finally {
        for (const r of made) await r.stop(0);
        await hub?.stop();
      }
    },
  );

  it(
    "under election a template is refused at start, naming the field (dynamic sessions need election none)",
    T,
    async () => {
      const config = parseConfig(
        yaml(prefix).replace("connector: { id: hub }", "connector: { id: hub }\nelection: { kind: redis }"),
        { env: {} },
      );
      await assert.rejects(
        startConnector(config, { logger: createLogger({ level: "silent" }) }),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.field === "sessions[0].AcceptorTemplate" &&
          /need election.kind: none/.test(e.reason),
      );
    },
  );

  it("`*` is refused outside a template, and a template needs an acceptor session", () => {
    const text = [
      "acceptors: [{ port: 0 }]",
      "sessions:",
      '  - { BeginString: FIX.4.4, SenderCompID: HUB, TargetCompID: "*", ConnectionType: acceptor }',
      "  - { BeginString: FIX.4.4, SenderCompID: A, TargetCompID: B, ConnectionType: initiator, AcceptorTemplate: Y,",
      "      initiator: { hosts: [{ host: h, port: 1 }] } }",
    ].join("\n");
    const err = (() => {
      try {
        parseConfig(text, { env: {} });
      } catch (e) {
        return e;
      }
      assert.fail("the configuration was accepted");
    })();
    assert.ok(err instanceof ConnectorConfigError);
    const problems = err.issues.map((i) => `${i.field}: ${i.reason}`);
    assert.ok(
      problems.includes(
        "sessions[0].TargetCompID: * (any) is only for a template of dynamic sessions: add AcceptorTemplate: Y",
      ),
      problems.join("\n"),
    );
    assert.ok(
      problems.includes("sessions[1].AcceptorTemplate: is only for acceptor sessions (ConnectionType: acceptor)"),
      problems.join("\n"),
    );
  });
});
