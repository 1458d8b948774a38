import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Encoder, type FixMessage, Framer, formatUtcTimestamp, MsgType, Tag } from "@fixmesh/fix";
import { ConfigError, Health, type SessionNotice } from "@fixmesh/session";
import { createRedisClient } from "@fixmesh/store";
import { parseConfig } from "./config/load.js";
import type { ConnectorConfig } from "./config/schema.js";
import { type Connector, startConnector } from "./connector.js";
import { loggerFor } from "./log/logger.js";

const PLANTED = "pl4nted-fix-Passw0rd";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "fixmesh-connector-"));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function config(yaml: string, baseDir = tempDir()): ConnectorConfig {
  // Tests run side by side: the gRPC and metrics ports are picked free unless a test sets them.
  const services = `${yaml.includes("\ngrpc:") ? "" : "grpc: { plaintext: true, port: 0 }\n"}${yaml.includes("\nmetrics:") ? "" : "metrics: { port: 0 }\n"}`;
  return parseConfig(`${yaml}\n${services}`, { env: {}, cwd: baseDir, baseDir });
}

/** A connector whose log lines are kept. */
async function start(cfg: ConnectorConfig): Promise<{ connector: Connector; lines: string[] }> {
  const lines: string[] = [];
  const logger = loggerFor(cfg, { write: (s: string) => lines.push(s) });
  return { connector: await startConnector(cfg, { logger }), lines };
}

/**
 * A bare FIX 4.4 acceptor (not our engine), to see the initiator's bytes as they are on the wire: answers the
 * Logon and the Logout, and records every message.
 */
