/**
 * The behaviour every MessageStore backend must show, as one node:test suite a backend's test file runs
 * with its own harness (memory, file, and later Redis).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { StaleEpochError } from "../errors.js";
import type { MessageStore, StoredMessage } from "./store.js";

export interface StoreHarness {
  /** A new store instance over this harness's backing (one session): calling it again is a reopen. */
  create(): MessageStore;
  /** Removes the backing (temp directory, Redis keys). Stores created are closed before. */
  dispose(): Promise<void>;
}

/** Makes a harness with a fresh, empty backing; called once per test. */
export type StoreHarnessFactory = () => StoreHarness | Promise<StoreHarness>;

export const NOW = Date.UTC(2026, 10, 27, 4, 57, 29);
const LATER = NOW + 86_400_000;

/** A plausible outbound message for `seq`; its length varies with the seq. */
export function message(seq: number, msgType = "D"): StoredMessage {
  const body = `35=${msgType}\x0134=${seq}\x0149=TW44\x0156=ISLD\x0111=ord-${seq}${"x".repeat(seq % 23)}\x01`;
  return {
    seq,
    msgType,
    bytes: Buffer.from(`8=FIX.4.4\x019=${body.length}\x01${body}10=000\x01`, "latin1"),
  };
}

/** `message(seq)` for each seq in [from, to]; every fifth is an ExecutionReport. */
export function messages(from: number, to: number): StoredMessage[] {
  const out: StoredMessage[] = [];
  for (let seq = from; seq <= to; seq++) out.push(message(seq, seq % 5 === 0 ? "8" : "D"));
  return out;
}

/** Compares seq, MsgType and exact bytes, with a readable diff. */
export function assertSameMessages(actual: StoredMessage[], expected: StoredMessage[]): void {
  assert.deepEqual(
    actual.map((m) => ({ seq: m.seq, msgType: m.msgType, bytes: Buffer.from(m.bytes).toString("latin1") })),
    expected.map((m) => ({ seq: m.seq, msgType: m.msgType, bytes: Buffer.from(m.bytes).toString("latin1") })),
  );
}

/** Runs `fn` with a fresh backing; closes every store it made and disposes of the backing afterwards. */
async function withStores(factory: StoreHarnessFactory, fn: (make: () => MessageStore) => Promise<void>) {
  const harness = await factory();
  const made: MessageStore[] = [];
  try {
    await fn(() => {
      const s = harness.create();
      made.push(s);
      return s;
    });
  } finally {
    for (const s of made) await s.close();
    await harness.dispose();
  }
}

