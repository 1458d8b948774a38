/**
 * `SessionRunner.abort`: what a deposed leader does. The socket drops at once with no Logout, nothing more is
 * committed or written, and what was not persisted fails; a commit already on its way completes (the messages are
 * persisted) but its bytes are never written. Also `Acceptor.unregister`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ChaosProxy } from "@fixmesh/chaos";
import { type FixMessage, MsgType, Tag } from "@fixmesh/fix";
import {
  type CommitBatch,
  Health,
  MemoryBacking,
  MemoryStore,
  type MessageStore,
  type OutboxEntry,
  resolveSettings,
  type SessionSettings,
  StaleEpochError,
} from "@fixmesh/session";
import { Acceptor } from "./acceptor.js";
import { tcpConnector } from "./initiator.js";
import { SessionAbortedError, SessionRunner } from "./runner.js";
import { waitFor } from "./testing/harness.js";

function settings(role: "initiator" | "acceptor"): SessionSettings {
  return resolveSettings({
    BeginString: "FIX.4.4",
    SenderCompID: role === "initiator" ? "CLIENT" : "VENUE",
    TargetCompID: role === "initiator" ? "VENUE" : "CLIENT",
    ConnectionType: role,
    HeartBtInt: 30,
  });
}

/** A store whose commits wait at a gate while `hold` is set. */
class GatedStore extends MemoryStore {
  hold = false;
  private waiting: Array<() => void> = [];
  commits = 0;

  override async commit(batch: CommitBatch): Promise<readonly OutboxEntry[] | undefined> {
    if (this.hold) await new Promise<void>((r) => this.waiting.push(r));
    this.commits++;
    return super.commit(batch);
  }

  release(): void {
    this.hold = false;
    for (const w of this.waiting.splice(0)) w();
  }
}

async function setup(clientStore: MessageStore = new MemoryStore()) {
  const venue = await SessionRunner.start({ settings: settings("acceptor"), store: new MemoryStore(), schedule: null });
  const acceptor = new Acceptor({ port: 0 });
  acceptor.register(venue);
  const venuePort = await acceptor.listen();
  const proxy = new ChaosProxy({ target: { host: "127.0.0.1", port: venuePort } });
  const { port } = await proxy.start();
  /** What the client put on the wire, in order. */
  const wire: string[] = [];
  proxy.toServer.drop({
    persistent: true,
    where: (m: FixMessage) => {
      wire.push(`${m.msgType}:${m.get(Tag.ClOrdID) ?? ""}`);
      return false;
    },
  });
  const client = await SessionRunner.start({
    settings: settings("initiator"),
    store: clientStore,
    connect: tcpConnector([{ host: "127.0.0.1", port }]),
    schedule: null,
  });
  await waitFor(() => client.state.health === Health.Live && venue.state.health === Health.Live, 5000, "logon");
  return {
    venue,
    client,
    wire,
    async stop() {
      await client.stop(0);
      await venue.stop(0);
      await acceptor.close();
      await proxy.stop();
    },
  };
}

const order = (id: string) => [Tag.ClOrdID, id, Tag.Symbol, "IBM", Tag.Side, "1"] as const;