async function bareVenue(): Promise<{ port: number; received: FixMessage[]; close(): Promise<void> }> {
  const received: FixMessage[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const enc = new Encoder("FIX.4.4", "VENUE", "CLIENT");
    let seq = 1;
    const framer = new Framer();
    socket.on("data", (d: Buffer) =>
      framer.push(
        d,
        (m) => {
          received.push(m);
          const now = formatUtcTimestamp(Date.now());
          if (m.msgType === MsgType.Logon) socket.write(enc.encode(MsgType.Logon, seq++, now, [98, 0, 108, 30]));
          if (m.msgType === MsgType.Logout) socket.end(enc.encode(MsgType.Logout, seq++, now, null));
        },
        () => undefined,
      ),
    );
    socket.on("error", () => socket.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  return {
    port: typeof a === "object" && a !== null ? a.port : 0,
    received,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe("connector", () => {
  it("logs on with the password from PasswordFile, and no log line (trace level) carries it", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "fix-password"), `${PLANTED}\n`);
    const venue = await bareVenue();
    const cfg = config(
      `
store: { kind: memory }
log: { level: trace }
sessions:
  - BeginString: FIX.4.4
    SenderCompID: CLIENT
    TargetCompID: VENUE
    ConnectionType: initiator
    Username: trader
    PasswordFile: fix-password
    initiator: { hosts: [{ host: 127.0.0.1, port: ${venue.port} }] }
`,
      dir,
    );
    const { connector, lines } = await start(cfg);
    try {
      const runner = connector.get("FIX.4.4:CLIENT->VENUE");
      assert.ok(runner);
      await waitFor(() => runner.state.health === Health.Live, 5000, "logon");
      const logon = venue.received.find((m) => m.msgType === MsgType.Logon);
      assert.equal(logon?.get(Tag.Password), PLANTED, "the Logon carries the password from the file");
      assert.equal(logon?.get(Tag.Username), "trader");
      // Plant it where a careless line could show it: a message, an object, raw FIX.
      connector.logger.info({ settings: runner.state.settings }, `debugging ${PLANTED}`);
      connector.logger.info({ raw: logon?.raw.toString("latin1") }, "the Logon as received");
    } finally {
      await connector.stop();
      await venue.close();
    }
    assert.ok(
      venue.received.some((m) => m.msgType === MsgType.Logout),
      "stop() logged out",
    );
    const out = lines.join("");
    assert.ok(!out.includes(PLANTED), "the password appears in the log");
    // The lines about messages say which session, seq and MsgType.
    const outLogon = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "out" && l.msgType === "A");
    assert.equal(outLogon?.session, "FIX.4.4:CLIENT->VENUE");
    assert.equal(outLogon?.seq, 1);
  });

  it("stop() logs every session out: the counterparty sees our Logout, then the ports close", async () => {
    const venueCfg = config(`
store: { kind: memory }
acceptors: [{ host: 127.0.0.1, port: 0 }]
sessions:
  - { BeginString: FIX.4.4, SenderCompID: VENUE, TargetCompID: CLIENT, ConnectionType: acceptor }
  - { BeginString: FIX.4.2, SenderCompID: VENUE, TargetCompID: CLIENT, ConnectionType: acceptor }
`);
    const venue = await start(venueCfg);
    const port = venue.connector.acceptorPorts[0];
    assert.ok(port > 0);
    const client = await start(
      config(`
store: { kind: memory }
defaults: { SenderCompID: CLIENT, TargetCompID: VENUE, ConnectionType: initiator,
            initiator: { hosts: [{ host: 127.0.0.1, port: ${port} }] } }
sessions: [{ BeginString: FIX.4.4 }, { BeginString: FIX.4.2 }]
`),
    );
    const notices: SessionNotice[] = [];
    try {
      assert.deepEqual(
        client.connector.list().map((r) => r.id),
        ["FIX.4.4:CLIENT->VENUE", "FIX.4.2:CLIENT->VENUE"],
      );
      for (const r of [...venue.connector.list(), ...client.connector.list()]) {
        await waitFor(() => r.state.health === Health.Live, 5000, `${r.id} logged on`);
      }
      for (const r of client.connector.list()) r.onNotice((n) => notices.push(n));
      await venue.connector.stop();
      const theirs = notices.filter((n) => n.kind === "logout" && n.initiatedBy === "them");
      assert.equal(theirs.length, 2, "each client session received the venue's Logout");
    } finally {
      await client.connector.stop();
      await venue.connector.stop();
    }
  });

  it("runs a session on the Redis store: after a restart it resumes its sequence numbers", async () => {
    const prefix = `fixmesh-test-${process.pid}-${Date.now()}`;
    const venue = await start(
      config(`
store: { kind: memory }
acceptors: [{ host: 127.0.0.1, port: 0 }]
sessions: [{ BeginString: FIX.4.4, SenderCompID: VENUE, TargetCompID: CLIENT, ConnectionType: acceptor }]
`),
    );
    const clientYaml = `
store: { kind: redis, redis: { url: "redis://127.0.0.1:6379", prefix: ${prefix} } }
sessions:
  - { BeginString: FIX.4.4, SenderCompID: CLIENT, TargetCompID: VENUE, ConnectionType: initiator,
      initiator: { hosts: [{ host: 127.0.0.1, port: ${venue.connector.acceptorPorts[0]} }] } }
`;
    const redis = createRedisClient("redis://127.0.0.1:6379");
    try {
      await redis.connect();
      let seqAfterFirstRun = 0;
      for (const run of [1, 2]) {
        const client = await start(config(clientYaml));
        const r = client.connector.list()[0];
        try {
          await waitFor(() => r.state.health === Health.Live, 5000, `logon, run ${run}`);
          if (run === 1) seqAfterFirstRun = r.state.nextSenderSeq;
          else
            assert.equal(r.state.nextSenderSeq, seqAfterFirstRun + 2, "Logout and the new Logon took the next numbers");
        } finally {
          await client.connector.stop();
        }
        await waitFor(() => !venue.connector.list()[0].connected, 5000, "the venue sees the logout");
      }
      assert.ok((await redis.keys(`${prefix}:*`)).length > 0, "the session's keys are in Redis");
    } finally {
      await venue.connector.stop();
      if (redis.status === "ready") {
        const keys = await redis.keys(`${prefix}:*`);
        if (keys.length > 0) await redis.del(...keys);
        await redis.quit();
      } else redis.disconnect();
    }
  });

  it("FIX over TLS: the initiator verifies the acceptor's certificate, the acceptor requires the client's", async () => {
    const dir = tempDir();
    // One self-signed certificate for 127.0.0.1, serving as both sides' certificate and as the CA they trust.
    execFileSync("openssl", [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "1", "-subj", "/CN=localhost"],
      ...["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
    ]);
    const tls = "{ certFile: cert.pem, keyFile: key.pem, caFile: cert.pem";
    const venue = await start(
      config(
        `
store: { kind: memory }
acceptors: [{ host: 127.0.0.1, port: 0, tls: ${tls}, requireClientCert: Y } }]
sessions: [{ BeginString: FIX.4.4, SenderCompID: VENUE, TargetCompID: CLIENT, ConnectionType: acceptor }]
`,
        dir,
      ),
    );
    const client = await start(
      config(
        `
store: { kind: memory }
sessions:
  - { BeginString: FIX.4.4, SenderCompID: CLIENT, TargetCompID: VENUE, ConnectionType: initiator,
      initiator: { hosts: [{ host: 127.0.0.1, port: ${venue.connector.acceptorPorts[0]} }], tls: ${tls} } } }
`,
        dir,
      ),
    );
    try {
      const r = client.connector.list()[0];
      await waitFor(() => r.state.health === Health.Live, 5000, "logon over TLS");
    } finally {
      await client.connector.stop();
      await venue.connector.stop();
    }
    const keyPem = readFileSync(join(dir, "key.pem"), "utf8");
    const body = keyPem.split("\n")[1];
    assert.ok(!(venue.lines.join("") + client.lines.join("")).includes(body), "the private key is not logged");
  });

  it("a port already in use fails the start at acceptors[0].port, and what had started is stopped", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const a = blocker.address();
    const port = typeof a === "object" && a !== null ? a.port : 0;
    try {
      const cfg = config(`
store: { kind: memory }
acceptors: [{ host: 127.0.0.1, port: ${port} }]
sessions: [{ BeginString: FIX.4.4, SenderCompID: V, TargetCompID: C, ConnectionType: acceptor }]
`);
      await assert.rejects(
        start(cfg),
        (e: unknown) =>
          e instanceof ConfigError && e.field === "acceptors[0].port" && e.reason.endsWith(`:${port}: EADDRINUSE`),
      );
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});
