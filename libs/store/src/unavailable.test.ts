import assert from "node:assert/strict";
import { once } from "node:events";
import { after, describe, it } from "node:test";
import { assertSameMessages, messages, NOW } from "@fixmesh/session/testing";
import { Redis } from "ioredis";
import { StoreUnavailableError } from "./errors.js";
import { sessionKeys } from "./keys.js";
import { RedisStore } from "./redis.js";
import { RedisProxy } from "./redis-proxy.js";
import { dropKeys, freshPrefix, testClient } from "./testkit.js";

const SESSION = "FIX.4.4:TW44->ISLD";
const TIMEOUT_MS = 300;
const client = testClient();
after(() => client.quit());

async function timed<T>(p: Promise<T>): Promise<{ ms: number; result: PromiseSettledResult<T> }> {
  const t0 = performance.now();
  const [result] = await Promise.allSettled([p]);
  return { ms: performance.now() - t0, result };
}

function rejectedWith(r: PromiseSettledResult<unknown>, op: string): StoreUnavailableError {
  assert.equal(r.status, "rejected");
  const err = (r as PromiseRejectedResult).reason;
  assert.ok(err instanceof StoreUnavailableError, String(err));
  assert.equal(err.op, op);
  assert.equal(err.session, SESSION);
  assert.ok(err.cause !== undefined);
  return err;
}

describe("redis store when Redis does not answer", () => {
  it("a commit over a stalled link rejects after commandTimeout, and wrote nothing", async () => {
    const prefix = freshPrefix();
    const proxy = new RedisProxy();
    await proxy.start();
    const store = new RedisStore({ redis: proxy.url, session: SESSION, prefix, commandTimeout: TIMEOUT_MS });
    try {
      await store.open(NOW);
      await store.commit({ outbound: messages(1, 2), nextSenderSeq: 3, nextTargetSeq: 1 });
      proxy.stall();
      const { ms, result } = await timed(
        store.commit({ outbound: messages(3, 4), nextSenderSeq: 5, nextTargetSeq: 1 }),
      );
      const err = rejectedWith(result, "commit");
      assert.match(err.message, /timed out/);
      assert.ok(ms >= TIMEOUT_MS - 50 && ms < TIMEOUT_MS + 1000, `rejected after ${ms.toFixed(0)} ms`);
      await proxy.cut(); // the stalled bytes die with the link: they can never reach Redis late
      const meta = await client.hgetall(sessionKeys(prefix, SESSION).meta);
      assert.equal(meta.nextSenderSeq, "3");
      assert.equal(await client.zcard(sessionKeys(prefix, SESSION).out(meta.cycle)), 2);
    } finally {
      await store.close();
      await proxy.cut();
      await dropKeys(client, prefix);
    }
  });

  it("a commit while Redis refuses connections rejects at once, is never written late, and the store commits again once Redis is back", async () => {
    const prefix = freshPrefix();
    const proxy = new RedisProxy();
    await proxy.start();
    const store = new RedisStore({ redis: proxy.url, session: SESSION, prefix, commandTimeout: TIMEOUT_MS });
    try {
      await store.open(NOW);
      await store.commit({ outbound: messages(1, 2), nextSenderSeq: 3, nextTargetSeq: 1 });
      const closed = once(store.redis, "close");
      await proxy.cut();
      await closed;
      const { ms, result } = await timed(
        store.commit({ outbound: messages(3, 4), nextSenderSeq: 5, nextTargetSeq: 1 }),
      );
      rejectedWith(result, "commit");
      assert.ok(ms < 100, `rejected after ${ms.toFixed(0)} ms`);
      rejectedWith((await timed(store.getRange(1, 2))).result, "getRange");

      const ready = once(store.redis, "ready");
      await proxy.start();
      await ready;
      // The refused commit was not kept in an offline queue to be written now, behind the engine's back.
      const meta = await client.hgetall(sessionKeys(prefix, SESSION).meta);
      assert.equal(meta.nextSenderSeq, "3");
      assert.equal(await client.zcard(sessionKeys(prefix, SESSION).out(meta.cycle)), 2);
      await store.commit({ outbound: messages(3, 4), nextSenderSeq: 5, nextTargetSeq: 1 });
      assertSameMessages(await store.getRange(1, 10), messages(1, 4));
    } finally {
      await store.close();
      await proxy.cut();
      await dropKeys(client, prefix);
    }
  });

  it("open against a closed port rejects promptly, with a URL or with a caller's client", async () => {
    const own = new RedisStore({ redis: "redis://127.0.0.1:1", session: SESSION, commandTimeout: TIMEOUT_MS });
    try {
      const { ms, result } = await timed(own.open(NOW));
      const err = rejectedWith(result, "open");
      assert.match(err.message, /ECONNREFUSED/);
      assert.ok(ms < 1000, `rejected after ${ms.toFixed(0)} ms`);
      await assert.rejects(own.commit({ outbound: messages(1, 1), nextSenderSeq: 2, nextTargetSeq: 1 }), /not open/);
    } finally {
      await own.close();
    }
    // close() also stopped the owned client's reconnect timer: otherwise this test file would never exit.

    // A caller's client as the documentation asks for one: a commandTimeout, and no endless retries.
    const theirs = new Redis({ host: "127.0.0.1", port: 1, commandTimeout: TIMEOUT_MS, maxRetriesPerRequest: 0 });
    const errors: Error[] = [];
    theirs.on("error", (e) => errors.push(e));
    try {
      const store = new RedisStore({ redis: theirs, session: SESSION });
      const { ms, result } = await timed(store.open(NOW));
      rejectedWith(result, "open");
      assert.ok(ms < TIMEOUT_MS + 1000, `rejected after ${ms.toFixed(0)} ms`);
      assert.ok(errors.length > 0, "the caller's client reported the refused connection");
    } finally {
      theirs.disconnect();
    }
  });
});
