import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CancelOrderRequest,
  type CheckOrderResponse,
  OrderStatus,
  type ReplaceOrderRequest,
  RpcError,
  type SendResponse,
  SessionHealth,
  type SubmitOrderRequest,
} from "@fixmesh/contracts";
import { status as Code } from "@grpc/grpc-js";
import pino from "pino";
import type { OutboundMessage } from "../clients/connector.js";
import { RiskUnavailableError } from "../clients/risk.js";
import { newRecord } from "../model/record.js";
import { MemoryOrderStore } from "../store/memory.js";
import { orderRequest, SESSION } from "./grpc.testkit.js";
import { newOrderSingle } from "./messages.js";
import { OrderEntry, submitFingerprint } from "./order-entry.js";

/** A connector that dedupes by idempotency key like the real one, and records what it put on the wire. */
class FakeConnector {
  readonly wire: OutboundMessage[] = [];
  private readonly keys = new Map<string, { msg: string; seq: number }>();
  refuse: RpcError | null = null;
  /** The next send is stored and goes out, but its answer is PERSIST_FAILED (the store's reply was lost). */
  loseAnswer = false;
  /** The next send is not stored and does not go out, and its answer is PERSIST_FAILED (the write failed). */
  failWrite = false;
  health = SessionHealth.LIVE;
  async send(msg: OutboundMessage): Promise<SendResponse> {
    if (this.refuse) throw this.refuse;
    if (this.failWrite) {
      this.failWrite = false;
      throw new RpcError(Code.UNAVAILABLE, "PERSIST_FAILED", "store write failed: Connection is closed");
    }
    if (this.loseAnswer) {
      this.loseAnswer = false;
      const body = JSON.stringify({ t: msg.msgType, f: msg.fields });
      this.wire.push(msg);
      this.keys.set(msg.idempotencyKey, { msg: body, seq: this.wire.length });
      throw new RpcError(Code.UNAVAILABLE, "PERSIST_FAILED", "store write failed: Command timed out");
    }
    const body = JSON.stringify({ t: msg.msgType, f: msg.fields });
    const earlier = this.keys.get(msg.idempotencyKey);
    if (earlier) {
      if (earlier.msg !== body)
        throw new RpcError(Code.INVALID_ARGUMENT, "IDEMPOTENCY_KEY_REUSED", "different request");
      return { msgSeqNum: earlier.seq, duplicate: true } as SendResponse;
    }
    this.wire.push(msg);
    this.keys.set(msg.idempotencyKey, { msg: body, seq: this.wire.length });
    return { msgSeqNum: this.wire.length, duplicate: false } as SendResponse;
  }
  healthOf(): SessionHealth {
    return this.health;
  }
}

function setup(opts: { takeoverMs?: number } = {}) {
  const repo = new MemoryOrderStore();
  const connector = new FakeConnector();
  const risk = {
    down: false,
    checks: 0,
    async check(): Promise<CheckOrderResponse> {
      this.checks++;
      if (this.down) throw new RiskUnavailableError("risk did not answer within 250 ms");
      return { allowed: true } as CheckOrderResponse;
    },
  };
  const core = new OrderEntry({
    repo,
    risk,
    sender: connector,
    sessions: new Set([SESSION]),
    onCommitted: () => undefined,
    logger: pino({ level: "silent" }),
    claimTakeoverMs: opts.takeoverMs ?? 50,
    retryWaitMs: 100,
  });
  return { repo, connector, risk, core };
}

const cancelReq = (orderId: string, idempotencyKey = "") =>
  ({ orderId, sessionId: "", clOrdId: "", idempotencyKey }) as CancelOrderRequest;
const replaceReq = (orderId: string, quantity: string, idempotencyKey = "") =>
  ({ orderId, sessionId: "", clOrdId: "", quantity, price: "", idempotencyKey }) as ReplaceOrderRequest;