describe("SessionRunner.abort", () => {
  it("drops the socket at once without a Logout, and writes nothing after", async () => {
    const t = await setup();
    try {
      await t.client.send(MsgType.NewOrderSingle, [...order("BEFORE")]);
      await waitFor(() => t.wire.includes("D:BEFORE"), 2000, "the order on the wire");
      const onWire = t.wire.length;
      const seq = t.client.state.nextSenderSeq;
      await t.client.abort("deposed");
      assert.equal(t.client.connected, false);
      await waitFor(() => !t.venue.connected, 2000, "the venue to see the link drop");
      await assert.rejects(t.client.send(MsgType.NewOrderSingle, [...order("AFTER")]), SessionAbortedError);
      t.client.logout("too late");
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(t.wire.slice(onWire), [], "no Logout, nothing at all after the abort");
      assert.equal(t.client.state.nextSenderSeq, seq, "no sequence number used after the abort");
      assert.equal(t.client.isAborted, true);
    } finally {
      await t.stop();
    }
  });

  it("a send not yet persisted fails with SessionAbortedError, and its number is never stored", async () => {
    const store = new MemoryStore();
    const t = await setup(store);
    try {
      const before = (await store.getRange(1, 1000)).length;
      const p = t.client.send(MsgType.NewOrderSingle, [...order("LOST")]);
      await t.client.abort("deposed");
      await assert.rejects(p, SessionAbortedError);
      assert.equal((await store.getRange(1, 1000)).length, before);
      assert.ok(!t.wire.includes("D:LOST"));
    } finally {
      await t.stop();
    }
  });

  it("a commit already on its way completes (its send resolves) but its bytes are never written", async () => {
    const store = new GatedStore();
    const t = await setup(store);
    try {
      store.hold = true;
      const p = t.client.send(MsgType.NewOrderSingle, [...order("INFLIGHT")]);
      await waitFor(() => (store as unknown as { waiting: unknown[] }).waiting.length === 1, 2000, "the commit");
      const aborted = t.client.abort("deposed");
      store.release();
      await aborted;
      const seq = await p;
      assert.ok(seq > 1);
      const stored = await store.getRange(seq, seq);
      assert.equal(stored.length, 1, "persisted: the next leader resends it when asked");
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(!t.wire.includes("D:INFLIGHT"), "never written by the aborted runner");
    } finally {
      await t.stop();
    }
  });
});

describe("a commit refused with a stale epoch", () => {
  it("refuses the sends queued behind it too, instead of leaving them waiting forever", async () => {
    const backing = new MemoryBacking();
    const store = new GatedStore({ backing });
    await store.open(Date.now());
    await store.fence(1);
    const t = await setup(store);
    try {
      store.hold = true;
      const first = t.client.send(MsgType.NewOrderSingle, [...order("FIRST")]);
      await waitFor(() => (store as unknown as { waiting: unknown[] }).waiting.length === 1, 2000, "the commit");
      const second = t.client.send(MsgType.NewOrderSingle, [...order("SECOND")]);
      const usurper = new MemoryStore({ backing });
      await usurper.open(Date.now());
      await usurper.fence(2);
      store.release();
      await assert.rejects(first, StaleEpochError);
      await assert.rejects(second, StaleEpochError);
      assert.ok(!t.wire.includes("D:FIRST") && !t.wire.includes("D:SECOND"));
    } finally {
      await t.stop();
    }
  });
});

describe("Acceptor.unregister", () => {
  it("refuses a Logon for a session no longer registered, and keeps a newer registration", async () => {
    const acceptor = new Acceptor({ port: 0 });
    const old = await SessionRunner.start({ settings: settings("acceptor"), store: new MemoryStore(), schedule: null });
    const current = await SessionRunner.start({
      settings: settings("acceptor"),
      store: new MemoryStore(),
      schedule: null,
    });
    acceptor.register(old);
    acceptor.register(current);
    acceptor.unregister(old); // not the registered one any more: nothing happens
    const port = await acceptor.listen();
    assert.equal(acceptor.listening, true);
    const client = await SessionRunner.start({
      settings: settings("initiator"),
      store: new MemoryStore(),
      connect: tcpConnector([{ host: "127.0.0.1", port }]),
      schedule: null,
    });
    try {
      await waitFor(() => current.state.health === Health.Live, 5000, "logon to the current runner");
      await client.stop(0);
      acceptor.unregister(current);
      const again = await SessionRunner.start({
        settings: settings("initiator"),
        store: new MemoryStore(),
        connect: tcpConnector([{ host: "127.0.0.1", port }]),
        schedule: null,
      });
      await new Promise((r) => setTimeout(r, 300));
      assert.notEqual(again.state.health, Health.Live);
      assert.equal(current.connected, false);
      await again.stop(0);
    } finally {
      await client.stop(0);
      await current.stop(0);
      await old.stop(0);
      await acceptor.close();
      assert.equal(acceptor.listening, false);
    }
  });
});
