/**
 * The outbox publisher fed from memory: events offered by the committing process are published without being
 * read back, and every way that can go wrong (a gap, a failed publish, a newer leader) falls back to the outbox
 * without losing, doubling or reordering an event. On the memory store (its commit says where the events sit).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryBacking, MemoryStore, type OutboxEntry } from "@fixmesh/session";
import type { Delivered } from "./bus.js";
import type { BusEvent } from "./events.js";
import { InProcessBus } from "./in-process.js";
import { OutboxPublisher } from "./publisher.js";

const NOW = Date.UTC(2026, 10, 27, 9);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A memory store that counts the publisher's reads and acknowledgements. */
class CountingStore extends MemoryStore {
  reads = 0;
  acks: number[] = [];
  override readOutbox(limit: number): Promise<OutboxEntry[]> {
    this.reads++;
    return super.readOutbox(limit);
  }
  override ackOutbox(upToPos: number): Promise<void> {
    this.acks.push(upToPos);
    return super.ackOutbox(upToPos);
  }
}

/** An in-process bus that refuses while `down`, and records what it accepted. */
class Bus extends InProcessBus {
  down = false;
  readonly got: string[] = [];
  override async publish(events: readonly BusEvent[]) {
    if (this.down) throw new Error("bus down");
    return super.publish(events);
  }
  async watch(): Promise<void> {
    await this.subscribe("t.>", (d: Delivered) => this.got.push(d.id));
  }
}

let n = 0;
/** Commits `count` events; returns what the commit handed back. */
async function commit(store: MemoryStore, count: number): Promise<readonly OutboxEntry[]> {
  const events = Array.from({ length: count }, () => {
    const i = ++n;
    return { id: `e${i}`, subject: `t.s.in.8`, payload: Buffer.from(`payload ${i}`) };
  });
  const entries = await store.commit({ outbound: [], nextSenderSeq: 1, nextTargetSeq: 1, events });
  assert.ok(Array.isArray(entries), "the memory store says where the events sit");
  return entries;
}

async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

async function setUp(opts: ConstructorParameters<typeof OutboxPublisher>[2] = {}) {
  const store = new CountingStore();
  await store.open(NOW);
  const bus = new Bus();
  await bus.watch();
  const p = new OutboxPublisher(store, bus, { idleMs: 10_000, retryMinMs: 5, ...opts });
  return { store, bus, p };
}

describe("outbox publisher fed from memory", () => {
  it("publishes offered events without reading them back, and acknowledges them together", async () => {
    const { store, bus, p } = await setUp({ ackEveryMs: 60_000 });
    p.start();
    try {
      await until(() => store.reads === 1, "the first read (empty outbox)");
      const ids: string[] = [];
      for (let round = 0; round < 5; round++) {
        const entries = await commit(store, 3);
        ids.push(...entries.map((e) => e.id));
        p.offer(entries);
        p.notify();
        await until(() => bus.got.length === ids.length, `round ${round} published`);
      }
      assert.deepEqual(bus.got, ids);
      assert.equal(store.reads, 1, "nothing read back after the first (empty) read");
      assert.equal(p.sources.memory, 5);
      assert.deepEqual(store.acks, [], "acknowledgements wait");
      assert.equal((await store.readOutbox(100)).length, 15, "still in the outbox until acknowledged");
    } finally {
      await p.stop();
    }
    assert.deepEqual(store.acks, [15], "one acknowledgement for the lot at stop");
    assert.deepEqual(await store.readOutbox(100), []);
  });

  it("reads the outbox when what is offered does not follow what was published, losing nothing", async () => {
    const { store, bus, p } = await setUp();
    p.start();
    try {
      await until(() => store.reads === 1, "the first read");
      const a = await commit(store, 2);
      const b = await commit(store, 2); // never offered: the publisher cannot know about it
      const c = await commit(store, 2);
      p.offer(a);
      p.offer(c); // a gap after a
      p.notify();
      const all = [...a, ...b, ...c].map((e) => e.id);
      await until(() => bus.got.length === all.length, "all six published");
      assert.deepEqual(bus.got, all, "in commit order, each once");
      assert.ok(store.reads >= 2, "the gap sent it back to the outbox");
      assert.deepEqual(await store.readOutbox(100), []);
    } finally {
      await p.stop();
    }
  });

  it("publishes from the outbox what a failed publish took from memory, once the bus is back", async () => {
    const { store, bus, p } = await setUp({ retryMinMs: 20, retryMaxMs: 40 });
    p.start();
    try {
      await until(() => store.reads === 1, "the first read");
      bus.down = true;
      const a = await commit(store, 4);
      p.offer(a);
      p.notify();
      await until(() => p.stats.failures >= 1, "a failed publish");
      const b = await commit(store, 2);
      p.offer(b);
      bus.down = false;
      p.notify();
      const all = [...a, ...b].map((e) => e.id);
      await until(() => bus.got.length === all.length, "all published after the outage");
      assert.deepEqual(bus.got, all);
      assert.ok(p.sources.read >= 1, "read back from the outbox after the failure");
      await sleep(30);
      assert.deepEqual(bus.got, all, "nothing published twice");
    } finally {
      await p.stop();
    }
    assert.deepEqual(await store.readOutbox(100), []);
  });

  it("publishes what was committed before it started from the outbox first, then the offered rest in order", async () => {
    const { store, bus, p } = await setUp();
    const before = await commit(store, 3);
    p.start();
    const after = await commit(store, 3);
    p.offer(after);
    p.notify();
    try {
      const all = [...before, ...after].map((e) => e.id);
      await until(() => bus.got.length === all.length, "all published");
      assert.deepEqual(bus.got, all);
    } finally {
      await p.stop();
    }
  });

  it("stops when a newer leader's epoch refuses its acknowledgement", async () => {
    const backing = new MemoryBacking();
    const store = new CountingStore({ backing });
    await store.open(NOW);
    await store.fence(1);
    const bus = new Bus();
    await bus.watch();
    const p = new OutboxPublisher(store, bus, { idleMs: 10_000, retryMinMs: 5 });
    p.start();
    try {
      await until(() => store.reads === 1, "the first read");
      const a = await commit(store, 2);
      // A new leader fences the session: our next acknowledgement is refused.
      const leader = new MemoryStore({ backing });
      await leader.open(NOW);
      await leader.fence(2);
      p.offer(a);
      p.notify();
      await until(() => p.stats.stoppedBy !== undefined, "the publisher stopped");
      assert.match(p.stats.stoppedBy ?? "", /epoch/i);
    } finally {
      await p.stop();
    }
  });
});
