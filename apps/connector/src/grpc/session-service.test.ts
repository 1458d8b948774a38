import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  createGrpcClient,
  type FieldSchema,
  type GrpcClientOf,
  type InboundMessage,
  RpcError,
  reflectedServiceNames,
  type SendResult,
  type SendStreamResponse,
  SessionHealth,
  SessionService,
  SessionStatus,
  type StreamMessagesResponse,
} from "@fixmesh/contracts";
import { Acceptor, type SessionApplication, SessionRunner, tcpConnector } from "@fixmesh/engine";
import { type FixMessage, MsgType, Tag } from "@fixmesh/fix";
import {
  type CommitBatch,
  Health,
  MemoryStore,
  type MessageStore,
  type OutboxEntry,
  resolveSettings,
  type SessionSchedulePort,
  type SessionSettings,
  type StoredMessage,
  type StoreState,
} from "@fixmesh/session";
import * as grpc from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import type { SessionRegistry } from "../registry.js";
import { type GrpcServerHandle, startGrpcServer } from "./server.js";

const Code = grpc.status;
/** No test may hang the run: each has 10 s. */
const T = { timeout: 10_000 };

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function settings(role: "initiator" | "acceptor", sender: string, target: string): SessionSettings {
  return resolveSettings({
    BeginString: "FIX.4.4",
    SenderCompID: sender,
    TargetCompID: target,
    ConnectionType: role,
    HeartBtInt: 30,
  });
}

/** A schedule the test opens and closes. */
function windowSchedule(): SessionSchedulePort & { open: boolean } {
  return {
    open: true,
    isInSession() {
      return this.open;
    },
    isSameSession: () => true,
  };
}

/** A memory store whose commits can be slowed down or made to fail. */
class FaultyStore implements MessageStore {
  readonly kind = "memory";
  private readonly inner = new MemoryStore();
  commitDelayMs = 0;
  failCommits = false;
  open(now: number): Promise<StoreState> {
    return this.inner.open(now);
  }
  fence(epoch: number): Promise<void> {
    return this.inner.fence(epoch);
  }
  async commit(batch: CommitBatch): Promise<readonly OutboxEntry[] | undefined> {
    if (this.commitDelayMs > 0) await new Promise((r) => setTimeout(r, this.commitDelayMs));
    if (this.failCommits) throw new Error("disk on fire");
    return this.inner.commit(batch);
  }
  getRange(begin: number, end: number): Promise<StoredMessage[]> {
    return this.inner.getRange(begin, end);
  }
  reset(now: number, next?: { nextSenderSeq?: number; nextTargetSeq?: number }): Promise<StoreState> {
    return this.inner.reset(now, next);
  }
  setSequences(nextSenderSeq: number, nextTargetSeq: number): Promise<void> {
    return this.inner.setSequences(nextSenderSeq, nextTargetSeq);
  }
  setSafe(reason: string | null): Promise<void> {
    return this.inner.setSafe(reason);
  }
  trim(belowSeq: number): Promise<void> {
    return this.inner.trim(belowSeq);
  }
  readOutbox(limit: number): Promise<OutboxEntry[]> {
    return this.inner.readOutbox(limit);
  }
  ackOutbox(upToPos: number): Promise<void> {
    return this.inner.ackOutbox(upToPos);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A venue (acceptor) and a client (initiator) logged on over loopback, the client served over gRPC. */
async function startPair(opts: { clientStore?: MessageStore; sender?: string; extra?: SessionRunner[] } = {}) {
  const sender = opts.sender ?? "CLIENT";
  const received: FixMessage[] = [];
  const venueApp: SessionApplication = { onMessage: (m) => received.push(m) };
  const venue = await SessionRunner.start({
    settings: settings("acceptor", "VENUE", sender),
    store: new MemoryStore(),
    app: venueApp,
    schedule: null,
  });
  const acceptor = new Acceptor({ port: 0 });
  acceptor.register(venue);
  const fixPort = await acceptor.listen();
  const schedule = windowSchedule();
  const client = await SessionRunner.start({
    settings: settings("initiator", sender, "VENUE"),
    store: opts.clientStore ?? new MemoryStore(),
    connect: tcpConnector([{ host: "127.0.0.1", port: fixPort }]),
    schedule,
  });
  const sessions = [client, ...(opts.extra ?? [])];
  const registry: SessionRegistry = {
    list: () => sessions,
    get: (id) => sessions.find((s) => s.id === id),
  };
  // Served once logged on: the Logon (inbound seq 1) is then older than what StreamMessages can replay.
  await waitFor(() => client.state.health === Health.Live, 5000, "logon");
  const server: GrpcServerHandle = await startGrpcServer({ registry, host: "127.0.0.1", port: 0 });
  const conn = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  const rpc: GrpcClientOf<typeof SessionService> = createGrpcClient(SessionService, conn);
  return {
    venue,
    client,
    schedule,
    received,
    server,
    conn,
    rpc,
    /** NewOrderSingles the venue got, by ClOrdID. */
    ordersAtVenue(clOrdId: string): number {
      return received.filter((m) => m.msgType === MsgType.NewOrderSingle && m.get(Tag.ClOrdID) === clOrdId).length;
    },
    async stop() {
      conn.close();
      await server.close();
      await client.stop(500);
      for (const x of opts.extra ?? []) await x.stop(0);
      await venue.stop(0);
      await acceptor.close();
    },
  };
}

type FieldInit = MessageInitShape<typeof FieldSchema>;
const str = (tag: number, value: string): FieldInit => ({ tag, value: { case: "stringValue", value } });

function order(sessionId: string, clOrdId: string, idempotencyKey = "") {
  return {
    sessionId,
    msgType: MsgType.NewOrderSingle,
    fields: [str(Tag.ClOrdID, clOrdId), str(Tag.Symbol, "IBM"), str(Tag.Side, "1"), str(Tag.OrderQty, "100")],
    idempotencyKey,
  };
}

/** The error a server stream ends with. */
function streamError(call: grpc.ClientReadableStream<unknown>): Promise<never> {
  return new Promise((_, reject) => {
    call.on("data", () => undefined);
    call.on("error", (e) => reject(RpcError.from(e)));
  });
}

async function rejected(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof RpcError, `an RpcError, got ${err}`);
    return err;
  }
  assert.fail("the call succeeded");
}

