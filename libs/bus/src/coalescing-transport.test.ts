import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { CoalescingTransport, connectCoalescing } from "./coalescing-transport.js";

const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const rand = () => Math.random().toString(36).slice(2, 10);

/** The transport under a connection made by connectCoalescing (nats.js keeps it on its protocol handler). */
function transportOf(nc: NatsConnection): CoalescingTransport {
  const t = (nc as unknown as { protocol: { transport: unknown } }).protocol.transport;
  assert.ok(t instanceof CoalescingTransport, "the connection runs on a CoalescingTransport");
  return t;
}

/** Subscribes now; resolves with the first `n` payloads (or what came within `timeoutMs`). */
async function collect(
  nc: NatsConnection,
  subject: string,
  n: number,
  timeoutMs: number,
): Promise<{ done: Promise<string[]> }> {
  const sub = nc.subscribe(subject, { max: n });
  await nc.flush();
  const timer = setTimeout(() => sub.unsubscribe(), timeoutMs);
  const done = (async () => {
    const got: string[] = [];
    for await (const m of sub) got.push(m.string());
    clearTimeout(timer);
    return got;
  })();
  return { done };
}

describe("coalescing NATS transport (real NATS)", () => {
  it("writes the commands of successive microtasks in one socket write, in order", async () => {
    const subject = `coalesce.${rand()}`;
    const reader = await connect({ servers: NATS_URL });
    const nc = await connectCoalescing({ servers: NATS_URL });
    try {
      const received = await collect(reader, subject, 50, 5000);
      const t = transportOf(nc);
      await nc.flush();
      const writes0 = t.writes;
      const frames0 = t.frames;
      // An async flow: one publish per step, each step a microtask after the last (what a durable pull, its ack
      // and the next pull look like to nats.js). Without coalescing each step's flush is a write of its own.
      for (let i = 0; i < 50; i++) {
        nc.publish(subject, `m${i}`);
        await Promise.resolve();
        await Promise.resolve();
      }
      await new Promise((r) => setImmediate(r));
      assert.ok(t.frames - frames0 >= 50, `${t.frames - frames0} frames handed to the transport`);
      assert.equal(t.writes - writes0, 1, "one socket write for the whole burst");
      const got = await received.done;
      assert.deepEqual(
        got,
        Array.from({ length: 50 }, (_, i) => `m${i}`),
      );
    } finally {
      await nc.close().catch(() => undefined);
      await reader.close();
    }
  });

  it("writes what it still holds before the connection closes", async () => {
    const subject = `coalesce.${rand()}`;
    const reader = await connect({ servers: NATS_URL });
    const nc = await connectCoalescing({ servers: NATS_URL });
    try {
      const received = await collect(reader, subject, 3, 5000);
      const t = transportOf(nc);
      await nc.flush();
      const writes0 = t.writes;
      nc.publish(subject, "a");
      nc.publish(subject, "b");
      nc.publish(subject, "c");
      // nats.js hands its buffer to the transport on a microtask (and, like nats.js itself, a close does not
      // flush what it has not handed over yet): after that microtask the frames wait here for the next tick.
      await Promise.resolve();
      assert.equal(t.writes, writes0, "gathered, not written yet");
      await nc.close();
      assert.deepEqual(await received.done, ["a", "b", "c"]);
    } finally {
      await reader.close();
    }
  });

  it("serves request/reply and reconnects on a new coalescing transport", async () => {
    const subject = `coalesce.${rand()}`;
    const nc = await connectCoalescing({ servers: NATS_URL, reconnectTimeWait: 50, maxReconnectAttempts: -1 });
    try {
      const sub = nc.subscribe(subject, {
        callback: (_err, m) => {
          m.respond(`re:${m.string()}`);
        },
      });
      const first = await nc.request(subject, "one", { timeout: 2000 });
      assert.equal(first.string(), "re:one");
      const before = transportOf(nc);
      // Drop the socket under the connection: nats.js reconnects with a transport from the factory.
      before.socket.destroy();
      for (let i = 0; i < 100 && transportOf(nc) === before; i++) await new Promise((r) => setTimeout(r, 20));
      assert.notEqual(transportOf(nc), before, "a new transport after the reconnect");
      const again = await nc.request(subject, "two", { timeout: 2000 });
      assert.equal(again.string(), "re:two");
      sub.unsubscribe();
    } finally {
      await nc.close().catch(() => undefined);
    }
  });
});
