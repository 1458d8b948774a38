import assert from "node:assert/strict";
import { connect } from "node:net";
import { describe, it, type TestContext } from "node:test";
import { MsgType } from "@fixmesh/fix";
import { NonLoopbackAddressError } from "./errors.js";
import type { FaultEvent } from "./events.js";
import { ChaosProxy, type ChaosProxyOptions } from "./proxy.js";
import { delay, dial, fixMessage, Target, waitFor } from "./testing.js";

const ER = MsgType.ExecutionReport;
const HB = MsgType.Heartbeat;

/** A target, a proxy in front of it and one client connected through it; torn down after the test. */
async function setup(t: TestContext, opts: Partial<ChaosProxyOptions> = {}) {
  const target = await Target.start();
  const proxy = new ChaosProxy({ target: { host: "127.0.0.1", port: target.port }, ...opts });
  const faults: FaultEvent[] = [];
  proxy.on("fault", (f) => faults.push(f));
  const { port } = await proxy.start();
  const client = await dial(port);
  const server = await target.peer(0);
  t.after(async () => {
    client.destroy();
    await proxy.stop();
    await target.close();
  });
  return { target, proxy, client, server, faults, port };
}

describe("ChaosProxy", () => {
  it("forwards messages and stray bytes both ways, byte for byte", async (t) => {
    const { proxy, client, server } = await setup(t);
    const up = Buffer.concat([fixMessage(MsgType.Logon, 1), Buffer.from("not fix\n"), fixMessage(HB, 2)]);
    client.write(up);
    const down = fixMessage(MsgType.Logon, 1);
    server.write(down);
    await waitFor(() => server.bytes.length === up.length && client.bytes.length === down.length, 2000, "bytes");
    assert.deepEqual(server.bytes, up);
    assert.deepEqual(client.bytes, down);
    const s = proxy.stats();
    assert.equal(s.toServer.forwarded, 2);
    assert.equal(s.toServer.garbled, 1);
    assert.equal(s.toServer.bytes, up.length);
    assert.equal(s.toClient.forwarded, 1);
    assert.deepEqual(s.connections, { accepted: 1, refused: 0, open: 1 });
  });

  it("cut closes both sides of every connection and keeps listening", async (t) => {
    const { proxy, client, server, faults, port, target } = await setup(t);
    const disconnects: string[] = [];
    proxy.on("disconnect", (d) => disconnects.push(d.reason));
    assert.equal(proxy.cut(), 1);
    await Promise.all([client.closed, server.closed]);
    assert.deepEqual(faults, [{ kind: "cut", connections: 1, reset: false }]);
    assert.deepEqual(disconnects, ["cut"]);
    assert.equal(proxy.stats().connections.open, 0);
    const again = await dial(port);
    t.after(() => again.destroy());
    await target.peer(1);
    again.write(fixMessage(HB, 5));
    await waitFor(() => target.peers[1].messages().length === 1, 2000, "message on the new connection");
  });

  it("stall holds bytes without closing, the other direction keeps flowing, and resume delivers them in order", async (t) => {
    const { proxy, client, server, faults } = await setup(t);
    proxy.toClient.stall();
    for (let seq = 1; seq <= 3; seq++) server.write(fixMessage(ER, seq));
    client.write(fixMessage(HB, 1));
    await waitFor(() => server.messages().length === 1, 2000, "toServer still flowing");
    await delay(100);
    assert.equal(client.bytes.length, 0, "nothing reaches the client while stalled");
    assert.equal(client.isClosed || server.isClosed, false, "both sides stay connected (half-open)");
    assert.equal(proxy.stats().toClient.held, 3);
    proxy.toClient.resume();
    await waitFor(() => client.messages().length === 3, 2000, "held messages");
    assert.deepEqual(client.seqs(), [1, 2, 3]);
    assert.deepEqual(faults, [
      { kind: "stall", direction: "toClient", discard: false },
      { kind: "resume", direction: "toClient", released: 3 },
    ]);
  });

  it("stall on the proxy holds both directions; resume on the proxy releases both", async (t) => {
    const { proxy, client, server } = await setup(t);
    proxy.stall();
    client.write(fixMessage(HB, 1));
    server.write(fixMessage(HB, 1));
    await delay(50);
    assert.equal(client.bytes.length + server.bytes.length, 0);
    proxy.resume();
    await waitFor(() => client.messages().length === 1 && server.messages().length === 1, 2000, "both released");
  });

  it("stall with discard throws away what arrives while stalled", async (t) => {
    const { proxy, client, server, faults } = await setup(t);
    proxy.toClient.stall({ discard: true });
    server.write(Buffer.concat([fixMessage(ER, 1), fixMessage(ER, 2)]));
    await waitFor(() => proxy.stats().toClient.discarded === 2, 2000, "discards");
    proxy.toClient.resume();
    server.write(fixMessage(ER, 3));
    await waitFor(() => client.messages().length === 1, 2000, "message after resume");
    await delay(30);
    assert.deepEqual(client.seqs(), [3]);
    const discard = faults.find((f) => f.kind === "discard");
    assert.deepEqual(discard, {
      kind: "discard",
      direction: "toClient",
      connection: 1,
      reason: "stalled",
      messages: 2,
      bytes: fixMessage(ER, 1).length + fixMessage(ER, 2).length,
    });
  });

  it("stall also holds the FIN: the client sees the close only after resume", async (t) => {
    const { proxy, client, server } = await setup(t);
    proxy.toClient.stall();
    server.write(fixMessage(MsgType.Logout, 9));
    server.socket.end();
    await delay(80);
    assert.equal(client.gotEnd, false);
    proxy.toClient.resume();
    await waitFor(() => client.gotEnd, 2000, "FIN after resume");
    assert.deepEqual(client.seqs(), [9]);
  });

  it("latency delays each message by at least the configured ms", async (t) => {
    const { proxy, client, server } = await setup(t);
    proxy.toClient.latency(80);
    const sent = performance.now();
    server.write(fixMessage(ER, 1));
    await waitFor(() => client.arrivals.length > 0, 2000, "delayed message");
    const took = client.arrivals[0] - sent;
    assert.ok(took >= 80, `arrived after ${took.toFixed(1)} ms`);
  });

  it("latency with jitter never reorders messages", async (t) => {
    const { proxy, client, server } = await setup(t);
    proxy.toClient.latency({ min: 5, max: 60 });
    for (let seq = 1; seq <= 20; seq++) {
      server.write(fixMessage(ER, seq));
      await delay(2);
    }
    await waitFor(() => client.messages().length === 20, 3000, "all 20");
    assert.deepEqual(
      client.seqs(),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
  });

  it("drops the next 2 ExecutionReports and nothing else", async (t) => {
    const { proxy, client, server, faults } = await setup(t);
    const rule = proxy.toClient.drop({ msgType: ER, count: 2 });
    server.write(
      Buffer.concat([fixMessage(HB, 1), fixMessage(ER, 2), fixMessage(ER, 3), fixMessage(HB, 4), fixMessage(ER, 5)]),
    );
    await waitFor(() => client.messages().length === 3, 2000, "survivors");
    assert.deepEqual(client.seqs(), [1, 4, 5]);
    assert.equal(rule.hits, 2);
    assert.equal(rule.spent, true);
    assert.deepEqual(proxy.toClient.rules, []);
    assert.deepEqual(
      faults.map((f) => (f.kind === "drop" ? [f.msgType, f.seq, f.rule] : f.kind)),
      [
        [ER, 2, rule.id],
        [ER, 3, rule.id],
      ],
    );
    const s = proxy.stats().toClient;
    assert.equal(s.dropped, 2);
    assert.equal(s.forwarded, 3);
  });

  it("drops by MsgSeqNum: exactly, by range (originals only, persistent) and by predicate", async (t) => {
    const { proxy, client, server } = await setup(t);
    proxy.toClient.drop({ seq: 2 });
    const range = proxy.toClient.drop({ seq: { from: 4, to: 5 }, possDup: false, persistent: true });
    proxy.toClient.drop({ seq: (n) => n === 7 });
    for (let seq = 1; seq <= 8; seq++) server.write(fixMessage(ER, seq));
    server.write(fixMessage(ER, 4, { possDup: true }));
    server.write(fixMessage(ER, 2));
    await waitFor(() => client.messages().length === 6, 2000, "survivors");
    await delay(30);
    assert.deepEqual(
      client.messages().map((m) => [m.seq, m.possDup]),
      [
        [1, false],
        [3, false],
        [6, false],
        [8, false],
        [4, true],
        [2, false],
      ],
      "the resend of 4 passes; the one-shot rule for 2 was spent",
    );
    assert.equal(range.hits, 2);
    assert.equal(range.spent, false);
    range.cancel();
    assert.equal(range.spent, true);
    assert.equal(proxy.stats().toClient.dropped, 4);
  });

  it("duplicate writes exact copies right after the original", async (t) => {
    const { proxy, client, server, faults } = await setup(t);
    proxy.toClient.duplicate({ msgType: ER, count: 1, copies: 2 });
    const a = fixMessage(ER, 1, { fields: "17=E1|" });
    const b = fixMessage(ER, 2, { fields: "17=E2|" });
    server.write(Buffer.concat([a, b]));
    await waitFor(() => client.bytes.length === 3 * a.length + b.length, 2000, "copies");
    assert.deepEqual(client.bytes, Buffer.concat([a, a, a, b]));
    assert.deepEqual(proxy.stats().toClient.duplicated, 2);
    assert.deepEqual(proxy.stats().toClient.forwarded, 2);
    assert.deepEqual(faults, [
      {
        kind: "duplicate",
        direction: "toClient",
        connection: 1,
        rule: 1,
        copies: 2,
        msgType: ER,
        seq: 1,
        possDup: false,
      },
    ]);
  });

  it("holdReplay releases PossDup messages in reversed chunks while live traffic flows past", async (t) => {
    const { proxy, client, server, faults } = await setup(t);
    proxy.toClient.holdReplay({ chunk: 3, order: "reverse", releaseAfterMs: 120 });
    for (let seq = 2; seq <= 6; seq++) server.write(fixMessage(ER, seq, { possDup: true }));
    server.write(fixMessage(ER, 10));
    await waitFor(() => client.messages().length === 6, 2000, "live message and released replay");
    assert.deepEqual(client.seqs(), [10, 4, 3, 2, 6, 5], "live 10 is not held behind the replay");
    assert.ok(
      client
        .messages()
        .slice(1)
        .every((m) => m.possDup),
    );
    const s = proxy.stats().toClient;
    assert.equal(s.held, 5);
    assert.equal(s.reordered, 4, "2 and 4 swap in the first chunk; 5 and 6 in the second; 3 stays put");
    assert.equal(s.forwarded, 6);
    assert.deepEqual(
      faults.filter((f) => f.kind === "release").map((f) => (f.kind === "release" ? f.seqs : [])),
      [
        [4, 3, 2],
        [6, 5],
      ],
    );
    assert.equal(faults.filter((f) => f.kind === "hold").length, 5);
  });

  it("holdReplay shuffle releases a chunk in an order other than arrival", async (t) => {
    const { proxy, client, server } = await setup(t, { random: () => 0.999 }); // a draw that shuffles to identity
    proxy.toClient.holdReplay({ chunk: 4, order: "shuffle", releaseAfterMs: 30 });
    for (let seq = 1; seq <= 4; seq++) server.write(fixMessage(ER, seq, { possDup: true }));
    await waitFor(() => client.messages().length === 4, 2000, "released chunk");
    const seqs = client.seqs();
    assert.notDeepEqual(seqs, [1, 2, 3, 4]);
    assert.deepEqual([...seqs].sort(), [1, 2, 3, 4]);
    assert.ok(proxy.stats().toClient.reordered > 0);
  });

  it("holdReplay(null) releases what is held at once", async (t) => {
    const { proxy, client, server } = await setup(t);
    proxy.toClient.holdReplay({ chunk: 10, order: "reverse", releaseAfterMs: 60_000 });
    for (let seq = 1; seq <= 3; seq++) server.write(fixMessage(ER, seq, { possDup: true }));
    await waitFor(() => proxy.stats().toClient.held === 3, 2000, "held");
    proxy.toClient.holdReplay(null);
    await waitFor(() => client.messages().length === 3, 2000, "released");
    assert.deepEqual(client.seqs(), [3, 2, 1]);
  });

  it("partition stalls both directions and heals after its ms", async (t) => {
    const { proxy, client, server, faults } = await setup(t);
    const started = performance.now();
    const healed = proxy.partition(120);
    client.write(fixMessage(MsgType.NewOrderSingle, 2));
    server.write(fixMessage(ER, 2));
    await healed;
    await waitFor(() => client.messages().length === 1 && server.messages().length === 1, 2000, "delivery after heal");
    assert.ok(client.arrivals[0] - started >= 120, "toClient held for the partition");
    assert.ok(server.arrivals[0] - started >= 120, "toServer held for the partition");
    assert.deepEqual(faults, [
      { kind: "partition", ms: 120 },
      { kind: "heal", released: 2 },
    ]);
    assert.equal(client.isClosed || server.isClosed, false, "a partition closes nothing");
  });

  it("a new client connects during a partition (per byte flow) but its bytes wait for heal", async (t) => {
    const { proxy, target, port } = await setup(t);
    void proxy.partition(60_000);
    const late = await dial(port);
    t.after(() => late.destroy());
    const lateServer = await target.peer(1);
    late.write(fixMessage(MsgType.Logon, 1));
    await delay(50);
    assert.equal(lateServer.bytes.length, 0);
    proxy.heal();
    await waitFor(() => lateServer.messages().length === 1, 2000, "delivery after heal");
    assert.equal(proxy.partitioned, false);
  });

  it("refuseConnections resets new clients and leaves the existing connection up", async (t) => {
    const { proxy, client, server, target, port } = await setup(t);
    proxy.refuseConnections(true);
    const refused = connect({ host: "127.0.0.1", port });
    const refusal = new Promise<string>((resolve) => {
      refused.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      refused.on("close", () => resolve("closed"));
    });
    assert.match(await refusal, /ECONNRESET|closed/);
    assert.equal(target.peers.length, 1, "no connection to the target for a refused client");
    client.write(fixMessage(HB, 3));
    await waitFor(() => server.messages().length === 1, 2000, "existing connection still works");
    assert.equal(proxy.stats().connections.refused, 1);
    proxy.refuseConnections(false);
    const ok = await dial(port);
    t.after(() => ok.destroy());
    await target.peer(1);
  });

  it("frames messages written one byte at a time, and messages coalesced into one write", async (t) => {
    const { proxy, client, server } = await setup(t);
    proxy.toClient.drop({ seq: 2 });
    proxy.toServer.drop({ seq: 13 });
    const m1 = fixMessage(HB, 1);
    const m3 = fixMessage(ER, 3, { fields: "58=a=b|" });
    await server.writeBytewise(Buffer.concat([m1, fixMessage(ER, 2), m3]));
    await waitFor(() => client.bytes.length === m1.length + m3.length, 3000, "bytewise survivors");
    assert.deepEqual(client.bytes, Buffer.concat([m1, m3]));
    const up = Array.from({ length: 5 }, (_, i) => fixMessage(MsgType.NewOrderSingle, 11 + i));
    client.write(Buffer.concat(up));
    await waitFor(() => server.messages().length === 4, 2000, "coalesced survivors");
    assert.deepEqual(server.bytes, Buffer.concat([up[0], up[1], up[3], up[4]]));
  });

  it("passes on a partial message as it is when the sender closes mid-message", async (t) => {
    const { client, server } = await setup(t);
    const m1 = fixMessage(ER, 1);
    const half = fixMessage(ER, 2).subarray(0, 20);
    server.write(Buffer.concat([m1, half]));
    await delay(20);
    server.socket.end();
    await waitFor(() => client.gotEnd, 2000, "FIN");
    assert.deepEqual(client.bytes, Buffer.concat([m1, half]));
  });

  it("tracks each connection pair on its own", async (t) => {
    const { proxy, client, server, target, port } = await setup(t);
    const second = await dial(port);
    t.after(() => second.destroy());
    const secondServer = await target.peer(1);
    proxy.toClient.drop({ msgType: ER });
    secondServer.write(fixMessage(ER, 1));
    secondServer.write(fixMessage(ER, 2));
    server.write(fixMessage(ER, 1));
    await waitFor(() => second.messages().length === 1 && client.messages().length === 1, 2000, "both");
    assert.deepEqual(second.seqs(), [2], "the one-shot rule took the first ExecutionReport, on connection 2");
    assert.deepEqual(client.seqs(), [1]);
    assert.deepEqual(
      proxy.connections().map((c) => c.id),
      [1, 2],
    );
    assert.equal(proxy.cut(), 2);
    await Promise.all([client.closed, second.closed, server.closed, secondServer.closed]);
  });

  it("stats and events agree on what happened", async (t) => {
    const { proxy, client, server, faults } = await setup(t);
    proxy.toClient.drop({ msgType: ER, count: 2 });
    proxy.toClient.duplicate({ msgType: HB, persistent: true });
    proxy.toServer.duplicate({ seq: 2 });
    for (let seq = 1; seq <= 6; seq++) server.write(fixMessage(seq % 2 === 0 ? ER : HB, seq));
    client.write(Buffer.concat([fixMessage(HB, 1), fixMessage(HB, 2)]));
    await waitFor(() => client.messages().length === 7 && server.messages().length === 3, 2000, "traffic");
    const count = (kind: string, dir: string) =>
      faults.filter((f) => f.kind === kind && "direction" in f && f.direction === dir).length;
    const s = proxy.stats();
    assert.equal(s.toClient.dropped, count("drop", "toClient"));
    assert.equal(s.toClient.duplicated, count("duplicate", "toClient"));
    assert.equal(s.toServer.duplicated, count("duplicate", "toServer"));
    assert.deepEqual(
      { ...s.toClient, bytes: 0 },
      { forwarded: 4, dropped: 2, duplicated: 3, held: 0, reordered: 0, discarded: 0, garbled: 0, bytes: 0 },
    );
    assert.equal(s.toServer.forwarded, 2);
    assert.equal(s.toServer.duplicated, 1);
    assert.equal(s.toClient.bytes, client.bytes.length);
    assert.equal(s.toServer.bytes, server.bytes.length);
  });
});

describe("ChaosProxy when the target is down", () => {
  it("closes the client's connection and says why", async (t) => {
    const target = await Target.start();
    const port = target.port;
    await target.close();
    const proxy = new ChaosProxy({ target: { host: "127.0.0.1", port } });
    t.after(() => proxy.stop());
    const disconnects: Array<{ reason: string; error?: string }> = [];
    proxy.on("disconnect", (d) => disconnects.push(d));
    const client = await dial((await proxy.start()).port);
    await client.closed;
    await waitFor(() => disconnects.length === 1, 2000, "disconnect event");
    assert.equal(disconnects[0].reason, "error");
    assert.match(disconnects[0].error ?? "", /ECONNREFUSED/);
  });
});

describe("ChaosProxy safety", () => {
  it("refuses a target or listen address that is not loopback", () => {
    for (const host of ["10.0.0.1", "192.168.1.10", "8.8.8.8", "::2", "::ffff:10.0.0.1"]) {
      assert.throws(() => new ChaosProxy({ target: { host, port: 9001 } }), NonLoopbackAddressError, host);
    }
    assert.throws(
      () => new ChaosProxy({ listen: { host: "0.0.0.0" }, target: { host: "127.0.0.1", port: 9001 } }),
      NonLoopbackAddressError,
    );
    assert.doesNotThrow(() => new ChaosProxy({ target: { host: "127.0.0.2", port: 9001 } }));
    assert.doesNotThrow(() => new ChaosProxy({ target: { host: "::1", port: 9001 } }));
  });

  it("accepts a non-loopback target only with allowNonLoopback", () => {
    assert.doesNotThrow(() => new ChaosProxy({ target: { host: "10.0.0.1", port: 9001 }, allowNonLoopback: true }));
  });

  it("resolves a name and checks what it resolves to", async (t) => {
    const target = await Target.start();
    t.after(() => target.close());
    const proxy = new ChaosProxy({ target: { host: "localhost", port: target.port } });
    t.after(() => proxy.stop());
    // localhost is loopback however it resolves (127.0.0.1 or ::1); the start must not be refused.
    await proxy.start();
  });
});
