import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type BusEvent, type Delivered, type EventBus, InProcessBus } from "@fixmesh/bus";
import pino from "pino";
import { testRecord } from "../model/record.testkit.js";
import { MemoryOrderStore } from "../store/memory.js";
import type { LogEntry, OrderRepository } from "../store/types.js";
import { OrderEventPublisher } from "./publisher.js";

const SESSION = "FIX.4.4:CLIENT->VENUE";
const logger = pino({ level: "silent" });
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

/** A bus that refuses while `down` is set. */
class FlakyBus implements EventBus {
  readonly kind = "flaky";
  down = false;
  readonly inner = new InProcessBus();
  publish(events: readonly BusEvent[]) {
    if (this.down) return Promise.reject(new Error("bus down"));
    return this.inner.publish(events);
  }
  subscribe(filter: string, handler: (e: Delivered) => unknown) {
    return this.inner.subscribe(filter, handler);
  }
  async close() {}
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

  it("leaves what the bus refused unmarked, and a sweep publishes it once the bus is back", async () => {
    const repo = new MemoryOrderStore();
    const bus = new FlakyBus();
    const seen: string[] = [];
    await bus.subscribe("orders.>", (d) => seen.push(d.id));
    const p = new OrderEventPublisher({ bus, repo, logger, lingerMs: 0, markMs: 20, sweepMs: 50 });
    bus.down = true;
    p.start();
    try {
      const entries = await placeOrders(repo, 2);
      p.push(entries);
      await sleep(120);
      assert.deepEqual(seen, []);
      assert.equal(p.failures >= 1, true);
      assert.deepEqual(
        await unmarked(repo),
        entries.map((e) => e.position),
      );
      bus.down = false;
      for (let i = 0; i < 100 && (await unmarked(repo)).length > 0; i++) await sleep(20);
      assert.deepEqual(await unmarked(repo), []);
      assert.deepEqual(
        seen,
        entries.map((e) => `${e.event.orderId}:${e.event.version}`),
      );
    } finally {
      await p.close();
    }
  });
});
