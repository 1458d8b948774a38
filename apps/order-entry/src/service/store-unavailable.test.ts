/**
 * order-entry's Redis cut off for real (a TCP proxy between order-entry and the Redis on 127.0.0.1:6379 that this
 * test stops and starts again): a SubmitOrder meanwhile is answered UNAVAILABLE with reason STORE_UNAVAILABLE — a
 * status clients retry — not INTERNAL; once Redis is reachable again the same request (same idempotency key)
 * places the order, once.
 */
import assert from "node:assert/strict";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { describe, it } from "node:test";
import { RpcError } from "@fixmesh/contracts";
import { status as Code } from "@grpc/grpc-js";
import { testRecord } from "../model/record.testkit.js";
import { RedisOrderStore } from "../store/redis.js";
import type { LogEntry } from "../store/types.js";
import { serveOrderEntry } from "./grpc.testkit.js";

const REDIS_PORT = Number(process.env.REDIS_PORT ?? 6379);
const _SESSION = "FIX.4.4:CLIENT->VENUE";
const rand = () => Math.random().toString(36).slice(2, 10);

/** A loopback TCP proxy to Redis that can be cut (stops listening, drops every connection) and restored. */
class CuttableProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async start(): Promise<void> {
    const server = createServer((client) => {
      const up = tcpConnect(REDIS_PORT, "127.0.0.1");
      for (const s of [client, up]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => {
          client.destroy();
          up.destroy();
        });
      }
      client.pipe(up).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe("order-entry with its Redis out of reach", { timeout: 60_000 }, () => {
  it("answers SubmitOrder UNAVAILABLE / STORE_UNAVAILABLE, then places it once Redis is back", async () => {
    const proxy = new CuttableProxy();
    await proxy.start();
    const repo = await RedisOrderStore.connect({ url: `redis://127.0.0.1:${proxy.port}`, prefix: `oetest:${rand()}` });
    const oe = await serveOrderEntry({ repo });
    const { submit } = oe;
    try {
      assert.ok((await submit("before")).order?.orderId, "placed while Redis is reachable");

      await proxy.cut();
      const t0 = Date.now();
      const err = await submit("during").then(
        () => assert.fail("a submit while the store is cut off must fail"),
        (e: unknown) => RpcError.from(e),
      );
      assert.equal(err.code, Code.UNAVAILABLE, `${err.code} ${err.reason}: ${err.message}`);
      assert.equal(err.reason, "STORE_UNAVAILABLE");
      assert.ok(Date.now() - t0 < 8000, "answered promptly, not at the deadline");
      assert.equal(oe.sent(), 1, "nothing went to the connector while the store was out of reach");

      await proxy.start();
      // The client retries as it would on UNAVAILABLE, with the same key, until the store answers again.
      let placed: string | undefined;
      const end = Date.now() + 20_000;
      while (placed === undefined) {
        try {
          placed = (await submit("during")).order?.orderId;
        } catch (e) {
          if (Date.now() > end) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const again = await submit("during");
      assert.equal(again.order?.orderId, placed, "the retry of a placed order answers the first result");
      assert.equal(again.replayed, true);
      assert.equal(oe.sent(), 2, "each order reached the connector once");
    } finally {
      await oe.close();
      await repo.destroy().catch(() => undefined);
      await repo.close();
      await proxy.cut();
    }
  });

  it("a log watcher started while Redis is out of reach: no crash; it reads the log once Redis is back", async () => {
    const proxy = new CuttableProxy();
    await proxy.start();
    const prefix = `oetest:${rand()}`;
    const repo = await RedisOrderStore.connect({ url: `redis://127.0.0.1:${proxy.port}`, prefix });
    const direct = await RedisOrderStore.connect({ url: `redis://127.0.0.1:${REDIS_PORT}`, prefix });
    const got: LogEntry[] = [];
    let stop: () => void = () => undefined;
    try {
      await proxy.cut();
      // A StreamOrderUpdates call arriving now: the log's tail starts while its first read cannot be answered.
      stop = repo.watchLog((e) => got.push(e));
      await new Promise((r) => setTimeout(r, 3000));
      await proxy.start();
      await new Promise((r) => setTimeout(r, 500));
      const rec = testRecord({ clOrdId: `C${rand()}` }, 1, Date.now());
      const { entry } = await direct.create(rec, Date.now());
      const end = Date.now() + 15_000;
      while (!got.some((e) => e.position === entry.position) && Date.now() < end)
        await new Promise((r) => setTimeout(r, 50));
      assert.ok(
        got.some((e) => e.position === entry.position && e.event.orderId === rec.order.id),
        `the entry committed after Redis came back reached the watcher (got ${got.length})`,
      );
    } finally {
      stop();
      await direct.destroy().catch(() => undefined);
      await direct.close();
      await repo.close();
      await proxy.cut();
    }
  });
});
