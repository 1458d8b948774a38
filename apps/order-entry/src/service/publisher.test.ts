import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InProcessBus, JetStreamBus } from "@fixmesh/bus";
import pino from "pino";
import { testRecord } from "../model/record.testkit.js";
import { MemoryOrderStore } from "../store/memory.js";
import type { LogEntry, OrderRepository } from "../store/types.js";
import { OrderEventPublisher } from "./publisher.js";

const SESSION = "FIX.4.4:CLIENT->VENUE";
const logger = pino({ level: "silent" });
const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function placeOrders(repo: OrderRepository, n: number): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for (let i = 0; i < n; i++) {
    const now = Date.now();
    const clOrdId = await repo.nextClOrdId(SESSION, now);
    const rec = testRecord({ clOrdId, idempotencyKey: `k-${clOrdId}`, sessionId: SESSION }, i + 1, now);
    out.push((await repo.create(rec, now)).entry);
  }
  return out;
}

/** Positions the store still lists as unpublished (whatever their age). */
async function unmarked(repo: OrderRepository): Promise<number[]> {
  return (await repo.unpublished(0, Date.now() + 60_000, 1000)).map((e) => e.position);
}

describe("ORDERS event publisher", () => {
  it("publishes every update once and marks them in the store together, a little later", async () => {
    const repo = new MemoryOrderStore();
    const bus = new InProcessBus();
    const seen: string[] = [];
    await bus.subscribe("orders.>", (d) => seen.push(d.id));
    const p = new OrderEventPublisher({ bus, repo, logger, lingerMs: 0, markMs: 100 });
    p.start();
    try {
      const entries = await placeOrders(repo, 5);
      p.push(entries);
      for (let i = 0; i < 50 && seen.length < 5; i++) await sleep(5);
      assert.deepEqual(
        seen,
        entries.map((e) => `${e.event.orderId}:${e.event.version}`),
      );
      // Published, not marked yet: one mark for the lot once markMs has passed.
      assert.deepEqual(
        await unmarked(repo),
        entries.map((e) => e.position),
      );
      await sleep(200);
      assert.deepEqual(await unmarked(repo), []);
      assert.equal(p.published, 5);
    } finally {
      await p.close();
    }
  });

  it("marks what it published before it closes", async () => {
    const repo = new MemoryOrderStore();
    const p = new OrderEventPublisher({ bus: new InProcessBus(), repo, logger, lingerMs: 0, markMs: 60_000 });
    p.start();
    const entries = await placeOrders(repo, 3);
    p.push(entries);
    await p.close();
    assert.deepEqual(await unmarked(repo), []);
    assert.equal(p.published, 3);
  });

  it("leaves what JetStream refused unmarked, and a sweep publishes it once a stream takes it (real NATS)", async () => {
    const repo = new MemoryOrderStore();
    const r = Math.random().toString(36).slice(2, 10);
    const prefix = `pubtest_${r}`;
    // A bus whose stream captures other subjects: the server answers the ORDERS publishes 503 (no stream listens).
    const bus = await JetStreamBus.connect({ servers: NATS_URL, stream: `PUBTEST_A_${r}`, subjects: [`other_${r}.>`] });
    let orders: JetStreamBus | null = null;
    const p = new OrderEventPublisher({
      bus,
      repo,
      logger,
      subjectPrefix: prefix,
      lingerMs: 0,
      markMs: 20,
      sweepMs: 50,
    });
    p.start();
    try {
      const entries = await placeOrders(repo, 2);
      p.push(entries);
      for (let i = 0; i < 100 && p.failures === 0; i++) await sleep(10);
      assert.ok(p.failures >= 1, "JetStream refused the publish");
      assert.deepEqual(
        await unmarked(repo),
        entries.map((e) => e.position),
      );
      // The stream appears: the next sweep publishes them, and marks them.
      orders = await JetStreamBus.connect({ servers: NATS_URL, stream: `PUBTEST_B_${r}`, subjects: [`${prefix}.>`] });
      const seen: string[] = [];
      await orders.subscribe(`${prefix}.>`, (d) => seen.push(d.id), { fromSeq: 1 });
      for (let i = 0; i < 200 && ((await unmarked(repo)).length > 0 || seen.length < 2); i++) await sleep(20);
      assert.deepEqual(await unmarked(repo), []);
      assert.deepEqual(
        seen,
        entries.map((e) => `${e.event.orderId}:${e.event.version}`),
      );
    } finally {
      await p.close();
      await orders?.deleteStream().catch(() => undefined);
      await orders?.close();
      await bus.deleteStream().catch(() => undefined);
      await bus.close();
    }
  });
});
