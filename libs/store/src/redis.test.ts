import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { StaleEpochError, StoreConflictError } from "@fixmesh/session";
import {
  assertGrowingPositions,
  assertSameEvents,
  assertSameMessages,
  events,
  messages,
  NOW,
  storeSuite,
} from "@fixmesh/session/testing";
import fc from "fast-check";
import { sessionKeys } from "./keys.js";
import { RedisStore, type RedisStoreOptions } from "./redis.js";
import { dropKeys, freshPrefix, keySlot, keysUnder, REDIS_URL, testClient } from "./testkit.js";

const SESSION = "FIX.4.4:TW44->ISLD";
const client = testClient();
after(() => client.quit());

storeSuite("redis", () => {
  const prefix = freshPrefix();
  return {
    create: () => new RedisStore({ redis: client, session: SESSION, prefix }),
    dispose: () => dropKeys(client, prefix),
  };
});

/** Runs `fn` with stores on a fresh prefix; closes them and deletes the prefix's keys afterwards. */
async function withStores(
  fn: (make: (opts?: Partial<RedisStoreOptions>) => RedisStore, prefix: string) => Promise<void>,
): Promise<void> {
  const prefix = freshPrefix();
  const made: RedisStore[] = [];
  try {
    await fn((opts) => {
      const s = new RedisStore({ redis: client, session: SESSION, prefix, ...opts });
      made.push(s);
      return s;
    }, prefix);
  } finally {
    for (const s of made) await s.close();
    await dropKeys(client, prefix);
  }
}

/** What Redis holds for the session, read directly: the meta hash, the current cycle's and the outbox's raw members. */
async function snapshot(prefix: string, session = SESSION) {
  const keys = sessionKeys(prefix, session);
  const meta = await client.hgetall(keys.meta);
  const members = await client.zrangeBuffer(keys.out(meta.cycle), 0, -1, "WITHSCORES");
  const outbox = await client.zrangeBuffer(keys.outbox, 0, -1, "WITHSCORES");
  return {
    meta,
    members: members.map((b) => b.toString("hex")),
    outbox: outbox.map((b) => b.toString("hex")),
    keys: (await keysUnder(client, prefix)).sort(),
  };
}