function req(key: string, over: Partial<SubmitOrderRequest> = {}): SubmitOrderRequest {
  return { ...orderRequest(key, "100"), price: "10.5", stopPrice: "", extraFields: [], ...over } as SubmitOrderRequest;
}

describe("OrderEntry", () => {
  it("answers a retry with the same key with the first order and sends nothing more", async () => {
    const { core, connector } = setup();
    const a = await core.submit(req("k1"));
    const b = await core.submit(req("k1"));
    assert.equal(a.replayed, false);
    assert.equal(b.replayed, true);
    assert.equal(b.order.orderId, a.order.orderId);
    assert.equal(connector.wire.length, 1);
  });

  it("refuses the same key for a different order", async () => {
    const { core } = setup();
    await core.submit(req("k2"));
    await assert.rejects(core.submit(req("k2", { quantity: "5" })), { reason: "IDEMPOTENCY_KEY_REUSED" });
  });

  it("takes over a claim whose instance died before storing the order, and sends it once", async () => {
    const { core, repo, connector } = setup({ takeoverMs: 10 });
    // What a dead instance leaves: the key claimed (ids chosen), no order stored, nothing sent.
    const fp = submitFingerprint(req("k3"), new Set([SESSION]));
    await repo.claimIdempotency(
      { key: "k3", fingerprint: fp, orderId: "o-dead", clOrdId: "20261127-dead", at: Date.now() - 1000 },
      60_000,
    );
    const r = await core.submit(req("k3"));
    assert.equal(r.replayed, true);
    assert.equal(r.order.orderId, "o-dead");
    assert.equal(r.order.clOrdId, "20261127-dead");
    assert.equal(connector.wire.length, 1);
    assert.equal((await core.submit(req("k3"))).order.orderId, "o-dead");
    assert.equal(connector.wire.length, 1);
  });

  it("resends a stored order whose send result was lost, under the same connector key: the venue gets it once", async () => {
    const { core, repo, connector } = setup();
    // What a dead instance leaves: the order stored as pending, and the NewOrderSingle already at the connector.
    const made = newRecord(
      {
        orderId: "o-pending",
        sessionId: SESSION,
        clOrdId: "20261127-pend",
        account: "ACC1",
        symbol: "IBM",
        side: "1",
        ordType: "2",
        orderQty: "100",
        price: "10.5",
        timeInForce: "0",
        idempotencyKey: "k5",
      },
      1,
      Date.now() - 5000,
    );
    assert.ok("record" in made);
    await repo.create(made.record, Date.now());
    const fp = submitFingerprint(req("k5"), new Set([SESSION]));
    await repo.claimIdempotency(
      { key: "k5", fingerprint: fp, orderId: "o-pending", clOrdId: "20261127-pend", at: Date.now() - 5000 },
      60_000,
    );
    await connector.send({ sessionId: SESSION, idempotencyKey: "20261127-pend", ...newOrderSingle(made.record) });
    const r = await core.submit(req("k5"));
    assert.equal(r.replayed, true);
    assert.equal(r.order.orderId, "o-pending");
    assert.equal(connector.wire.filter((m) => m.idempotencyKey === "20261127-pend").length, 1);
    assert.equal((await repo.get("o-pending"))?.send, "sent");
  });

  it("resolves in the background an order a dead instance stored but never sent, once, with no client retry", async () => {
    const { core, repo, connector } = setup({ takeoverMs: 10 });
    const made = newRecord(
      {
        orderId: "o-orphan",
        sessionId: SESSION,
        clOrdId: "20261127-orph",
        account: "ACC1",
        symbol: "IBM",
        side: "1",
        ordType: "2",
        orderQty: "5",
        price: "10",
        timeInForce: "0",
      },
      1,
      Date.now() - 1000,
    );
    assert.ok("record" in made);
    await repo.create(made.record, Date.now());
    assert.equal(await core.recoverPendingSends(), 1);
    assert.equal(await core.recoverPendingSends(), 0);
    assert.equal(connector.wire.filter((m) => m.idempotencyKey === "20261127-orph").length, 1);
    assert.equal((await repo.get("o-orphan"))?.send, "sent");
  });

  it("refuses with RISK_UNAVAILABLE when risk does not answer, stores and sends nothing, and frees the key", async () => {
    const { core, risk, connector, repo } = setup();
    risk.down = true;
    const e = await core.submit(req("k6")).catch((x: unknown) => x);
    assert.ok(e instanceof RpcError);
    assert.equal(e.code, Code.UNAVAILABLE);
    assert.equal(e.reason, "RISK_UNAVAILABLE");
    assert.equal(connector.wire.length, 0);
    assert.equal((await repo.list({}, 10)).records.length, 0);
    risk.down = false;
    assert.equal((await core.submit(req("k6"))).replayed, false);
  });

  it("refuses with SESSION_NOT_LIVE before asking risk when the session is not LIVE", async () => {
    const { core, risk, connector } = setup();
    connector.health = SessionHealth.SAFE;
    await assert.rejects(core.submit(req("k7")), { reason: "SESSION_NOT_LIVE", code: Code.FAILED_PRECONDITION });
    assert.equal(risk.checks, 0);
  });

  it("keeps an order pending when the connector could not confirm it stored it; a retry learns the stored send", async () => {
    const { core, connector, repo } = setup();
    connector.loseAnswer = true;
    await assert.rejects(core.submit(req("k9")), { code: Code.UNAVAILABLE, reason: "PERSIST_FAILED" });
    const [rec] = (await repo.list({}, 10)).records;
    assert.equal(rec?.send, "pending", "not marked unsent: it may reach the venue");
    const again = await core.submit(req("k9"));
    assert.equal(again.order.orderId, rec?.order.id);
    assert.equal(connector.wire.length, 1, "sent once");
    const [after] = (await repo.list({}, 10)).records;
    assert.equal(after?.send, "sent");
    assert.equal(after?.msgSeqNum, 1);
  });

  it("resolves in the background an order the connector answered PERSIST_FAILED, with no client retry", async () => {
    const { core, connector, repo } = setup({ takeoverMs: 10 });
    connector.loseAnswer = true;
    await assert.rejects(core.submit(req("k10")), { reason: "PERSIST_FAILED" });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await core.recoverPendingSends(), 1);
    const [rec] = (await repo.list({}, 10)).records;
    assert.equal(rec?.send, "sent");
    assert.equal(connector.wire.length, 1, "the connector answered the stored send: nothing more went out");
  });

  describe("a cancel or replace the connector could not confirm", () => {
    it("a cancel stored but unconfirmed: the retry with the same key learns it was sent, and the venue gets it once", async () => {
      const { core, connector, repo } = setup();
      const id = (await core.submit(req("c1"))).order.orderId as string;
      connector.loseAnswer = true;
      await assert.rejects(core.cancel(cancelReq(id, "cx1")), (err: RpcError) => {
        assert.equal(err.code, Code.UNAVAILABLE);
        assert.equal(err.reason, "PERSIST_FAILED");
        assert.match(err.message, /retry with the same idempotency key/);
        return true;
      });
      const cancels = () => connector.wire.filter((m) => m.msgType === "F");
      assert.equal(cancels().length, 1);
      assert.equal((await repo.get(id))?.order.pendingCancel, undefined, "not recorded yet");
      const again = await core.cancel(cancelReq(id, "cx1"));
      assert.equal(again.replayed, true);
      assert.equal(cancels().length, 1, "the connector answered the stored cancel: no second cancel went out");
      const rec = await repo.get(id);
      assert.equal(rec?.order.pendingCancel, cancels()[0]?.idempotencyKey, "the cancel that went is recorded");
      // Settled: a third call answers from the order, sending nothing.
      assert.equal((await core.cancel(cancelReq(id, "cx1"))).replayed, true);
      assert.equal(cancels().length, 1);
      assert.equal((await repo.getIdempotency("cancel:cx1"))?.unconfirmed, undefined);
    });

    it("a cancel the connector never stored: the retry with the same key sends it, once", async () => {
      const { core, connector, repo } = setup();
      const id = (await core.submit(req("c2"))).order.orderId as string;
      connector.failWrite = true;
      await assert.rejects(core.cancel(cancelReq(id, "cx2")), { reason: "PERSIST_FAILED" });
      assert.equal(connector.wire.filter((m) => m.msgType === "F").length, 0);
      const again = await core.cancel(cancelReq(id, "cx2"));
      assert.equal(again.replayed, false, "sent now, not the answer of an earlier send");
      const cancels = connector.wire.filter((m) => m.msgType === "F");
      assert.equal(cancels.length, 1);
      assert.equal((await repo.get(id))?.order.pendingCancel, cancels[0]?.idempotencyKey);
    });

    it("a replace stored but unconfirmed: the retry resends the identical message without a second risk check", async () => {
      const { core, connector, repo, risk } = setup();
      const id = (await core.submit(req("c3"))).order.orderId as string;
      connector.loseAnswer = true;
      await assert.rejects(core.replace(replaceReq(id, "60", "rx3")), { reason: "PERSIST_FAILED" });
      const checks = risk.checks;
      const again = await core.replace(replaceReq(id, "60", "rx3"));
      assert.equal(again.replayed, true);
      assert.equal(risk.checks, checks, "checked when it was first sent");
      assert.equal(connector.wire.filter((m) => m.msgType === "G").length, 1);
      const order = (await repo.get(id))?.order;
      assert.equal(order?.requests.find((r) => r.clOrdID === order.pendingReplace)?.orderQty, "60");
      // The same key with other terms is still a different request.
      await assert.rejects(core.replace(replaceReq(id, "70", "rx3")), {
        reason: "IDEMPOTENCY_KEY_REUSED",
      });
    });

    it("without a key: UNAVAILABLE saying it may still reach the venue; nothing is recorded on the order", async () => {
      const { core, connector, repo } = setup();
      const id = (await core.submit(req("c4"))).order.orderId as string;
      connector.loseAnswer = true;
      await assert.rejects(core.cancel(cancelReq(id)), (err: RpcError) => {
        assert.equal(err.code, Code.UNAVAILABLE);
        assert.match(err.message, /may still reach the venue: the order's updates will tell/);
        return true;
      });
      assert.equal((await repo.get(id))?.order.pendingCancel, undefined);
    });

    it("a cancel the connector refused releases its key: a retry asks again", async () => {
      const { core, connector } = setup();
      const id = (await core.submit(req("c5"))).order.orderId as string;
      connector.refuse = new RpcError(Code.FAILED_PRECONDITION, "SESSION_NOT_LOGGED_ON", "not logged on");
      await assert.rejects(core.cancel(cancelReq(id, "cx5")), { reason: "SESSION_NOT_LIVE" });
      connector.refuse = null;
      const again = await core.cancel(cancelReq(id, "cx5"));
      assert.equal(again.replayed, false);
      assert.equal(connector.wire.filter((m) => m.msgType === "F").length, 1);
    });
  });

  it("marks an order the connector refused as REJECTED, and a retry gets the refusal again", async () => {
    const { core, connector, repo } = setup();
    connector.refuse = new RpcError(Code.FAILED_PRECONDITION, "SESSION_NOT_LOGGED_ON", "not logged on");
    await assert.rejects(core.submit(req("k8")), { reason: "SESSION_NOT_LIVE" });
    const [rec] = (await repo.list({}, 10)).records;
    assert.equal(rec?.send, "failed");
    connector.refuse = null;
    await assert.rejects(core.submit(req("k8")), { reason: "SEND_REFUSED" });
    assert.equal(connector.wire.length, 0);
    const o = await core.getOrder({ orderId: rec!.order.id } as never);
    assert.equal(o.status, OrderStatus.REJECTED);
  });
});
