import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CheckOrderResponse,
  checkHealth,
  OrderEntryService,
  OrderType,
  type OrderUpdate,
  RpcError,
  type SendResponse,
  SessionHealth,
  Side,
  TimeInForce,
} from "@fixmesh/contracts";
import pino from "pino";
import { orderEntryClient } from "../client.js";
import { MemoryOrderStore } from "../store/memory.js";
import { startGrpcServer } from "./grpc.js";
import { OrderEntry } from "./order-entry.js";

const SESSION = "FIX.4.4:CLIENT->VENUE";

async function serve(logLimit: number, maxBuffered?: number) {
  const repo = new MemoryOrderStore({ logLimit });
  let seq = 0;
  const core = new OrderEntry({
    repo,
    risk: { check: async () => ({ allowed: true }) as CheckOrderResponse },
    sender: { send: async () => ({ msgSeqNum: ++seq }) as SendResponse, healthOf: () => SessionHealth.LIVE },
    sessions: new Set([SESSION]),
    onCommitted: () => undefined,
    logger: pino({ level: "silent" }),
  });
  const server = await startGrpcServer({
    core,
    repo,
    host: "127.0.0.1",
    port: 0,
    logger: pino({ level: "silent" }),
    ...(maxBuffered !== undefined && { maxBuffered }),
  });
  const client = orderEntryClient(`127.0.0.1:${server.port}`);
  const submit = (key: string) =>
    client.rpc.submitOrder({
      idempotencyKey: key,
      sessionId: SESSION,
      account: "ACC1",
      symbol: "IBM",
      side: Side.BUY,
      quantity: "1",
      orderType: OrderType.LIMIT,
      price: "1",
      timeInForce: TimeInForce.DAY,
    });
  return {
    repo,
    client,
    submit,
    port: server.port,
    healthPort: server.healthPort,
    async close() {
      client.close();
      await server.close();
    },
  };
}

