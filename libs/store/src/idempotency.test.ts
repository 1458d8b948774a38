import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { StaleEpochError, type StoredMessage } from "@fixmesh/session";
import { RedisStore } from "./redis.js";
import { dropKeys, freshPrefix, testClient } from "./testkit.js";

/** Client idempotency keys recorded by commits (CommitBatch.idempotency) and read back by the next leader. */

const SESSION = "FIX.4.4:IDEM->VENUE";
const client = testClient();
after(() => client.quit());

const msg = (seq: number): StoredMessage => ({ seq, msgType: "D", bytes: Buffer.from(`8=FIX.4.4\x0134=${seq}\x01`) });

describe("RedisStore idempotency keys", () => {
  it("are recorded in the commit that persists their message, and read back by another writer", async () => {
    const prefix = freshPrefix();
    const a = new RedisStore({ redis: client, session: SESSION, prefix });
    const b = new RedisStore({ redis: client, session: SESSION, prefix });
    try {
      await a.open(Date.now());
      await a.fence(1);
      await a.commit({
        outbound: [msg(1), msg(2)],
        nextSenderSeq: 3,
        nextTargetSeq: 1,
        idempotency: [
          { key: "order-1", fingerprint: "f1", seq: 1 },
          { key: "order-2", fingerprint: "f2", seq: 2 },
        ],
      });
      await b.open(Date.now());
      await b.fence(2);
      const keys = await b.readIdempotency();
      assert.deepEqual(
        keys.map((k) => [k.key, k.seq, k.fingerprint]),
        [
          ["order-1", 1, "f1"],
          ["order-2", 2, "f2"],
        ],
      );
      assert.ok(keys.every((k) => Math.abs(Date.now() - k.at) < 60_000));
      // The deposed writer's commit is refused, and so is its key: no answer for a message never persisted.
      await assert.rejects(
        a.commit({
          outbound: [msg(3)],
          nextSenderSeq: 4,
          nextTargetSeq: 1,
          idempotency: [{ key: "order-3", fingerprint: "f3", seq: 3 }],
        }),
        StaleEpochError,
      );
      assert.deepEqual(
        (await b.readIdempotency()).map((k) => k.key),
        ["order-1", "order-2"],
      );
    } finally {
      await a.close();
      await b.close();
      await dropKeys(client, prefix);
    }
  });

  it("are bounded in number (oldest out first) and in age", async () => {
    const prefix = freshPrefix();
    const s = new RedisStore({ redis: client, session: SESSION, prefix, idempotencyMaxKeys: 3, idempotencyTtlMs: 300 });
    try {
      await s.open(Date.now());
      for (let seq = 1; seq <= 5; seq++) {
        await s.commit({
          outbound: [msg(seq)],
          nextSenderSeq: seq + 1,
          nextTargetSeq: 1,
          idempotency: [{ key: `k${seq}`, fingerprint: "f", seq }],
        });
      }
      assert.deepEqual(
        (await s.readIdempotency()).map((k) => k.key),
        ["k3", "k4", "k5"],
      );
      assert.equal(await client.hlen(s.keys.idem), 3, "the hash holds no more than the bound");
      await new Promise((r) => setTimeout(r, 400));
      assert.deepEqual(await s.readIdempotency(), [], "expired keys are not answered");
      assert.equal(await client.exists(s.keys.idem, s.keys.idemAt), 0, "Redis dropped them (PEXPIRE)");
    } finally {
      await s.close();
      await dropKeys(client, prefix);
    }
  });
});
