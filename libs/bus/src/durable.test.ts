import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { Delivered } from "./bus.js";
import { type DurableBus, DurableConfigError, type DurableConsumer, deleteConsumer } from "./durable.js";
import type { BusEvent } from "./events.js";
import { InProcessBus } from "./in-process.js";
import { JetStreamBus } from "./jetstream.js";

const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const rand = () => Math.random().toString(36).slice(2, 10);

function ev(prefix: string, i: number, kind = "a"): BusEvent {
  return {
    id: `${prefix}:${kind}:${i}`,
    subject: `${prefix}.${kind}.x`,
    payload: Buffer.from(`m${i}`),
    headers: { n: String(i) },
  };
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Harness {
  prefix: string;
  bus: DurableBus;
  /** Another connection to the same bus (JetStream: a new client; in process: the same bus). */
  reopen(): Promise<DurableBus>;
  cleanup(): Promise<void>;
}

type Factory = () => Promise<Harness>;

const jetstream: Factory = async () => {
  const prefix = `d${rand()}`;
  const open = () =>
    JetStreamBus.connect({ servers: NATS_URL, stream: `DURTEST_${prefix}`, subjects: [`${prefix}.>`] });
  const bus = await open();
  const others: JetStreamBus[] = [];
  return {
    prefix,
    bus,
    reopen: async () => {
      const b = await open();
      others.push(b);
      return b;
    },
    cleanup: async () => {
      await bus.deleteStream().catch(() => undefined);
      for (const b of others) await b.close().catch(() => undefined);
      await bus.close();
    },
  };
};

const inProcess: Factory = async () => {
  const bus = new InProcessBus();
  return { prefix: `d${rand()}`, bus, reopen: async () => bus, cleanup: () => bus.close() };
};

function suite(label: string, factory: Factory): void {
  describe(`durable consumer: ${label}`, () => {
    it("hands every matching event over in stream order, in batches of at most `batch`, then reports no lag", async () => {
      const h = await factory();
      let c: DurableConsumer | null = null;
      try {
        await h.bus.publish(Array.from({ length: 120 }, (_, i) => ev(h.prefix, i, i % 3 === 0 ? "b" : "a")));
        c = await h.bus.durable({ name: "all", filter: `${h.prefix}.a.>`, batch: 25 });
        const got: Delivered[] = [];
        const sizes: number[] = [];
        c.start(async (batch) => {
          sizes.push(batch.length);
          got.push(...batch);
        });
        const expected = Array.from({ length: 120 }, (_, i) => i).filter((i) => i % 3 !== 0);
        await until(() => got.length >= expected.length, "all events handed over");
        await until(async () => (await c?.lag()) === 0, "lag drops to 0");
        assert.deepEqual(
          got.map((d) => d.id),
          expected.map((i) => `${h.prefix}:a:${i}`),
        );
        assert.ok(Math.max(...sizes) <= 25, `batches ${sizes.join(",")}`);
        assert.equal(Buffer.from(got[1].payload).toString(), "m2");
        assert.equal(got[1].headers?.n, "2");
        assert.ok(got[1].seq > got[0].seq);
        // Events published after the consumer caught up arrive too.
        await h.bus.publish([ev(h.prefix, 500)]);
        await until(() => got.length === expected.length + 1, "a new event after catching up");
      } finally {
        await c?.stop();
        await h.cleanup();
      }
    });

    it("redelivers a batch whose handler threw, in order, and moves on once it succeeds", async () => {
      const h = await factory();
      let c: DurableConsumer | null = null;
      try {
        await h.bus.publish(Array.from({ length: 30 }, (_, i) => ev(h.prefix, i)));
        c = await h.bus.durable({ name: "retry", filter: `${h.prefix}.>`, batch: 10 });
        const stored: string[] = [];
        let failures = 0;
        c.start(async (batch) => {
          if (batch.some((d) => d.id.endsWith(":15")) && failures < 3) {
            failures++;
            throw new Error("database down");
          }
          stored.push(...batch.map((d) => d.id));
        });
        await until(() => stored.length >= 30, "all stored");
        assert.equal(failures, 3);
        assert.deepEqual(
          stored,
          Array.from({ length: 30 }, (_, i) => `${h.prefix}:a:${i}`),
          "each event once, in order",
        );
        await until(async () => (await c?.lag()) === 0, "lag drops to 0");
      } finally {
        await c?.stop();
        await h.cleanup();
      }
    });

    it("resumes where it left off after stop: acknowledged events are not handed over again", async () => {
      const h = await factory();
      let c: DurableConsumer | null = null;
      try {
        await h.bus.publish(Array.from({ length: 20 }, (_, i) => ev(h.prefix, i)));
        c = await h.bus.durable({ name: "resume", filter: `${h.prefix}.>`, batch: 5 });
        const first: string[] = [];
        c.start(async (batch) => {
          first.push(...batch.map((d) => d.id));
        });
        await until(() => first.length === 20, "first pass");
        await c.stop();
        await h.bus.publish(Array.from({ length: 10 }, (_, i) => ev(h.prefix, 20 + i)));
        const other = await h.reopen();
        c = await other.durable({ name: "resume", filter: `${h.prefix}.>`, batch: 5 });
        assert.equal(await c.lag(), 10);
        const second: string[] = [];
        c.start(async (batch) => {
          second.push(...batch.map((d) => d.id));
        });
        await until(() => second.length >= 10, "second pass");
        await new Promise((r) => setTimeout(r, 200));
        assert.deepEqual(
          second,
          Array.from({ length: 10 }, (_, i) => `${h.prefix}:a:${20 + i}`),
        );
      } finally {
        await c?.stop();
        await h.cleanup();
      }
    });

    it("gives a batch back when stopped while its handler keeps failing; the next consumer gets it", async () => {
      const h = await factory();
      let c: DurableConsumer | null = null;
      try {
        await h.bus.publish(Array.from({ length: 8 }, (_, i) => ev(h.prefix, i)));
        c = await h.bus.durable({ name: "giveback", filter: `${h.prefix}.>`, batch: 100, ackWaitMs: 60_000 });
        let attempts = 0;
        c.start(async () => {
          attempts++;
          throw new Error("always fails");
        });
        await until(() => attempts >= 2, "handler retried");
        await c.stop();
        const got: string[] = [];
        c = await (await h.reopen()).durable({ name: "giveback", filter: `${h.prefix}.>`, batch: 100 });
        c.start(async (batch) => {
          got.push(...batch.map((d) => d.id));
        });
        // ackWait is 60 s: arriving well within it means the stopped consumer handed the events back.
        await until(() => got.length >= 8, "redelivered to the next consumer", 20_000);
        assert.deepEqual(
          got,
          Array.from({ length: 8 }, (_, i) => `${h.prefix}:a:${i}`),
        );
      } finally {
        await c?.stop();
        await h.cleanup();
      }
    });

    it("fetches nothing more while the handler is busy (bounded memory)", async () => {
      const h = await factory();
      let c: DurableConsumer | null = null;
      let release: () => void = () => undefined;
      try {
        await h.bus.publish(Array.from({ length: 200 }, (_, i) => ev(h.prefix, i)));
        c = await h.bus.durable({ name: "paced", filter: `${h.prefix}.>`, batch: 10 });
        let calls = 0;
        const gate = new Promise<void>((r) => {
          release = r;
        });
        c.start(async () => {
          calls++;
          await gate;
        });
        await until(() => calls === 1, "first batch");
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(calls, 1, "never two batches at once");
        // At most the batch in hand and one fetched ahead are out of the stream.
        assert.ok((await c.lag()) === 200, "nothing acknowledged while the handler is busy");
        if (h.bus instanceof JetStreamBus) {
          const info = await h.bus.durableInfo("paced");
          assert.ok(info.ackPending <= 20, `${info.ackPending} out of the stream > 2 batches`);
        }
        release();
        await until(async () => (await c?.lag()) === 0, "drains after release");
        assert.equal(calls, 20);
      } finally {
        release();
        await c?.stop();
        await h.cleanup();
      }
    });

    it("starts at new events with deliver: new", async () => {
      const h = await factory();
      let c: DurableConsumer | null = null;
      try {
        await h.bus.publish([ev(h.prefix, 1), ev(h.prefix, 2)]);
        c = await h.bus.durable({ name: "fresh", filter: `${h.prefix}.>`, deliver: "new" });
        const got: string[] = [];
        c.start(async (batch) => {
          got.push(...batch.map((d) => d.id));
        });
        await h.bus.publish([ev(h.prefix, 3)]);
        await until(() => got.length >= 1, "new event");
        assert.deepEqual(got, [`${h.prefix}:a:3`]);
      } finally {
        await c?.stop();
        await h.cleanup();
      }
    });

    it("refuses a bad name, a bad batch, and an existing durable with another filter", async () => {
      const h = await factory();
      try {
        await assert.rejects(h.bus.durable({ name: "a.b", filter: "x.>" }), (e: unknown) => {
          assert.ok(e instanceof DurableConfigError);
          assert.equal(e.field, "name");
          return true;
        });
        await assert.rejects(h.bus.durable({ name: "ok", filter: `${h.prefix}.>`, batch: 0 }), /batch/);
        const c = await h.bus.durable({ name: "f", filter: `${h.prefix}.a.>` });
        await assert.rejects(h.bus.durable({ name: "f", filter: `${h.prefix}.b.>` }), /already exists with filter/);
        await c.stop();
      } finally {
        await h.cleanup();
      }
    });
  });
}

suite("JetStream (real NATS)", jetstream);
suite("in-process", inProcess);

describe("durable consumer: JetStream crash", () => {
  it("redelivers the unacknowledged batch of a consumer whose connection died, after ackWait", async () => {
    const h = await jetstream();
    try {
      await h.bus.publish(Array.from({ length: 5 }, (_, i) => ev(h.prefix, i)));
      const dying = (await h.reopen()) as JetStreamBus;
      const c1 = await dying.durable({ name: "crash", filter: `${h.prefix}.>`, ackWaitMs: 1000 });
      let held = 0;
      let unblock: () => void = () => undefined;
      const hang = new Promise<void>((r) => {
        unblock = r;
      });
      c1.start(async (batch) => {
        held = batch.length;
        await hang; // the process "hangs" with the batch in hand and then its connection dies
        throw new Error("dead");
      });
      await until(() => held > 0, "batch in hand");
      await dying.closeNow();
      const c2 = await h.bus.durable({ name: "crash", filter: `${h.prefix}.>`, ackWaitMs: 1000 });
      const got: Delivered[] = [];
      c2.start(async (batch) => {
        got.push(...batch);
      });
      await until(() => got.length >= 5, "redelivered");
      assert.deepEqual(
        got.map((d) => d.id),
        Array.from({ length: 5 }, (_, i) => `${h.prefix}:a:${i}`),
      );
      await c2.stop();
      unblock();
      await c1.stop();
    } finally {
      await h.cleanup();
    }
  });
});

describe("durable consumer: JetStream pull requests", () => {
  it("a burst of events rides the open pull: all handed over in order, no request of its own", async () => {
    const h = await jetstream();
    // Every pull request the consumer sends, as the server receives it (a plain subscription sees the API subject).
    const watcher = await connect({ servers: NATS_URL });
    const requests: number[] = [];
    const stream = `DURTEST_${h.prefix}`;
    watcher.subscribe(`$JS.API.CONSUMER.MSG.NEXT.${stream}.burst`, {
      callback: () => {
        requests.push(Date.now());
      },
    });
    await watcher.flush();
    const c = await h.bus.durable({ name: "burst", filter: `${h.prefix}.>`, batch: 50 });
    const batches: string[][] = [];
    try {
      c.start(async (batch) => {
        batches.push(batch.map((d) => d.id));
      });
      await until(() => requests.length >= 1, "the first pull request");
      const before = requests.length;
      await h.bus.publish(Array.from({ length: 5 }, (_, i) => ev(h.prefix, i)));
      await until(() => batches.flat().length === 5, "all five handed over");
      await new Promise((r) => setTimeout(r, 100));
      await watcher.flush();
      // In one batch or two: the server may deliver the first before it has stored the rest (timing, not a request).
      assert.deepEqual(
        batches.flat(),
        Array.from({ length: 5 }, (_, i) => `${h.prefix}:a:${i}`),
        "each once, in order",
      );
      // The pull open when they came took them all (a long poll for one, then a fetch of the rest, was 2 or 3).
      assert.equal(requests.length - before, 0, `pull requests for the burst: ${requests.length - before}`);
    } finally {
      await c.stop();
      await watcher.close();
      await h.cleanup();
    }
  });
});

describe("durable consumer: JetStream consumer lost", () => {
  it("recreates a durable the server lost (deleted under it) and hands over what is published after", async () => {
    const h = await jetstream();
    const admin = await connect({ servers: NATS_URL });
    const c = await h.bus.durable({ name: "lost", filter: `${h.prefix}.>`, batch: 10 });
    const got = new Set<string>();
    try {
      c.start(async (batch) => {
        for (const d of batch) got.add(d.id);
      });
      await h.bus.publish(Array.from({ length: 3 }, (_, i) => ev(h.prefix, i)));
      await until(() => got.size === 3, "the first three");
      await deleteConsumer(await jetstreamManager(admin), `DURTEST_${h.prefix}`, "lost");
      await h.bus.publish(Array.from({ length: 3 }, (_, i) => ev(h.prefix, i + 3)));
      await until(() => got.size === 6, "the three published after the durable was lost", 20_000);
      assert.ok(
        (await (h.bus as JetStreamBus).durableInfo("lost")).pending === 0,
        "the recreated durable is read to the end",
      );
    } finally {
      await c.stop();
      await admin.close();
      await h.cleanup();
    }
  });
});

describe("durable consumer: JetStream inactive threshold", () => {
  const exists = (bus: JetStreamBus, name: string) =>
    bus.durableInfo(name).then(
      () => true,
      () => false,
    );

  it("removes a durable with a threshold once its reader is gone that long; keeps one without, and one being read", async () => {
    const h = await jetstream();
    const bus = h.bus as JetStreamBus;
    try {
      await h.bus.publish(Array.from({ length: 3 }, (_, i) => ev(h.prefix, i)));
      // A pod: reads both durables, then dies (its connection closes without a goodbye).
      const pod = (await h.reopen()) as JetStreamBus;
      const seen = { perPod: 0, shared: 0 };
      const perPod = await pod.durable({ name: "risk-pod-1", filter: `${h.prefix}.>`, inactiveThresholdMs: 1000 });
      const shared = await pod.durable({ name: "shared", filter: `${h.prefix}.>` });
      perPod.start(async (b) => {
        seen.perPod += b.length;
      });
      shared.start(async (b) => {
        seen.shared += b.length;
      });
      // A live reader keeps its durable however long it stays idle past the threshold.
      const live = await bus.durable({ name: "risk-pod-2", filter: `${h.prefix}.>`, inactiveThresholdMs: 1000 });
      live.start(async () => undefined);
      await until(() => seen.perPod === 3 && seen.shared === 3, "both durables read");
      await pod.closeNow();
      const gone = Date.now();
      await until(async () => !(await exists(bus, "risk-pod-1")), "the dead pod's durable removed", 15_000);
      assert.ok(Date.now() - gone >= 500, "removed only after the reader was gone for the threshold");
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(await exists(bus, "shared"), true, "a durable without a threshold stays");
      assert.equal(await exists(bus, "risk-pod-2"), true, "a durable being read stays");
      await live.stop();
      await perPod.stop();
      await shared.stop();
    } finally {
      await h.cleanup();
    }
  });

  it("applies a changed threshold to an existing durable: added, it goes; removed, it stays", async () => {
    const h = await jetstream();
    const bus = h.bus as JetStreamBus;
    try {
      await bus.durable({ name: "gains", filter: `${h.prefix}.>` });
      await bus.durable({ name: "loses", filter: `${h.prefix}.>`, inactiveThresholdMs: 1000 });
      await bus.durable({ name: "gains", filter: `${h.prefix}.>`, inactiveThresholdMs: 1000 });
      await bus.durable({ name: "loses", filter: `${h.prefix}.>` });
      await until(async () => !(await exists(bus, "gains")), "the durable given a threshold removed", 15_000);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await exists(bus, "loses"), true);
    } finally {
      await h.cleanup();
    }
  });

  it("refuses a threshold under a second (the reader's poll could not keep the durable)", async () => {
    const bus = new InProcessBus();
    await assert.rejects(bus.durable({ name: "x", filter: "a.>", inactiveThresholdMs: 500 }), (e: unknown) => {
      assert.ok(e instanceof DurableConfigError);
      assert.equal(e.field, "inactiveThresholdMs");
      return true;
    });
  });
});
