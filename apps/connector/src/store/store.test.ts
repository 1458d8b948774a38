import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryStore, type StoredMessage } from "@fixmesh/session";
import { SessionStore } from "./store.js";

function msg(seq: number): StoredMessage {
  return { seq, msgType: "D", bytes: Buffer.from(`34=${seq}\x01`) };
}

async function commitUpTo(store: SessionStore, last: number): Promise<void> {
  for (let seq = 1; seq <= last; seq++) {
    await store.commit({ outbound: [msg(seq)], nextSenderSeq: seq + 1, nextTargetSeq: 1 });
  }
}

describe("SessionStore", () => {
  it("keeps at least the last `retainMessages` outbound messages and trims the older ones", async () => {
    const store = new SessionStore(new MemoryStore(), { retainMessages: 20 });
    await store.open(Date.now());
    await commitUpTo(store, 100);
    const kept = (await store.getRange(1, 100)).map((m) => m.seq);
    assert.ok(kept.length >= 20 && kept.length <= 22, `kept ${kept.length}`);
    assert.equal(kept.at(-1), 100);
    assert.deepEqual(
      kept,
      Array.from({ length: kept.length }, (_, i) => 101 - kept.length + i),
    );
  });

  it("without retention keeps everything, and shows each committed batch to onCommit", async () => {
    const seen: number[] = [];
    const store = new SessionStore(new MemoryStore(), { onCommit: (out) => seen.push(...out.map((m) => m.seq)) });
    await store.open(Date.now());
    await commitUpTo(store, 30);
    assert.equal((await store.getRange(1, 30)).length, 30);
    assert.deepEqual(
      seen,
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
  });
});

describe("SessionStore with holdOpen", () => {
  it("close() (the runner's, at stop) leaves the store open for the outbox drain; release() closes it", async () => {
    const inner = new MemoryStore();
    let closes = 0;
    const close = inner.close.bind(inner);
    inner.close = () => {
      closes++;
      return close();
    };
    const store = new SessionStore(inner, { holdOpen: true });
    await store.open(Date.now());
    await store.commit({
      outbound: [msg(1)],
      nextSenderSeq: 2,
      nextTargetSeq: 1,
      events: [{ id: "s:c:out:1", subject: "fix.s.out.D", payload: Buffer.from("{}") }],
    });
    await store.close();
    assert.equal(closes, 0);
    const left = await store.readOutbox(10);
    assert.deepEqual(
      left.map((e) => e.id),
      ["s:c:out:1"],
    );
    await store.ackOutbox(left[0].pos);
    await store.release();
    assert.equal(closes, 1);
  });
});