describe("SessionService over loopback (gRPC client → connector → FIX acceptor)", () => {
  let pair: Awaited<ReturnType<typeof startPair>>;
  let offline: SessionRunner;
  const offlineSchedule = windowSchedule();
  const CLIENT = "FIX.4.4:CLIENT->VENUE";
  const OFFLINE = "FIX.4.4:OFFLINE->VENUE";

  before(async () => {
    offlineSchedule.open = false;
    // A session outside its trading window and never connected: for the guarded admin actions.
    offline = await SessionRunner.start({
      settings: settings("initiator", "OFFLINE", "VENUE"),
      store: new MemoryStore(),
      schedule: offlineSchedule,
    });
    offline.logout("parked for the test");
    pair = await startPair({ extra: [offline] });
  });
  after(async () => {
    await pair.stop();
  });

  it("ListSessions and GetSession show the session LIVE with its sequence numbers", T, async (t) => {
    const list = await pair.rpc.listSessions({});
    assert.deepEqual(
      list.sessions.map((s) => s.id),
      [CLIENT, OFFLINE],
    );
    const { session } = await pair.rpc.getSession({ sessionId: CLIENT });
    assert.ok(session);
    assert.equal(session.status, SessionStatus.LOGGED_ON);
    assert.equal(session.health, SessionHealth.LIVE);
    assert.equal(session.nextSenderSeqNum, pair.client.state.nextSenderSeq);
    assert.equal(session.nextTargetSeqNum, pair.client.state.nextTargetSeq);
    assert.equal(session.nextSenderSeqNum, 2, "only the Logon went out");
    assert.equal(session.senderCompId, "CLIENT");
    assert.equal(session.connected, true);
    assert.equal(session.lastLogon?.heartBtInt, 30);
    assert.equal(session.counters?.logons, 1n);
    t.diagnostic(`health reason: ${session.healthReason}`);
  });

  it("Send answers with the MsgSeqNum once persisted, and the venue receives the message", T, async () => {
    const before = pair.client.state.nextSenderSeq;
    const res = await pair.rpc.send(order(CLIENT, "S1"), { deadline: Date.now() + 5000 });
    assert.equal(res.msgSeqNum, before);
    assert.equal(res.duplicate, false);
    await waitFor(() => pair.ordersAtVenue("S1") === 1, 5000, "order at the venue");
    const atVenue = pair.received.find((m) => m.get(Tag.ClOrdID) === "S1");
    assert.equal(atVenue?.getInt(Tag.MsgSeqNum), res.msgSeqNum);
    assert.equal(atVenue?.get(Tag.Symbol), "IBM");
  });

  it("Send writes header fields in the header, in tag order", T, async () => {
    const res = await pair.rpc.send({
      ...order(CLIENT, "H1"),
      headerFields: [str(Tag.OnBehalfOfSubID, "DESK"), str(Tag.OnBehalfOfCompID, "FIRM")],
    });
    await waitFor(() => pair.ordersAtVenue("H1") === 1, 5000, "order at the venue");
    const m = pair.received.find((x) => x.get(Tag.ClOrdID) === "H1") as FixMessage;
    assert.equal(m.getInt(Tag.MsgSeqNum), res.msgSeqNum);
    const tags = Array.from({ length: m.count }, (_, i) => m.tagAt(i));
    const at = (tag: number) => tags.indexOf(tag);
    assert.ok(at(Tag.TargetCompID) < at(Tag.OnBehalfOfCompID), "56 before 115 (ascending)");
    assert.ok(at(Tag.OnBehalfOfCompID) < at(Tag.OnBehalfOfSubID), "115 before 116, whatever the request's order");
    assert.ok(at(Tag.OnBehalfOfSubID) < at(Tag.ClOrdID), "in the header, before the body");
  });

  it(
    "a Send retried with the same idempotency key returns the first MsgSeqNum and reaches the venue once",
    T,
    async () => {
      const first = await pair.rpc.send(order(CLIENT, "K1", "key-1"));
      const again = await pair.rpc.send(order(CLIENT, "K1", "key-1"));
      assert.equal(again.msgSeqNum, first.msgSeqNum);
      assert.equal(again.duplicate, true);
      // Both at once, before the first is persisted: one send, one number.
      const [a, b] = await Promise.all([
        pair.rpc.send(order(CLIENT, "K2", "key-2")),
        pair.rpc.send(order(CLIENT, "K2", "key-2")),
      ]);
      assert.equal(a.msgSeqNum, b.msgSeqNum);
      assert.deepEqual([a.duplicate, b.duplicate].sort(), [false, true]);
      await pair.rpc.send(order(CLIENT, "K3")); // later traffic: anything sent twice would have arrived by now
      await waitFor(() => pair.ordersAtVenue("K3") === 1, 5000, "later order");
      assert.equal(pair.ordersAtVenue("K1"), 1);
      assert.equal(pair.ordersAtVenue("K2"), 1);
    },
  );

  it("the same idempotency key with a different request is INVALID_ARGUMENT/IDEMPOTENCY_KEY_REUSED", T, async () => {
    await pair.rpc.send(order(CLIENT, "R1", "key-r"));
    const err = await rejected(pair.rpc.send(order(CLIENT, "R2", "key-r")));
    assert.equal(err.code, Code.INVALID_ARGUMENT);
    assert.equal(err.reason, "IDEMPOTENCY_KEY_REUSED");
    assert.equal(err.metadata.field, "idempotency_key");
    assert.equal(pair.ordersAtVenue("R2"), 0);
  });

  it(
    "SendStream: 1,000 requests in batched frames get 1,000 results in order, with consecutive MsgSeqNums",
    T,
    async (t) => {
      const n = 1000;
      const call = pair.rpc.sendStream({ deadline: Date.now() + 10_000 });
      const results: SendResult[] = [];
      let frames = 0;
      const done = new Promise<void>((resolve, reject) => {
        call.on("data", (f: SendStreamResponse) => {
          frames++;
          results.push(...f.results);
        });
        call.on("end", resolve);
        call.on("error", reject);
      });
      const t0 = performance.now();
      for (let i = 0; i < n; i += 50) {
        const sends = [];
        for (let j = i; j < i + 50; j++) sends.push({ correlationId: BigInt(j), send: order(CLIENT, `B${j}`) });
        call.write({ sends });
      }
      call.end();
      await done;
      const ms = performance.now() - t0;
      t.diagnostic(
        `SendStream: ${n} sends in ${ms.toFixed(0)} ms = ${Math.round((n / ms) * 1000)}/s, ${frames} frames`,
      );
      assert.equal(results.length, n);
      assert.deepEqual(
        results.map((r) => r.correlationId),
        Array.from({ length: n }, (_, i) => BigInt(i)),
      );
      const seqs = results.map((r) => (r.result.case === "ok" ? r.result.value.msgSeqNum : -1));
      for (let i = 1; i < n; i++) assert.equal(seqs[i], seqs[0] + i);
      await waitFor(() => pair.ordersAtVenue(`B${n - 1}`) === 1, 5000, "last streamed order at the venue");
    },
  );

  it("SendStream reports a bad request in its own result, naming the field, and goes on", T, async () => {
    const call = pair.rpc.sendStream();
    const results: SendResult[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on("data", (f: SendStreamResponse) => results.push(...f.results));
      call.on("end", resolve);
      call.on("error", reject);
    });
    call.write({
      sends: [
        { correlationId: 1n, send: order(CLIENT, "G1") },
        { correlationId: 2n, send: { ...order(CLIENT, "G2"), msgType: "" } },
        { correlationId: 3n, send: order("FIX.4.4:NOBODY->VENUE", "G3") },
        { correlationId: 4n, send: order(CLIENT, "G4") },
      ],
    });
    call.end();
    await done;
    assert.deepEqual(
      results.map((r) => [r.correlationId, r.result.case]),
      [
        [1n, "ok"],
        [2n, "error"],
        [3n, "error"],
        [4n, "ok"],
      ],
    );
    const bad = RpcError.fromStatus(results[1].result.value as never);
    assert.equal(bad.code, Code.INVALID_ARGUMENT);
    assert.equal(bad.metadata.field, "sends[1].send.msg_type");
    assert.equal(RpcError.fromStatus(results[2].result.value as never).reason, "SESSION_NOT_FOUND");
  });

  it("StreamMessages delivers inbound application messages live, and from a given MsgSeqNum", T, async () => {
    // From the next MsgSeqNum the venue will use: whether the stream is registered before or after the venue
    // speaks, the messages arrive (from the history, or live).
    const from = pair.client.state.nextTargetSeq;
    const live = pair.rpc.streamMessages({ sessionId: CLIENT, fromMsgSeqNum: from, includeFields: true });
    const got: InboundMessage[] = [];
    live.on("data", (f: StreamMessagesResponse) => got.push(...f.messages));
    live.on("error", () => undefined); // cancelled below
    const seqs: number[] = [];
    for (const id of ["E1", "E2", "E3"]) {
      seqs.push(await pair.venue.send(MsgType.ExecutionReport, [Tag.ClOrdID, id, Tag.ExecID, `X-${id}`]));
    }
    await waitFor(() => got.length === 3, 5000, "three live messages");
    assert.deepEqual(
      got.map((m) => m.msgSeqNum),
      seqs,
    );
    assert.equal(got[0].msgType, MsgType.ExecutionReport);
    assert.equal(Buffer.from(got[0].raw).toString("latin1").includes("\x0111=E1\x01"), true);
    const clOrdId = got[1].fields.find((f) => f.tag === Tag.ClOrdID);
    assert.deepEqual(clOrdId?.value, { case: "stringValue", value: "E2" });
    live.cancel();

    // A late subscriber asks from the second one: it gets E2, E3, then live ones.
    const late = pair.rpc.streamMessages({ sessionId: CLIENT, fromMsgSeqNum: seqs[1] });
    const lateGot: InboundMessage[] = [];
    late.on("data", (f: StreamMessagesResponse) => lateGot.push(...f.messages));
    late.on("error", () => undefined);
    await waitFor(() => lateGot.length === 2, 5000, "replayed messages");
    const s4 = await pair.venue.send(MsgType.ExecutionReport, [Tag.ClOrdID, "E4", Tag.ExecID, "X-E4"]);
    await waitFor(() => lateGot.length === 3, 5000, "live message after the replay");
    assert.deepEqual(
      lateGot.map((m) => m.msgSeqNum),
      [seqs[1], seqs[2], s4],
    );
    assert.equal(lateGot[0].fields.length, 0, "fields only when asked for");
    late.cancel();
  });

  it("StreamMessages from before the history held is OUT_OF_RANGE/HISTORY_UNAVAILABLE", T, async () => {
    const call = pair.rpc.streamMessages({ sessionId: CLIENT, fromMsgSeqNum: 1 });
    const err = await new Promise<RpcError>((resolve) => call.on("error", (e) => resolve(RpcError.from(e))));
    // The first inbound message (the Logon, seq 1) arrived before the gRPC server was watching the session.
    assert.equal(err.code, Code.OUT_OF_RANGE);
    assert.equal(err.reason, "HISTORY_UNAVAILABLE");
    assert.ok(Number(err.metadata.oldest_msg_seq_num) > 1);
  });

  it("bad requests are INVALID_ARGUMENT naming the field", T, async () => {
    const cases: Array<[Promise<unknown>, string]> = [
      [pair.rpc.getSession({ sessionId: "" }), "session_id"],
      [pair.rpc.send({ ...order(CLIENT, "V1"), msgType: "" }), "msg_type"],
      [pair.rpc.send({ ...order(CLIENT, "V1"), msgType: MsgType.Heartbeat }), "msg_type"],
      [pair.rpc.send({ ...order(CLIENT, "V1"), fields: [str(0, "x")] }), "fields[0].tag"],
      [
        pair.rpc.send({ ...order(CLIENT, "V1"), fields: [str(Tag.ClOrdID, "V1"), str(Tag.MsgSeqNum, "9")] }),
        "fields[1].tag",
      ],
      [pair.rpc.send({ ...order(CLIENT, "V1"), fields: [str(Tag.ClOrdID, "a\x01b")] }), "fields[0].value"],
      [pair.rpc.send({ ...order(CLIENT, "V1"), fields: [str(Tag.Text, "€")] }), "fields[0].value"],
      [pair.rpc.send({ ...order(CLIENT, "V1"), fields: [{ tag: Tag.ClOrdID }] }), "fields[0].value"],
      [
        pair.rpc.send({ ...order(CLIENT, "V1"), headerFields: [str(Tag.SenderCompID, "EVIL")] }),
        "header_fields[0].tag",
      ],
      [pair.rpc.send({ ...order(CLIENT, "V1"), idempotencyKey: "k".repeat(257) }), "idempotency_key"],
      [pair.rpc.resetSequence({ sessionId: OFFLINE, reason: "r", nextSenderSeqNum: 0 }), "next_sender_seq_num"],
      [streamError(pair.rpc.streamMessages({ sessionId: CLIENT, msgTypes: ["8", ""] })), "msg_types[1]"],
      [pair.rpc.resetSequence({ sessionId: OFFLINE, reason: "  " }), "reason"],
    ];
    for (const [call, field] of cases) {
      const err = await rejected(call);
      assert.equal(err.code, Code.INVALID_ARGUMENT, `${field}: ${err.message}`);
      assert.equal(err.reason, "INVALID_FIELD");
      assert.equal(err.metadata.field, field);
      assert.deepEqual(
        err.fieldViolations.map((v) => v.field),
        [field],
      );
    }
    assert.equal(pair.ordersAtVenue("V1"), 0, "nothing invalid was sent");
  });

  it("an unknown session is NOT_FOUND/SESSION_NOT_FOUND", T, async () => {
    for (const call of [
      pair.rpc.getSession({ sessionId: "FIX.4.4:NOBODY->VENUE" }),
      pair.rpc.send(order("FIX.4.4:NOBODY->VENUE", "N1")),
      pair.rpc.logout({ sessionId: "FIX.4.4:NOBODY->VENUE" }),
    ]) {
      const err = await rejected(call);
      assert.equal(err.code, Code.NOT_FOUND);
      assert.equal(err.reason, "SESSION_NOT_FOUND");
      assert.equal(err.metadata.session_id, "FIX.4.4:NOBODY->VENUE");
    }
  });

  it("ResetSequence inside the trading window needs force; outside it (or forced) it sets the numbers", T, async () => {
    pair.schedule.open = true;
    const inside = await rejected(pair.rpc.resetSequence({ sessionId: CLIENT, reason: "venue asked" }));
    assert.equal(inside.code, Code.FAILED_PRECONDITION);
    assert.equal(inside.reason, "INSIDE_TRADING_WINDOW");
    assert.equal(pair.client.state.health, Health.Live, "nothing changed");

    const outside = await pair.rpc.resetSequence({ sessionId: OFFLINE, reason: "new venue day", nextSenderSeqNum: 7 });
    assert.equal(outside.session?.nextSenderSeqNum, 7);
    assert.equal(outside.session?.inTradingWindow, false);
    offlineSchedule.open = true;
    const forced = await pair.rpc.resetSequence({ sessionId: OFFLINE, reason: "ops ticket 42", force: true });
    assert.equal(forced.session?.nextSenderSeqNum, 1);
    assert.equal(forced.session?.nextTargetSeqNum, 1);
    offlineSchedule.open = false;
  });

  it(
    "Send while logged out is FAILED_PRECONDITION/SESSION_NOT_LOGGED_ON; Logon brings the session back",
    T,
    async () => {
      const out = await pair.rpc.logout({ sessionId: CLIENT, reason: "end of test day" });
      assert.equal(out.session?.enabled, false);
      await waitFor(() => pair.client.state.health === Health.Disconnected, 5000, "logged out");
      const err = await rejected(pair.rpc.send(order(CLIENT, "L1")));
      assert.equal(err.code, Code.FAILED_PRECONDITION);
      assert.equal(err.reason, "SESSION_NOT_LOGGED_ON");
      const { session } = await pair.rpc.getSession({ sessionId: CLIENT });
      assert.equal(session?.lastLogout?.reason, "end of test day");
      await pair.rpc.logon({ sessionId: CLIENT });
      await waitFor(() => pair.client.state.health === Health.Live, 5000, "logged on again");
      const res = await pair.rpc.send(order(CLIENT, "L2"));
      assert.ok(res.msgSeqNum > 0);
      assert.equal(pair.ordersAtVenue("L1"), 0);
    },
  );

  it("unary Send throughput (informational)", T, async (t) => {
    const n = 300;
    let t0 = performance.now();
    for (let i = 0; i < n; i++) await pair.rpc.send(order(CLIENT, `U${i}`));
    const serial = (n / (performance.now() - t0)) * 1000;
    t0 = performance.now();
    const inFlight = 64;
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < n) await pair.rpc.send(order(CLIENT, `P${next++}`));
      }),
    );
    const parallel = (n / (performance.now() - t0)) * 1000;
    t.diagnostic(`unary Send: ${Math.round(serial)}/s one in flight, ${Math.round(parallel)}/s with 64 in flight`);
    await waitFor(() => pair.ordersAtVenue(`P${n - 1}`) === 1, 5000, "last order");
  });

  it("grpc.health.v1 answers SERVING, for the server and for SessionService", T, async () => {
    const Health = grpc.makeClientConstructor(healthService, "grpc.health.v1.Health");
    const h = new Health(`127.0.0.1:${pair.server.port}`, grpc.credentials.createInsecure());
    try {
      for (const service of ["", "fixmesh.v1.SessionService"]) {
        const res = await new Promise<{ status: string }>((resolve, reject) =>
          h.check({ service }, (err: Error | null, r: { status: string }) => (err ? reject(err) : resolve(r))),
        );
        assert.equal(res.status, "SERVING");
      }
    } finally {
      h.close();
    }
  });

  it("server reflection lists SessionService", T, async () => {
    assert.deepEqual(await reflectedServiceNames(`127.0.0.1:${pair.server.port}`), ["fixmesh.v1.SessionService"]);
  });
});

