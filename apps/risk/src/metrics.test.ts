/**
 * Risk's Prometheus endpoint, scraped over HTTP while the service answers over gRPC: checks by outcome and rule,
 * check latency, kill switches engaged (and released), limit changes, and the order durable's lag.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { InProcessBus } from "@fixmesh/bus";
import { createGrpcClient, type GrpcClientOf, KillSwitchScope, RiskService } from "@fixmesh/contracts";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { parseRiskConfig } from "./config/config.js";
import { checkRequest as check } from "./grpc/testkit.js";
import { type RiskHandle, startRisk } from "./service.js";

describe("risk metrics", () => {
  const bus = new InProcessBus();
  let risk: RiskHandle;
  let conn: grpc.Client;
  let client: GrpcClientOf<typeof RiskService>;
  const scrape = async () => {
    const res = await fetch(`http://127.0.0.1:${risk.metricsPort}/metrics`);
    assert.equal(res.status, 200);
    return res.text();
  };

  before(async () => {
    const config = parseRiskConfig(
      "grpc: { port: 0, plaintext: true }\nmetrics: { port: 0 }\nlog: { level: silent }\n",
      { env: {} },
    );
    risk = await startRisk(config, { buses: { orders: bus, fix: bus, audit: bus }, logger: pino({ level: "silent" }) });
    conn = new grpc.Client(`127.0.0.1:${risk.port}`, grpc.credentials.createInsecure());
    client = createGrpcClient(RiskService, conn);
  });
  after(async () => {
    conn.close();
    await risk.close();
    await bus.close();
  });

  it("is not served unless configured", async () => {
    const plain = await startRisk(
      parseRiskConfig("grpc: { port: 0, plaintext: true }\nlog: { level: silent }\n", { env: {} }),
      {
        logger: pino({ level: "silent" }),
      },
    );
    assert.equal(plain.metricsPort, null);
    await plain.close();
  });

  it("counts checks by outcome and rule, times them, and shows limit changes and kill switches", async () => {
    await client.setLimits({
      limitSet: { normal: { maxOrderQty: "1000" }, referencePrices: { IBM: "100" } },
      reason: "t",
    });
    await client.checkOrder(check());
    await client.checkOrder(check());
    await client.checkOrder(check({ quantity: "5000" }));
    await client.setKillSwitch({
      scope: KillSwitchScope.ACCOUNT,
      target: "ACC1",
      engaged: true,
      reason: "fat finger",
      operator: "alice",
    });
    await client.checkOrder(check());
    let text = await scrape();
    assert.match(text, /^fixmesh_risk_checks_total\{outcome="allowed",rule=""\} 2$/m);
    assert.match(text, /^fixmesh_risk_checks_total\{outcome="refused",rule="MAX_ORDER_QTY"\} 1$/m);
    assert.match(text, /^fixmesh_risk_checks_total\{outcome="refused",rule="KILL_SWITCH"\} 1$/m);
    assert.match(text, /^fixmesh_risk_check_seconds_count 4$/m);
    assert.match(text, /^fixmesh_risk_limit_changes_total\{source="set_limits"\} 1$/m);
    assert.match(text, /^fixmesh_risk_kill_switch_engaged\{scope="ACCOUNT",target="ACC1"\} 1$/m);
    assert.match(text, /^fixmesh_consumer_lag_messages\{stream="orders",consumer="risk-risk"\} 0$/m);
    await client.setKillSwitch({
      scope: KillSwitchScope.ACCOUNT,
      target: "ACC1",
      engaged: false,
      reason: "fixed",
      operator: "alice",
    });
    text = await scrape();
    assert.match(text, /^fixmesh_risk_kill_switch_engaged\{scope="ACCOUNT",target="ACC1"\} 0$/m);
  });
});
