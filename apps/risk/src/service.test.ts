/**
 * The risk service embedded (in-process bus, kill switches in memory) over real gRPC on loopback: checks one by
 * one and on the stream, bad fields named, positions from order events on the bus, kill switches and limit
 * changes audited as events, health.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { AuditEvent, Delivered } from "@fixmesh/bus";
import { InProcessBus, orderEventId, orderSubject, stateSubject } from "@fixmesh/bus";
import {
  type CheckOrderStreamResponse,
  checkHealth,
  createGrpcClient,
  type GrpcClientOf,
  KillSwitchScope,
  OrderType,
  RiskService,
  RpcError,
  reflectedServiceNames,
  Side,
} from "@fixmesh/contracts";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { parseRiskConfig } from "./config/config.js";
import { orderEvent, SESSION } from "./engine/testkit.js";
import { checkRequest as check } from "./grpc/testkit.js";
import { type RiskHandle, startRisk } from "./service.js";

const quiet = pino({ level: "silent" });

describe("risk service over gRPC (embedded)", () => {
  const bus = new InProcessBus();
  const audits: AuditEvent[] = [];
  let risk: RiskHandle;
  let conn: grpc.Client;
  let client: GrpcClientOf<typeof RiskService>;

  before(async () => {
    await bus.subscribe("audit.>", (d: Delivered) => audits.push(JSON.parse(Buffer.from(d.payload).toString())));
    const config = parseRiskConfig("grpc: { plaintext: true, port: 0 }\nlog: { level: silent }\n", { env: {} });
    risk = await startRisk(config, { buses: { orders: bus, fix: bus, audit: bus }, logger: quiet });
    conn = new grpc.Client(`127.0.0.1:${risk.port}`, grpc.credentials.createInsecure());
    client = createGrpcClient(RiskService, conn);
    await client.setLimits(
      {
        limitSet: { normal: { maxOrderQty: "1000", maxPosition: "500" }, referencePrices: { IBM: "100" } },
        reason: "test setup",
      },
      { deadline: Date.now() + 5000 },
    );
  });

  after(async () => {
    conn.close();
    await risk.close();
    await bus.close();
  });

  it("answers CheckOrder: allowed, then refused naming the rule, the limit and the value", async () => {
    const ok = await client.checkOrder(check({ idempotencyKey: "a1" }));
    assert.equal(ok.allowed, true);
    assert.equal(ok.limitSet, "normal");
    const no = await client.checkOrder(check({ quantity: "1500" }));
    assert.deepEqual([no.allowed, no.rule, no.limit, no.value], [false, "MAX_ORDER_QTY", "1000", "1500"]);
  });

  it("refuses a malformed request with INVALID_ARGUMENT naming the field", async () => {
    await assert.rejects(client.checkOrder(check({ quantity: "-5" })), (e: unknown) => {
      const err = RpcError.from(e);
      return err.code === grpc.status.INVALID_ARGUMENT && err.metadata.field === "quantity";
    });
    await assert.rejects(client.checkOrder(check({ orderType: OrderType.LIMIT, price: "" })), (e: unknown) => {
      return RpcError.from(e).metadata.field === "price";
    });
  });

  it("answers many checks on one stream, each with its correlation id; a bad one gets an error and the stream goes on", async () => {
    const stream = client.checkOrderStream();
    const answers = new Map<string, CheckOrderStreamResponse>();
    const done = new Promise<void>((resolve, reject) => {
      stream.on("data", (f: CheckOrderStreamResponse) => {
        answers.set(f.correlationId, f);
        if (answers.size === 3) resolve();
      });
      stream.on("error", reject);
      setTimeout(() => reject(new Error("no answers within 5 s")), 5000).unref();
    });
    stream.write({ correlationId: "c1", check: check({ symbol: "MSFT", price: "", orderType: OrderType.MARKET }) });
    stream.write({ correlationId: "c2", check: check({ side: Side.UNSPECIFIED }) });
    stream.write({ correlationId: "c3", check: check({ quantity: "2000" }) });
    await done;
    stream.end();
    assert.equal(answers.get("c1")?.result?.allowed, true);
    assert.equal(answers.get("c2")?.result, undefined);
    const err = RpcError.fromStatus(answers.get("c2")?.error as never);
    assert.equal(err.metadata.field, "check.side");
    assert.equal(answers.get("c3")?.result?.rule, "MAX_ORDER_QTY");
  });

  it("follows order events on the bus: positions count each fill once", async () => {
    const publish = (e: ReturnType<typeof orderEvent>, id = orderEventId(e.orderId, e.version)) =>
      bus.publish([
        { id, subject: orderSubject(e.order.sessionId, e.order.account), payload: Buffer.from(JSON.stringify(e)) },
      ]);
    const fill = orderEvent({
      orderId: "OB1",
      version: 2,
      account: "POS1",
      status: "PARTIALLY_FILLED",
      cumQty: "40",
      leavesQty: "60",
      fill: { execId: "X1", lastQty: "40" },
    });
    await publish(orderEvent({ orderId: "OB1", version: 1, account: "POS1", status: "NEW", leavesQty: "100" }));
    await publish(fill);
    await publish(fill, "republished-copy"); // the same execution again, under another event id
    const deadline = Date.now() + 5000;
    let pos = (await client.getPositions({ account: "POS1" })).positions;
    while ((pos.length === 0 || pos[0].boughtQty !== "40" || risk.stats.orderEvents < 3) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      pos = (await client.getPositions({ account: "POS1" })).positions;
    }
    assert.equal(pos.length, 1);
    assert.deepEqual([pos[0].netQty, pos[0].boughtQty, pos[0].openBuyQty, pos[0].openOrders], ["40", "40", "60", 1]);
    assert.equal(risk.stats.duplicateFills, 1);
  });

  it("a kill switch refuses at once, is listed, released, and each change is an audit event", async () => {
    const md = { deadline: Date.now() + 5000 };
    await assert.rejects(
      client.setKillSwitch(
        { scope: KillSwitchScope.ACCOUNT, target: "ACC1", engaged: true, reason: "", operator: "ops" },
        md,
      ),
      (e: unknown) => RpcError.from(e).metadata.field === "reason",
    );
    const r = await client.setKillSwitch(
      {
        scope: KillSwitchScope.ACCOUNT,
        target: "ACC1",
        engaged: true,
        reason: "fat finger",
        operator: "alice",
        cancelOpenOrders: true,
      },
      md,
    );
    assert.equal(r.killSwitch?.engaged, true);
    const refused = await client.checkOrder(check());
    assert.deepEqual([refused.allowed, refused.rule, refused.limit], [false, "KILL_SWITCH", "account ACC1"]);
    const listed = await client.getKillSwitches({});
    assert.deepEqual(
      listed.killSwitches.map((k) => [KillSwitchScope[k.scope], k.target, k.engaged, k.operator, k.cancelOpenOrders]),
      [["ACCOUNT", "ACC1", true, "alice", true]],
    );
    await client.setKillSwitch(
      { scope: KillSwitchScope.ACCOUNT, target: "ACC1", engaged: false, reason: "cleared", operator: "alice" },
      md,
    );
    assert.equal((await client.checkOrder(check({ quantity: "7" }))).allowed, true);
    const ks = audits.filter((a) => a.action === "SetKillSwitch");
    assert.deepEqual(
      ks.map((a) => [a.service, a.principal, a.resource, a.reason, a.detail]),
      [
        // The refused call (no reason) is audited as failed by the gRPC layer: without authorization the caller
        // is `anonymous`.
        ["risk", "anonymous", "ACC1", undefined, "INVALID_ARGUMENT: reason: is required"],
        ["risk", "alice", "account ACC1", "fat finger", "engaged, cancel open orders"],
        ["risk", "alice", "account ACC1", "cleared", "released"],
      ],
    );
    const limits = audits.filter((a) => a.action === "SetLimits");
    assert.equal(limits.length, 1);
    assert.equal(limits[0].reason, "test setup");
    assert.equal(limits[0].resource, "global");
  });

  it("GetLimits shows what SetLimits set; a SetLimits without a reason is refused", async () => {
    const l = await client.getLimits({});
    assert.equal(l.limitSets.length, 1);
    assert.equal(l.limitSets[0].normal?.maxOrderQty, "1000");
    assert.equal(l.limitSets[0].referencePrices.IBM, "100");
    await assert.rejects(client.setLimits({ limitSet: { normal: { maxOrderQty: "1" } }, reason: "" }), (e: unknown) => {
      return RpcError.from(e).metadata.field === "reason";
    });
    await assert.rejects(
      client.setLimits({ limitSet: { normal: { maxNotional: "lots" } }, reason: "x" }),
      (e: unknown) => RpcError.from(e).metadata.field === "limit_set.normal.max_notional",
    );
  });

  it("follows the session's own state events: SAFE refuses whatever the request says, DEGRADED applies the degraded set", async () => {
    const health = (to: string, n: number) =>
      bus.publish([
        {
          id: `state-${n}`,
          subject: stateSubject(SESSION),
          payload: Buffer.from(
            JSON.stringify({
              session: SESSION,
              cycle: "c1",
              at: n,
              notice: { kind: "health", from: "LIVE", to, reason: "test" },
            }),
          ),
        },
      ]);
    await client.setLimits(
      { limitSet: { scope: { sessionId: SESSION }, degraded: { maxOrderQty: "20" } }, reason: "degraded set" },
      { deadline: Date.now() + 5000 },
    );
    await health("SAFE", 1);
    const safe = await client.checkOrder(check({ quantity: "3" }));
    assert.deepEqual([safe.allowed, safe.rule, safe.value], [false, "SESSION_NOT_LIVE", "SAFE"]);
    await health("DEGRADED", 2);
    const degraded = await client.checkOrder(check({ quantity: "30" }));
    assert.deepEqual(
      [degraded.allowed, degraded.rule, degraded.limit, degraded.limitSet],
      [false, "MAX_ORDER_QTY", "20", "degraded"],
    );
    await health("LIVE", 3);
    assert.equal((await client.checkOrder(check({ quantity: "30", price: "100.5" }))).allowed, true);
  });

  it("serves grpc.health.v1: SERVING", async () => {
    assert.equal(await checkHealth(`127.0.0.1:${risk.port}`), "SERVING");
    assert.equal(await checkHealth(`127.0.0.1:${risk.port}`, "fixmesh.v1.RiskService"), "SERVING");
  });

  it("serves server reflection: grpcurl can list RiskService", async () => {
    assert.deepEqual(await reflectedServiceNames(`127.0.0.1:${risk.port}`), ["fixmesh.v1.RiskService"]);
  });
});
