import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ChaosProxy } from "@fixmesh/chaos";
import { type FixMessage, MsgType, Tag } from "@fixmesh/fix";
import {
  FileStore,
  Health,
  MemoryBacking,
  MemoryStore,
  type MessageStore,
  resolveSettings,
  type SessionNotice,
  type SessionSettings,
  StaleEpochError,
} from "@fixmesh/session";
import { Acceptor } from "./acceptor.js";
import { tcpConnector } from "./initiator.js";
import { type SessionApplication, SessionRunner } from "./runner.js";
import { waitFor } from "./testing/harness.js";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "fixmesh-engine-"));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function settings(role: "initiator" | "acceptor", over: Partial<SessionSettings> = {}): SessionSettings {
  return resolveSettings({
    BeginString: "FIX.4.4",
    SenderCompID: role === "initiator" ? "CLIENT" : "VENUE",
    TargetCompID: role === "initiator" ? "VENUE" : "CLIENT",
    ConnectionType: role,
    HeartBtInt: 30,
    ...over,
  });
}

/** A venue that answers every order with an ExecutionReport and records what it received. */
async function startVenue(opts: { store?: MessageStore; over?: Partial<SessionSettings> } = {}) {
  const received: FixMessage[] = [];
  const app: SessionApplication = {
    onMessage(msg, s) {
      received.push(msg);
      if (msg.msgType === MsgType.NewOrderSingle) {
        void s.send(MsgType.ExecutionReport, [
          Tag.ClOrdID,
          msg.get(Tag.ClOrdID) ?? "",
          Tag.ExecID,
          `E${received.length}`,
        ]);
      }
    },
  };
  const runner = await SessionRunner.start({
    settings: settings("acceptor", opts.over),
    store: opts.store ?? new MemoryStore(),
    app,
    schedule: null,
  });
  const acceptor = new Acceptor({ port: 0 });
  acceptor.register(runner);
  const port = await acceptor.listen();
  return {
    runner,
    received,
    port,
    async stop() {
      await runner.stop(0);
      await acceptor.close();
    },
  };
}

async function startClient(port: number, opts: { store?: MessageStore; over?: Partial<SessionSettings> } = {}) {
  const received: FixMessage[] = [];
  const notices: SessionNotice[] = [];
  const runner = await SessionRunner.start({
    settings: settings("initiator", opts.over),
    store: opts.store ?? new MemoryStore(),
    app: { onMessage: (m) => received.push(m), onNotice: (n) => notices.push(n) },
    connect: tcpConnector([{ host: "127.0.0.1", port }]),
    schedule: null,
  });
  return { runner, received, notices };
}