function collect(call: ReturnType<ReturnType<typeof orderEntryClient>["rpc"]["streamOrderUpdates"]>) {
  const got: OrderUpdate[] = [];
  const done = new Promise<Error | null>((resolve) => {
    call.on("data", (u: OrderUpdate) => got.push(u));
    call.on("error", (e: Error) => resolve(e));
    call.on("end", () => resolve(null));
  });
  return { got, done };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("StreamOrderUpdates", () => {
  it("resumes from a held position: history, then live, each position once and in order", async () => {
    const s = await serve(1000);
    try {
      for (let i = 0; i < 4; i++) await s.submit(`h${i}`); // 2 updates each: NEW_REQUEST, then the sent mark (none)
      const { newest } = await s.repo.logBounds();
      const c = collect(s.client.rpc.streamOrderUpdates({ account: "", sessionId: "", fromPosition: 2n }));
      await until(() => c.got.length >= newest - 1, "the history");
      for (let i = 0; i < 3; i++) await s.submit(`l${i}`);
      await until(() => c.got.length >= newest - 1 + 3, "the live updates");
      assert.deepEqual(
        c.got.map((u) => Number(u.position)),
        Array.from({ length: newest + 2 }, (_, i) => i + 2),
      );
    } finally {
      await s.close();
    }
  });

  it("answers OUT_OF_RANGE/HISTORY_UNAVAILABLE for a position the log no longer holds, naming the oldest", async () => {
    const s = await serve(3);
    try {
      for (let i = 0; i < 6; i++) await s.submit(`t${i}`);
      const { oldest } = await s.repo.logBounds();
      assert.ok(oldest > 1);
      const c = collect(s.client.rpc.streamOrderUpdates({ account: "", sessionId: "", fromPosition: 1n }));
      const err = RpcError.from(await c.done);
      assert.equal(err.code, 11 /* OUT_OF_RANGE */);
      assert.equal(err.reason, "HISTORY_UNAVAILABLE");
      assert.equal(err.metadata.oldest_position, String(oldest));
      assert.equal(c.got.length, 0);
    } finally {
      await s.close();
    }
  });

  it("cuts off a reader that stops reading, with RESOURCE_EXHAUSTED/SLOW_CONSUMER", async () => {
    const s = await serve(100_000, 50);
    try {
      const call = s.client.rpc.streamOrderUpdates({ account: "", sessionId: "", fromPosition: 0n });
      const c = collect(call);
      await new Promise((r) => setTimeout(r, 100));
      call.pause(); // the client stops reading; HTTP/2 flow control backs up to the server
      let i = 0;
      let ended: Error | null | undefined;
      void c.done.then((e) => {
        ended = e;
      });
      while (ended === undefined && i < 5000) await s.submit(`s${i++}`);
      call.resume();
      const err = RpcError.from(await c.done);
      assert.equal(err.code, 8 /* RESOURCE_EXHAUSTED */);
      assert.equal(err.reason, "SLOW_CONSUMER");
    } finally {
      await s.close();
    }
  });
});

describe("grpc.health.v1", () => {
  it("answers SERVING on the main port, for the server and for OrderEntryService", async () => {
    const s = await serve(100);
    try {
      assert.equal(s.healthPort, null);
      assert.equal(await checkHealth(`127.0.0.1:${s.port}`), "SERVING");
      assert.equal(await checkHealth(`127.0.0.1:${s.port}`, OrderEntryService.typeName), "SERVING");
      await assert.rejects(checkHealth(`127.0.0.1:${s.port}`, "fixmesh.v1.NoSuchService"), /NOT_FOUND|unknown service/);
    } finally {
      await s.close();
    }
  });

  it("serves a plaintext health-only listener on grpc.healthPort: SERVING, then NOT_SERVING while closing", async () => {
    let release: () => void = () => undefined;
    let checking = false;
    const repo = new MemoryOrderStore({ logLimit: 100 });
    const core = new OrderEntry({
      repo,
      // Holds one order in its risk check, so the server is still draining when its health is read.
      risk: {
        check: async () => {
          checking = true;
          await new Promise<void>((r) => {
            release = r;
          });
          return { allowed: true } as CheckOrderResponse;
        },
      },
      sender: { send: async () => ({ msgSeqNum: 1 }) as SendResponse, healthOf: () => SessionHealth.LIVE },
      sessions: new Set([SESSION]),
      onCommitted: () => undefined,
      logger: pino({ level: "silent" }),
    });
    const server = await startGrpcServer({
      core,
      repo,
      host: "127.0.0.1",
      port: 0,
      logger: pino({ level: "silent" }),
      security: { healthPort: 0 },
    });
    const client = orderEntryClient(`127.0.0.1:${server.port}`);
    const health = `127.0.0.1:${server.healthPort}`;
    try {
      assert.ok(server.healthPort !== null && server.healthPort > 0 && server.healthPort !== server.port);
      assert.equal(await checkHealth(health), "SERVING");
      assert.equal(await checkHealth(health, OrderEntryService.typeName), "SERVING");
      // Health only: OrderEntryService is not served there.
      const other = orderEntryClient(health);
      try {
        await assert.rejects(other.rpc.getOrder({ orderId: "x" }), (e: unknown) => RpcError.from(e).code === 12);
      } finally {
        other.close();
      }

      const pending = client.rpc.submitOrder({
        idempotencyKey: "held",
        sessionId: SESSION,
        account: "ACC1",
        symbol: "IBM",
        side: Side.BUY,
        quantity: "1",
        orderType: OrderType.LIMIT,
        price: "1",
        timeInForce: TimeInForce.DAY,
      });
      await until(() => checking, "the risk check");
      const closed = server.close();
      assert.equal(await checkHealth(health), "NOT_SERVING");
      assert.equal(await checkHealth(health, OrderEntryService.typeName), "NOT_SERVING");
      release();
      await pending;
      await closed;
      // Closed: the health listener is gone too.
      await assert.rejects(checkHealth(health, "", 1000));
    } finally {
      release();
      client.close();
      await server.close();
    }
  });
});
