/**
 * The risk client against a test RiskService on loopback that records every CheckOrderStream frame: N orders
 * submitted at once reach risk in fewer than N frames (the checks of one event-loop turn share a frame), each
 * answered by its own correlation id with its own traceparent; a check the server leaves unanswered is refused
 * with RiskUnavailableError at its deadline while the others of its frame are answered; a batch item risk cannot
 * check is refused without touching the others.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  addGrpcService,
  type CheckOrderStreamRequest,
  OrderType,
  RiskCheckKind,
  RiskService,
  RpcError,
  type SendResponse,
  SessionHealth,
  Side,
  type SubmitOrderRequest,
  TimeInForce,
} from "@fixmesh/contracts";
import * as grpc from "@grpc/grpc-js";
import pino from "pino";
import { OrderEntry } from "../service/order-entry.js";
import { MemoryOrderStore } from "../store/memory.js";
import type { OutboundMessage } from "./connector.js";
import { type CheckInit, RiskClient, RiskUnavailableError } from "./risk.js";

const SESSION = "FIX.4.4:CLIENT->VENUE";
const unimplemented = () => {
  throw new RpcError(grpc.status.UNIMPLEMENTED, "UNIMPLEMENTED", "not in this test server");
};

/**
 * A RiskService whose CheckOrderStream records each frame; accounts "SILENT" get no answer, "BAD" an error. `old`:
 * answers as a risk older than batching did (a batch frame has no `check`: INVALID_ARGUMENT without an id).
 */
