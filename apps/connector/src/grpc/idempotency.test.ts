import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IdempotencyKeys } from "./idempotency.js";

const fp = (s: string) => Buffer.from(s);

describe("IdempotencyKeys", () => {
  it("remembers a key per session until its TTL passes", () => {
    let now = 1000;
    const keys = new IdempotencyKeys({ ttlMs: 100, now: () => now });
    keys.set("S1", "k", { fingerprint: fp("a"), seq: Promise.resolve(5) });
    assert.ok(keys.get("S1", "k"));
    assert.equal(keys.get("S2", "k"), undefined, "keys are scoped to their session");
    now += 99;
    assert.ok(keys.get("S1", "k"));
    now += 1;
    assert.equal(keys.get("S1", "k"), undefined);
  });

  it("drops the oldest key when full", () => {
    const keys = new IdempotencyKeys({ maxKeys: 2 });
    for (const k of ["a", "b", "c"]) keys.set("S", k, { fingerprint: fp(k), seq: Promise.resolve(1) });
    assert.equal(keys.size, 2);
    assert.equal(keys.get("S", "a"), undefined);
    assert.ok(keys.get("S", "b"));
    assert.ok(keys.get("S", "c"));
  });

  it("forgets a key whose send failed, so that a retry sends", async () => {
    const keys = new IdempotencyKeys();
    const seq = Promise.reject(new Error("persist failed"));
    seq.catch(() => undefined);
    keys.set("S", "k", { fingerprint: fp("a"), seq });
    await seq.catch(() => undefined);
    await new Promise((r) => setImmediate(r));
    assert.equal(keys.get("S", "k"), undefined);
  });
});
