/**
 * Two risk instances on a real Redis and NATS JetStream (each test on its own streams, subjects and key prefix):
 * a kill switch engaged through one refuses orders on the other at once; positions follow fills once, with the
 * fill events duplicated on the stream, and a restarted instance rebuilds the same positions from the stream.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { type AuditEvent, type Delivered, JetStreamBus, type OrderEvent } from "@fixmesh/bus";
import { createGrpcClient, type GrpcClientOf, KillSwitchScope, RiskService } from "@fixmesh/contracts";
import * as grpc from "@grpc/grpc-js";
import { Redis } from "ioredis";
import { pino } from "pino";
import { parseRiskConfig, type RiskConfig } from "./config/config.js";
import { orderEvent } from "./engine/testkit.js";
import { checkRequest } from "./grpc/testkit.js";
import { type RiskHandle, startRisk } from "./service.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const quiet = pino({ level: "silent" });
const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
after(() => admin.quit());

interface Env {
  tag: string;
  config(id: string): RiskConfig;
  orders: JetStreamBus;
  audit: JetStreamBus;
  cleanup(): Promise<void>;
}

async function env(): Promise<Env> {
  const tag = `rt${randomBytes(4).toString("hex")}`;
  const yaml = `
risk: { id: ID }
grpc: { plaintext: true, port: 0 }
state: { kind: redis, redis: { url: "${REDIS_URL}", prefix: "fixmesh-test-${tag}" } }
bus:
  kind: nats
  catchUpTimeoutMs: 20000
  nats:
    url: "${NATS_URL}"
    ordersStream: ${tag.toUpperCase()}_ORDERS
    ordersPrefix: ${tag}.orders
    fixStream: ${tag.toUpperCase()}_FIX
    fixPrefix: ${tag}.fix
    auditStream: ${tag.toUpperCase()}_AUDIT
    auditPrefix: ${tag}.audit
log: { level: silent }
`;
  const orders = await JetStreamBus.connect({
    servers: NATS_URL,
    stream: `${tag.toUpperCase()}_ORDERS`,
    subjects: [`${tag}.orders.>`],
  });
  const audit = await JetStreamBus.connect({
    servers: NATS_URL,
    stream: `${tag.toUpperCase()}_AUDIT`,
    subjects: [`${tag}.audit.>`],
  });
  return {
    tag,
    config: (id) => parseRiskConfig(yaml.replace("ID", id), { env: {} }),
    orders,
    audit,
    async cleanup() {
      const fix = await JetStreamBus.connect({
        servers: NATS_URL,
        stream: `${tag.toUpperCase()}_FIX`,
        subjects: [`${tag}.fix.>`],
      });
      for (const b of [orders, audit, fix]) {
        await b.deleteStream().catch(() => undefined);
        await b.close();
      }
      const keys = await admin.keys(`fixmesh-test-${tag}:*`);
      if (keys.length > 0) await admin.del(...keys);
    },
  };
}

function clientOf(risk: RiskHandle): { client: GrpcClientOf<typeof RiskService>; close(): void } {
  const conn = new grpc.Client(`127.0.0.1:${risk.port}`, grpc.credentials.createInsecure());
  return { client: createGrpcClient(RiskService, conn), close: () => conn.close() };
}

const order = checkRequest({ quantity: "10" });

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("two risk instances on Redis and NATS", () => {
  it("a kill switch engaged through one instance refuses orders on the other at once, and is audited", async () => {
    const e = await env();
    const a = await startRisk(e.config("a"), { logger: quiet });
    const b = await startRisk(e.config("b"), { logger: quiet });
    const ca = clientOf(a);
    const cb = clientOf(b);
    const audits: AuditEvent[] = [];
    const sub = await e.audit.subscribe(
      `${e.tag}.audit.>`,
      (d: Delivered) => audits.push(JSON.parse(Buffer.from(d.payload).toString())),
      { fromSeq: 1 },
    );
    try {
      assert.equal((await cb.client.checkOrder(order)).allowed, true);
      const t0 = performance.now();
      await ca.client.setKillSwitch({
        scope: KillSwitchScope.GLOBAL,
        engaged: true,
        reason: "drill",
        operator: "bob",
        cancelOpenOrders: true,
      });
      const refused = await until(
        "B refuses",
        () => cb.client.checkOrder(order),
        (r) => !r.allowed,
        5000,
      );
      console.log(`# instance B refused ${(performance.now() - t0).toFixed(1)} ms after A's SetKillSwitch returned`);
      assert.deepEqual([refused.rule, refused.limit, refused.value], ["KILL_SWITCH", "global", "engaged"]);
      assert.deepEqual(
        (await cb.client.getKillSwitches({})).killSwitches.map((k) => [
          KillSwitchScope[k.scope],
          k.engaged,
          k.operator,
        ]),
        [["GLOBAL", true, "bob"]],
      );
      await cb.client.setKillSwitch({
        scope: KillSwitchScope.GLOBAL,
        engaged: false,
        reason: "drill over",
        operator: "bob",
      });
      await until(
        "A allows again",
        () => ca.client.checkOrder({ ...order, quantity: "11" }),
        (r) => r.allowed,
        5000,
      );
      await until(
        "two audit events",
        async () => audits.length,
        (n) => n >= 2,
        5000,
      );
      assert.deepEqual(
        audits.map((x) => [x.action, x.principal, x.resource, x.detail]),
        [
          ["SetKillSwitch", "bob", "global", "engaged, cancel open orders"],
          ["SetKillSwitch", "bob", "global", "released"],
        ],
      );
    } finally {
      await sub.unsubscribe();
      ca.close();
      cb.close();
      await a.close();
      await b.close();
      await e.cleanup();
    }
  });

  it("positions follow fills once, duplicated fill events included; a restarted instance rebuilds the same", async () => {
    const e = await env();
    const publish = (ev: OrderEvent, id = `${ev.orderId}:${ev.version}`) =>
      e.orders.publish([
        { id, subject: `${e.tag}.orders.S.${ev.order.account}`, payload: Buffer.from(JSON.stringify(ev)) },
      ]);
    const fill1 = orderEvent({
      orderId: "O1",
      version: 2,
      status: "PARTIALLY_FILLED",
      cumQty: "30",
      leavesQty: "70",
      fill: { execId: "EX1", lastQty: "30" },
    });
    const fill2 = orderEvent({
      orderId: "O1",
      version: 3,
      status: "FILLED",
      cumQty: "100",
      leavesQty: "0",
      fill: { execId: "EX2", lastQty: "70" },
    });
    // Before the instance starts: it must replay these.
    await publish(orderEvent({ orderId: "O1", version: 1, status: "NEW", leavesQty: "100" }));
    await publish(fill1);
    await publish(fill1, "O1:2:republished"); // the same execution again, under another event id (a real duplicate on the stream)
    let a = await startRisk(e.config("a"), { logger: quiet });
    let c = clientOf(a);
    try {
      const pos = (await c.client.getPositions({ account: "ACC1" })).positions;
      assert.deepEqual(
        [pos[0].boughtQty, pos[0].openBuyQty, pos[0].openOrders],
        ["30", "70", 1],
        "replayed at start, fill counted once",
      );
      // Live: the last fill, twice, and a sell on another order.
      await publish(fill2);
      await publish({ ...fill2, version: 4 }, "O1:4:possdup-copy");
      await publish(
        orderEvent({
          orderId: "O2",
          version: 1,
          side: "SELL",
          status: "FILLED",
          quantity: "25",
          cumQty: "25",
          leavesQty: "0",
          fill: { execId: "EX3", lastQty: "25" },
        }),
      );
      const live = await until(
        "fills applied",
        async () => (await c.client.getPositions({ account: "ACC1", symbol: "IBM" })).positions[0],
        (p) => p?.soldQty === "25",
      );
      assert.deepEqual(
        [live.netQty, live.boughtQty, live.soldQty, live.openBuyQty, live.openOrders],
        ["75", "100", "25", "0", 0],
      );
      assert.equal(a.stats.duplicateFills, 2);

      c.close();
      await a.close();
      a = await startRisk(e.config("a"), { logger: quiet });
      c = clientOf(a);
      const again = (await c.client.getPositions({ account: "ACC1", symbol: "IBM" })).positions[0];
      assert.deepEqual([again.netQty, again.boughtQty, again.soldQty], ["75", "100", "25"], "the same after a restart");
      // The rebuilt position is what the rules use: 75 long + 30 > 100.
      await c.client.setLimits({ limitSet: { normal: { maxPosition: "100" } }, reason: "test" });
      const r = await c.client.checkOrder({ ...order, quantity: "30" });
      assert.deepEqual([r.allowed, r.rule, r.limit, r.value], [false, "MAX_POSITION", "100", "105"]);
    } finally {
      c.close();
      await a.close();
      await e.cleanup();
    }
  });

  it("an instance's own durable stays while it runs and is removed once it is gone for bus.durableInactiveMs", async () => {
    const e = await env();
    const withThreshold = (id: string, ms: number): RiskConfig => {
      const c = e.config(id);
      return { ...c, bus: { ...c.bus, durableInactiveMs: ms } };
    };
    const exists = (name: string) =>
      e.orders.durableInfo(name).then(
        () => true,
        () => false,
      );
    const pod = await startRisk(withThreshold("pod-1", 1000), { logger: quiet });
    const keeper = await startRisk(withThreshold("pod-2", 0), { logger: quiet });
    try {
      assert.equal(await exists("risk-pod-1"), true);
      // Idle for three thresholds while running: the instance's reads keep its durable.
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(await exists("risk-pod-1"), true, "kept while the instance reads it");
      await pod.close();
      await keeper.close();
      await until(
        "the gone instance's durable removed",
        () => exists("risk-pod-1"),
        (v) => !v,
        15_000,
      );
      assert.equal(await exists("risk-pod-2"), true, "durableInactiveMs 0 keeps the durable");
    } finally {
      await pod.close();
      await keeper.close();
      await e.cleanup();
    }
  });
});