describe("engine over loopback TCP", () => {
  it("logs on and exchanges an order and its execution report", async () => {
    const venue = await startVenue();
    const client = await startClient(venue.port);
    try {
      await waitFor(() => client.runner.state.health === Health.Live, 5000, "logon");
      const seq = await client.runner.send(MsgType.NewOrderSingle, [Tag.ClOrdID, "A1", Tag.Symbol, "IBM"]);
      assert.equal(seq, 2);
      await waitFor(() => client.received.length === 1, 5000, "execution report");
      assert.equal(client.received[0].get(Tag.ClOrdID), "A1");
      assert.equal(venue.received[0].get(Tag.ClOrdID), "A1");
    } finally {
      await client.runner.stop(500);
      await venue.stop();
    }
  });

  it("recovers a message dropped on the wire: ResendRequest, then the copy arrives with PossDupFlag=Y", async () => {
    const venue = await startVenue();
    const proxy = new ChaosProxy({ target: { host: "127.0.0.1", port: venue.port } });
    await proxy.start();
    const client = await startClient(proxy.port);
    try {
      await waitFor(() => client.runner.state.health === Health.Live, 5000, "logon");
      proxy.toClient.drop({ msgType: MsgType.ExecutionReport });
      await client.runner.send(MsgType.NewOrderSingle, [Tag.ClOrdID, "A1", Tag.Symbol, "IBM"]);
      await client.runner.send(MsgType.NewOrderSingle, [Tag.ClOrdID, "A2", Tag.Symbol, "IBM"]);
      await waitFor(() => client.received.length === 2, 5000, "both execution reports");
      assert.deepEqual(
        client.received.map((m) => [m.get(Tag.ClOrdID), m.flag(Tag.PossDupFlag)]),
        [
          ["A1", true],
          ["A2", false],
        ],
      );
      assert.ok(client.notices.some((n) => n.kind === "gap" && n.begin === 2 && n.end === 2));
      assert.equal(client.runner.state.health, Health.Live);
    } finally {
      await client.runner.stop(500);
      await proxy.stop();
      await venue.stop();
    }
  });

  it("detects a half-open link (stalled, not closed): TestRequest, then disconnect within 2 × HeartBtInt", async () => {
    const venue = await startVenue({ over: { HeartBtInt: 1 } });
    const proxy = new ChaosProxy({ target: { host: "127.0.0.1", port: venue.port } });
    await proxy.start();
    const client = await startClient(proxy.port, { over: { HeartBtInt: 1, ReconnectInterval: 30 } });
    try {
      await waitFor(() => client.runner.state.health === Health.Live, 5000, "logon");
      proxy.stall({ discard: true });
      const t0 = Date.now();
      await waitFor(() => client.runner.state.health !== Health.Live, 5000, "link declared dead");
      const took = Date.now() - t0;
      assert.ok(took <= 2000 + 500, `detected after ${took} ms; HeartBtInt is 1 s`);
      assert.ok(client.runner.state.counters.testRequestsSent >= 1);
    } finally {
      await client.runner.stop(0);
      await proxy.stop();
      await venue.stop();
    }
  });

  it("reconnects after the connection is cut and resumes the same sequence numbers", async () => {
    const venue = await startVenue();
    const proxy = new ChaosProxy({ target: { host: "127.0.0.1", port: venue.port } });
    await proxy.start();
    const client = await startClient(proxy.port, { over: { ReconnectInterval: 0.05 } });
    try {
      await waitFor(() => client.runner.state.health === Health.Live, 5000, "logon");
      await client.runner.send(MsgType.NewOrderSingle, [Tag.ClOrdID, "A1", Tag.Symbol, "IBM"]);
      await waitFor(() => client.received.length === 1, 5000, "first execution");
      const out = client.runner.state.nextSenderSeq;
      proxy.cut();
      await waitFor(() => client.runner.state.health !== Health.Live, 5000, "disconnect noticed");
      await waitFor(() => client.runner.state.health === Health.Live, 5000, "logged on again");
      assert.equal(client.runner.state.nextSenderSeq, out + 1, "only the new Logon took a number");
      await client.runner.send(MsgType.NewOrderSingle, [Tag.ClOrdID, "A2", Tag.Symbol, "IBM"]);
      await waitFor(() => client.received.length === 2, 5000, "second execution");
      assert.deepEqual(
        venue.received.map((m) => m.get(Tag.ClOrdID)),
        ["A1", "A2"],
      );
    } finally {
      await client.runner.stop(500);
      await proxy.stop();
      await venue.stop();
    }
  });

  it("a writer fenced by a newer epoch is refused and drops its socket at once", async () => {
    const venue = await startVenue();
    const backing = new MemoryBacking();
    const store = new MemoryStore({ backing });
    await store.open(Date.now());
    await store.fence(1);
    const client = await startClient(venue.port, { store });
    try {
      await waitFor(() => client.runner.state.health === Health.Live, 5000, "logon");
      const usurper = new MemoryStore({ backing });
      await usurper.open(Date.now());
      await usurper.fence(2);
      await assert.rejects(
        client.runner.send(MsgType.NewOrderSingle, [Tag.ClOrdID, "STALE", Tag.Symbol, "IBM"]),
        StaleEpochError,
      );
      assert.ok(client.runner.fenced instanceof StaleEpochError);
      assert.equal(client.runner.connected, false);
      await waitFor(() => !venue.runner.connected, 5000, "venue sees the socket close");
      assert.equal(venue.received.length, 0, "the stale writer sent nothing");
      await assert.rejects(client.runner.send(MsgType.NewOrderSingle, [Tag.ClOrdID, "X"]), StaleEpochError);
    } finally {
      await client.runner.stop(0);
      await venue.stop();
    }
  });
});

describe("message listeners", () => {
  it("onMessage listeners see each inbound application message after the application, and stop when removed", async () => {
    const venue = await startVenue();
    const client = await startClient(venue.port);
    try {
      await waitFor(() => client.runner.state.health === Health.Live, 5000, "logon");
      const seen: Array<[string | undefined, number, boolean]> = [];
      const off = client.runner.onMessage((m, possDup) => {
        seen.push([m.get(Tag.ClOrdID), client.received.length, possDup]);
      });
      await client.runner.send(MsgType.NewOrderSingle, [Tag.ClOrdID, "L1", Tag.Symbol, "IBM"]);
      await waitFor(() => seen.length === 1, 5000, "listener called");
      off();
      await client.runner.send(MsgType.NewOrderSingle, [Tag.ClOrdID, "L2", Tag.Symbol, "IBM"]);
      await waitFor(() => client.received.length === 2, 5000, "second execution report");
      // The application had already received the message (1 in its list) when the listener ran.
      assert.deepEqual(seen, [["L1", 1, false]]);
    } finally {
      await client.runner.stop(500);
      await venue.stop();
    }
  });
});

