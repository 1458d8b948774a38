import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FieldSchema, type SendRequest, SendRequestSchema } from "@fixmesh/contracts";
import { encodeForFingerprint, fingerprintOf, IdempotencyKeys, sendFingerprint } from "./idempotency.js";

const fp = (s: string) => s;

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

  it("keeps the MsgSeqNum itself once the send has it, not the Promise", async () => {
    const keys = new IdempotencyKeys();
    keys.set("S", "k", { fingerprint: fp("a"), seq: Promise.resolve(5) });
    await new Promise((r) => setImmediate(r));
    assert.equal(keys.get("S", "k")?.seq, 5);
  });

  it("drops the oldest key when full", () => {
    const keys = new IdempotencyKeys({ maxKeys: 2 });
    for (const k of ["a", "b", "c"]) keys.set("S", k, { fingerprint: fp(k), seq: Promise.resolve(1) });
    assert.equal(keys.size, 2);
    assert.equal(keys.get("S", "a"), undefined);
    assert.ok(keys.get("S", "b"));
    assert.ok(keys.get("S", "c"));
  });

  it("forgets oldest first over many keys, passing over a key noted again since (its new age counts)", () => {
    let now = 0;
    const keys = new IdempotencyKeys({ maxKeys: 1000, ttlMs: 10_000, now: () => now });
    const set = (k: string) => keys.set("S", k, { fingerprint: fp(k), seq: Promise.resolve(1) });
    for (let i = 0; i < 1000; i++, now++) set(`k${i}`);
    set("k0"); // noted again (as after a failed send and its retry): now the newest
    for (let i = 1000; i < 1999; i++, now++) set(`k${i}`);
    assert.equal(keys.size, 1000);
    assert.ok(keys.get("S", "k0"), "the key noted again is as new as its second noting");
    assert.equal(keys.get("S", "k1"), undefined);
    assert.equal(keys.get("S", "k999"), undefined);
    assert.ok(keys.get("S", "k1000"));
    // Past everyone's TTL, the next Send forgets them all, however many slots came before.
    for (let i = 0; i < 5000; i++, now++) set(`m${i}`);
    now += 10_000;
    set("last");
    assert.equal(keys.size, 1);
    assert.ok(keys.get("S", "last"));
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
  it("keeps a key whose commit got no answer as uncertain (when the store records keys); settle decides", async () => {
    const unknown = () => {
      const cause = Object.assign(new Error("redis store S: commit failed: Command timed out"), {
        name: "StoreUnavailableError",
      });
      const seq = Promise.reject(new Error("session S: store write failed", { cause }));
      seq.catch(() => undefined);
      return seq;
    };
    const settleSoon = () => new Promise((r) => setImmediate(r));
    // No store keeping keys: forgotten like any failure.
    const plain = new IdempotencyKeys();
    plain.set("S", "k", { fingerprint: fp("a"), seq: unknown() });
    await settleSoon();
    assert.equal(plain.get("S", "k"), undefined);

    const keys = new IdempotencyKeys({ durable: () => ({ read: async () => [] }) });
    keys.set("S", "stored", { fingerprint: fp("a"), seq: unknown() });
    keys.set("S", "lost", { fingerprint: fp("b"), seq: unknown() });
    const refused = Promise.reject(new Error("refused: not logged on"));
    refused.catch(() => undefined);
    keys.set("S", "refused", { fingerprint: fp("c"), seq: refused });
    await settleSoon();
    assert.equal(keys.get("S", "stored")?.uncertain, true);
    assert.equal(keys.get("S", "lost")?.uncertain, true);
    assert.equal(keys.get("S", "refused"), undefined, "a failure known to have stored nothing is forgotten");
    // The store has the first: its MsgSeqNum is the answer. It has not the second: forgotten, a retry sends.
    const settled = keys.settle("S", "stored", { key: "stored", fingerprint: fp("a"), seq: 7 });
    assert.equal(await settled?.seq, 7);
    assert.equal(keys.get("S", "stored")?.uncertain, undefined);
    assert.equal(keys.settle("S", "lost", undefined), undefined);
    assert.equal(keys.get("S", "lost"), undefined);
  });

  it("load adds the keys an earlier leader recorded, skipping expired ones and those it already holds", async () => {
    let now = 10_000;
    const keys = new IdempotencyKeys({ ttlMs: 1000, now: () => now });
    keys.set("S", "mine", { fingerprint: fp("fresh"), seq: Promise.resolve(9) });
    const added = keys.load("S", [
      { key: "old", fingerprint: "f-old", seq: 1, at: now - 1000 },
      { key: "kept", fingerprint: "f-kept", seq: 2, at: now - 500 },
      { key: "mine", fingerprint: "stale", seq: 3, at: now - 10 },
    ]);
    assert.equal(added, 1);
    assert.equal(keys.get("S", "old"), undefined, "expired when recorded");
    assert.equal(await keys.get("S", "kept")?.seq, 2);
    assert.equal(keys.get("S", "kept")?.fingerprint, "f-kept");
    assert.equal(await keys.get("S", "mine")?.seq, 9, "this process's own answer wins");
    now += 500;
    assert.equal(keys.get("S", "kept"), undefined, "a loaded key ages from when it was recorded");
  });
});

