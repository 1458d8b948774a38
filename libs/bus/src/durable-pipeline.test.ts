/**
 * `pipeline` on a JetStream durable (real NATS on 127.0.0.1:4222, a stream of its own per test): the next batch
 * is handed over while the one before is still being handled, acknowledgements stay in stream order, and memory
 * stays bounded.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Delivered } from "./bus.js";
import { DurableConfigError } from "./durable.js";
import { JetStreamBus } from "./jetstream.js";

const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const rand = () => Math.random().toString(36).slice(2, 10);

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function loaded(n: number): Promise<{ bus: JetStreamBus; prefix: string; open(): Promise<JetStreamBus> }> {
  const prefix = `p${rand()}`;
  const open = () =>
    JetStreamBus.connect({ servers: NATS_URL, stream: `PIPETEST_${prefix}`, subjects: [`${prefix}.>`] });
  const bus = await open();
  const events = Array.from({ length: n }, (_, i) => ({
    id: `${prefix}:${i + 1}`,
    subject: `${prefix}.x`,
    payload: Buffer.from(String(i + 1)),
  }));
  await bus.publish(events);
  return { bus, prefix, open };
}

const numbers = (b: readonly Delivered[]) => b.map((e) => Number(Buffer.from(e.payload).toString()));

describe("durable consumer with pipeline (JetStream)", { timeout: 60_000 }, () => {
  it("hands over the next batch while the one before is still handled, and acknowledges neither until the first is done", async () => {
    const { bus, prefix } = await loaded(20);
    const d = await bus.durable({ name: "pipe", filter: `${prefix}.>`, batch: 5, pipeline: 2, ackWaitMs: 10_000 });
    try {
      let release!: () => void;
      const first = new Promise<void>((r) => {
        release = r;
      });
      const seen: number[][] = [];
      d.start(async (b) => {
        seen.push(numbers(b));
        if (seen.length === 1) await first;
      });
      await until(() => seen.length >= 2, "second batch handed over while the first is held");
      assert.deepEqual(seen.slice(0, 2), [
        [1, 2, 3, 4, 5],
        [6, 7, 8, 9, 10],
      ]);
      // The second batch is handled, the first is not: neither is acknowledged.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await bus.durableInfo("pipe")).ackPending >= 10, true);
      release();
      await until(async () => (await d.lag()) === 0, "every event acknowledged");
      assert.deepEqual(
        seen.flat(),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
    } finally {
      await d.stop();
      await bus.deleteStream().catch(() => undefined);
      await bus.close();
    }
  });

  it("holds at most `pipeline` batches in the handler while they do not finish", async () => {
    const { bus, prefix } = await loaded(50);
    const d = await bus.durable({ name: "bounded", filter: `${prefix}.>`, batch: 5, pipeline: 2 });
    try {
      let calls = 0;
      d.start(async () => {
        calls++;
        throw new Error("database down");
      });
      await until(() => calls >= 6, "retries");
      const info = await bus.durableInfo("bounded");
      // Two batches in the handler and one fetched ahead, nothing more.
      assert.ok(info.ackPending <= 15, `ack pending ${info.ackPending}`);
      assert.ok(info.pending >= 35, `pending ${info.pending}`);
    } finally {
      await d.stop();
      await bus.deleteStream().catch(() => undefined);
      await bus.close();
    }
  });

  it("gives back a batch that never succeeded and the handled ones after it, so the next reader sees them in order", async () => {
    const { bus, prefix, open } = await loaded(10);
    const d = await bus.durable({ name: "back", filter: `${prefix}.>`, batch: 5, pipeline: 2, ackWaitMs: 30_000 });
    const other = await open();
    try {
      let second = false;
      d.start(async (b) => {
        if (numbers(b)[0] === 1) throw new Error("refused");
        second = true;
      });
      await until(() => second, "the second batch handled");
      await d.stop();
      const next = await other.durable({ name: "back", filter: `${prefix}.>`, batch: 10 });
      const got: number[] = [];
      next.start(async (b) => {
        got.push(...numbers(b));
      });
      await until(() => got.length >= 10, "redelivered");
      await next.stop();
      assert.deepEqual(got.slice(0, 10), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    } finally {
      await bus.deleteStream().catch(() => undefined);
      await other.close();
      await bus.close();
    }
  });

  for (const pipeline of [1, 2]) {
    it(`pipeline ${pipeline}: a handler slower than ackWait gets no event twice (the batches held and fetched ahead are kept)`, async () => {
      const { bus, prefix } = await loaded(30);
      const d = await bus.durable({ name: "slow", filter: `${prefix}.>`, batch: 10, pipeline, ackWaitMs: 300 });
      try {
        const seen: number[] = [];
        d.start(async (b) => {
          seen.push(...numbers(b));
          // Three ack waits per batch: only the keep-alive (working) stops the server redelivering.
          await new Promise((r) => setTimeout(r, 900));
        });
        await until(() => seen.length >= 30, "every event handed over", 30_000);
        await new Promise((r) => setTimeout(r, 1000));
        assert.deepEqual(
          seen,
          Array.from({ length: 30 }, (_, i) => i + 1),
        );
      } finally {
        await d.stop();
        await bus.deleteStream().catch(() => undefined);
        await bus.close();
      }
    });
  }

  it("refuses a pipeline outside 1..3, naming the field", async () => {
    const { bus, prefix } = await loaded(1);
    try {
      await assert.rejects(
        bus.durable({ name: "bad", filter: `${prefix}.>`, pipeline: 4 }),
        (e: unknown) => e instanceof DurableConfigError && e.field === "pipeline",
      );
    } finally {
      await bus.deleteStream().catch(() => undefined);
      await bus.close();
    }
  });
});