describe("events in the outbox", () => {
  it("records every message in and out and every state change, with the password masked", async () => {
    const venue = await startVenue();
    const store = new MemoryStore();
    const runner = await SessionRunner.start({
      settings: settings("initiator", { Username: "trader", Password: "hunter2" }),
      store,
      events: true,
      connect: tcpConnector([{ host: "127.0.0.1", port: venue.port }]),
      schedule: null,
    });
    let commits = 0;
    runner.onCommit(() => commits++);
    try {
      await waitFor(() => runner.state.health === Health.Live, 5000, "logon");
      await runner.send(MsgType.NewOrderSingle, [Tag.ClOrdID, "EV1", Tag.Symbol, "IBM"]);
      await waitFor(() => venue.received.length === 1, 5000, "order at the venue");
      await new Promise((r) => setTimeout(r, 50));
      const outbox = await store.readOutbox(100);
      const subjects = outbox.map((e) => e.subject);
      assert.ok(subjects.includes("fix.FIX_4_4_CLIENT_VENUE.out.A"), subjects.join(" "));
      assert.ok(subjects.includes("fix.FIX_4_4_CLIENT_VENUE.in.A"));
      assert.ok(subjects.includes("fix.FIX_4_4_CLIENT_VENUE.out.D"));
      assert.ok(subjects.includes("fix.FIX_4_4_CLIENT_VENUE.in.8"));
      assert.ok(subjects.includes("fix.FIX_4_4_CLIENT_VENUE.state"));
      const order = outbox.find((e) => e.subject.endsWith(".out.D"));
      assert.ok(order);
      const body = JSON.parse(order.payload.toString());
      assert.equal(body.clOrdId, "EV1");
      assert.equal(order.id, `FIX.4.4:CLIENT->VENUE:${body.cycle}:out:2`);
      for (const e of outbox) {
        assert.ok(!e.payload.toString().includes("hunter2"), "password in an event payload");
        const raw = JSON.parse(e.payload.toString()).raw;
        if (raw) assert.ok(!Buffer.from(raw, "base64").toString("latin1").includes("hunter2"), "password in raw bytes");
      }
      assert.ok(
        outbox.every((e, i) => i === 0 || e.pos > outbox[i - 1].pos),
        "positions grow",
      );
      assert.ok(commits > 0);
    } finally {
      await runner.stop(500);
      await venue.stop();
    }
  });
});

describe("inbound checkpoint", () => {
  it("persists the expected inbound MsgSeqNum even when only receiving", async () => {
    const venue = await startVenue();
    const backing = new MemoryBacking();
    const client = await startClient(venue.port, { store: new MemoryStore({ backing }) });
    try {
      await waitFor(
        () => client.runner.state.health === Health.Live && venue.runner.state.health === Health.Live,
        5000,
        "logon",
      );
      for (let i = 0; i < 5; i++) await venue.runner.send(MsgType.News, [Tag.Headline, `h${i}`]);
      await waitFor(() => client.received.length === 5, 5000, "five news messages");
      const expected = client.runner.state.nextTargetSeq;
      await waitFor(() => backing.state?.nextTargetSeq === expected, 2000, "checkpoint in the store");
      const reopened = await new MemoryStore({ backing }).open(Date.now());
      assert.equal(reopened.nextTargetSeq, expected);
    } finally {
      await client.runner.stop(500);
      await venue.stop();
    }
  });
});

describe("crash recovery (real process, SIGKILL)", () => {
  const child = fileURLToPath(new URL("./testing/crash-child.js", import.meta.url));

  function runChild(port: number, dir: string, prefix: string, count: number, killAfter?: number) {
    const persisted: string[] = [];
    const proc: ChildProcess = spawn(process.execPath, [child, String(port), dir, prefix, String(count)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let buf = "";
    const finished = new Promise<void>((resolve) => {
      proc.stdout?.on("data", (d: Buffer) => {
        buf += d.toString();
        let i = buf.indexOf("\n");
        while (i >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.startsWith("persisted ")) {
            persisted.push(line.split(" ")[1]);
            if (killAfter !== undefined && persisted.length === killAfter) proc.kill("SIGKILL");
          }
          i = buf.indexOf("\n");
        }
      });
      proc.on("exit", () => resolve());
    });
    return { proc, persisted, finished };
  }

  it("after SIGKILL mid-stream, the restarted initiator resumes its numbers and every persisted order arrives exactly once", async () => {
    const dir = tempDir();
    const venue = await startVenue({ store: new FileStore({ dir: tempDir(), session: "venue", fsync: "never" }) });
    try {
      const first = runChild(venue.port, dir, "run1", 400, 150);
      await first.finished;
      assert.ok(first.persisted.length >= 150, "the child persisted orders before it was killed");
      await waitFor(() => !venue.runner.connected, 5000, "venue notices the dead client");
      const second = runChild(venue.port, dir, "run2", 20);
      await second.finished;
      const expected = [...first.persisted, ...second.persisted];
      await waitFor(
        () => venue.received.filter((m) => m.msgType === MsgType.NewOrderSingle).length >= expected.length,
        10_000,
        "every persisted order at the venue",
      );
      const ids = venue.received
        .filter((m) => m.msgType === MsgType.NewOrderSingle)
        .map((m) => m.get(Tag.ClOrdID) ?? "");
      for (const id of expected) assert.equal(ids.filter((x) => x === id).length, 1, `${id} arrived exactly once`);
      // Nothing arrives that the crashed process had not persisted (no sequence number was reused).
      assert.equal(new Set(ids).size, ids.length, "no duplicates");
      assert.equal(venue.runner.state.health === Health.Safe, false, "the venue never saw numbers go backwards");
    } finally {
      await venue.stop();
    }
  });
});
