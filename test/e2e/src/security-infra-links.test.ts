/**
 * The connector against Redis and NATS with authentication and TLS on — servers this test starts on their own
 * ports with certificates from its own CA — delivering orders to the venue simulator: the FIX messages are stored
 * in Redis through an ACL user over TLS, the events published on NATS over TLS with a user and password. A wrong
 * password, a certificate from another CA or a public key matching no pin fails the start with a reason naming
 * the link and never the secret. PostgreSQL (a private cluster: SCRAM-SHA-256, TLS only) through `pgClientConfig`.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { credsAuthenticator, type Delivered, JetStreamBus, nkeyAuthenticator } from "@fixmesh/bus";
import { type Connector, createLogger, parseConfig, startConnector } from "@fixmesh/connector";
import { createGrpcClient, SessionService } from "@fixmesh/contracts";
import { Acceptor, SessionRunner } from "@fixmesh/engine";
import {
  describeLinkError,
  LinkError,
  LinkFailure,
  natsConnectOptions,
  pgClientConfig,
  publicKeyPin,
  resolveNatsLink,
  resolvePostgresLink,
} from "@fixmesh/security";
import { MemoryStore, resolveSettings } from "@fixmesh/session";
import type { VenueSim } from "@fixmesh/venue-sim";
import * as grpc from "@grpc/grpc-js";
import { connect as natsConnect } from "@nats-io/transport-node";
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
  startTlsNatsWith,
  startTlsPostgres,
  startTlsRedis,
  userNkey,
  waitLive,
} from "./security-infra-servers.js";
import { rand, startVenue, waitFor } from "./trace-harness.js";

const T = { timeout: 60_000 };

/** The part of node-postgres used here (the package ships no type declarations). */
interface PgClient {
  connect(): Promise<void>;
  query(sql: string): Promise<{ rows: Array<Record<string, unknown>> }>;
  end(): Promise<void>;
}
const pg = createRequire(import.meta.url)("pg") as { Client: new (config: object) => PgClient };
const REDIS_PASSWORD = `redis-pw-${rand()}-Zq9!`;
const NATS_PASSWORD = `nats-pw-${rand()}-Kx7`;