async function testRisk(old = false) {
  const frames: CheckOrderStreamRequest[] = [];
  const server = new grpc.Server();
  addGrpcService(server, RiskService, {
    checkOrder: unimplemented,
    checkOrderStream: (call) => {
      call.on("data", (f: CheckOrderStreamRequest) => {
        frames.push(f);
        if (old && f.check === undefined) {
          call.write({
            correlationId: f.correlationId,
            error: RpcError.invalidField("check", "is required").toStatus(),
          });
          return;
        }
        const answer = (i: CheckOrderStreamRequest) =>
          i.check?.account === "BAD"
            ? { correlationId: i.correlationId, error: RpcError.invalidField("check.account", "bad").toStatus() }
            : { correlationId: i.correlationId, result: { allowed: true, message: i.traceparent } };
        const items = f.batch.length > 0 ? f.batch : [f];
        const results = items.filter((i) => i.check?.account !== "SILENT").map(answer);
        if (f.batch.length > 0) call.write({ results });
        else if (results[0]) call.write(results[0]);
      });
      call.on("end", () => call.end());
      call.on("error", () => undefined);
    },
    getLimits: unimplemented,
    setLimits: unimplemented,
    setKillSwitch: unimplemented,
    getKillSwitches: unimplemented,
    getPositions: unimplemented,
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { frames, port, close: () => server.forceShutdown() };
}

function check(account: string): CheckInit {
  return {
    kind: RiskCheckKind.NEW,
    sessionId: SESSION,
    account,
    symbol: "IBM",
    side: Side.BUY,
    quantity: "10",
    orderType: OrderType.LIMIT,
    price: "100",
    sessionHealth: SessionHealth.LIVE,
  };
}

const tp = (n: number) => `00-${n.toString(16).padStart(32, "0")}-${"a".repeat(16)}-01`;

describe("RiskClient batches the checks of one event-loop turn", () => {
  let srv: Awaited<ReturnType<typeof testRisk>>;
  let client: RiskClient;

  before(async () => {
    srv = await testRisk();
    client = new RiskClient({ address: `127.0.0.1:${srv.port}`, deadlineMs: 2000 });
  });
  after(() => {
    client.close();
    srv.close();
  });

  it("N concurrent submits through OrderEntry reach risk in fewer than N frames, all accepted", async () => {
    const wire: OutboundMessage[] = [];
    const core = new OrderEntry({
      repo: new MemoryOrderStore(),
      risk: client,
      sender: {
        async send(m: OutboundMessage) {
          wire.push(m);
          return { msgSeqNum: wire.length, duplicate: false } as SendResponse;
        },
        healthOf: () => SessionHealth.LIVE,
      },
      sessions: new Set([SESSION]),
      onCommitted: () => undefined,
      logger: pino({ level: "silent" }),
      claimTakeoverMs: 50,
      retryWaitMs: 100,
    });
    const before = srv.frames.length;
    const N = 20;
    const done = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        core.submit({
          idempotencyKey: `batch-${i}`,
          sessionId: SESSION,
          account: "ACC1",
          symbol: "IBM",
          side: Side.BUY,
          quantity: "10",
          orderType: OrderType.LIMIT,
          price: "100",
          stopPrice: "",
          timeInForce: TimeInForce.DAY,
          extraFields: [],
        } as unknown as SubmitOrderRequest),
      ),
    );
    const frames = srv.frames.slice(before);
    const items = frames.flatMap((f) => (f.batch.length > 0 ? f.batch : [f]));
    assert.equal(done.length, N);
    assert.equal(wire.length, N, "every order passed risk and was sent");
    assert.equal(items.length, N, "every check reached risk once");
    assert.ok(frames.length < N, `${frames.length} frames for ${N} checks`);
    assert.ok(
      frames.some((f) => f.batch.length > 1),
      "at least one frame carried several checks",
    );
  });

  it("answers each check of a frame by its correlation id, with its own traceparent", async () => {
    const before = srv.frames.length;
    const answers = await Promise.all([1, 2, 3, 4].map((n) => client.check(check("ACC1"), undefined, tp(n))));
    assert.deepEqual(
      answers.map((a) => a.message),
      [tp(1), tp(2), tp(3), tp(4)],
    );
    const frames = srv.frames.slice(before);
    assert.equal(frames.length, 1);
    assert.deepEqual(
      frames[0]?.batch.map((i) => i.traceparent),
      [tp(1), tp(2), tp(3), tp(4)],
    );
  });

  it("refuses an unanswered check at its deadline and a check risk could not make, the others answered", async () => {
    const [ok, silent, bad, ok2] = await Promise.allSettled([
      client.check(check("ACC1"), 1500),
      client.check(check("SILENT"), 300),
      client.check(check("BAD"), 1500),
      client.check(check("ACC1"), 1500),
    ]);
    assert.equal(ok?.status === "fulfilled" && ok.value.allowed, true);
    assert.equal(ok2?.status === "fulfilled" && ok2.value.allowed, true);
    assert.ok(silent?.status === "rejected" && silent.reason instanceof RiskUnavailableError);
    assert.match(String((silent as PromiseRejectedResult).reason.message), /did not answer within 300 ms/);
    assert.ok(bad?.status === "rejected" && bad.reason instanceof RiskUnavailableError);
    assert.match(String((bad as PromiseRejectedResult).reason.message), /check\.account/);
  });

  it("falls back to one check per frame with a risk older than batching: every check answered", async () => {
    const old = await testRisk(true);
    const c = new RiskClient({ address: `127.0.0.1:${old.port}`, deadlineMs: 5000 });
    try {
      const first = await Promise.all([1, 2, 3].map((n) => c.check(check("ACC1"), undefined, tp(n))));
      assert.deepEqual(
        first.map((a) => [a.allowed, a.message]),
        [1, 2, 3].map((n) => [true, tp(n)]),
      );
      const sentBefore = old.frames.length;
      const again = await Promise.all([4, 5].map((n) => c.check(check("ACC1"), undefined, tp(n))));
      assert.deepEqual(
        again.map((a) => a.message),
        [tp(4), tp(5)],
      );
      // One batch frame (refused by the old server), its three checks resent alone, then only single frames.
      assert.equal(old.frames[0]?.batch.length, 3);
      assert.ok(old.frames.slice(1).every((f) => f.batch.length === 0 && f.check !== undefined));
      assert.equal(old.frames.length - sentBefore, 2);
    } finally {
      c.close();
      old.close();
    }
  });

  it("refuses every pending check when risk goes away (fail closed)", async () => {
    const other = await testRisk();
    const c = new RiskClient({ address: `127.0.0.1:${other.port}`, deadlineMs: 5000 });
    try {
      const pending = [c.check(check("SILENT")), c.check(check("SILENT"))];
      const settled = Promise.allSettled(pending);
      const t0 = Date.now();
      while (other.frames.length === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
      other.close();
      for (const r of await settled) {
        assert.ok(r.status === "rejected" && r.reason instanceof RiskUnavailableError);
        assert.match(r.reason.message, /risk stream ended/);
      }
    } finally {
      c.close();
      other.close();
    }
  });
});