describe("redis store on a real server", () => {
  it("refuses a commit from a writer a second instance fenced out, and writes nothing of it", async () => {
    await withStores(async (make, prefix) => {
      const first = make();
      await first.open(NOW);
      await first.fence(1);
      await first.commit({ outbound: messages(1, 2), nextSenderSeq: 3, nextTargetSeq: 2, events: events(1, 2) });
      const second = make();
      await second.open(NOW);
      await second.fence(2);
      const before = await snapshot(prefix);

      await assert.rejects(
        first.commit({ outbound: messages(3, 5), nextSenderSeq: 6, nextTargetSeq: 9, events: events(3, 3) }),
        (e: unknown) => e instanceof StaleEpochError && e.session === SESSION && e.epoch === 1 && e.currentEpoch === 2,
      );
      await assert.rejects(first.commit({ outbound: [], nextSenderSeq: 3, nextTargetSeq: 9 }), StaleEpochError);
      await assert.rejects(first.ackOutbox(Number.MAX_SAFE_INTEGER), StaleEpochError);

      const afterwards = await snapshot(prefix);
      assert.deepEqual(afterwards, before);
      assert.equal(afterwards.meta.nextSenderSeq, "3");
      assert.equal(afterwards.meta.nextTargetSeq, "2");
      assert.equal(afterwards.meta.epoch, "2");
      assert.equal(afterwards.members.length, 2 * 2, "two members with their scores");
      assert.equal(afterwards.outbox.length, 2 * 2, "two events with their positions");
      assert.equal(afterwards.meta.outboxPos, "2");
    });
  });

  it("refuses a write into a cycle that another writer with the same epoch reset, with StoreConflictError", async () => {
    await withStores(async (make, prefix) => {
      const a = make();
      await a.open(NOW);
      const b = make();
      await b.open(NOW);
      await b.reset(NOW + 1);
      await b.commit({ outbound: messages(1, 1), nextSenderSeq: 2, nextTargetSeq: 1 });
      const before = await snapshot(prefix);
      await assert.rejects(
        a.commit({ outbound: messages(7, 8), nextSenderSeq: 9, nextTargetSeq: 1 }),
        StoreConflictError,
      );
      await assert.rejects(a.reset(NOW + 2), StoreConflictError);
      assert.deepEqual(await snapshot(prefix), before);
    });
  });

  it("keeps every key of a session under the session's hash tag, in one cluster slot", async () => {
    for (const session of [SESSION, "FIXT.1.1:A{1}->B%"]) {
      await withStores(async (make, prefix) => {
        const s = make({ session });
        await s.open(NOW);
        await s.commit({ outbound: messages(1, 3), nextSenderSeq: 4, nextTargetSeq: 1, events: events(1, 3) });
        await s.reset(NOW + 1000);
        await s.commit({ outbound: messages(1, 2), nextSenderSeq: 3, nextTargetSeq: 1, events: events(4, 4) });
        const keys = await keysUnder(client, prefix);
        assert.equal(keys.length, 3, `meta, the current cycle's log and the outbox: ${keys.join(", ")}`);
        assert.ok(keys.includes(sessionKeys(prefix, session).outbox));
        const tag = sessionKeys(prefix, session).tag;
        for (const key of keys) {
          assert.ok(key.startsWith(`${prefix}:${tag}:`), key);
          assert.equal(keySlot(key), keySlot(keys[0]), key);
        }
      });
    }
  });

  it("stores any bytes exactly: SOH, 0x00, 0x80..0xFF, invalid UTF-8", async () => {
    await withStores(async (make) => {
      const s = make();
      await s.open(NOW);
      let seq = 1;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.uint8Array({ maxLength: 400 }), { minLength: 1, maxLength: 8 }),
          async (bodies) => {
            const batch = bodies.map((b, i) => ({ seq: seq + i, msgType: "D", bytes: Buffer.from(b) }));
            await s.commit({ outbound: batch, nextSenderSeq: seq + batch.length, nextTargetSeq: 1 });
            assertSameMessages(await s.getRange(seq, seq + batch.length - 1), batch);
            seq += batch.length;
          },
        ),
        { numRuns: 50 },
      );
      const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await s.commit({ outbound: [{ seq, msgType: "AE", bytes: all }], nextSenderSeq: seq + 1, nextTargetSeq: 1 });
      const [back] = await s.getRange(seq, seq);
      assert.ok(back.bytes.equals(all));
    });
  });

  it("keeps only the newest `retention` messages, trimming the oldest on each commit", async () => {
    await withStores(async (make, prefix) => {
      const s = make({ retention: 5 });
      await s.open(NOW);
      await s.commit({ outbound: messages(1, 3), nextSenderSeq: 4, nextTargetSeq: 1 });
      assertSameMessages(await s.getRange(1, 100), messages(1, 3));
      await s.commit({ outbound: messages(4, 8), nextSenderSeq: 9, nextTargetSeq: 1 });
      assertSameMessages(await s.getRange(1, 100), messages(4, 8));
      await s.commit({ outbound: messages(9, 10), nextSenderSeq: 11, nextTargetSeq: 1 });
      assertSameMessages(await s.getRange(1, 100), messages(6, 10));
      const keys = sessionKeys(prefix, SESSION);
      const cycle = await client.hget(keys.meta, "cycle");
      assert.equal(await client.zcard(keys.out(cycle!)), 5);
      // A checkpoint-only commit leaves the log alone.
      await s.commit({ outbound: [], nextSenderSeq: 11, nextTargetSeq: 4 });
      assertSameMessages(await s.getRange(1, 100), messages(6, 10));
    });
  });

  it("stores a batch larger than one Lua unpack() slice, and reads a range longer than one reply chunk", async () => {
    await withStores(async (make) => {
      const s = make();
      await s.open(NOW);
      await s.commit({ outbound: messages(1, 9000), nextSenderSeq: 9001, nextTargetSeq: 1 });
      assertSameMessages(await s.getRange(1, 9000), messages(1, 9000));
      assertSameMessages(await s.getRange(4000, 4200), messages(4000, 4200));
    });
  });

  it("adds a commit's events larger than one Lua unpack() slice in order, each member scored by its position", async () => {
    await withStores(async (make, prefix) => {
      const s = make();
      await s.open(NOW);
      await s.commit({ outbound: messages(1, 3), nextSenderSeq: 4, nextTargetSeq: 1, events: events(1, 4500) });
      const read = await s.readOutbox(10_000);
      assertSameEvents(read, events(1, 4500));
      assert.deepEqual(
        assertGrowingPositions(read),
        Array.from({ length: 4500 }, (_, i) => i + 1),
      );
      const raw = await client.zrangeBuffer(sessionKeys(prefix, SESSION).outbox, 0, 2, "WITHSCORES");
      for (let i = 0; i < raw.length; i += 2) {
        assert.equal(raw[i][0], 1, "format byte");
        assert.equal(raw[i].readUIntBE(1, 6), Number(raw[i + 1].toString()), "the member names its score");
      }
      await s.ackOutbox(4000);
      assertSameEvents(await s.readOutbox(10_000), events(4001, 4500));
    });
  });

  it("loads a 100,000-message log back in chunks of 1,000 through getRange", async (t) => {
    await withStores(async (make) => {
      const s = make();
      await s.open(NOW);
      const total = 100_000;
      const chunk = 1_000;
      const t0 = performance.now();
      const pending: Promise<unknown>[] = [];
      for (let seq = 1; seq <= total; seq += chunk) {
        pending.push(
          s.commit({ outbound: messages(seq, seq + chunk - 1), nextSenderSeq: seq + chunk, nextTargetSeq: 1 }),
        );
      }
      await Promise.all(pending);
      const t1 = performance.now();
      let count = 0;
      let bytes = 0;
      let next = 1;
      for (let seq = 1; seq <= total; seq += chunk) {
        const got = await s.getRange(seq, seq + chunk - 1);
        for (const m of got) {
          assert.equal(m.seq, next++);
          bytes += m.bytes.length;
        }
        count += got.length;
      }
      const t2 = performance.now();
      assert.equal(count, total);
      assertSameMessages(await s.getRange(54_321, 54_330), messages(54_321, 54_330));
      t.diagnostic(
        `100,000 messages (${(bytes / 1e6).toFixed(1)} MB): stored in ${(t1 - t0).toFixed(0)} ms (100 pipelined commits of 1,000), ` +
          `read back in ${(t2 - t1).toFixed(0)} ms (100 getRange calls of 1,000, ${((t2 - t1) * 10).toFixed(0)} µs each)`,
      );
    });
  });

  it("close quits a client the store created from a URL, and leaves a caller's client open", async () => {
    await withStores(async (make, prefix) => {
      const own = new RedisStore({ redis: REDIS_URL, session: SESSION, prefix });
      assert.equal(own.redis.status, "wait", "nothing connects before open");
      await own.open(NOW);
      assert.equal(own.redis.status, "ready");
      await own.close();
      assert.equal(own.redis.status, "end");
      await assert.rejects(own.getRange(1, 1), /not open/);
      const shared = make();
      await shared.open(NOW);
      await shared.close();
      assert.equal(client.status, "ready");
    });
  });
});

