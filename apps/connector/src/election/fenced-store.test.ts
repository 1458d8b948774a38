/** The store of one leadership term: fence first, then read; a refusal reported once, and not after the term. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryBacking, MemoryStore, StaleEpochError } from "@fixmesh/session";
import { FencedStore } from "./fenced-store.js";

const S = "FIX.4.4:CLIENT->VENUE";
const commit = (next: number) => ({ outbound: [], nextSenderSeq: next, nextTargetSeq: 1 });

describe("FencedStore", () => {
  it("fences before it reads: the state is final, and the old leader's next write is refused", async () => {
    const backing = new MemoryBacking();
    const old = new MemoryStore({ backing, session: S });
    await old.open(Date.now());
    await old.fence(1);
    await old.commit(commit(7));
    const stale: StaleEpochError[] = [];
    const term = new FencedStore(new MemoryStore({ backing, session: S }), S, 2, (e) => stale.push(e));
    const state = await term.open(Date.now());
    assert.equal(state.epoch, 2);
    assert.equal(state.nextSenderSeq, 7);
    await assert.rejects(old.commit(commit(8)), StaleEpochError);
    await term.commit(commit(8));
    assert.deepEqual(stale, []);
  });

  it("a newer leader fencing between our fence and our read makes the open fail, reported", async () => {
    const backing = new MemoryBacking();
    const usurper = new MemoryStore({ backing, session: S });
    class Racing extends MemoryStore {
      override async fence(epoch: number): Promise<void> {
        await super.fence(epoch);
        await usurper.open(Date.now());
        await usurper.fence(epoch + 1);
      }
    }
    const stale: StaleEpochError[] = [];
    const term = new FencedStore(new Racing({ backing, session: S }), S, 2, (e) => stale.push(e));
    await assert.rejects(term.open(Date.now()), StaleEpochError);
    assert.equal(stale.length, 1);
    assert.equal(stale[0].currentEpoch, 3);
  });

  it("reports a refused write while the term lasts, and not after it was retired", async () => {
    const backing = new MemoryBacking();
    const stale: StaleEpochError[] = [];
    const term = new FencedStore(new MemoryStore({ backing, session: S }), S, 1, (e) => stale.push(e));
    await term.open(Date.now());
    const next = new MemoryStore({ backing, session: S });
    await next.open(Date.now());
    await next.fence(2);
    await assert.rejects(term.commit(commit(2)), StaleEpochError);
    assert.equal(stale.length, 1);
    term.retire();
    await assert.rejects(term.commit(commit(2)), StaleEpochError);
    assert.equal(stale.length, 1);
  });

  it("without an epoch (election none) it neither fences nor checks: the store's epoch is kept", async () => {
    const backing = new MemoryBacking();
    const before = new MemoryStore({ backing, session: S });
    await before.open(Date.now());
    await before.fence(5);
    const term = new FencedStore(new MemoryStore({ backing, session: S }), S, null, () => assert.fail("reported"));
    assert.equal((await term.open(Date.now())).epoch, 5);
    await term.commit(commit(2));
  });
});
