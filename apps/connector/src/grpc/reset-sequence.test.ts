import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createGrpcClient, type FieldSchema, type GrpcClientOf, RpcError, SessionService } from "@fixmesh/contracts";
import { Acceptor, SessionRunner, tcpConnector } from "@fixmesh/engine";
import { type FixMessage, MsgType, Tag } from "@fixmesh/fix";
import { Health, MemoryStore, resolveSettings, type SessionSchedulePort } from "@fixmesh/session";
import { RedisStore, sessionKeys } from "@fixmesh/store";
import * as grpc from "@grpc/grpc-js";
import { keysUnder, type Redis, redisClient } from "../e2e/harness.js";
import type { SessionRegistry } from "../registry.js";
import { type GrpcServerHandle, startGrpcServer } from "./server.js";

/** ResetSequence on the Redis store: a new cycle, so nothing of the previous day's numbers is ever reused. */

const T = { timeout: 20_000 };
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const ID = "FIX.4.4:RCLIENT->RVENUE";

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

type FieldInit = MessageInitShape<typeof FieldSchema>;
const str = (tag: number, value: string): FieldInit => ({ tag, value: { case: "stringValue", value } });
const order = (clOrdId: string) => ({
  sessionId: ID,
  msgType: MsgType.NewOrderSingle,
  fields: [str(Tag.ClOrdID, clOrdId), str(Tag.Symbol, "IBM"), str(Tag.Side, "1"), str(Tag.OrderQty, "100")],
});

async function rejected(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof RpcError, `an RpcError, got ${err}`);
    return err;
  }
  assert.fail("the call succeeded");
}

