/**
 * The Redis backend against a real Redis (127.0.0.1:6379, or REDIS_URL), each test under its own key prefix:
 * the shared backend suite (each replica through its own ChaosProxy, stalled to cut its link), then the Lua
 * scripts' rules.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { Redis } from "ioredis";
import { createElector } from "../create.js";
import { backendSuite, SUITE_TIMING } from "../testing/backend-suite.js";
import { RedisLock } from "./redis-lock.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const target = new URL(REDIS_URL);
const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
after(() => client.quit());

function freshKey(): { prefix: string; key: string } {
  const prefix = `fixmesh-test-${randomBytes(6).toString("hex")}`;
  return { prefix, key: `${prefix}:{FIX.4.4:A->B}:leader` };
}

async function dropKeys(prefix: string): Promise<void> {
  const keys = await client.keys(`${prefix}:*`);
  if (keys.length > 0) await client.unlink(...keys);
}

backendSuite("redis", () => ({
  target: { host: target.hostname, port: Number(target.port || 6379) },
  async fresh() {
    const { prefix, key } = freshKey();
    return {
      elector: (identity, port) =>
        createElector({ kind: "redis", redis: `redis://127.0.0.1:${port}`, key, identity, timing: SUITE_TIMING }),
      async deadHolder() {
        const lock = new RedisLock({ redis: client, key, identity: "dead", leaseDurationMs: 1000, subscriber: false });
        const r = await lock.acquire();
        assert.ok(r.acquired);
        return r.epoch;
      },
      cleanup: () => dropKeys(prefix),
    };
  },
}));

describe("redis lock scripts", () => {
  it("acquire takes the lock with a TTL and the next epoch; the counter only grows, across releases", async () => {
    const { prefix, key } = freshKey();
    const a = new RedisLock({ redis: client, key, identity: "a", leaseDurationMs: 5000, subscriber: false });
    const b = new RedisLock({ redis: client, key, identity: "b", leaseDurationMs: 5000, subscriber: false });
    try {
      assert.deepEqual(await a.acquire(), { acquired: true, epoch: 1 });
      assert.equal(await client.get(key), "1 a");
      const ttl = await client.pttl(key);
      assert.ok(ttl > 4000 && ttl <= 5000, `pttl ${ttl}`);
      assert.deepEqual(await b.acquire(), { acquired: false, holder: "a" });
      assert.equal(await client.get(`${key}:epoch`), "1", "a refused acquire takes no epoch");
      await a.release(1);
      assert.equal(await client.exists(key), 0);
      assert.deepEqual(await b.acquire(), { acquired: true, epoch: 2 });
      await b.release(2);
      assert.deepEqual(await a.acquire(), { acquired: true, epoch: 3 });
      assert.equal(await client.ttl(`${key}:epoch`), -1, "the counter never expires");
    } finally {
      await dropKeys(prefix);
    }
  });

  it("renew and release act only on the holder's own term", async () => {
    const { prefix, key } = freshKey();
    const a = new RedisLock({ redis: client, key, identity: "a", leaseDurationMs: 5000, subscriber: false });
    // The same identity in a later instance (a restarted container keeps its host name and pid).
    const a2 = new RedisLock({ redis: client, key, identity: "a", leaseDurationMs: 5000, subscriber: false });
    try {
      assert.deepEqual(await a.acquire(), { acquired: true, epoch: 1 });
      assert.equal(await a2.renew(2), false);
      assert.equal(await a.renew(1), true);
      await a2.release(2);
      assert.equal(await client.get(key), "1 a", "a release of another term deletes nothing");
      assert.deepEqual(await a2.acquire(), { acquired: false, holder: "a" });
      await client.del(key);
      assert.equal(await a.renew(1), false, "an expired lock is not renewed back into life");
      assert.equal(await client.exists(key), 0);
    } finally {
      await dropKeys(prefix);
    }
  });

  it("a release is published, and a standby listening takes over at once", async () => {
    const { prefix, key } = freshKey();
    const timing = { leaseDurationMs: 10_000, renewDeadlineMs: 6_000, retryPeriodMs: 2_000 };
    const a = createElector({ kind: "redis", redis: REDIS_URL, key, identity: "a", timing });
    const b = createElector({ kind: "redis", redis: REDIS_URL, key, identity: "b", timing });
    try {
      a.start();
      while (!a.isLeader) await new Promise((r) => setTimeout(r, 5));
      b.start();
      // Past b's first attempt, so only the release notice can make it try again within the test's time.
      await new Promise((r) => setTimeout(r, 200));
      const t0 = performance.now();
      const won = new Promise<number>((resolve) => b.on("elected", () => resolve(performance.now() - t0)));
      await a.stop();
      const ms = await won;
      assert.ok(ms < 500, `took over ${ms} ms after the release (retry period ${timing.retryPeriodMs} ms)`);
      assert.equal(b.epoch, 2);
    } finally {
      await a.stop();
      await b.stop();
      await dropKeys(prefix);
    }
  });
});