describe("sendFingerprint", () => {
  // A small deterministic generator: the same cases every run.
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const pieces = ["", "A", "AAPL", "ü", "€", "日本", "𝄞", "x".repeat(130), "\u0001", "20261128-01:57:29.123"];
  const text = () => Array.from({ length: rnd(3) + 1 }, () => pieces[rnd(pieces.length)]).join("");
  const tags = [0, 1, 11, 127, 128, 16_383, 16_384, 2_097_152, 4_294_967_295];
  const field = () =>
    create(FieldSchema, {
      tag: tags[rnd(tags.length)],
      value:
        rnd(4) === 0
          ? { case: "bytesValue", value: Uint8Array.from({ length: rnd(300) }, (_, i) => i % 256) }
          : rnd(6) === 0
            ? { case: undefined }
            : { case: "stringValue", value: text() },
    });
  const request = (): SendRequest =>
    create(SendRequestSchema, {
      sessionId: rnd(5) === 0 ? "" : text(),
      msgType: rnd(5) === 0 ? "" : text(),
      fields: Array.from({ length: rnd(20) }, field),
      headerFields: Array.from({ length: rnd(3) }, field),
      idempotencyKey: text(),
      traceparent: rnd(2) === 0 ? "" : "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    });

  it("hashes exactly the bytes protobuf-es encodes, traceparent left out (2,000 generated requests)", () => {
    for (let i = 0; i < 2000; i++) {
      const req = request();
      const expected = toBinary(SendRequestSchema, { ...req, traceparent: "" });
      assert.deepEqual(encodeForFingerprint(req), Buffer.from(expected), `request ${i}`);
      assert.equal(sendFingerprint(req), fingerprintOf(expected));
    }
  });

  it("is SHA-256, hex, as keys recorded by earlier versions are", () => {
    assert.equal(fingerprintOf(Buffer.from("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("leaves a request with unknown fields to protobuf-es, which writes them back", () => {
    const req = request();
    const bytes = toBinary(SendRequestSchema, req);
    // Field 15 (varint 7), unknown to SendRequest: kept by fromBinary in $unknown.
    const withUnknown = fromBinary(SendRequestSchema, Buffer.concat([bytes, Buffer.from([15 << 3, 7])]));
    assert.equal(encodeForFingerprint(withUnknown), null);
    assert.equal(
      sendFingerprint(withUnknown),
      fingerprintOf(toBinary(SendRequestSchema, { ...withUnknown, traceparent: "" })),
    );
    assert.notEqual(sendFingerprint(withUnknown), sendFingerprint(req));
  });
});
