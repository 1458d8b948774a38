/**
 * `fixmesh connector` as its own process exports its spans from the OTEL_* variables: a traced SendStream from
 * this process (the caller, as order-entry would be) yields the connector process' Send, FIX out and FIX in
 * spans in the caller's trace, received by the OTLP collector this test runs; SIGTERM flushes what is queued.
 * A bad OTEL_* value stops the start, naming the variable.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createGrpcClient, type SendStreamResponse, SessionHealth, SessionService } from "@fixmesh/contracts";
import { formatUtcTimestamp, MsgType, Tag } from "@fixmesh/fix";
import { initTelemetry, SpanKind, type Telemetry, traceparentOf, withSpan } from "@fixmesh/telemetry";
import { type OtlpCollector, parentOf, renderTrace, spanNamed, startOtlpCollector } from "@fixmesh/telemetry/testing";
import type { VenueSim } from "@fixmesh/venue-sim";
import * as grpc from "@grpc/grpc-js";
import {
  connectorYaml,
  SESSION,
  ServiceProcess,
  StreamReader,
  startVenue,
  tempFiles,
  testNames,
} from "./trace-harness.js";

const T = { timeout: 60_000 };
const str = (tag: number, value: string) => ({ tag, value: { case: "stringValue" as const, value } });

describe("fixmesh connector process: spans over OTLP from OTEL_* variables", () => {
  let collector: OtlpCollector;
  let venue: VenueSim;
  let reader: StreamReader;
  let telemetry: Telemetry;
  const files = tempFiles();
  const names = testNames();
  const procs: ServiceProcess[] = [];

  before(async () => {
    collector = await startOtlpCollector();
    telemetry = initTelemetry({ serviceName: "test-client", env: collector.env() });
    venue = await startVenue();
    reader = await StreamReader.open(names);
  });

  after(async () => {
    for (const p of procs) await p.stop();
    await telemetry?.shutdown();
    await venue?.stop(0);
    await reader?.close();
    await collector?.close();
    files.remove();
  });

  it("Send, FIX out D and FIX in 8 come from the connector process, children of the caller's span", T, async () => {
    const config = files.write("connector.yaml", connectorYaml({ venuePort: venue.port, nats: names }));
    const connector = ServiceProcess.start("connector", ["connector", "--config", config], {
      ...collector.env("fixmesh-connector"),
    });
    procs.push(connector);
    const { grpc: port } = await connector.line<{ grpc: number }>("listening");
    const conn = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      const rpc = createGrpcClient(SessionService, conn);
      const end = Date.now() + 15_000;
      for (;;) {
        const { session } = await rpc.getSession({ sessionId: SESSION }, { deadline: Date.now() + 2000 });
        if (session?.health === SessionHealth.LIVE) break;
        if (Date.now() > end) throw new Error("the connector's session never became LIVE");
        await new Promise((r) => setTimeout(r, 50));
      }
      const traceId = await withSpan("order-entry.send (test)", { kind: SpanKind.CLIENT }, async (span) => {
        const call = rpc.sendStream();
        const answered = new Promise<SendStreamResponse>((resolve, reject) => {
          call.on("data", resolve);
          call.on("error", reject);
        });
        call.write({
          sends: [
            {
              correlationId: 1n,
              send: {
                sessionId: SESSION,
                msgType: MsgType.NewOrderSingle,
                traceparent: traceparentOf(),
                fields: [
                  str(Tag.ClOrdID, "PROC-1"),
                  str(Tag.Symbol, "IBM"),
                  str(Tag.Side, "1"),
                  str(Tag.TransactTime, formatUtcTimestamp(Date.now())),
                  str(Tag.OrderQty, "100"),
                  str(Tag.OrdType, "2"),
                  str(Tag.Price, "100"),
                ],
              },
            },
          ],
        });
        const res = await answered;
        call.end();
        assert.equal(res.results[0]?.result.case, "ok");
        return span.spanContext().traceId;
      });
      await telemetry.forceFlush();
      const spans = await collector.waitForTrace(
        traceId,
        ["order-entry.send (test)", "fixmesh.v1.SessionService/SendStream", "FIX out D", "FIX in 8", "FIX in 8"],
        { timeoutMs: 20_000 },
      );
      const tree = renderTrace(spans);
      const caller = spanNamed(spans, "order-entry.send (test)");
      const send = spanNamed(spans, "fixmesh.v1.SessionService/SendStream");
      const wire = spanNamed(spans, "FIX out D");
      assert.equal(caller.serviceName, "test-client");
      for (const s of spans.filter((x) => x !== caller)) assert.equal(s.serviceName, "fixmesh-connector", tree);
      assert.equal(parentOf(spans, send)?.spanId, caller.spanId, tree);
      assert.equal(parentOf(spans, wire)?.spanId, send.spanId, tree);
      for (const s of spans.filter((x) => x.name === "FIX in 8")) assert.equal(s.parentSpanId, wire.spanId, tree);
    } finally {
      conn.close();
    }
    assert.equal(await connector.stop(), 0, connector.stderr);
    assert.deepEqual(collector.errors, []);
  });

  it("a bad OTEL_* value stops the start with exit 2, naming the variable", T, async () => {
    const config = files.write("connector-bad.yaml", connectorYaml({ venuePort: venue.port, nats: names }));
    const p = ServiceProcess.start("connector", ["connector", "--config", config], {
      ...collector.env("fixmesh-connector"),
      OTEL_TRACES_SAMPLER: "sometimes",
    });
    procs.push(p);
    const code = await Promise.race([
      p.exited,
      new Promise<string>((r) => setTimeout(() => r("still running"), 20_000)),
    ]);
    assert.equal(code, 2, p.stderr);
    assert.match(p.stderr, /OTEL_TRACES_SAMPLER: unknown sampler "sometimes"/);
  });
});
