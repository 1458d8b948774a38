/**
 * Secrets never leak: a full run — the connector with a Redis store and NATS events (both with authentication and
 * TLS, servers this test starts), an initiator session to the venue simulator sending a FIX Username/Password, an
 * acceptor session checking its counterparty's password against a scrypt hash (one wrong Logon, one right), and
 * gRPC calls carrying a bearer JWT — then every log line (at trace level, raw FIX included), the metrics
 * exposition, every event on the stream (with the base64 FIX bytes decoded) and everything stored in Redis is
 * scanned for each planted secret, as plain text, base64 and URL-encoded: none appears. The persistence service
 * then stores the run's events in a private PostgreSQL cluster (SCRAM password and TLS, through its link settings,
 * NATS read with user/password over TLS): its log lines and every row of every table are scanned the same way.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Delivered, JetStreamBus } from "@fixmesh/bus";
import { createLogger, parseConfig, startConnector } from "@fixmesh/connector";
import { createGrpcClient, SessionService } from "@fixmesh/contracts";
import { SessionRunner, tcpConnector } from "@fixmesh/engine";
import { startPersistence } from "@fixmesh/persistence";
import { hashPassword } from "@fixmesh/security";
import { Health, MemoryBacking, MemoryStore, resolveSettings } from "@fixmesh/session";
import type { VenueSim } from "@fixmesh/venue-sim";
import * as grpc from "@grpc/grpc-js";
import { Redis } from "ioredis";
import {
  dumpRedis,
  InfraPki,
  LogCapture,
  type NatsServer,
  order,
  type PgServer,
  type RedisServer,
  startTlsNats,
  startTlsPostgres,
  startTlsRedis,
  waitLive,
} from "./security-infra-servers.js";
import { rand, startVenue, waitFor } from "./trace-harness.js";

const T = { timeout: 90_000 };
const token = () => randomBytes(9).toString("base64url");

async function waitForAsync(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The planted secrets: each random, so a hit can only come from this run. */
const SECRETS = {
  fixPasswordSent: `FixOut-${token()}`,
  fixPasswordChecked: `FixIn-${token()}`,
  fixPasswordWrong: `FixWrong-${token()}`,
  redisPassword: `Redis-${token()}`,
  natsPassword: `Nats-${token()}`,
  pgPassword: `Pg-${token()}`,
  jwt: [
    Buffer.from(JSON.stringify({ alg: "RS256", typ: "JWT", kid: "k1" })).toString("base64url"),
    Buffer.from(JSON.stringify({ sub: "spiffe://fixmesh.test/ns/trading/sa/oms", n: token() })).toString("base64url"),
    randomBytes(64).toString("base64url"),
  ].join("."),
};

/** The forms a secret could take in the output: as is, base64, URL-encoded. */
function forms(secret: string): string[] {
  return [secret, Buffer.from(secret).toString("base64").replace(/=+$/, ""), encodeURIComponent(secret)];
}

function leaks(where: string, text: string): string[] {
  const found: string[] = [];
  for (const [name, secret] of Object.entries(SECRETS)) {
    for (const f of forms(secret)) if (text.includes(f)) found.push(`${name} in ${where}`);
  }
  return found;
}