describe("ResetSequence on the Redis store", () => {
  const prefix = `fixmesh-test-reset-${process.pid}-${Date.now().toString(36)}`;
  const keys = sessionKeys(prefix, ID);
  let redis: Redis;
  const received: FixMessage[] = [];
  const schedule: SessionSchedulePort & { open: boolean } = {
    open: true,
    isInSession() {
      return this.open;
    },
    isSameSession: () => true,
  };
  let venue: SessionRunner;
  let acceptor: Acceptor;
  let store: RedisStore;
  let client: SessionRunner;
  let server: GrpcServerHandle;
  let conn: grpc.Client;
  let rpc: GrpcClientOf<typeof SessionService>;

  before(async () => {
    redis = await redisClient();
    venue = await SessionRunner.start({
      settings: resolveSettings({
        BeginString: "FIX.4.4",
        SenderCompID: "RVENUE",
        TargetCompID: "RCLIENT",
        ConnectionType: "acceptor",
      }),
      store: new MemoryStore(),
      app: { onMessage: (m) => received.push(m) },
      schedule: null,
    });
    acceptor = new Acceptor({ port: 0 });
    acceptor.register(venue);
    const port = await acceptor.listen();
    store = new RedisStore({ redis: REDIS_URL, session: ID, prefix });
    client = await SessionRunner.start({
      settings: resolveSettings({
        BeginString: "FIX.4.4",
        SenderCompID: "RCLIENT",
        TargetCompID: "RVENUE",
        ConnectionType: "initiator",
      }),
      store,
      events: true,
      connect: tcpConnector([{ host: "127.0.0.1", port }]),
      schedule,
    });
    const registry: SessionRegistry = { list: () => [client], get: (id) => (id === ID ? client : undefined) };
    server = await startGrpcServer({ registry, host: "127.0.0.1", port: 0 });
    conn = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    rpc = createGrpcClient(SessionService, conn);
    await waitFor(() => client.state.health === Health.Live, 5000, "logon");
  });

  after(async () => {
    conn.close();
    await server.close();
    await client.stop(500);
    // A fenced runner is closed already and leaves its store open (it is not its to close after a fence).
    await store.close().catch(() => undefined);
    await venue.stop(0);
    await acceptor.close();
    const left = await keysUnder(redis, prefix);
    if (left.length > 0) await redis.del(...left);
    await redis.quit();
  });

  it(
    "starts a new store cycle: the numbers restart and nothing stored or published collides with the old cycle",
    T,
    async () => {
      for (const c of ["A1", "A2", "A3"]) await rpc.send(order(c));
      const before = await redis.hgetall(keys.meta);
      const oldCycle = before.cycle;
      assert.ok(oldCycle, "the store has a cycle");
      assert.equal((await store.getRange(1, 100)).length, 4, "Logon + 3 orders stored in the old cycle");

      await rpc.logout({ sessionId: ID, reason: "end of day" });
      await waitFor(() => client.state.health === Health.Disconnected, 5000, "logged out");
      schedule.open = false; // the night: outside the trading window, no force needed
      const res = await rpc.resetSequence({ sessionId: ID, reason: "new trading day" });
      assert.equal(res.session?.nextSenderSeqNum, 1);
      assert.equal(res.session?.nextTargetSeqNum, 1);

      // Answered once stored: Redis already holds the new cycle, numbers 1/1 and an empty log.
      const meta = await redis.hgetall(keys.meta);
      assert.notEqual(meta.cycle, oldCycle, "a new cycle id");
      assert.ok(meta.cycle > oldCycle, "cycle ids sort in creation order");
      const reopened = new RedisStore({ redis, session: ID, prefix });
      const state = await reopened.open(Date.now());
      await reopened.close();
      assert.deepEqual([state.cycle, state.nextSenderSeq, state.nextTargetSeq], [meta.cycle, 1, 1]);
      assert.deepEqual(await store.getRange(1, 100), [], "the old cycle's messages are not served as this cycle's");

      // The venue starts its new day too; then orders of the new cycle reuse MsgSeqNums 2.. without colliding.
      await venue.resetSequences({}, "new trading day");
      schedule.open = true;
      await rpc.logon({ sessionId: ID });
      await waitFor(() => client.state.health === Health.Live, 5000, "logged on again");
      const r = await rpc.send(order("B1"));
      assert.equal(r.msgSeqNum, 2, "the first order of the new cycle is MsgSeqNum 2 again");
      assert.equal(received.filter((m) => m.get(Tag.ClOrdID) === "B1").length, 1);

      // Event ids carry the cycle: out:2 of each cycle are two events, which the stream's dedup window keeps apart.
      const outbox = await store.readOutbox(1000);
      const ids = outbox.map((e) => e.id);
      assert.ok(ids.includes(`${ID}:${oldCycle}:out:2`), `old cycle's out:2 in ${ids.join(",")}`);
      assert.ok(ids.includes(`${ID}:${meta.cycle}:out:2`), `new cycle's out:2 in ${ids.join(",")}`);
      assert.equal(new Set(ids).size, ids.length, "no two events share an id");
    },
  );

  it("one number given: a new cycle with that number, the other kept", T, async () => {
    const cycle = (await redis.hgetall(keys.meta)).cycle;
    await rpc.logout({ sessionId: ID, reason: "ops" });
    await waitFor(() => client.state.health === Health.Disconnected, 5000, "logged out");
    const target = client.state.nextTargetSeq;
    const res = await rpc.resetSequence({
      sessionId: ID,
      reason: "venue asked for 700",
      nextSenderSeqNum: 700,
      force: true,
    });
    assert.equal(res.session?.nextSenderSeqNum, 700);
    assert.equal(res.session?.nextTargetSeqNum, target);
    const meta = await redis.hgetall(keys.meta);
    assert.notEqual(meta.cycle, cycle);
    const reopened = new RedisStore({ redis, session: ID, prefix });
    const state = await reopened.open(Date.now());
    await reopened.close();
    assert.deepEqual([state.nextSenderSeq, state.nextTargetSeq], [700, target]);
  });

  it(
    "inside the trading window it needs force; a store fenced by a newer leader refuses it (SESSION_FENCED)",
    T,
    async () => {
      const inside = await rejected(rpc.resetSequence({ sessionId: ID, reason: "oops" }));
      assert.equal(inside.reason, "INSIDE_TRADING_WINDOW");

      const cycle = (await redis.hgetall(keys.meta)).cycle;
      const newer = new RedisStore({ redis, session: ID, prefix });
      await newer.open(Date.now());
      await newer.fence(7);
      await newer.close();
      const err = await rejected(rpc.resetSequence({ sessionId: ID, reason: "after the failover", force: true }));
      assert.equal(err.code, grpc.status.UNAVAILABLE);
      assert.equal(err.reason, "SESSION_FENCED");
      assert.equal((await redis.hgetall(keys.meta)).cycle, cycle, "the newer leader's cycle is untouched");
    },
  );
});
