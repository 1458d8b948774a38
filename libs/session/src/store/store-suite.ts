/**
 * The behaviour every MessageStore backend must show, as one node:test suite a backend's test file runs
 * with its own harness (memory, file, and later Redis).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { StaleEpochError } from "../errors.js";
import type { MessageStore, OutboxEntry, OutboxEvent, StoredMessage } from "./store.js";

/** A store with its outbox (`readOutbox`/`ackOutbox` are still optional in MessageStore while wrappers catch up). */
export type StoreUnderTest = MessageStore & Required<Pick<MessageStore, "readOutbox" | "ackOutbox">>;

export interface StoreHarness {
  /** A new store instance over this harness's backing (one session): calling it again is a reopen. */
  create(): StoreUnderTest;
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

/** A plausible outbox event, numbered `n`: a message id, a subject, FIX bytes and a trace header. */
export function event(n: number, direction: "in" | "out" = "out"): OutboxEvent {
  return {
    id: `FIX.4.4-ISLD-TW44:20261127T045729000Z-0a0b0c0d:${direction}:${n}`,
    subject: `fix.FIX_4_4_ISLD_TW44.${direction}.D`,
    payload: Buffer.from(`8=FIX.4.4\x0135=D\x0134=${n}\x0111=ord-${n}${"y".repeat(n % 17)}\x0110=000\x01`, "latin1"),
    headers: { traceparent: `00-${n.toString(16).padStart(32, "0")}-00f067aa0ba902b7-01` },
  };
}

/** `event(n)` for each n in [from, to]. */
export function events(from: number, to: number): OutboxEvent[] {
  const out: OutboxEvent[] = [];
  for (let n = from; n <= to; n++) out.push(event(n));
  return out;
}

/** Compares id, subject, exact payload bytes and headers (absent ≠ empty), with a readable diff. */
export function assertSameEvents(actual: readonly OutboxEvent[], expected: readonly OutboxEvent[]): void {
  const view = (e: OutboxEvent) => ({
    id: e.id,
    subject: e.subject,
    payload: Buffer.from(e.payload).toString("hex"),
    headers: e.headers === undefined ? "(none)" : { ...e.headers },
  });
  assert.deepEqual(actual.map(view), expected.map(view));
}

/** Asserts that the positions of `entries` strictly grow, and returns them. */
export function assertGrowingPositions(entries: readonly OutboxEntry[]): number[] {
  const pos = entries.map((e) => e.pos);
  for (let i = 0; i < pos.length; i++) {
    assert.ok(Number.isSafeInteger(pos[i]) && pos[i] > 0, `position ${pos[i]} is a positive integer`);
    if (i > 0) assert.ok(pos[i] > pos[i - 1], `positions grow: ${pos.join(", ")}`);
  }
  return pos;
}

/** Runs `fn` with a fresh backing; closes every store it made and disposes of the backing afterwards. */
async function withStores(factory: StoreHarnessFactory, fn: (make: () => StoreUnderTest) => Promise<void>) {
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
  const test = (title: string, fn: (make: () => StoreUnderTest) => Promise<void>) =>
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
      const pending: Promise<unknown>[] = [];
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

    test("SAFE is kept across reopens, a new leader and a reset until it is cleared; a deposed writer cannot set it", async (make) => {
      const reason = "MsgSeqNum too low, expecting 10 but received 3";
      const old = make();
      assert.equal((await old.open(NOW)).safeReason, undefined, "not SAFE to begin with");
      await old.fence(1);
      await old.setSafe(reason);
      const leader = make();
      const taken = await leader.open(NOW);
      assert.equal(taken.safeReason, reason, "the next leader finds the session SAFE");
      await leader.fence(2);
      const stale = (e: unknown) => e instanceof StaleEpochError;
      await assert.rejects(old.setSafe(null), stale, "the deposed writer cannot clear it");
      await leader.reset(LATER);
      await leader.close();
      const again = make();
      assert.equal((await again.open(LATER)).safeReason, reason, "a new cycle does not clear it");
      await again.fence(2);
      await again.setSafe(null);
      await again.close();
      assert.equal((await make().open(LATER)).safeReason, undefined, "cleared for good");
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

  describe(`${name} store outbox`, () => {
    const ALL = Number.MAX_SAFE_INTEGER;

    test("events committed with batches read back in commit order, with growing positions, also after a reopen", async (make) => {
      const a = make();
      await a.open(NOW);
      await a.commit({ outbound: messages(1, 2), nextSenderSeq: 3, nextTargetSeq: 1, events: events(1, 2) });
      await a.commit({ outbound: [], nextSenderSeq: 3, nextTargetSeq: 2, events: [event(3, "in")] });
      await a.commit({ outbound: messages(3, 3), nextSenderSeq: 4, nextTargetSeq: 2, events: events(4, 5) });
      const read = await a.readOutbox(100);
      assertSameEvents(read, [...events(1, 2), event(3, "in"), ...events(4, 5)]);
      assertGrowingPositions(read);
      await a.close();
      const b = make();
      await b.open(LATER);
      assert.deepEqual(await b.readOutbox(100), read);
    });

    test("a commit that hands its events back hands them as the outbox holds them, positions included", async (make) => {
      const s = make();
      await s.open(NOW);
      const first = await s.commit({
        outbound: messages(1, 1),
        nextSenderSeq: 2,
        nextTargetSeq: 1,
        events: events(1, 2),
      });
      const none = await s.commit({ outbound: messages(2, 2), nextSenderSeq: 3, nextTargetSeq: 1 });
      const second = await s.commit({ outbound: [], nextSenderSeq: 3, nextTargetSeq: 2, events: [event(3, "in")] });
      const read = await s.readOutbox(100);
      if (s.kind === "file") {
        // The file store does not know the positions when it appends: its publisher reads.
        assert.deepEqual([first, none, second], [undefined, undefined, undefined]);
        return;
      }
      assert.ok(Array.isArray(first) && Array.isArray(second), `${s.kind} hands the events back`);
      assert.ok(none === undefined || (Array.isArray(none) && none.length === 0), "a commit without events, none");
      assertSameEvents([...first, ...second], read);
      assert.deepEqual(
        [...first, ...second].map((e) => e.pos),
        read.map((e) => e.pos),
      );
    });

    test("readOutbox returns at most `limit` events, the oldest first, and leaves them there", async (make) => {
      const s = make();
      await s.open(NOW);
      await s.commit({ outbound: [], nextSenderSeq: 1, nextTargetSeq: 1, events: events(1, 5) });
      const all = await s.readOutbox(5);
      assert.deepEqual(await s.readOutbox(2), all.slice(0, 2));
      assert.deepEqual(await s.readOutbox(2), all.slice(0, 2));
      assert.deepEqual(await s.readOutbox(0), []);
      assert.deepEqual(await s.readOutbox(Number.POSITIVE_INFINITY), all);
    });

    test("an empty outbox reads as no events", async (make) => {
      const s = make();
      await s.open(NOW);
      await s.commit({ outbound: messages(1, 2), nextSenderSeq: 3, nextTargetSeq: 1 });
      assert.deepEqual(await s.readOutbox(10), []);
    });

    test("ackOutbox drops the events up to the position; a read returns the rest, also after a reopen", async (make) => {
      const a = make();
      await a.open(NOW);
      await a.commit({ outbound: messages(1, 1), nextSenderSeq: 2, nextTargetSeq: 1, events: events(1, 3) });
      await a.commit({ outbound: messages(2, 2), nextSenderSeq: 3, nextTargetSeq: 1, events: events(4, 6) });
      const all = await a.readOutbox(10);
      await a.ackOutbox(all[1].pos);
      assert.deepEqual(await a.readOutbox(10), all.slice(2));
      await a.ackOutbox(all[1].pos); // again: nothing more to drop
      await a.ackOutbox(0);
      assert.deepEqual(await a.readOutbox(10), all.slice(2));
      await a.ackOutbox(all[4].pos);
      assert.deepEqual(await a.readOutbox(10), all.slice(5));
      await a.close();
      const b = make();
      await b.open(NOW);
      assert.deepEqual(await b.readOutbox(10), all.slice(5));
      assertSameMessages(await b.getRange(1, 2), messages(1, 2));
    });

    test("an ack past the newest position drops every event, and later events still get higher positions", async (make) => {
      const a = make();
      await a.open(NOW);
      await a.commit({ outbound: [], nextSenderSeq: 1, nextTargetSeq: 1, events: events(1, 3) });
      const first = await a.readOutbox(10);
      await a.ackOutbox(ALL);
      assert.deepEqual(await a.readOutbox(10), []);
      await a.commit({ outbound: [], nextSenderSeq: 1, nextTargetSeq: 1, events: events(4, 5) });
      await a.close();
      const b = make();
      await b.open(NOW);
      const later = await b.readOutbox(10);
      assertSameEvents(later, events(4, 5));
      assertGrowingPositions([...first, ...later]);
    });

    test("the outbox survives a reset and a reopen: unacknowledged events keep their order and positions", async (make) => {
      const a = make();
      await a.open(NOW);
      await a.commit({ outbound: messages(1, 3), nextSenderSeq: 4, nextTargetSeq: 2, events: events(1, 4) });
      const before = await a.readOutbox(10);
      await a.ackOutbox(before[0].pos);
      await a.reset(LATER);
      assert.deepEqual(await a.getRange(1, 3), []);
      assert.deepEqual(await a.readOutbox(10), before.slice(1));
      await a.commit({ outbound: messages(1, 1), nextSenderSeq: 2, nextTargetSeq: 1, events: events(5, 6) });
      await a.close();
      const b = make();
      await b.open(LATER);
      const after = await b.readOutbox(10);
      assertSameEvents(after, events(2, 6));
      assert.deepEqual(after.slice(0, 3), before.slice(1));
      assertGrowingPositions(after);
      await b.reset(LATER + 1);
      await b.ackOutbox(after[3].pos);
      await b.close();
      const c = make();
      await c.open(LATER);
      assert.deepEqual(await c.readOutbox(10), after.slice(4));
    });

    test("positions keep growing across resets and reopens, also when every event was acknowledged", async (make) => {
      let s = make();
      await s.open(NOW);
      const seen: OutboxEntry[] = [];
      for (let round = 0; round < 3; round++) {
        await s.commit({
          outbound: [],
          nextSenderSeq: 1,
          nextTargetSeq: 1,
          events: events(round * 2 + 1, round * 2 + 2),
        });
        const read = await s.readOutbox(10);
        seen.push(...read);
        await s.ackOutbox(read[read.length - 1].pos);
        await s.reset(LATER + round);
        await s.close();
        s = make();
        await s.open(LATER);
      }
      assertSameEvents(seen, events(1, 6));
      assertGrowingPositions(seen);
      assert.deepEqual(await s.readOutbox(10), []);
    });

    test("a commit with no events, absent or empty, leaves the outbox alone", async (make) => {
      const s = make();
      await s.open(NOW);
      await s.commit({ outbound: messages(1, 1), nextSenderSeq: 2, nextTargetSeq: 1, events: events(1, 2) });
      const before = await s.readOutbox(10);
      await s.commit({ outbound: messages(2, 3), nextSenderSeq: 4, nextTargetSeq: 3 });
      await s.commit({ outbound: messages(4, 4), nextSenderSeq: 5, nextTargetSeq: 3, events: [] });
      await s.commit({ outbound: [], nextSenderSeq: 5, nextTargetSeq: 4, events: [] });
      assert.deepEqual(await s.readOutbox(10), before);
      await s.commit({ outbound: [], nextSenderSeq: 5, nextTargetSeq: 4, events: events(3, 3) });
      const after = await s.readOutbox(10);
      assert.deepEqual(after.slice(0, 2), before);
      assertSameEvents(after.slice(2), events(3, 3));
      assert.ok(after[2].pos > before[1].pos);
    });

    test("payloads and headers round-trip exactly: every byte value, an empty payload, Unicode, no headers", async (make) => {
      const a = make();
      await a.open(NOW);
      const every = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7) & 0xff));
      const sent: OutboxEvent[] = [
        {
          id: "bin",
          subject: "fix.S.out.D",
          payload: every,
          headers: { "Nats-Msg-Id": "x", traceparent: "00-ab-cd-01" },
        },
        { id: "empty", subject: "fix.S.state", payload: Buffer.alloc(0) },
        { id: "no-headers", subject: "fix.S.in.8", payload: Buffer.from([0, 1, 0x80, 0xff, 0xc3]) },
        { id: "empty-headers", subject: "fix.S.in.8", payload: Buffer.from("x"), headers: {} },
        {
          id: "Ünïcødé 🎉 id",
          subject: "fix.Ω.out.D",
          payload: Buffer.from("8=FIX.4.4\x019=5\x01", "latin1"),
          headers: { "x-ünï": "välüe 🎉", "": "", quote: '"\\\n{}', proto: "__proto__" },
        },
      ];
      await a.commit({ outbound: [], nextSenderSeq: 1, nextTargetSeq: 1, events: sent });
      const read = await a.readOutbox(10);
      assertSameEvents(read, sent);
      assert.ok(read[0].payload.equals(every));
      assert.equal(read[1].payload.length, 0);
      assert.equal(read[2].headers, undefined);
      assert.deepEqual(read[3].headers, {});
      await a.close();
      const b = make();
      await b.open(NOW);
      assertSameEvents(await b.readOutbox(10), sent);
    });

    test("a commit keeps its own copy of event payloads and headers: reusing them at once changes nothing", async (make) => {
      const s = make();
      await s.open(NOW);
      const e = event(1);
      const payload = Buffer.from(e.payload);
      const headers = { ...e.headers };
      const committed = s.commit({
        outbound: [],
        nextSenderSeq: 1,
        nextTargetSeq: 1,
        events: [{ id: e.id, subject: e.subject, payload, headers }],
      });
      payload.fill(0x41);
      headers.traceparent = "changed";
      await committed;
      const [read] = await s.readOutbox(1);
      assertSameEvents([read], [e]);
      read.payload.fill(0x42); // nor does changing what was read
      assertSameEvents(await s.readOutbox(1), [e]);
    });

    test("a writer deposed by a higher fence can neither ack nor commit events: StaleEpochError, outbox unchanged", async (make) => {
      const old = make();
      await old.open(NOW);
      await old.fence(1);
      await old.commit({ outbound: messages(1, 1), nextSenderSeq: 2, nextTargetSeq: 1, events: events(1, 3) });
      const leader = make();
      await leader.open(NOW);
      await leader.fence(2);
      const before = await leader.readOutbox(10);
      const stale = (e: unknown) => e instanceof StaleEpochError && e.currentEpoch === 2;
      await assert.rejects(old.ackOutbox(before[1].pos), stale);
      await assert.rejects(
        old.commit({ outbound: messages(2, 2), nextSenderSeq: 3, nextTargetSeq: 1, events: events(4, 4) }),
        stale,
      );
      await assert.rejects(
        old.commit({ outbound: [], nextSenderSeq: 2, nextTargetSeq: 1, events: events(5, 5) }),
        stale,
      );
      assert.deepEqual(await leader.readOutbox(10), before);
      await leader.ackOutbox(before[0].pos);
      await leader.close();
      const next = make();
      await next.open(NOW);
      assert.deepEqual(await next.readOutbox(10), before.slice(1));
    });

    test("fence keeps the events the old leader committed after the new leader opened", async (make) => {
      const old = make();
      await old.open(NOW);
      await old.fence(1);
      await old.commit({ outbound: [], nextSenderSeq: 1, nextTargetSeq: 1, events: events(1, 1) });
      const leader = make();
      await leader.open(NOW);
      await old.commit({ outbound: messages(1, 1), nextSenderSeq: 2, nextTargetSeq: 1, events: events(2, 3) });
      await old.ackOutbox((await old.readOutbox(1))[0].pos);
      await leader.fence(2);
      const adopted = await leader.readOutbox(10);
      assertSameEvents(adopted, events(2, 3));
      await leader.commit({ outbound: messages(2, 2), nextSenderSeq: 3, nextTargetSeq: 1, events: events(4, 4) });
      await leader.close();
      const next = make();
      await next.open(NOW);
      const read = await next.readOutbox(10);
      assertSameEvents(read, events(2, 4));
      assert.deepEqual(read.slice(0, 2), adopted);
      assertGrowingPositions(read);
    });

    test("a malformed event fails the commit with RangeError and writes nothing of it", async (make) => {
      const s = make();
      await s.open(NOW);
      const bad: unknown[] = [
        { id: "a", subject: "s", payload: "not bytes" },
        { id: 7, subject: "s", payload: Buffer.alloc(1) },
        { id: "lone \ud800 surrogate", subject: "s", payload: Buffer.alloc(1) },
        { id: "a", subject: "x".repeat(70_000), payload: Buffer.alloc(1) },
        { id: "a", subject: "s", payload: Buffer.alloc(1), headers: { n: 1 } },
      ];
      for (const e of bad) {
        await assert.rejects(
          s.commit({
            outbound: messages(1, 1),
            nextSenderSeq: 2,
            nextTargetSeq: 1,
            events: [event(1), e as OutboxEvent],
          }),
          RangeError,
          JSON.stringify(e).slice(0, 60),
        );
      }
      await assert.rejects(s.ackOutbox(-1), RangeError);
      await assert.rejects(s.ackOutbox(1.5), RangeError);
      assert.deepEqual(await s.readOutbox(10), []);
      assert.deepEqual(await s.getRange(1, 1), []);
    });

    test("any sequence of commits with events, acks, resets and reopens reads the outbox back as a model says", async (make) => {
      type Op =
        | { kind: "commit"; messages: number; events: number }
        | { kind: "ack"; count: number }
        | { kind: "read"; limit: number }
        | { kind: "reset" }
        | { kind: "reopen" };
      const op = fc.oneof(
        {
          weight: 5,
          arbitrary: fc.record({ kind: fc.constant("commit" as const), messages: fc.nat(2), events: fc.nat(4) }),
        },
        { weight: 3, arbitrary: fc.record({ kind: fc.constant("ack" as const), count: fc.nat(5) }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant("read" as const), limit: fc.nat(6) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant("reset" as const) }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant("reopen" as const) }) },
      );
      let round = 0;
      let highest = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
          round++;
          // The backing (and its outbox) is shared by the runs of this test: start each from an empty outbox.
          let store = make();
          await store.open(NOW);
          await store.reset(NOW + round);
          await store.ackOutbox(ALL);
          let sender = 1;
          let n = 0;
          /** Unacknowledged events, oldest first, with their position once the store has told it. */
          const model: { event: OutboxEvent; pos?: number }[] = [];
          const check = (read: OutboxEntry[], limit: number) => {
            assertSameEvents(
              read,
              model.slice(0, limit).map((m) => m.event),
            );
            assertGrowingPositions(read);
            read.forEach((r, i) => {
              const known = model[i].pos;
              if (known !== undefined) assert.equal(r.pos, known, "an event keeps its position");
              else {
                assert.ok(r.pos > highest, `a new event's position ${r.pos} is above every earlier one (${highest})`);
                model[i].pos = r.pos;
                highest = r.pos;
              }
            });
          };
          for (const o of ops as Op[]) {
            switch (o.kind) {
              case "commit": {
                const batch = messages(sender, sender + o.messages - 1);
                const evs = Array.from({ length: o.events }, () => ({ ...event(++n), id: `r${round}-e${n}` }));
                sender += o.messages;
                await store.commit({ outbound: batch, nextSenderSeq: sender, nextTargetSeq: 1, events: evs });
                for (const e of evs) model.push({ event: e });
                break;
              }
              case "ack": {
                // What a publisher does: read a batch, publish it, acknowledge its last position.
                const read = await store.readOutbox(o.count);
                check(read, o.count);
                if (read.length > 0) await store.ackOutbox(read[read.length - 1].pos);
                model.splice(0, read.length);
                break;
              }
              case "read":
                check(await store.readOutbox(o.limit), o.limit);
                break;
              case "reset":
                await store.reset(NOW + round);
                sender = 1;
                break;
              case "reopen":
                await store.close();
                store = make();
                await store.open(NOW);
                break;
            }
          }
          check(await store.readOutbox(1000), 1000);
          await store.close();
        }),
        { numRuns: 40 },
      );
    });
  });
}
