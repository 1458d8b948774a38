/**
 * A Send whose Redis commit landed but whose answer was lost (the link swallowed Redis's reply, then was reset):
 * the caller gets UNAVAILABLE/PERSIST_FAILED, the message is in the store and goes out as the resend the venue asks
 * for once the session is back. A retry with the same idempotency key must answer that first MsgSeqNum, not send a
 * second copy: the venue gets the order exactly once.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createGrpcClient, type FieldSchema, type GrpcClientOf, RpcError, SessionService } from "@fixmesh/contracts";
import { Acceptor, SessionRunner, tcpConnector } from "@fixmesh/engine";
import { type FixMessage, MsgType, Tag } from "@fixmesh/fix";
import { Health, MemoryStore, resolveSettings } from "@fixmesh/session";
import { createRedisClient, RedisStore, sessionKeys } from "@fixmesh/store";
import { RedisProxy } from "@fixmesh/store/testing";
import * as grpc from "@grpc/grpc-js";
import { REDIS_URL, waitFor } from "../e2e/harness.js";
import type { SessionRegistry } from "../registry.js";
import { startGrpcServer } from "./server.js";

type FieldInit = MessageInitShape<typeof FieldSchema>;
const str = (tag: number, value: string): FieldInit => ({ tag, value: { case: "stringValue", value } });

describe("a Send whose commit landed but got no answer", () => {
  it("retried with the same idempotency key, answers the first MsgSeqNum; the venue gets the order once", {
    timeout: 30_000,
  }, async () => {
    const id = "FIX.4.4:AMBIG->VENUE";
    const prefix = `fixmesh-test-ambig-${Math.random().toString(36).slice(2, 10)}`;
    const proxy = new RedisProxy(REDIS_URL);
    await proxy.start();
    const redis = createRedisClient(proxy.url, { commandTimeout: 300 });
    redis.on("error", () => {});
    const store = new RedisStore({ redis, session: id, prefix });
    const received: FixMessage[] = [];
    const venue = await SessionRunner.start({
      settings: resolveSettings({
        BeginString: "FIX.4.4",
        SenderCompID: "VENUE",
        TargetCompID: "AMBIG",
        ConnectionType: "acceptor",
        HeartBtInt: 30,
      }),
      store: new MemoryStore(),
      app: { onMessage: (m) => received.push(m) },
      schedule: null,
    });
    const acceptor = new Acceptor({ port: 0 });
    acceptor.register(venue);
    const fixPort = await acceptor.listen();
    const client = await SessionRunner.start({
      settings: resolveSettings({
        BeginString: "FIX.4.4",
        SenderCompID: "AMBIG",
        TargetCompID: "VENUE",
        ConnectionType: "initiator",
        HeartBtInt: 30,
        ReconnectInterval: 1,
      }),
      store,
      connect: tcpConnector([{ host: "127.0.0.1", port: fixPort }]),
      schedule: null,
    });
    const registry: SessionRegistry = { list: () => [client], get: (s) => (s === id ? client : undefined) };
    const server = await startGrpcServer({
      registry,
      host: "127.0.0.1",
      port: 0,
      idempotency: { durable: (s) => (s === id ? { read: () => store.readIdempotency() } : undefined) },
    });
    const conn = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    const rpc: GrpcClientOf<typeof SessionService> = createGrpcClient(SessionService, conn);
    const ordersAtVenue = () =>
      received.filter((m) => m.msgType === MsgType.NewOrderSingle && m.get(Tag.ClOrdID) === "AMB-1");
    const request = {
      sessionId: id,
      msgType: MsgType.NewOrderSingle,
      fields: [str(Tag.ClOrdID, "AMB-1"), str(Tag.Symbol, "IBM"), str(Tag.Side, "1"), str(Tag.OrderQty, "100")],
      idempotencyKey: "ambiguous-1",
    };
    const check = createRedisClient(REDIS_URL, { lazyConnect: false, enableOfflineQueue: true });
    try {
      await waitFor(() => client.state.health === Health.Live, 10_000, "logon");
      // A first keyed Send loads the keys earlier leaders recorded (once per term), while Redis still answers.
      const warm = await rpc.send(
        { ...request, fields: [str(Tag.ClOrdID, "AMB-0"), ...request.fields.slice(1)], idempotencyKey: "warm-up" },
        { deadline: Date.now() + 5000 },
      );
      const seqBefore = warm.msgSeqNum + 1;
      // Redis runs the commit; its answer never comes back.
      proxy.loseReplies();
      let first: RpcError | undefined;
      try {
        await rpc.send(request, { deadline: Date.now() + 5000 });
      } catch (err) {
        first = err as RpcError;
      }
      assert.ok(first instanceof RpcError, "the first Send fails");
      assert.equal(first.code, grpc.status.UNAVAILABLE);
      assert.equal(first.reason, "PERSIST_FAILED", first.message);
      // The commit did land: the message is in the store's log under the number the first Send got.
      const stored = await check.hget(sessionKeys(prefix, id).idem, "ambiguous-1");
      assert.ok(stored?.startsWith(`${seqBefore}:`), `the key recorded with seq ${seqBefore}, got ${stored}`);
      proxy.resetLinks();
      await waitFor(() => client.state.health === Health.Live, 15_000, "the session back after the failed commit");
      // The retry: the first answer, no second copy.
      const retry = await rpc.send(request, { deadline: Date.now() + 5000 });
      assert.equal(retry.msgSeqNum, seqBefore, "the retry answers the MsgSeqNum the stored message has");
      assert.equal(retry.duplicate, true);
      // The venue asks for the gap and gets the stored message (PossDupFlag=Y); it never gets another copy.
      await waitFor(() => ordersAtVenue().length >= 1, 10_000, "the order at the venue");
      await new Promise((r) => setTimeout(r, 500));
      const got = ordersAtVenue();
      assert.equal(got.length, 1, "the venue got the order once");
      assert.equal(got[0].getInt(Tag.MsgSeqNum), seqBefore);
      assert.equal(got[0].get(Tag.PossDupFlag), "Y");
    } finally {
      conn.close();
      await server.close();
      await client.stop(500);
      await venue.stop(0);
      await acceptor.close();
      await store.close();
      redis.disconnect();
      await proxy.cut();
      const keys = await check.keys(`${prefix}:*`);
      if (keys.length > 0) await check.del(...keys);
      check.disconnect();
    }
  });
});
