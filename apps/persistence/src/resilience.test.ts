/**
 * Failures produced for real, on PostgreSQL and NATS JetStream: the persistence process killed with SIGKILL in
 * the middle of its ingest and restarted (no row lost, none duplicated), and PostgreSQL connections refused
 * during ingest through a loopback proxy that is cut and restored (nothing lost, the consumer's lag recovers).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { JetStreamBus } from "@fixmesh/bus";
import { pino } from "pino";
import { startPersistence } from "./service.js";
import { createTestDatabase, fixEvent, NATS_URL, pgUrl, rand, waitFor } from "./testing/support.js";

const MAIN = fileURLToPath(new URL("./main.js", import.meta.url));

async function publishMany(bus: JetStreamBus, prefix: string, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i += 1000) {
    const events = [];
    for (let s = i; s <= Math.min(to, i + 999); s++) {
      events.push(
        fixEvent({
          session: "LOAD",
          prefix,
          dir: s % 3 === 0 ? "in" : "out",
          seq: s,
          msgType: s % 3 === 0 ? "8" : "D",
          body: [
            [11, `C${s}`],
            [55, "EUR/USD"],
            [54, 1],
            [38, 100],
            ...(s % 3 === 0
              ? ([
                  [17, `E${s}`],
                  [150, "F"],
                  [32, 100],
                  [31, "1.1"],
                ] as Array<[number, string | number]>)
              : []),
          ],
        }).event,
      );
    }
    await bus.publish(events);
  }
}

describe("persistence under failure (PostgreSQL, JetStream)", { timeout: 110_000 }, () => {
  it("SIGKILL in the middle of the ingest, then a restart: every row stored once", async () => {
    const db = await createTestDatabase("postgres");
    const id = rand();
    const prefix = `k${id}`;
    const stream = `PK_${id}`;
    const bus = await JetStreamBus.connect({ servers: NATS_URL, stream, subjects: [`${prefix}.>`] });
    const dir = mkdtempSync(join(tmpdir(), "fixmesh-persistence-"));
    const configFile = join(dir, "persistence.yaml");
    writeFileSync(
      configFile,
      [
        "database:",
        "  engine: postgres",
        `  url: ${db.url}`,
        `nats: { url: "${NATS_URL}" }`,
        "streams:",
        `  fix: { stream: ${stream}, filter: "${prefix}.>", durable: persistence-fix }`,
        "  orders: { enabled: false, stream: ORDERS, filter: orders.>, durable: persistence-orders }",
        "  audit: { enabled: false, stream: AUDIT, filter: audit.>, durable: persistence-audit }",
        // Two consumers share the durable: batches commit in parallel, and still none is lost or stored twice.
        "ingest: { batch: 500, ackWaitMs: 2000, parallel: 2 }",
        "grpc: { enabled: false }",
        "log: { level: warn }",
      ].join("\n"),
    );
    const conn = await db.open();
    const total = 30_000;
    let child: ChildProcess | null = null;
    const run = () => {
      child = spawn(process.execPath, [MAIN, "--config", configFile], { stdio: ["ignore", "ignore", "inherit"] });
      return child;
    };
    const rows = async () => {
      try {
        return Number((await conn.query<{ n: number }>("SELECT count(*)::float8 AS n FROM fix_messages")).rows[0].n);
      } catch {
        return 0; // not migrated yet
      }
    };
    try {
      await publishMany(bus, prefix, 1, total);
      const first = run();
      await waitFor(async () => (await rows()) > 0, "the first rows", 60_000);
      first.kill("SIGKILL");
      await new Promise((r) => first.once("exit", r));
      const atKill = await rows();
      assert.ok(atKill < total, `killed mid-ingest (${atKill} of ${total} stored)`);
      const second = run();
      await waitFor(async () => (await rows()) >= total, "every row after the restart", 90_000);
      await waitFor(
        async () => (await bus.durableInfo("persistence-fix")).ackPending === 0,
        "all acknowledged",
        30_000,
      );
      second.kill("SIGTERM");
      await new Promise((r) => second.once("exit", r));
      const r = await conn.query<{ n: number; keys: number; lo: number; hi: number }>(
        `SELECT count(*)::float8 AS n, count(DISTINCT (session, cycle, direction, msg_seq_num))::float8 AS keys,
                min(msg_seq_num)::float8 AS lo, max(msg_seq_num)::float8 AS hi FROM fix_messages`,
      );
      assert.deepEqual(
        { n: Number(r.rows[0].n), keys: Number(r.rows[0].keys), lo: Number(r.rows[0].lo), hi: Number(r.rows[0].hi) },
        { n: total, keys: total, lo: 1, hi: total },
      );
      const info = await bus.durableInfo("persistence-fix");
      assert.equal(info.pending + info.ackPending, 0);
    } finally {
      (child as ChildProcess | null)?.kill("SIGKILL");
      await conn.close();
      await bus.deleteStream().catch(() => undefined);
      await bus.close();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("PostgreSQL refusing connections during ingest: the ingest pauses, loses nothing, and its lag recovers", async () => {
    const db = await createTestDatabase("postgres");
    const target = new URL(db.url);
    // A loopback proxy in front of PostgreSQL: cut = stop listening (connections refused) and reset every socket.
    const sockets = new Set<Socket>();
    let proxy: Server | null = null;
    const listen = (port: number) =>
      new Promise<number>((resolve, reject) => {
        const s = createServer((client) => {
          const upstream = tcpConnect(Number(target.port || 5432), target.hostname);
          sockets.add(client);
          sockets.add(upstream);
          client.pipe(upstream).pipe(client);
          const drop = () => {
            client.destroy();
            upstream.destroy();
            sockets.delete(client);
            sockets.delete(upstream);
          };
          client.on("error", drop).on("close", drop);
          upstream.on("error", drop).on("close", drop);
        });
        s.once("error", reject);
        s.listen(port, "127.0.0.1", () => {
          proxy = s;
          const a = s.address();
          resolve(typeof a === "object" && a !== null ? a.port : 0);
        });
      });
    const cut = async () => {
      const s = proxy;
      proxy = null;
      for (const sock of sockets) sock.destroy();
      sockets.clear();
      await new Promise<void>((r) => (s ? s.close(() => r()) : r()));
    };
    const port = await listen(0);
    const id = rand();
    const prefix = `r${id}`;
    const stream = `PR_${id}`;
    const bus = await JetStreamBus.connect({ servers: NATS_URL, stream, subjects: [`${prefix}.>`] });
    const direct = await db.open();
    const rows = async () =>
      Number((await direct.query<{ n: number }>("SELECT count(*)::float8 AS n FROM fix_messages")).rows[0].n);
    const p = await startPersistence(
      {
        database: {
          engine: "postgres",
          url: pgUrl(target.pathname.slice(1), `postgres://postgres@127.0.0.1:${port}/postgres`),
          poolSize: 2,
          connectTimeoutMs: 1000,
        },
        nats: { url: NATS_URL },
        streams: {
          fix: { stream, filter: `${prefix}.>`, durable: "persistence-fix" },
          orders: { enabled: false, stream: "ORDERS", filter: "orders.>", durable: "persistence-orders" },
          audit: { enabled: false, stream: "AUDIT", filter: "audit.>", durable: "persistence-audit" },
        },
        ingest: { batch: 200, ackWaitMs: 5000 },
        grpc: { enabled: false },
      },
      { logger: pino({ level: "silent" }) },
    );
    try {
      await p.ready();
      await publishMany(bus, prefix, 1, 2000);
      await waitFor(async () => (await rows()) === 2000, "the first 2000 stored");
      await cut();
      await publishMany(bus, prefix, 2001, 6000);
      await waitFor(() => p.metrics.stats("fix").paused, "the ingest pauses");
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await rows(), 2000, "nothing written while PostgreSQL is unreachable");
      const lagDuringOutage = await p.lag();
      assert.ok(lagDuringOutage >= 3000, `the backlog waits in JetStream (lag ${lagDuringOutage})`);
      assert.ok(p.metrics.stats("fix").failures > 0);
      await listen(port);
      await waitFor(async () => (await p.lag()) === 0, "lag back to 0", 60_000);
      assert.equal(await rows(), 6000);
      const r = await direct.query<{ keys: number; hi: number }>(
        "SELECT count(DISTINCT msg_seq_num)::float8 AS keys, max(msg_seq_num)::float8 AS hi FROM fix_messages",
      );
      assert.deepEqual([Number(r.rows[0].keys), Number(r.rows[0].hi)], [6000, 6000]);
      assert.equal(p.metrics.stats("fix").paused, false);
      assert.match(await p.metrics.render(), /fixmesh_persistence_failed_batches_total\{stream="fix"\} [1-9]/);
    } finally {
      await p.close();
      await cut();
      await direct.close();
      await bus.deleteStream().catch(() => undefined);
      await bus.close();
      await db.drop();
    }
  });
});