describe("SessionService when the store is slow or failing", () => {
  it(
    "a Send whose deadline passes before persist is DEADLINE_EXCEEDED; a retry with its key learns the MsgSeqNum",
    T,
    async () => {
      const store = new FaultyStore();
      const pair = await startPair({ clientStore: store, sender: "SLOW" });
      const id = "FIX.4.4:SLOW->VENUE";
      try {
        store.commitDelayMs = 300;
        const err = await rejected(pair.rpc.send(order(id, "D1", "key-d"), { deadline: Date.now() + 100 }));
        assert.equal(err.code, Code.DEADLINE_EXCEEDED);
        store.commitDelayMs = 0;
        const retry = await pair.rpc.send(order(id, "D1", "key-d"), { deadline: Date.now() + 5000 });
        assert.equal(retry.duplicate, true);
        await waitFor(() => pair.ordersAtVenue("D1") === 1, 5000, "the order at the venue");
        const m = pair.received.find((x) => x.get(Tag.ClOrdID) === "D1");
        assert.equal(m?.getInt(Tag.MsgSeqNum), retry.msgSeqNum);
      } finally {
        await pair.stop();
      }
    },
  );

  it("a Send whose persist fails is UNAVAILABLE/PERSIST_FAILED and nothing is sent", T, async () => {
    const store = new FaultyStore();
    const pair = await startPair({ clientStore: store, sender: "FAIL" });
    const id = "FIX.4.4:FAIL->VENUE";
    try {
      store.failCommits = true;
      const err = await rejected(pair.rpc.send(order(id, "F1", "key-f")));
      assert.equal(err.code, Code.UNAVAILABLE);
      assert.equal(err.reason, "PERSIST_FAILED");
      assert.equal(err.metadata.session_id, id);
      // The runner drops the link after a failed persist: once the venue has seen it close, anything that had
      // been written to the socket would have arrived.
      await waitFor(() => !pair.venue.connected, 5000, "the link dropped");
      assert.equal(pair.ordersAtVenue("F1"), 0);
    } finally {
      store.failCommits = false;
      await pair.stop();
    }
  });
});