describe("secrets never leak: logs, metrics, events and stored messages of a full run", () => {
  let pki: InfraPki;
  let redis: RedisServer;
  let nats: NatsServer;
  let pg: PgServer;
  let venue: VenueSim;
  let dir: string;
  const stream = `SECSCAN_${rand()}`;
  const subjectPrefix = `secscan_${rand()}`;
  const prefix = `fixmesh-secscan-${rand()}`;

  before(async () => {
    pki = new InfraPki();
    [redis, nats, venue, pg] = await Promise.all([
      startTlsRedis(pki, "fixmesh", SECRETS.redisPassword),
      startTlsNats(pki, "fixmesh-nats", SECRETS.natsPassword),
      startVenue(),
      startTlsPostgres(pki, SECRETS.pgPassword),
    ]);
    dir = mkdtempSync(join(tmpdir(), "fixmesh-secscan-"));
    writeFileSync(join(dir, "redis.pw"), SECRETS.redisPassword);
    writeFileSync(join(dir, "nats.pw"), SECRETS.natsPassword);
    writeFileSync(join(dir, "pg.pw"), SECRETS.pgPassword);
    writeFileSync(join(dir, "fix-out.pw"), SECRETS.fixPasswordSent);
    writeFileSync(join(dir, "trader.hash"), await hashPassword(SECRETS.fixPasswordChecked, { ln: 12, r: 8, p: 1 }));
  });

  after(async () => {
    await venue?.stop(0);
    await redis?.stop();
    await nats?.stop();
    await pg?.stop();
    pki?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it("no planted secret appears in any log line, metric, event or stored message", T, async () => {
    const ca = pki.server.caFile;
    const yaml = [
      "connector: { id: secscan }",
      `store: { kind: redis, redis: { url: "${redis.url}", username: fixmesh, passwordFile: redis.pw, prefix: ${prefix}, tls: { caFile: ${ca} } } }`,
      "acceptors: [{ name: gw, host: 127.0.0.1, port: 0, allowFrom: [127.0.0.0/8], maxConnectionsPerAddress: 4 }]",
      "sessions:",
      "  - { BeginString: FIX.4.4, SenderCompID: CLIENT, TargetCompID: VENUE, ConnectionType: initiator, HeartBtInt: 30,",
      "      NonStopSession: Y, ReconnectInterval: 1, Username: client-user, PasswordFile: fix-out.pw,",
      `      initiator: { hosts: [{ host: 127.0.0.1, port: ${venue.port} }] } }`,
      "  - { BeginString: FIX.4.4, SenderCompID: GATEWAY, TargetCompID: TRADER, ConnectionType: acceptor, HeartBtInt: 30,",
      "      NonStopSession: Y, acceptor: gw, auth: { username: trader1, passwordHashFile: trader.hash } }",
      "grpc: { plaintext: true, host: 127.0.0.1, port: 0 }",
      "metrics: { host: 127.0.0.1, port: 0 }",
      `nats: { url: "${nats.url}", stream: ${stream}, subjectPrefix: ${subjectPrefix}, user: fixmesh-nats, passwordFile: nats.pw, tls: { caFile: ${ca} } }`,
      "log: { level: trace }",
    ].join("\n");
    const config = parseConfig(yaml, { env: {}, cwd: dir, baseDir: dir } as Parameters<typeof parseConfig>[1]);
    const logs = new LogCapture();
    // The connector's own logger (its masking of the secrets it knows included), writing where the test reads.
    const connector = await startConnector(config, {
      logger: createLogger({
        level: "trace",
        secrets: config.secrets,
        passwordTags: config.sessions.map((s) => s.settings.PasswordTag),
        base: { connector: config.connector.id },
        destination: logs,
      }),
    });
    const conn = new grpc.Client(`127.0.0.1:${connector.grpcPort}`, grpc.credentials.createInsecure());
    const rpc = createGrpcClient(SessionService, conn);
    // The trader's sequence numbers survive its reconnect, as a FIX engine's store keeps them: the refused Logon and
    // the acceptor's Logout took a number each.
    const traderStore = new MemoryBacking();
    const trader = (password: string) =>
      SessionRunner.start({
        settings: resolveSettings({
          BeginString: "FIX.4.4",
          SenderCompID: "TRADER",
          TargetCompID: "GATEWAY",
          ConnectionType: "initiator",
          HeartBtInt: 30,
          Username: "trader1",
          Password: password,
          ReconnectInterval: 30,
        }),
        store: new MemoryStore({ backing: traderStore }),
        schedule: null,
        connect: tcpConnector([{ host: "127.0.0.1", port: connector.acceptorPorts[0] }]),
      });
    let metrics = "";
    try {
      await waitLive(rpc);
      // A counterparty with a wrong password is refused (Logout, disconnect); with the right one it logs on.
      const wrong = await trader(SECRETS.fixPasswordWrong);
      const refused = new Promise<string>((resolve) =>
        wrong.onNotice((n) => {
          if (n.kind === "logout" && n.initiatedBy === "them") resolve(n.reason);
        }),
      );
      assert.equal(await refused, "Logon refused");
      await wrong.stop(0);
      const right = await trader(SECRETS.fixPasswordChecked);
      await waitFor(() => right.state.health === Health.Live, 10_000, "the trader's Logon with the right password");
      // Orders over gRPC with a bearer token in the call's metadata.
      const md = new grpc.Metadata();
      md.set("authorization", `Bearer ${SECRETS.jwt}`);
      for (const id of ["SCAN-1", "SCAN-2"]) {
        const r = await rpc.send(order(id), { metadata: md, deadline: Date.now() + 5000 });
        assert.ok(r.msgSeqNum > 0);
      }
      await new Promise((r) => setTimeout(r, 500));
      const res = await fetch(`http://127.0.0.1:${connector.metricsPort}/metrics`);
      metrics = await res.text();
      await right.stop(1000);
    } finally {
      conn.close();
      await connector.stop();
    }

    // The persistence service stores the run's events: PostgreSQL with SCRAM and TLS, NATS with user/password and
    // TLS, both through its link settings; its logs at trace go where the test reads.
    const persistence = await startPersistence(
      {
        database: {
          engine: "postgres",
          host: "127.0.0.1",
          port: pg.port,
          user: pg.user,
          database: pg.database,
          passwordFile: "pg.pw",
          tls: { caFile: ca },
        },
        nats: { url: nats.url, user: "fixmesh-nats", passwordFile: "nats.pw", tls: { caFile: ca } },
        streams: {
          fix: { stream, filter: `${subjectPrefix}.>`, durable: "persistence-fix" },
          orders: { enabled: false, stream: "ORDERS", filter: "orders.>", durable: "persistence-orders" },
          audit: { enabled: false, stream: "AUDIT", filter: "audit.>", durable: "persistence-audit" },
        },
        grpc: { plaintext: true, enabled: false },
        log: { level: "trace" },
      },
      {
        baseDir: dir,
        env: {},
        logger: createLogger({ level: "trace", secrets: [], base: { service: "persistence" }, destination: logs }),
      },
    );
    let rows = "";
    try {
      await persistence.ready();
      await waitForAsync(async () => (await persistence.lag()) === 0, 30_000, "persistence caught up");
      // Every column as text; the raw bytes (bytea, hex as text) also decoded, so a secret in them would show.
      const bytes: Record<string, string> = { fix_messages: "raw", dead_letters: "payload" };
      for (const table of ["fix_messages", "executions", "orders", "order_events", "session_events", "dead_letters"]) {
        const raw = bytes[table] ? ` || ' ' || coalesce(encode(${bytes[table]}, 'escape'), '')` : "";
        const r = await persistence.db.query<{ t: string }>(`SELECT t::text${raw} AS t FROM ${table} t`);
        rows += `${table}: ${r.rows.map((x) => x.t).join("\n")}\n`;
      }
    } finally {
      await persistence.close();
    }

    // Everything the run left: events on the stream (read with the same credentials), the Redis keys.
    const bus = await JetStreamBus.connect({
      servers: nats.url,
      stream,
      subjects: [`${subjectPrefix}.>`],
      connectOptions: { user: "fixmesh-nats", pass: SECRETS.natsPassword, tls: { ca: readFileSync(ca, "utf8") } },
    });
    const events: Delivered[] = [];
    const last = await bus.lastSeq();
    const sub = await bus.subscribe(`${subjectPrefix}.>`, (d) => events.push(d), { fromSeq: 1 });
    await waitFor(() => events.length >= last, 15_000, `all ${last} events`);
    await sub.unsubscribe();
    await bus.deleteStream();
    await bus.close();
    const client = new Redis(redis.url, {
      username: "fixmesh",
      password: SECRETS.redisPassword,
      tls: { ca: readFileSync(ca, "utf8") },
    });
    const stored = await dumpRedis(client, `${prefix}:*`);
    const keys = await client.keys(`${prefix}:*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();

    const eventText = events
      .map((e) => {
        const body = Buffer.from(e.payload).toString("utf8");
        const raw = (JSON.parse(body) as { raw?: string }).raw;
        return `${e.subject} ${JSON.stringify(e.headers ?? {})} ${body} ${raw === undefined ? "" : Buffer.from(raw, "base64").toString("latin1")}`;
      })
      .join("\n");

    // The scan looked at the real thing: raw FIX in the logs, both Logons and the orders on the stream, the
    // refusal in the metrics, the stored Logon with its password masked.
    assert.match(logs.text, /35=D/, "trace logs hold raw FIX");
    assert.match(logs.text, /Logon refused/);
    assert.match(eventText, /\x01553=client-user\x01554=\*{8}\x01/, "the initiator's Logon event, password masked");
    assert.match(eventText, /\x01553=trader1\x01554=\*{8}\x01/, "the trader's Logon event, password masked");
    assert.match(eventText, /11=SCAN-2\x01/);
    assert.match(metrics, /fixmesh_acceptor_refused_total\{acceptor="gw",reason="credentials"\} 1/);
    assert.match(stored, /\x0135=A\x01[\s\S]*\x01554=\*{8}\x01/, "the stored Logon, password masked");
    assert.match(rows, /fix_messages: [\s\S]*11=SCAN-2/, "persistence stored the orders");

    const found = [
      ...leaks("a log line", logs.text),
      ...leaks("the metrics", metrics),
      ...leaks("an event", eventText),
      ...leaks("Redis", stored),
      ...leaks("a PostgreSQL row", rows),
    ];
    assert.deepEqual(found, [], `secrets leaked: ${found.join(", ")}`);
  });
});