export function storeSuite(name: string, factory: StoreHarnessFactory): void {
  const test = (title: string, fn: (make: () => MessageStore) => Promise<void>) =>
    it(title, () => withStores(factory, fn));

  describe(`${name} store`, () => {
    test("a fresh open starts at 1/1 with a cycle id, the given creation time and epoch 0", async (make) => {
      const state = await make().open(NOW);
      assert.equal(state.nextSenderSeq, 1);
      assert.equal(state.nextTargetSeq, 1);
      assert.match(state.cycle, /\S/);
      assert.equal(state.creationTime, NOW);
      assert.equal(state.epoch, 0);
    });

    test("a reopen resumes both sequence numbers and the cycle", async (make) => {
      const a = make();
      const first = await a.open(NOW);
      await a.commit({ outbound: messages(1, 3), nextSenderSeq: 4, nextTargetSeq: 7 });
      await a.close();
      const state = await make().open(LATER);
      assert.deepEqual(state, { ...first, nextSenderSeq: 4, nextTargetSeq: 7 });
    });

    test("getRange after a reopen returns every stored message byte for byte, ascending", async (make) => {
      const a = make();
      await a.open(NOW);
      await a.commit({ outbound: messages(1, 4), nextSenderSeq: 5, nextTargetSeq: 2 });
      await a.commit({ outbound: messages(5, 9), nextSenderSeq: 10, nextTargetSeq: 3 });
      await a.close();
      const b = make();
      await b.open(LATER);
      assertSameMessages(await b.getRange(1, 9), messages(1, 9));
      assertSameMessages(await b.getRange(3, 6), messages(3, 6));
    });

    test("getRange skips seqs that were never stored", async (make) => {
      const s = make();
      await s.open(NOW);
      await s.commit({ outbound: messages(1, 2), nextSenderSeq: 3, nextTargetSeq: 1 });
      await s.commit({ outbound: messages(5, 6), nextSenderSeq: 7, nextTargetSeq: 1 });
      assertSameMessages(await s.getRange(1, 6), [...messages(1, 2), ...messages(5, 6)]);
    });

    test("getRange past the last stored seq returns what exists, and an empty or inverted range nothing", async (make) => {
      const s = make();
      await s.open(NOW);
      await s.commit({ outbound: messages(1, 5), nextSenderSeq: 6, nextTargetSeq: 1 });
      assertSameMessages(await s.getRange(3, 1_000_000), messages(3, 5));
      assertSameMessages(await s.getRange(4, Number.MAX_SAFE_INTEGER), messages(4, 5));
      assert.deepEqual(await s.getRange(6, 100), []);
      assert.deepEqual(await s.getRange(5, 2), []);
    });

    test("a commit keeps its own copy of the bytes: reusing the caller's buffer at once changes nothing", async (make) => {
      const s = make();
      await s.open(NOW);
      const m = message(1);
      const reused = Buffer.from(m.bytes);
      const committed = s.commit({
        outbound: [{ seq: 1, msgType: "D", bytes: reused }],
        nextSenderSeq: 2,
        nextTargetSeq: 1,
      });
      reused.fill(0x41); // before the commit resolved: an engine encoding the next message into the same buffer
      await committed;
      assertSameMessages(await s.getRange(1, 1), [m]);
    });

    test("a commit with no messages persists only the sequence numbers", async (make) => {
      const a = make();
      await a.open(NOW);
      await a.commit({ outbound: [], nextSenderSeq: 5, nextTargetSeq: 9 });
      await a.close();
      const b = make();
      const state = await b.open(NOW);
      assert.equal(state.nextSenderSeq, 5);
      assert.equal(state.nextTargetSeq, 9);
      assert.deepEqual(await b.getRange(1, 10), []);
    });

    test("a seq stored again returns its latest bytes", async (make) => {
      const s = make();
      await s.open(NOW);
      await s.commit({ outbound: messages(1, 3), nextSenderSeq: 4, nextTargetSeq: 1 });
      await s.setSequences(2, 1);
      const again = message(2, "AE");
      await s.commit({ outbound: [again], nextSenderSeq: 3, nextTargetSeq: 1 });
      await s.close();
      const b = make();
      await b.open(NOW);
      assertSameMessages(await b.getRange(1, 3), [message(1), again, message(3)]);
    });

    test("commits issued without awaiting are applied in call order", async (make) => {
      const s = make();
      await s.open(NOW);
      const pending: Promise<void>[] = [];
      for (let seq = 1; seq <= 20; seq += 2) {
        pending.push(s.commit({ outbound: messages(seq, seq + 1), nextSenderSeq: seq + 2, nextTargetSeq: seq }));
      }
      await Promise.all(pending);
      await s.close();
      const b = make();
      const state = await b.open(NOW);
      assert.equal(state.nextSenderSeq, 21);
      assert.equal(state.nextTargetSeq, 19);
      assertSameMessages(await b.getRange(1, 20), messages(1, 20));
    });

    test("reset starts a new cycle at 1/1 with no messages, also after a reopen", async (make) => {
      const a = make();
      const before = await a.open(NOW);
      await a.commit({ outbound: messages(1, 3), nextSenderSeq: 4, nextTargetSeq: 8 });
      const after = await a.reset(LATER);
      assert.notEqual(after.cycle, before.cycle);
      assert.ok(after.cycle > before.cycle, "cycle ids sort in creation order");
      assert.deepEqual(after, {
        nextSenderSeq: 1,
        nextTargetSeq: 1,
        cycle: after.cycle,
        creationTime: LATER,
        epoch: 0,
      });
      assert.deepEqual(await a.getRange(1, 3), []);
      await a.close();
      const b = make();
      assert.deepEqual(await b.open(NOW), after);
      assert.deepEqual(await b.getRange(1, 3), []);
    });

    test("reset starts at the sequence numbers given", async (make) => {
      const s = make();
      await s.open(NOW);
      const state = await s.reset(LATER, { nextSenderSeq: 10, nextTargetSeq: 20 });
      assert.equal(state.nextSenderSeq, 10);
      assert.equal(state.nextTargetSeq, 20);
      await s.commit({ outbound: messages(10, 10), nextSenderSeq: 11, nextTargetSeq: 20 });
      assertSameMessages(await s.getRange(1, 20), messages(10, 10));
    });

    test("reset within the same millisecond still makes a new, later cycle id", async (make) => {
      const s = make();
      const first = await s.open(NOW);
      const second = await s.reset(NOW);
      const third = await s.reset(NOW - 1000);
      assert.ok(
        first.cycle < second.cycle && second.cycle < third.cycle,
        `${first.cycle} ${second.cycle} ${third.cycle}`,
      );
    });

    test("reset keeps the epoch", async (make) => {
      const s = make();
      await s.open(NOW);
      await s.fence(3);
      const state = await s.reset(LATER);
      assert.equal(state.epoch, 3);
    });

    test("setSequences changes both seqs and keeps the cycle and the messages", async (make) => {
      const a = make();
      const before = await a.open(NOW);
      await a.commit({ outbound: messages(1, 2), nextSenderSeq: 3, nextTargetSeq: 3 });
      await a.setSequences(100, 200);
      await a.close();
      const b = make();
      const state = await b.open(NOW);
      assert.deepEqual(state, { ...before, nextSenderSeq: 100, nextTargetSeq: 200 });
      assertSameMessages(await b.getRange(1, 2), messages(1, 2));
    });

    test("trim drops messages below the seq, also after a reopen, and keeps the seqs", async (make) => {
      const a = make();
      await a.open(NOW);
      await a.commit({ outbound: messages(1, 10), nextSenderSeq: 11, nextTargetSeq: 4 });
      await a.trim(6);
      assertSameMessages(await a.getRange(1, 10), messages(6, 10));
      await a.close();
      const b = make();
      const state = await b.open(NOW);
      assert.equal(state.nextSenderSeq, 11);
      assert.equal(state.nextTargetSeq, 4);
      assertSameMessages(await b.getRange(1, 10), messages(6, 10));
    });

    test("fence raises the epoch, and a reopen reports it", async (make) => {
      const a = make();
      await a.open(NOW);
      await a.fence(7);
      await a.commit({ outbound: messages(1, 1), nextSenderSeq: 2, nextTargetSeq: 1 });
      await a.close();
      assert.equal((await make().open(NOW)).epoch, 7);
    });

    test("fence with an epoch lower than the session's fails with StaleEpochError", async (make) => {
      const s = make();
      await s.open(NOW);
      await s.fence(5);
      await assert.rejects(s.fence(4), (e: unknown) => e instanceof StaleEpochError && e.currentEpoch === 5);
      await s.fence(5); // the same epoch again is fine
    });

    test("a writer deposed by a higher fence gets StaleEpochError on commit; the new leader's commits count", async (make) => {
      const old = make();
      await old.open(NOW);
      await old.fence(1);
      await old.commit({ outbound: messages(1, 2), nextSenderSeq: 3, nextTargetSeq: 2 });
      const leader = make();
      await leader.open(NOW);
      await leader.fence(2);
      await assert.rejects(
        old.commit({ outbound: messages(3, 3), nextSenderSeq: 4, nextTargetSeq: 2 }),
        (e: unknown) => e instanceof StaleEpochError && e.epoch === 1 && e.currentEpoch === 2,
      );
      await leader.commit({ outbound: [message(3, "AE")], nextSenderSeq: 4, nextTargetSeq: 5 });
      await leader.close();
      const next = make();
      const state = await next.open(NOW);
      assert.equal(state.nextSenderSeq, 4);
      assert.equal(state.nextTargetSeq, 5);
      assert.equal(state.epoch, 2);
      assertSameMessages(await next.getRange(1, 3), [...messages(1, 2), message(3, "AE")]);
    });

    test("fence keeps the commits the old leader made after the new leader opened", async (make) => {
      const old = make();
      await old.open(NOW);
      await old.fence(1);
      const leader = make();
      await leader.open(NOW);
      await old.commit({ outbound: messages(1, 3), nextSenderSeq: 4, nextTargetSeq: 6 });
      await leader.fence(2);
      assertSameMessages(await leader.getRange(1, 10), messages(1, 3));
      await leader.commit({ outbound: messages(4, 4), nextSenderSeq: 5, nextTargetSeq: 7 });
      await leader.close();
      const state = await make().open(NOW);
      assert.equal(state.nextSenderSeq, 5);
      assert.equal(state.nextTargetSeq, 7);
    });

    test("a deposed writer cannot set sequences, trim or reset either", async (make) => {
      const old = make();
      await old.open(NOW);
      await old.fence(1);
      const leader = make();
      await leader.open(NOW);
      await leader.fence(2);
      const stale = (e: unknown) => e instanceof StaleEpochError;
      await assert.rejects(old.setSequences(9, 9), stale);
      await assert.rejects(old.trim(5), stale);
      await assert.rejects(old.reset(LATER), stale);
      await assert.rejects(old.fence(1), stale);
    });

    test("any sequence of commits, sequence changes, trims, resets and reopens reads back as a model says", async (make) => {
      type Op =
        | { kind: "commit"; count: number; target: number }
        | { kind: "set"; sender: number; target: number }
        | { kind: "trim"; back: number }
        | { kind: "reset" }
        | { kind: "reopen" };
      const op = fc.oneof(
        {
          weight: 6,
          arbitrary: fc.record({ kind: fc.constant("commit" as const), count: fc.nat(6), target: fc.nat(3) }),
        },
        {
          weight: 1,
          arbitrary: fc.record({
            kind: fc.constant("set" as const),
            sender: fc.integer({ min: 1, max: 60 }),
            target: fc.integer({ min: 1, max: 60 }),
          }),
        },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant("trim" as const), back: fc.nat(8) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant("reset" as const) }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant("reopen" as const) }) },
      );
      let round = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
          round++;
          // Each run gets its own session history: the harness backing is shared by the runs of this test,
          // so start from a reset.
          let store = make();
          await store.open(NOW);
          await store.reset(NOW + round);
          const model = { sender: 1, target: 1, messages: new Map<number, StoredMessage>() };
          for (const o of ops as Op[]) {
            switch (o.kind) {
              case "commit": {
                const batch = messages(model.sender, model.sender + o.count - 1);
                await store.commit({
                  outbound: batch,
                  nextSenderSeq: model.sender + o.count,
                  nextTargetSeq: model.target + o.target,
                });
                for (const m of batch) model.messages.set(m.seq, m);
                model.sender += o.count;
                model.target += o.target;
                break;
              }
              case "set":
                await store.setSequences(o.sender, o.target);
                model.sender = o.sender;
                model.target = o.target;
                break;
              case "trim": {
                const below = Math.max(0, model.sender - o.back);
                await store.trim(below);
                for (const seq of model.messages.keys()) if (seq < below) model.messages.delete(seq);
                break;
              }
              case "reset":
                await store.reset(NOW + round);
                model.sender = 1;
                model.target = 1;
                model.messages.clear();
                break;
              case "reopen": {
                await store.close();
                store = make();
                const state = await store.open(NOW);
                assert.equal(state.nextSenderSeq, model.sender);
                assert.equal(state.nextTargetSeq, model.target);
                break;
              }
            }
          }
          const expected = [...model.messages.values()].sort((a, b) => a.seq - b.seq);
          assertSameMessages(await store.getRange(1, 1000), expected);
          await store.close();
        }),
        { numRuns: 40 },
      );
    });
  });
}
