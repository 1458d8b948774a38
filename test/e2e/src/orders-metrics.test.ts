/**
 * order-entry's and risk's Prometheus endpoints, scraped from the running processes (connector, risk, order-entry
 * each its own process, real Redis and NATS) after orders went through: a fill, a risk refusal, a bad field.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { OrderStatus, RpcError } from "@fixmesh/contracts";
import { type OrderEntryClient, orderEntryClient } from "@fixmesh/order-entry";
import {
  eventually,
  NATS_URL,
  OrdersStack,
  REDIS_URL,
  type ServiceProcess,
  spawnFixmesh,
  submitReq,
  UpdateCollector,
} from "./orders-harness.js";

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

/** The value of one sample line (`name{labels} value`), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("order-entry and risk metrics, from the processes", { timeout: 180_000 }, () => {
  const stack = new OrdersStack();
  let client: OrderEntryClient;
  let risk: ServiceProcess;
  let oeMetrics = 0;

  before(async () => {
    await stack.start({ risk: "real" });
    const n = stack.names;
    writeFileSync(
      join(stack.dir, "limits.yaml"),
      'limits:\n  - normal: { maxOrderQty: 1000 }\n    referencePrices: { IBM: "100" }\n',
    );
    const riskFile = join(stack.dir, "risk-metrics.yaml");
    writeFileSync(
      riskFile,
      [
        "risk: { id: risk-metrics }",
        "grpc: { host: 127.0.0.1, port: 0, plaintext: true }",
        "limits: { file: limits.yaml }",
        `state: { kind: redis, redis: { url: "${REDIS_URL}", prefix: ${n.redisPrefix}-risk } }`,
        `bus: { kind: nats, nats: { url: "${NATS_URL}", ordersStream: ${n.ordersStream}, ordersPrefix: ${n.ordersPrefix}, fixStream: ${n.fixStream}, fixPrefix: ${n.fixPrefix}, auditStream: AUDTEST_${n.fixPrefix}, auditPrefix: a_${n.fixPrefix} } }`,
        "metrics: { host: 127.0.0.1, port: 0 }",
        "log: { level: warn }",
        "",
      ].join("\n"),
    );
    risk = await spawnFixmesh("risk", ["risk-service", "--config", riskFile]);
    stack.riskProc = risk;
    stack.riskAddress = `127.0.0.1:${(risk.listening as { grpc: number }).grpc}`;
    const file = join(stack.dir, "order-entry-metrics.yaml");
    writeFileSync(file, `${stack.orderEntryYaml({ id: "oe-metrics" })}metrics: { host: 127.0.0.1, port: 0 }\n`);
    const proc = await spawnFixmesh("order-entry", ["order-entry", "--config", file]);
    stack.orderEntries.push(proc);
    const line = proc.stdout.find((l) => l.startsWith('{"metrics"'));
    assert.ok(line, "order-entry printed its metrics port");
    oeMetrics = (JSON.parse(line) as { metrics: number }).metrics;
    client = orderEntryClient(`127.0.0.1:${proc.listening as number}`);
  });
  after(async () => {
    client?.close();
    await stack.stop();
  });

  it("counts orders by outcome, reports, latencies, open orders and subscribers; risk counts checks by rule", async () => {
    const updates = new UpdateCollector(client);
    try {
      const ok = await client.rpc.submitOrder(submitReq("IBM"), { deadline: Date.now() + 10_000 });
      await eventually(
        async () =>
          (await client.rpc.getOrder({ orderId: ok.order!.orderId })).order?.status === OrderStatus.FILLED || undefined,
        20_000,
        "FILLED",
      );
      const big = await client.rpc.submitOrder(submitReq("IBM", { quantity: "5000" })).catch((e: unknown) => e);
      assert.ok(big instanceof RpcError && big.reason === "RISK_REJECTED");
      const bad = await client.rpc.submitOrder(submitReq("IBM", { quantity: "-1" })).catch((e: unknown) => e);
      assert.ok(bad instanceof RpcError && bad.reason === "INVALID_FIELD");

      const oe = await eventually(
        async () => {
          const t = await scrape(oeMetrics);
          return (sample(t, "fixmesh_order_entry_executions_applied_total") ?? 0) >= 2 ? t : undefined;
        },
        10_000,
        "the acknowledgement and the fill applied",
      );
      assert.equal(sample(oe, "fixmesh_order_entry_orders_submitted_total"), 3);
      assert.equal(sample(oe, 'fixmesh_order_entry_orders_accepted_total{replayed="false"}'), 1);
      assert.equal(sample(oe, 'fixmesh_order_entry_orders_rejected_total{reason="RISK_REJECTED"}'), 1);
      assert.equal(sample(oe, 'fixmesh_order_entry_orders_rejected_total{reason="INVALID_FIELD"}'), 1);
      assert.equal(sample(oe, "fixmesh_order_entry_submit_seconds_count"), 3);
      assert.equal(sample(oe, 'fixmesh_order_entry_risk_check_seconds_count{outcome="allowed"}'), 1);
      assert.equal(sample(oe, 'fixmesh_order_entry_risk_check_seconds_count{outcome="refused"}'), 1);
      assert.equal(sample(oe, 'fixmesh_order_entry_connector_send_seconds_count{outcome="ok"}'), 1);
      assert.equal(sample(oe, "fixmesh_order_entry_duplicate_reports_total"), 0);
      assert.equal(sample(oe, "fixmesh_order_entry_unknown_reports_total"), 0);
      assert.equal(sample(oe, "fixmesh_order_entry_open_orders"), 0);
      assert.equal(sample(oe, "fixmesh_order_entry_update_subscribers"), 1);
      assert.match(
        oe,
        new RegExp(
          `^fixmesh_consumer_lag_messages\\{stream="${stack.names.fixStream}",consumer="order-entry"\\} \\d+$`,
          "m",
        ),
      );

      const r = await scrape((risk.listening as { metrics: number }).metrics);
      assert.equal(sample(r, 'fixmesh_risk_checks_total{outcome="allowed",rule=""}'), 1);
      assert.equal(sample(r, 'fixmesh_risk_checks_total{outcome="refused",rule="MAX_ORDER_QTY"}'), 1);
      assert.equal(sample(r, "fixmesh_risk_check_seconds_count"), 2);
      assert.match(r, /^fixmesh_consumer_lag_messages\{stream="ORDTEST_\w+",consumer="risk-risk-metrics"\} \d+$/m);
    } finally {
      updates.cancel();
    }
    const after = await eventually(
      async () => {
        const t = await scrape(oeMetrics);
        return sample(t, "fixmesh_order_entry_update_subscribers") === 0 ? t : undefined;
      },
      5000,
      "the cancelled update stream gone",
    );
    assert.ok(after);
  });
});