describe("connector with Redis and NATS: authentication and TLS on", () => {
  let pki: InfraPki;
  let redis: RedisServer;
  let nats: NatsServer;
  let venue: VenueSim;
  let dir: string;
  const stream = `SECINFRA_${rand()}`;
  const subjectPrefix = `secinfra_${rand()}`;
  const prefix = `fixmesh-secinfra-${rand()}`;

  before(async () => {
    pki = new InfraPki();
    [redis, nats, venue] = await Promise.all([
      startTlsRedis(pki, "fixmesh", REDIS_PASSWORD),
      startTlsNats(pki, "fixmesh-nats", NATS_PASSWORD),
      startVenue(),
    ]);
    dir = mkdtempSync(join(tmpdir(), "fixmesh-secinfra-"));
    writeFileSync(join(dir, "redis.pw"), `${REDIS_PASSWORD}\n`);
    writeFileSync(join(dir, "nats.pw"), `${NATS_PASSWORD}\n`);
    writeFileSync(join(dir, "wrong.pw"), "not-the-Password-123\n");
  });

  after(async () => {
    await venue?.stop(0);
    await redis?.stop();
    await nats?.stop();
    pki?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A connector configuration: Redis store and NATS events over TLS with these secret files and CA. */
  function yaml(o: { redisPw?: string; natsPw?: string; redisCa?: string; natsPin?: string } = {}): string {
    const natsTls =
      o.natsPin === undefined
        ? `{ caFile: ${pki.server.caFile} }`
        : `{ caFile: ${pki.server.caFile}, pinSha256: ["${o.natsPin}"] }`;
    return [
      "connector: { id: secinfra }",
      `store: { kind: redis, redis: { url: "${redis.url}", username: fixmesh, passwordFile: ${o.redisPw ?? "redis.pw"}, prefix: ${prefix}, tls: { caFile: ${o.redisCa ?? pki.server.caFile} } } }`,
      "sessions:",
      "  - { BeginString: FIX.4.4, SenderCompID: CLIENT, TargetCompID: VENUE, ConnectionType: initiator, HeartBtInt: 30,",
      `      NonStopSession: Y, ReconnectInterval: 1, initiator: { hosts: [{ host: 127.0.0.1, port: ${venue.port} }] } }`,
      "grpc: { plaintext: true, host: 127.0.0.1, port: 0 }",
      "metrics: { host: 127.0.0.1, port: 0 }",
      `nats: { url: "${nats.url}", stream: ${stream}, subjectPrefix: ${subjectPrefix}, user: fixmesh-nats, passwordFile: ${o.natsPw ?? "nats.pw"}, tls: ${natsTls} }`,
      "log: { level: info }",
    ].join("\n");
  }

  async function start(text: string, logs: LogCapture): Promise<Connector> {
    const config = parseConfig(text, { env: {}, cwd: dir, baseDir: dir } as Parameters<typeof parseConfig>[1]);
    return startConnector(config, {
      logger: createLogger({ level: "info", secrets: config.secrets, destination: logs }),
    });
  }

  it(
    "delivers orders: FIX messages stored in Redis (ACL user, TLS), events on NATS (user/password, TLS)",
    T,
    async () => {
      const logs = new LogCapture();
      const connector = await start(yaml(), logs);
      const conn = new grpc.Client(`127.0.0.1:${connector.grpcPort}`, grpc.credentials.createInsecure());
      const rpc = createGrpcClient(SessionService, conn);
      const events: Delivered[] = [];
      const bus = await JetStreamBus.connect({
        servers: nats.url,
        stream,
        subjects: [`${subjectPrefix}.>`],
        connectOptions: {
          user: "fixmesh-nats",
          pass: NATS_PASSWORD,
          tls: { ca: readFileSync(pki.server.caFile, "utf8") },
        },
      });
      const sub = await bus.subscribe(`${subjectPrefix}.>`, (d) => events.push(d), { fromSeq: 1 });
      const client = new Redis(redis.url, {
        username: "fixmesh",
        password: REDIS_PASSWORD,
        tls: { ca: readFileSync(pki.server.caFile, "utf8") },
        lazyConnect: true,
      });
      try {
        await waitLive(rpc);
        const ids = ["SEC-1", "SEC-2", "SEC-3"];
        for (const id of ids) {
          const r = await rpc.send(order(id), { deadline: Date.now() + 5000 });
          assert.ok(r.msgSeqNum > 0);
        }
        const execs = () =>
          events
            .filter((e) => e.subject.endsWith(".in.8"))
            .map((e) => JSON.parse(Buffer.from(e.payload).toString()).clOrdId);
        await waitFor(
          () => ids.every((id) => execs().filter((c) => c === id).length === 2),
          20_000,
          "two reports per order",
        );
        assert.equal(events.filter((e) => e.subject.endsWith(".out.D")).length, 3);
        // The messages themselves are in Redis, written through the ACL user over TLS.
        await client.connect();
        const stored = await dumpRedis(client, `${prefix}:*`);
        assert.ok(stored.length > 0, "the session's keys are in Redis");
        for (const id of ids) assert.ok(stored.includes(`11=${id}\x01`), `NewOrderSingle ${id} stored in Redis`);
        assert.equal(logs.text.includes(REDIS_PASSWORD), false);
        assert.equal(logs.text.includes(NATS_PASSWORD), false);
      } finally {
        conn.close();
        await connector.stop();
        await sub.unsubscribe();
        await bus.deleteStream().catch(() => undefined);
        await bus.close();
        if (client.status === "ready") {
          const keys = await client.keys(`${prefix}:*`);
          if (keys.length > 0) await client.del(...keys);
        }
        client.disconnect();
      }
    },
  );

  it("a wrong Redis password fails the start naming Redis and the user, never the password", T, async () => {
    const logs = new LogCapture();
    await assert.rejects(start(yaml({ redisPw: "wrong.pw" }), logs), (e: Error) => {
      assert.ok(e instanceof LinkError, String(e));
      assert.equal(e.failure, LinkFailure.Auth);
      assert.equal(
        e.message,
        `redis: authentication failed (${redis.url}) as "fixmesh": check the user name and the password, token or key file`,
      );
      return true;
    });
    assert.equal(logs.text.includes("not-the-Password-123"), false);
  });

  it("a wrong NATS password fails the start naming NATS and the user, never the password", T, async () => {
    const logs = new LogCapture();
    await assert.rejects(start(yaml({ natsPw: "wrong.pw" }), logs), (e: Error) => {
      assert.ok(e instanceof LinkError, String(e));
      assert.equal(e.failure, LinkFailure.Auth);
      assert.match(e.message, /^nats: authentication failed \(nats:\/\/127\.0\.0\.1:\d+\) as "fixmesh-nats"/);
      assert.equal(e.message.includes("not-the-Password-123"), false);
      return true;
    });
    assert.equal(logs.text.includes("not-the-Password-123"), false);
  });

  it(
    "a Redis certificate from a CA not trusted, or a NATS key matching no pin, fails the start as a TLS failure",
    T,
    async () => {
      await assert.rejects(start(yaml({ redisCa: pki.otherCa.caFile }), new LogCapture()), (e: Error) => {
        assert.ok(e instanceof LinkError, String(e));
        assert.equal(e.failure, LinkFailure.Tls);
        assert.match(e.message, /^redis: TLS failed .*not signed by a trusted CA|^redis: TLS failed/);
        return true;
      });
      const wrongPin = publicKeyPin(readFileSync(pki.otherCa.caFile, "utf8"));
      await assert.rejects(start(yaml({ natsPin: wrongPin }), new LogCapture()), (e: Error) => {
        assert.ok(e instanceof LinkError, String(e));
        assert.equal(e.failure, LinkFailure.Tls);
        assert.match(e.message, /^nats: TLS failed/);
        return true;
      });
    },
  );
});

describe("FIX initiator: the venue's certificate, host name and key pin", () => {
  let pki: InfraPki;
  let acceptor: Acceptor;
  let venueSession: SessionRunner;
  let port: number;

  before(async () => {
    pki = new InfraPki();
    venueSession = await SessionRunner.start({
      settings: resolveSettings({
        BeginString: "FIX.4.4",
        SenderCompID: "VENUE",
        TargetCompID: "CLIENT",
        ConnectionType: "acceptor",
        HeartBtInt: 30,
      }),
      store: new MemoryStore(),
      schedule: null,
    });
    acceptor = new Acceptor({
      port: 0,
      tls: { cert: readFileSync(pki.server.certFile), key: readFileSync(pki.server.keyFile) },
    });
    acceptor.register(venueSession);
    port = await acceptor.listen();
  });
  after(async () => {
    await venueSession?.stop(0);
    await acceptor?.close();
    pki?.remove();
  });

  /** A connector whose one initiator dials the TLS venue with this `tls` block; its log lines. */
  async function dial(tls: string): Promise<{ connector: Connector; logs: LogCapture }> {
    const logs = new LogCapture();
    const config = parseConfig(
      [
        "connector: { id: secpin }",
        "store: { kind: memory }",
        "sessions:",
        "  - { BeginString: FIX.4.4, SenderCompID: CLIENT, TargetCompID: VENUE, ConnectionType: initiator, HeartBtInt: 30,",
        `      NonStopSession: Y, ReconnectInterval: 30, initiator: { hosts: [{ host: 127.0.0.1, port: ${port} }], tls: ${tls} } }`,
        "grpc: { plaintext: true, host: 127.0.0.1, port: 0 }",
        "metrics: { host: 127.0.0.1, port: 0 }",
      ].join("\n"),
      { env: {} } as Parameters<typeof parseConfig>[1],
    );
    const connector = await startConnector(config, {
      logger: createLogger({ level: "info", secrets: config.secrets, destination: logs }),
    });
    return { connector, logs };
  }

  it("logs on when the venue's key matches the pin; refuses a matching CA and name with the wrong pin", T, async () => {
    const ca = pki.server.caFile;
    const good = await dial(
      `{ caFile: ${ca}, pinSha256: ["${publicKeyPin(readFileSync(pki.server.certFile, "utf8"))}"] }`,
    );
    try {
      await waitFor(() => venueSession.state.health === "LIVE", 10_000, "logon with the right pin");
    } finally {
      await good.connector.stop();
    }
    await waitFor(() => !venueSession.connected, 5000, "the venue to see the Logout");
    const other = pki.pki.issue("other", { cn: "other" });
    const bad = await dial(`{ caFile: ${ca}, pinSha256: ["${publicKeyPin(readFileSync(other.certFile, "utf8"))}"] }`);
    try {
      await waitFor(() => /does not match a configured pin/.test(bad.logs.text), 10_000, "the pin refusal in the log");
      assert.equal(venueSession.connected, false, "no connection reached the venue's session");
      assert.match(bad.logs.text, /"msg":"connection failed"/);
    } finally {
      await bad.connector.stop();
    }
  });

  it("refuses the venue when its certificate does not name the host dialled (servername)", T, async () => {
    const bad = await dial(`{ caFile: ${pki.server.caFile}, servername: venue.example.com }`);
    try {
      await waitFor(() => /connection failed/.test(bad.logs.text), 10_000, "the host name refusal");
      assert.match(bad.logs.text, /venue\.example\.com/);
      assert.equal(venueSession.connected, false);
    } finally {
      await bad.connector.stop();
    }
  });
});

describe("NATS token and nkey authentication (natsConnectOptions against nats-server)", () => {
  let pki: InfraPki;
  let dir: string;
  before(() => {
    pki = new InfraPki();
    dir = mkdtempSync(join(tmpdir(), "fixmesh-secnats-"));
  });
  after(() => {
    pki?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Connects as a service does: the link resolved from its config, nats.js options from `natsConnectOptions`. */
  async function connectWith(server: NatsServer, link: Record<string, unknown>, env: Record<string, string> = {}) {
    const resolved = resolveNatsLink({ url: server.url, tls: { caFile: pki.server.caFile }, ...link }, "nats", {
      env,
      baseDir: dir,
    });
    const nc = await natsConnect({
      servers: server.url,
      timeout: 3000,
      ...natsConnectOptions(resolved, { nkeyAuthenticator, credsAuthenticator }),
    });
    await nc.flush();
    await nc.close();
  }

  it("a token from the environment connects; a wrong one is refused as an authentication failure", T, async () => {
    const token = `tok-${rand()}-${rand()}`;
    const server = await startTlsNatsWith(pki, `authorization { token: "${token}" }`);
    try {
      await connectWith(server, { tokenEnv: "NATS_TOKEN" }, { NATS_TOKEN: token });
      const err = await connectWith(server, { tokenEnv: "NATS_TOKEN" }, { NATS_TOKEN: "wrong-token" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.equal(describeLinkError("nats", err).failure, LinkFailure.Auth, String(err));
    } finally {
      await server.stop();
    }
  });

  it("a user nkey seed from a file connects (the server's nonce signed); another seed is refused", T, async () => {
    const user = userNkey();
    const stranger = userNkey();
    writeFileSync(join(dir, "user.nk"), `${user.seed}\n`);
    writeFileSync(join(dir, "stranger.nk"), `${stranger.seed}\n`);
    const server = await startTlsNatsWith(pki, `authorization { users = [ { nkey: "${user.publicKey}" } ] }`);
    try {
      await connectWith(server, { nkeySeedFile: "user.nk" });
      const err = await connectWith(server, { nkeySeedFile: "stranger.nk" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.equal(describeLinkError("nats", err).failure, LinkFailure.Auth, String(err));
    } finally {
      await server.stop();
    }
  });
});

describe("PostgreSQL with SCRAM-SHA-256 and TLS (pgClientConfig)", () => {
  let pki: InfraPki;
  let server: PgServer | undefined;
  let dir: string;
  let why = "";
  const PG_PASSWORD = `pg-pw-${rand()}-Yb3`;

  before(async () => {
    pki = new InfraPki();
    dir = mkdtempSync(join(tmpdir(), "fixmesh-secpg-"));
    writeFileSync(join(dir, "pg.pw"), `${PG_PASSWORD}\n`);
    writeFileSync(join(dir, "wrong.pw"), "wrong-pg-Password\n");
    try {
      server = await startTlsPostgres(pki, PG_PASSWORD);
    } catch (e) {
      why = e instanceof Error ? e.message : String(e);
    }
  });
  after(async () => {
    await server?.stop();
    pki?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  const link = (passwordFile: string, caFile: string) =>
    resolvePostgresLink(
      { host: "127.0.0.1", port: server?.port, user: "postgres", database: "postgres", passwordFile, tls: { caFile } },
      "postgres",
      { env: {}, baseDir: dir },
    );

  it("connects with the right password over TLS whose certificate and host name are verified", T, async () => {
    assert.ok(server, `could not start a private PostgreSQL cluster: ${why}`);
    const c = new pg.Client(pgClientConfig(link("pg.pw", pki.server.caFile)));
    await c.connect();
    try {
      const ssl = await c.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
      assert.equal(ssl.rows[0].ssl, true);
      const enc = await c.query("SHOW password_encryption");
      assert.equal(enc.rows[0].password_encryption, "scram-sha-256");
      const stored = await c.query("SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'");
      assert.match(String(stored.rows[0].rolpassword), /^SCRAM-SHA-256\$/);
    } finally {
      await c.end();
    }
  });

  it("a wrong password is refused as an authentication failure; another CA as a TLS failure", T, async () => {
    assert.ok(server, `could not start a private PostgreSQL cluster: ${why}`);
    const cfg = link("wrong.pw", pki.server.caFile);
    const c = new pg.Client(pgClientConfig(cfg));
    const err = await c.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    await c.end().catch(() => undefined);
    const d = describeLinkError("postgres", err, { user: "postgres", secrets: cfg.password ? [cfg.password] : [] });
    assert.equal(d.failure, LinkFailure.Auth, String(err));
    assert.equal(d.message.includes("wrong-pg-Password"), false);
    const other = new pg.Client(pgClientConfig(link("pg.pw", pki.otherCa.caFile)));
    const tlsErr = await other.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    await other.end().catch(() => undefined);
    assert.equal(describeLinkError("postgres", tlsErr).failure, LinkFailure.Tls, String(tlsErr));
  });
});
