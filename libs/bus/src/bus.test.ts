import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Delivered } from "./bus.js";
import { deleteConsumer } from "./durable.js";
import {
  type BusEvent,
  messageEventId,
  messageSubject,
  sessionToken,
  subjectMatcher,
  subjectMatches,
} from "./events.js";
import { InProcessBus } from "./in-process.js";
import { JetStreamBus, type JetStreamBusOptions } from "./jetstream.js";
import { type OutboxEntry, OutboxPublisher, type OutboxSource } from "./publisher.js";

const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const rand = () => Math.random().toString(36).slice(2, 10);

function ev(prefix: string, i: number): BusEvent {
  return {
    id: `${prefix}:${i}`,
    subject: `${prefix}.s.out.D`,
    payload: Buffer.from(`m${i}`),
    headers: { n: String(i) },
  };
}

/** Waits until `cond` holds, polling every `everyMs`; fails naming `what` after `ms`. */
async function until(cond: () => boolean, what: string, ms = 20_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The names of the consumers `stream` has now, read over the connection `admin`. */
async function consumersOf(admin: NatsConnection, stream: string): Promise<string[]> {
  const names: string[] = [];
  for await (const c of (await jetstreamManager(admin)).consumers.list(stream)) names.push(c.name);
  return names;
}

describe("subjects", () => {
  it("turns a session id into a single subject token", () => {
    assert.equal(sessionToken("FIX.4.4:CLIENT->VENUE"), "FIX_4_4_CLIENT_VENUE");
    assert.equal(messageSubject("FIX.4.4:A->B", "in", "8"), "fix.FIX_4_4_A_B.in.8");
    assert.equal(messageEventId("s", "c1", "out", 7), "s:c1:out:7");
  });

  it("matches NATS wildcards", () => {
    assert.ok(subjectMatches("fix.>", "fix.a.in.8"));
    assert.ok(subjectMatches("fix.*.in.*", "fix.a.in.8"));
    assert.ok(!subjectMatches("fix.*.out.*", "fix.a.in.8"));
    assert.ok(!subjectMatches("fix.a", "fix.a.in"));
  });

  it("a compiled matcher answers as subjectMatches, asked again and past its cache's bound", () => {
    const filters = ["fix.>", "fix.*.in.*", "fix.*.out.*", "fix.a", "fix.a.in.8", ">", "*", "orders.*.>"];
    const subjects = ["fix.a.in.8", "fix.a.out.D", "fix.a", "fix.a.in", "orders.x.y.z", "orders.x", "a", "fix"];
    for (const f of filters) {
      const m = subjectMatcher(f);
      for (let round = 0; round < 2; round++) {
        for (const s of subjects) assert.equal(m(s), subjectMatches(f, s), `${f} ~ ${s}, round ${round}`);
      }
      for (let i = 0; i < 5000; i++) {
        const subject = `fix.s${i}.in.8`;
        assert.equal(m(subject), subjectMatches(f, subject), `${f} ~ ${subject}`);
      }
      for (const s of subjects) assert.equal(m(s), subjectMatches(f, s), `${f} ~ ${s} after 5,000 others`);
    }
  });
});

describe("in-process bus", () => {
  it("delivers in order, drops an id seen within the duplicate window, and replays from a position", async () => {
    const bus = new InProcessBus();
    const got: Delivered[] = [];
    await bus.subscribe("t.>", (d) => got.push(d));
    const r = await bus.publish([ev("t", 1), ev("t", 2), ev("t", 1)]);
    assert.deepEqual(r, { accepted: 2, duplicates: 1 });
    assert.deepEqual(
      got.map((d) => d.id),
      ["t:1", "t:2"],
    );
    const replay: string[] = [];
    await bus.subscribe("t.>", (d) => replay.push(d.id), { fromSeq: 2 });
    assert.deepEqual(replay, ["t:2"]);
  });
});

describe("in-process bus duplicate window", () => {
  const ids = async (bus: InProcessBus, ...ns: number[]) => bus.publish(ns.map((n) => ev("t", n)));

  it("forgets an id once its window has passed, and drops it again within the next one", async () => {
    let now = 1_000;
    const bus = new InProcessBus({ duplicateWindowMs: 100, now: () => now });
    assert.deepEqual(await ids(bus, 1, 2), { accepted: 2, duplicates: 0 });
    now += 99;
    assert.deepEqual(await ids(bus, 1, 2, 3), { accepted: 1, duplicates: 2 });
    now += 1; // 1 and 2 are 100 ms old: forgotten; 3 is 1 ms old
    assert.deepEqual(await ids(bus, 1, 3), { accepted: 1, duplicates: 1 });
    now += 50; // 1 was noted again 50 ms ago; its first noting (150 ms ago) must not make it forgotten
    assert.deepEqual(await ids(bus, 1), { accepted: 0, duplicates: 1 });
    now += 50;
    assert.deepEqual(await ids(bus, 1), { accepted: 1, duplicates: 0 });
  });

  it("remembers at most maxIds ids, forgetting the oldest first, one event at a time or in batches", async () => {
    const bus = new InProcessBus({ maxIds: 3 });
    assert.deepEqual(await ids(bus, 1, 2, 3), { accepted: 3, duplicates: 0 });
    assert.deepEqual(await ids(bus, 3, 2), { accepted: 0, duplicates: 2 });
    assert.deepEqual(await ids(bus, 4), { accepted: 1, duplicates: 0 }); // 1 forgotten
    assert.deepEqual(await ids(bus, 2, 3, 4), { accepted: 0, duplicates: 3 });
    assert.deepEqual(await ids(bus, 1), { accepted: 1, duplicates: 0 }); // 2 forgotten
    for (let n = 5; n < 50; n++) await ids(bus, n);
    assert.deepEqual(await ids(bus, 47, 48, 49), { accepted: 0, duplicates: 3 });
    assert.deepEqual(await ids(bus, 46), { accepted: 1, duplicates: 0 });
  });

  it("keeps the ring right when every id expires before it has filled", async () => {
    let now = 0;
    const bus = new InProcessBus({ duplicateWindowMs: 10, maxIds: 4, now: () => now });
    await ids(bus, 1, 2);
    now = 20; // both forgotten while the ring is still growing
    assert.deepEqual(await ids(bus, 3), { accepted: 1, duplicates: 0 });
    assert.deepEqual(await ids(bus, 3, 4, 5, 6), { accepted: 3, duplicates: 1 });
    assert.deepEqual(await ids(bus, 3, 4, 5, 6), { accepted: 0, duplicates: 4 });
    assert.deepEqual(await ids(bus, 7), { accepted: 1, duplicates: 0 }); // 3 forgotten: 4 to 7 held
    assert.deepEqual(await ids(bus, 4, 5, 6, 7), { accepted: 0, duplicates: 4 });
    assert.deepEqual(await ids(bus, 3), { accepted: 1, duplicates: 0 });
  });
});

describe("JetStream bus (real NATS)", () => {
  it("publishes a batch with acknowledgements and drops a republished id", async () => {
    const prefix = `t${rand()}`;
    const bus = await JetStreamBus.connect({
      servers: NATS_URL,
      stream: `FIXTEST_${prefix}`,
      subjects: [`${prefix}.>`],
    });
    try {
      const got: Delivered[] = [];
      await bus.subscribe(`${prefix}.>`, (d) => got.push(d), { fromSeq: 1 });
      const first = await bus.publish(Array.from({ length: 50 }, (_, i) => ev(prefix, i)));
      assert.deepEqual(first, { accepted: 50, duplicates: 0 });
      const again = await bus.publish([ev(prefix, 3), ev(prefix, 50)]);
      assert.deepEqual(again, { accepted: 1, duplicates: 1 });
      const deadline = Date.now() + 5000;
      while (got.length < 51 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(
        got.map((d) => d.id),
        Array.from({ length: 51 }, (_, i) => `${prefix}:${i}`),
      );
      assert.equal(got[7].headers?.n, "7");
      assert.equal(Buffer.from(got[7].payload).toString(), "m7");
    } finally {
      await bus.deleteStream();
      await bus.close();
    }
  });
});

describe("JetStream subscription whose consumer the server loses", { timeout: 60_000 }, () => {
  for (const from of ["now", "the start"] as const) {
    it(`(from ${from}) is made again from the next event: nothing skipped, nothing twice, nothing left after unsubscribe`, async () => {
      const prefix = `t${rand()}`;
      const stream = `FIXTEST_${prefix}`;
      const bus = await JetStreamBus.connect({ servers: NATS_URL, stream, subjects: [`${prefix}.>`] });
      const admin = await connect({ servers: NATS_URL });
      const jsm = await jetstreamManager(admin);
      const consumers = () => consumersOf(admin, stream);
      try {
        await bus.publish([ev(prefix, 0)]);
        const got: string[] = [];
        const sub = await bus.subscribe(`${prefix}.>`, (d) => got.push(d.id), from === "now" ? {} : { fromSeq: 1 });
        await bus.publish([ev(prefix, 1)]);
        await until(() => got.includes(`${prefix}:1`), "event 1");
        // The server loses it (as it does after 30 s without its reader).
        for (const name of await consumers()) await deleteConsumer(jsm, stream, name);
        await bus.publish([ev(prefix, 2), ev(prefix, 3)]);
        await until(() => got.includes(`${prefix}:3`), "events published after the consumer was lost");
        await new Promise((r) => setTimeout(r, 200));
        const expected = (from === "now" ? [1, 2, 3] : [0, 1, 2, 3]).map((i) => `${prefix}:${i}`);
        assert.deepEqual(got, expected);
        await sub.unsubscribe();
        assert.deepEqual(await consumers(), [], "no consumer left behind");
      } finally {
        await admin.close();
        await bus.deleteStream();
        await bus.close();
      }
    });
  }
});

/**
 * A TCP proxy to the NATS server that can cut the link — every connection destroyed, new ones refused — while the
 * server itself stays up (a network partition between one client and NATS).
 */
async function cuttableLink(target: string): Promise<{ url: string; cut(): void; restore(): void; close(): void }> {
  const { hostname, port } = new URL(target);
  let up = true;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    if (!up) {
      client.destroy();
      return;
    }
    const upstream = netConnect(Number(port), hostname);
    sockets.add(client);
    sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on("error", end);
      s.on("close", end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address() as { port: number };
  return {
    url: `nats://127.0.0.1:${address.port}`,
    cut: () => {
      up = false;
      for (const s of sockets) s.destroy();
    },
    restore: () => {
      up = true;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/**
 * A private stream with two buses on it: `direct` to NATS, `reader` through a link the test cuts. `close` closes
 * the reader and the link, deletes the stream (`streamMayBeGone`: a failure to is not the test's) and closes `direct`.
 */
async function cutOffReader(readerOpts: Partial<JetStreamBusOptions> = {}) {
  const prefix = `t${rand()}`;
  const stream = `FIXTEST_${prefix}`;
  const link = await cuttableLink(NATS_URL);
  const direct = await JetStreamBus.connect({ servers: NATS_URL, stream, subjects: [`${prefix}.>`] });
  const reader = await JetStreamBus.connect({ servers: link.url, stream, subjects: [`${prefix}.>`], ...readerOpts });
  return {
    prefix,
    stream,
    link,
    direct,
    reader,
    async close(streamMayBeGone = false): Promise<void> {
      await reader.close();
      link.close();
      if (streamMayBeGone) await direct.deleteStream().catch(() => undefined);
      else await direct.deleteStream();
      await direct.close();
    },
  };
}

describe("JetStream readers cut off from the server longer than it keeps their consumer", { timeout: 60_000 }, () => {
  it("a subscription: the link cut 4 s (its consumer kept 1.5 s) — the events after it arrive, none twice", async () => {
    const rig = await cutOffReader({ subscriptionInactiveMs: 1500 });
    const { prefix, stream, link, direct, reader } = rig;
    const admin = await connect({ servers: NATS_URL });
    const consumers = () => consumersOf(admin, stream);
    try {
      const got: string[] = [];
      await reader.subscribe(`${prefix}.>`, (d) => got.push(d.id));
      await direct.publish([ev(prefix, 0)]);
      await until(() => got.length === 1, "event 0");
      const before = await consumers();
      link.cut();
      await new Promise((r) => setTimeout(r, 4000));
      assert.deepEqual(await consumers(), [], "the server dropped the consumer of the reader it lost");
      await direct.publish([ev(prefix, 1)]);
      link.restore();
      await direct.publish([ev(prefix, 2)]);
      await until(() => got.length >= 3, "the events published while and after the link was down");
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(
        got,
        [0, 1, 2].map((i) => `${prefix}:${i}`),
      );
      const after = await consumers();
      assert.equal(after.length, 1);
      assert.notEqual(after[0], before[0], "a new consumer");
    } finally {
      await admin.close();
      await rig.close();
    }
  });

  it("a durable with an inactive threshold: the link cut 4 s (threshold 1.5 s) — it is made again and reads on", async () => {
    const rig = await cutOffReader();
    const { prefix, link, direct, reader } = rig;
    const consumer = await reader.durable({ name: "cutoff", filter: `${prefix}.>`, inactiveThresholdMs: 1500 });
    try {
      const got = new Set<string>();
      consumer.start(async (batch) => {
        for (const d of batch) got.add(d.id);
      });
      await direct.publish([ev(prefix, 0)]);
      await until(() => got.size === 1, "event 0");
      link.cut();
      await new Promise((r) => setTimeout(r, 4000));
      await direct.publish([ev(prefix, 1)]);
      link.restore();
      await direct.publish([ev(prefix, 2)]);
      // Made again, the durable starts where its `deliver` says (all): event 0 comes again, handlers are idempotent.
      await until(() => got.size === 3, "the events published while and after the link was down");
    } finally {
      await consumer.stop();
      await rig.close();
    }
  });
});

describe("JetStream subscription on a stream made again", { timeout: 30_000 }, () => {
  it("reads the new stream from its start (its numbers started over): nothing of it skipped", async () => {
    const prefix = `t${rand()}`;
    const stream = `FIXTEST_${prefix}`;
    const bus = await JetStreamBus.connect({ servers: NATS_URL, stream, subjects: [`${prefix}.>`] });
    const admin = await connect({ servers: NATS_URL });
    try {
      const got: string[] = [];
      await bus.subscribe(`${prefix}.>`, (d) => got.push(d.id), { fromSeq: 1 });
      await bus.publish([ev(prefix, 0), ev(prefix, 1), ev(prefix, 2)]);
      const deadline = Date.now() + 15_000;
      while (got.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // Deleted and made again by someone else, with five events in it before the subscription looks again.
      const jsm = await jetstreamManager(admin);
      await jsm.streams.delete(stream);
      await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] });
      const other = await JetStreamBus.connect({ servers: NATS_URL, stream, subjects: [`${prefix}.>`] });
      await other.publish([10, 11, 12, 13, 14].map((i) => ev(prefix, i)));
      await other.close();
      while (got.length < 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(
        got,
        [0, 1, 2, 10, 11, 12, 13, 14].map((i) => `${prefix}:${i}`),
      );
    } finally {
      await admin.close();
      await bus.deleteStream().catch(() => undefined);
      await bus.close();
    }
  });
});

describe("JetStream subscription whose stream was made again while its link was down", { timeout: 40_000 }, () => {
  it("never told 'consumer deleted', it finds its consumer gone and reads the new stream from its start", async () => {
    // The consumer's inactive threshold (30 s) outlasts the cut: only the stream's deletion takes it away.
    const rig = await cutOffReader();
    const { prefix, stream, link, direct, reader } = rig;
    const admin = await connect({ servers: NATS_URL });
    try {
      const got: string[] = [];
      await reader.subscribe(`${prefix}.>`, (d) => got.push(d.id), { fromSeq: 1 });
      await direct.publish([ev(prefix, 0)]);
      await until(() => got.length === 1, "event 0");
      link.cut();
      const jsm = await jetstreamManager(admin);
      await jsm.streams.delete(stream);
      await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] });
      await direct.publish([ev(prefix, 10), ev(prefix, 11)]);
      link.restore();
      await until(() => got.length >= 3, "the new stream's events", 20_000);
      await direct.publish([ev(prefix, 12)]);
      await until(() => got.length >= 4, "an event published after");
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(
        got,
        [0, 10, 11, 12].map((i) => `${prefix}:${i}`),
      );
    } finally {
      await admin.close();
      await rig.close(true);
    }
  });
});

describe("JetStream stream deleted under a running bus", { timeout: 30_000 }, () => {
  it("a publish that no stream takes makes the stream again; the next publish lands in it, and the readers read on", async () => {
    const prefix = `t${rand()}`;
    const stream = `FIXTEST_${prefix}`;
    const warnings: string[] = [];
    const bus = await JetStreamBus.connect({
      servers: NATS_URL,
      stream,
      subjects: [`${prefix}.>`],
      log: { warn: (_fields, msg) => warnings.push(msg) },
    });
    const admin = await connect({ servers: NATS_URL });
    const durable = await bus.durable({ name: "reader", filter: `${prefix}.>` });
    const viaDurable: string[] = [];
    const viaSubscription: string[] = [];
    try {
      durable.start(async (batch) => {
        for (const d of batch) viaDurable.push(d.id);
      });
      await bus.subscribe(`${prefix}.>`, (d) => viaSubscription.push(d.id));
      await bus.publish([ev(prefix, 0)]);
      const jsm = await jetstreamManager(admin);
      await jsm.streams.delete(stream);
      await assert.rejects(bus.publish([ev(prefix, 1)]), /503/, "no stream: the publish fails");
      // As the outbox does: publish again after a back-off.
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          assert.deepEqual(await bus.publish([ev(prefix, 1), ev(prefix, 2)]), { accepted: 2, duplicates: 0 });
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const info = await jsm.streams.info(stream);
      assert.deepEqual(info.config.subjects, [`${prefix}.>`]);
      assert.equal(info.state.messages, 2, "the new stream holds what was published after");
      // The readers find their consumers gone with the stream and make them again on the new one.
      const expectAll = (got: string[]) => got.includes(`${prefix}:1`) && got.includes(`${prefix}:2`);
      await until(
        () => expectAll(viaDurable) && expectAll(viaSubscription),
        "both readers read on after the stream was made again",
        15_000,
        50,
      );
      assert.deepEqual(
        viaDurable,
        [0, 1, 2].map((i) => `${prefix}:${i}`),
        "durable",
      );
      assert.deepEqual(
        viaSubscription,
        [0, 1, 2].map((i) => `${prefix}:${i}`),
        "subscription",
      );
      // Each mending is reported: nothing heals silently.
      for (const what of [/stream was missing/, /subscription lost its consumer/, /durable consumer was missing/]) {
        assert.ok(
          warnings.some((w) => what.test(w)),
          `a warning matching ${what} (got ${JSON.stringify(warnings)})`,
        );
      }
    } finally {
      await durable.stop();
      await admin.close();
      await bus.deleteStream().catch(() => undefined);
      await bus.close();
    }
  });
});

describe("JetStream publish acknowledgements", { timeout: 30_000 }, () => {
  it("refuses an event no stream captures (no responders), and one not acknowledged in time, as failed publishes", async () => {
    const prefix = `t${rand()}`;
    const bus = await JetStreamBus.connect({
      servers: NATS_URL,
      stream: `FIXTEST_${prefix}`,
      subjects: [`${prefix}.>`],
      timeoutMs: 300,
    });
    try {
      await assert.rejects(
        bus.publish([ev(prefix, 1), { ...ev(prefix, 2), subject: `nowhere${prefix}.x` }]),
        (e: Error) => e.name === "PublishError" && /503|no responders/i.test(e.message),
      );
      // A subject someone listens on without answering (not a stream): no acknowledgement, so the publish fails
      // after the timeout rather than hanging.
      const silent = await connect({ servers: NATS_URL });
      try {
        silent.subscribe(`silent${prefix}.x`, { callback: () => undefined });
        await silent.flush();
        const t0 = Date.now();
        await assert.rejects(
          bus.publish([{ ...ev(prefix, 3), subject: `silent${prefix}.x` }]),
          (e: Error) => e.name === "PublishError" && /no acknowledgement/.test(e.message),
        );
        assert.ok(Date.now() - t0 >= 250, "failed by the timeout");
      } finally {
        await silent.close();
      }
      // The first of that batch did reach the stream: a retry of the batch's first event is a duplicate.
      assert.deepEqual(await bus.publish([ev(prefix, 1)]), { accepted: 0, duplicates: 1 });
      // Many acknowledgements in flight at once each find their own publish.
      const many = await bus.publish(Array.from({ length: 2000 }, (_, i) => ev(prefix, 10 + i)));
      assert.deepEqual(many, { accepted: 2000, duplicates: 0 });
    } finally {
      await bus.deleteStream();
      await bus.close();
    }
    // After close nothing is published, and the caller hears it at once rather than after the timeout.
    const t0 = Date.now();
    await assert.rejects(bus.publish([ev(prefix, 5000)]));
    assert.ok(Date.now() - t0 < 300, "a publish on a closed connection fails at once");
  });
});

/** An outbox held in memory for the publisher test (the store's outbox plays this role in production). */
class ArrayOutbox implements OutboxSource {
  entries: OutboxEntry[] = [];
  private pos = 0;
  add(e: BusEvent): void {
    this.entries.push({ ...e, pos: ++this.pos });
  }
  async readOutbox(limit: number): Promise<OutboxEntry[]> {
    return this.entries.slice(0, limit);
  }
  async ackOutbox(upTo: number): Promise<void> {
    this.entries = this.entries.filter((e) => e.pos > upTo);
  }
}

describe("outbox publisher, fenced store", () => {
  it("stops by itself when the store refuses its ack with a stale epoch", async () => {
    const bus = new InProcessBus();
    const got: string[] = [];
    await bus.subscribe("t.>", (d) => got.push(d.id));
    const outbox = new ArrayOutbox();
    outbox.add(ev("t", 1));
    outbox.ackOutbox = async () => {
      const e = new Error("epoch 1 is stale (current 2)");
      e.name = "StaleEpochError";
      throw e;
    };
    const publisher = new OutboxPublisher(outbox, bus, { retryMinMs: 5, idleMs: 5 });
    publisher.start();
    const deadline = Date.now() + 2000;
    while (publisher.stats.stoppedBy === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    assert.match(publisher.stats.stoppedBy ?? "", /stale/);
    assert.equal(publisher.stats.failures, 1, "no retry loop after the fence");
    assert.deepEqual(got, ["t:1"]);
    await publisher.stop();
  });

  it("stop during a read returns once the read is done, without waiting out the idle interval", async () => {
    const bus = new InProcessBus();
    const outbox = new ArrayOutbox();
    outbox.add(ev("t", 1));
    const read = outbox.readOutbox.bind(outbox);
    let reading: (() => void) | null = null;
    const inRead = new Promise<void>((r) => {
      reading = r;
    });
    outbox.readOutbox = async (limit) => {
      reading?.();
      await new Promise((r) => setTimeout(r, 50));
      return read(limit);
    };
    const publisher = new OutboxPublisher(outbox, bus, { idleMs: 10_000 });
    publisher.start();
    await inRead;
    const t0 = performance.now();
    await publisher.stop();
    assert.ok(performance.now() - t0 < 2000, `stop took ${Math.round(performance.now() - t0)} ms`);
    assert.equal(publisher.stats.published, 1);
  });
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const a = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof a === "object" && a !== null ? a.port : 0;
}

describe("outbox publisher across a NATS outage (own nats-server process)", () => {
  const dir = mkdtempSync(join(tmpdir(), "fixmesh-nats-"));
  let server: ChildProcess | null = null;
  after(() => {
    server?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  async function startNats(port: number): Promise<void> {
    server = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir], { stdio: "ignore" });
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const b = await JetStreamBus.connect({
          servers: `nats://127.0.0.1:${port}`,
          stream: "PROBE",
          subjects: ["probe.>"],
          connectTimeoutMs: 500,
        });
        await b.close();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  it("keeps events while NATS is down and publishes them in order, once each, when it returns", async () => {
    const port = await freePort();
    await startNats(port);
    const url = `nats://127.0.0.1:${port}`;
    const bus = await JetStreamBus.connect({ servers: url, stream: "FIX", subjects: ["fix.>"], timeoutMs: 1000 });
    const outbox = new ArrayOutbox();
    const publisher = new OutboxPublisher(outbox, bus, { batch: 20, retryMinMs: 50, retryMaxMs: 200, idleMs: 50 });
    publisher.start();
    try {
      const e = (i: number): BusEvent => ({
        id: `s:c1:out:${i}`,
        subject: "fix.s.out.D",
        payload: Buffer.from(String(i)),
      });
      for (let i = 1; i <= 30; i++) outbox.add(e(i));
      publisher.notify();
      await until(() => outbox.entries.length === 0, "first 30 published", 15_000);
      server?.kill("SIGKILL");
      for (let i = 31; i <= 60; i++) outbox.add(e(i));
      publisher.notify();
      await until(() => publisher.stats.failures > 0, "publish failures while NATS is down", 15_000);
      assert.ok(outbox.entries.length > 0, "events wait in the outbox");
      await startNats(port);
      await until(() => outbox.entries.length === 0, "backlog published after NATS returned", 15_000);
      const check = await JetStreamBus.connect({ servers: url, stream: "FIX", subjects: ["fix.>"] });
      const got: string[] = [];
      await check.subscribe("fix.>", (d) => got.push(d.id), { fromSeq: 1 });
      await until(() => got.length >= 60, "all 60 in the stream", 15_000);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(
        got,
        Array.from({ length: 60 }, (_, i) => `s:c1:out:${i + 1}`),
      );
      await check.close();
    } finally {
      await publisher.stop();
      await bus.close();
    }
  });
});