describe("redis store figures", () => {
  it("commits a batch of 16 or 128 messages in one round trip (timings printed)", async (t) => {
    await withStores(async (make) => {
      const s = make();
      await s.open(NOW);
      // Count what the client sends: each command is one round trip.
      let sent = 0;
      const c = client as unknown as { sendCommand: (...a: unknown[]) => unknown };
      const original = c.sendCommand;
      c.sendCommand = function (this: unknown, ...a: unknown[]) {
        sent++;
        return original.apply(this, a);
      };
      try {
        let seq = 1;
        // Batches are built before the clock starts: the figure is the store's, not the test's message builder.
        const commits = (n: number, count: number) => {
          const batches = Array.from({ length: count }, () => {
            const batch = messages(seq, seq + n - 1);
            seq += n;
            return { outbound: batch, nextSenderSeq: seq, nextTargetSeq: 1 };
          });
          let i = 0;
          return () => s.commit(batches[i++]);
        };
        const WARMUP = 50;
        const measure = async (label: string, rounds: number, fn: () => Promise<unknown>) => {
          for (let i = 0; i < WARMUP; i++) await fn(); // also loads the script (EVALSHA → EVAL once)
          sent = 0;
          const us: number[] = [];
          for (let i = 0; i < rounds; i++) {
            const t0 = performance.now();
            await fn();
            us.push((performance.now() - t0) * 1000);
          }
          us.sort((a, b) => a - b);
          return { label, trips: sent / rounds, p50: us[us.length >> 1], p99: us[Math.floor(us.length * 0.99)] };
        };
        const rows = [
          await measure("PING (baseline)", 2000, () => client.ping()),
          await measure("commit of 1", 2000, commits(1, 2000 + WARMUP)),
          await measure("commit of 16", 2000, commits(16, 2000 + WARMUP)),
          await measure("commit of 128", 500, commits(128, 500 + WARMUP)),
        ];
        const last = seq - 1;
        rows.push(await measure("getRange of 1,000", 100, () => s.getRange(last - 999, last)));
        for (const r of rows) {
          const perMsg = r.label.startsWith("commit of ") ? Number(r.label.slice(10)) : 0;
          t.diagnostic(
            `${r.label.padEnd(18)} ${r.trips} round trip(s)  p50 ${r.p50.toFixed(0).padStart(5)} µs  p99 ${r.p99
              .toFixed(0)
              .padStart(5)} µs` +
              (perMsg > 1 ? `  ≈ ${((perMsg / r.p50) * 1e6).toFixed(0)} msg/s` : "") +
              (r.label.startsWith("PING") ? "" : `  (${(r.p50 / rows[0].p50).toFixed(1)}× PING)`),
          );
        }
        for (const r of rows.slice(1)) assert.equal(r.trips, 1, `${r.label}: one round trip`);
      } finally {
        c.sendCommand = original;
      }
    });
  });
});
