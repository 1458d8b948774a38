import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CheckOrderResponse,
  checkHealth,
  OrderEntryService,
  type OrderResponseFrame,
  type OrderUpdate,
  RpcError,
  reflectedServiceNames,
} from "@fixmesh/contracts";
import { orderEntryClient } from "../client.js";
import { MemoryOrderStore } from "../store/memory.js";
import { orderRequest, serveOrderEntry } from "./grpc.testkit.js";

function serve(logLimit: number, maxBuffered?: number) {
  return serveOrderEntry({
    repo: new MemoryOrderStore({ logLimit }),
    ...(maxBuffered !== undefined && { maxBuffered }),
  });
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

describe("batch frames", () => {
  it("answers each item of a SubmitOrderStream batch frame in `results`, a bad item with its own error", async () => {
    const s = await serve(1000);
    try {
      const stream = s.client.rpc.submitOrderStream();
      const got: OrderResponseFrame[] = [];
      const all = new Promise<void>((resolve, reject) => {
        stream.on("data", (f: OrderResponseFrame) => {
          got.push(f);
          if (got.flatMap((g) => g.results).length === 3) resolve();
        });
        stream.on("error", reject);
      });
      stream.write({
        batch: [
          { correlationId: "a", request: { case: "submit", value: orderRequest("ba") } },
          { correlationId: "b", request: { case: "submit", value: orderRequest("bb", "-1") } },
          { correlationId: "c", request: { case: "submit", value: orderRequest("bc") } },
        ],
      });
      await all;
      stream.end();
      // Every frame carries `results` only; one answer per item, matched by correlation id.
      for (const f of got) assert.deepEqual([f.correlationId, f.result.case], ["", undefined]);
      const byId = new Map(got.flatMap((f) => f.results).map((r) => [r.correlationId, r]));
      assert.deepEqual([...byId.keys()].sort(), ["a", "b", "c"]);
      for (const id of ["a", "c"]) {
        const r = byId.get(id)!;
        assert.equal(r.result.case, "order");
        assert.equal(r.result.case === "order" && r.result.value.idempotencyKey, `b${id}`);
      }
      const bad = byId.get("b")!;
      assert.equal(bad.result.case, "error");
      const e = RpcError.fromStatus(bad.result.value as Parameters<typeof RpcError.fromStatus>[0]);
      assert.equal(e.code, 3 /* INVALID_ARGUMENT */);
      assert.equal(e.metadata.field, "batch[1].submit.quantity");
      // The good ones were placed, the bad one not.
      const list = await s.client.rpc.listOrders({
        sessionId: "",
        account: "",
        symbol: "",
        openOnly: false,
        pageSize: 10,
        pageToken: "",
      });
      assert.deepEqual(list.orders.map((o) => o.idempotencyKey).sort(), ["ba", "bc"]);
    } finally {
      await s.close();
    }
  });

  it("refuses every item of a batch frame that also sets its own request, placing nothing", async () => {
    const s = await serve(1000);
    try {
      const stream = s.client.rpc.submitOrderStream();
      const f = await new Promise<OrderResponseFrame>((resolve, reject) => {
        stream.once("data", resolve);
        stream.once("error", reject);
        stream.write({
          correlationId: "outer",
          request: { case: "submit", value: orderRequest("outer") },
          batch: [{ correlationId: "i", request: { case: "submit", value: orderRequest("inner") } }],
        });
      });
      stream.end();
      assert.equal(f.results.length, 1);
      const r = f.results[0]!;
      assert.equal(r.correlationId, "i");
      assert.equal(r.result.case === "error" && r.result.value.code, 3 /* INVALID_ARGUMENT */);
      const list = await s.client.rpc.listOrders({
        sessionId: "",
        account: "",
        symbol: "",
        openOnly: false,
        pageSize: 10,
        pageToken: "",
      });
      assert.equal(list.orders.length, 0);
    } finally {
      await s.close();
    }
  });

  it("a batched StreamOrderUpdates carries the updates in `batch`: history then live, each position once, in order", async () => {
    const s = await serve(1000);
    try {
      for (let i = 0; i < 3; i++) await s.submit(`h${i}`);
      const call = s.client.rpc.streamOrderUpdates({ account: "", sessionId: "", fromPosition: 1n, batched: true });
      const c = collect(call);
      await until(() => c.got.length >= 1, "the history");
      await Promise.all(Array.from({ length: 20 }, (_, i) => s.submit(`l${i}`)));
      const { newest } = await s.repo.logBounds();
      const flat = () => c.got.flatMap((u) => u.batch);
      await until(() => flat().length >= newest, "the live updates");
      call.cancel();
      for (const u of c.got) {
        assert.ok(u.batch.length > 0, "every message carries its updates in batch");
        assert.deepEqual([u.position, u.order, u.change], [0n, undefined, ""]);
      }
      assert.deepEqual(
        flat().map((u) => Number(u.position)),
        Array.from({ length: newest }, (_, i) => i + 1),
      );
      assert.ok(c.got.length < newest, "several updates share a message");
      assert.deepEqual(new Set(flat().map((u) => u.order?.idempotencyKey)).size, 23);
    } finally {
      await s.close();
    }
  });
});

describe("server reflection", () => {
  it("lists OrderEntryService (what grpcurl list shows)", async () => {
    const s = await serve(100);
    try {
      const names = await reflectedServiceNames(`127.0.0.1:${s.port}`);
      assert.deepEqual(names, [OrderEntryService.typeName]);
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
    // Holds one order in its risk check, so the server is still draining when its health is read.
    const server = await serveOrderEntry({
      repo: new MemoryOrderStore({ logLimit: 100 }),
      risk: {
        check: async () => {
          checking = true;
          await new Promise<void>((r) => {
            release = r;
          });
          return { allowed: true } as CheckOrderResponse;
        },
      },
      security: { healthPort: 0, plaintext: true },
    });
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

      const pending = server.submit("held");
      await until(() => checking, "the risk check");
      const closed = server.stopServer();
      assert.equal(await checkHealth(health), "NOT_SERVING");
      assert.equal(await checkHealth(health, OrderEntryService.typeName), "NOT_SERVING");
      release();
      await pending;
      await closed;
      // Closed: the health listener is gone too.
      await assert.rejects(checkHealth(health, "", 1000));
    } finally {
      release();
      await server.close();
    }
  });
});
