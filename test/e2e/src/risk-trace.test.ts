/**
 * The risk service as its own process, exporting its spans over OTLP/HTTP to a collector this test runs: a check
 * sent on CheckOrderStream with the order's traceparent gets a `risk.check` server span in that trace, child of
 * the caller's span, naming the refusing rule.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type CheckOrderStreamResponse,
  createGrpcClient,
  OrderType,
  RiskCheckKind,
  RiskService,
  SessionHealth,
  Side,
} from "@fixmesh/contracts";
import { type OtlpCollector, startOtlpCollector } from "@fixmesh/telemetry/testing";
import * as grpc from "@grpc/grpc-js";
import { SESSION, type ServiceProcess, spawnFixmesh } from "./orders-harness.js";

describe("risk spans", { timeout: 60_000 }, () => {
  let collector: OtlpCollector;
  let risk: ServiceProcess;
  const dir = mkdtempSync(join(tmpdir(), "risk-trace-"));

  before(async () => {
    collector = await startOtlpCollector();
    const file = join(dir, "risk.yaml");
    writeFileSync(join(dir, "limits.yaml"), "limits:\n  - normal: { maxOrderQty: 100 }\n");
    writeFileSync(
      file,
      "grpc: { plaintext: true, host: 127.0.0.1, port: 0 }\nlimits: { file: limits.yaml }\nlog: { level: warn }\n",
    );
    risk = await spawnFixmesh("risk", ["risk-service", "--config", file], collector.env("fixmesh-risk"));
  });

  after(async () => {
    await risk?.stop();
    await collector?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a streamed check continues the order's trace: risk.check, child of the caller's span, with the rule", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentSpanId = "00f067aa0ba902b7";
    const conn = new grpc.Client(
      `127.0.0.1:${(risk.listening as { grpc: number }).grpc}`,
      grpc.credentials.createInsecure(),
    );
    const client = createGrpcClient(RiskService, conn);
    const stream = client.checkOrderStream();
    const answer = new Promise<CheckOrderStreamResponse>((resolve, reject) => {
      stream.on("data", resolve);
      stream.on("error", reject);
    });
    stream.write({
      correlationId: "t1",
      traceparent: `00-${traceId}-${parentSpanId}-01`,
      check: {
        kind: RiskCheckKind.NEW,
        sessionId: SESSION,
        account: "ACC1",
        symbol: "IBM",
        side: Side.BUY,
        quantity: "500",
        orderType: OrderType.LIMIT,
        price: "100",
        sessionHealth: SessionHealth.LIVE,
      },
    });
    const a = await answer;
    stream.end();
    conn.close();
    assert.equal(a.result?.rule, "MAX_ORDER_QTY");
    const spans = await collector.waitForTrace(traceId, ["risk.check"], { timeoutMs: 15_000 });
    const span = spans.find((s) => s.name === "risk.check");
    assert.ok(span);
    assert.equal(span.parentSpanId, parentSpanId);
    assert.equal(span.serviceName, "fixmesh-risk");
    assert.equal(span.kind, 2, "a server span");
    assert.equal(span.attributes["fixmesh.risk.rule"], "MAX_ORDER_QTY");
    assert.equal(span.attributes["fixmesh.risk.allowed"], false);
  });
});
