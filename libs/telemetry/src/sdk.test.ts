import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Metadata } from "@grpc/grpc-js";
import { context, ROOT_CONTEXT, SpanKind } from "@opentelemetry/api";
import { traceLogMixin } from "./logging.js";
import { extractFromHeaders, extractFromMetadata, injectIntoHeaders, injectIntoMetadata } from "./propagation.js";
import { initTelemetry } from "./sdk.js";
import { startSpan, tracingEnabled, withSpan } from "./spans.js";
import { type OtlpCollector, parentOf, spanNamed, startOtlpCollector } from "./testing/index.js";

describe("initTelemetry exports spans over OTLP/HTTP to a collector", () => {
  let collector: OtlpCollector;
  before(async () => {
    collector = await startOtlpCollector();
  });
  after(async () => {
    await collector.close();
  });

  it("one trace across a gRPC hop and a NATS-headers hop, parent links kept, flushed by shutdown", async () => {
    const tel = initTelemetry({
      serviceName: "svc-a",
      env: { ...collector.env(), OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=test" },
    });
    assert.equal(tel.enabled, true);
    assert.equal(tracingEnabled(), true);
    let logged: object = {};
    const traceId = await withSpan("SubmitOrder", { kind: SpanKind.SERVER }, async (root) => {
      // client side of a gRPC call: the context goes into metadata …
      const md = injectIntoMetadata(new Metadata());
      await new Promise((r) => setTimeout(r, 5));
      // … the server side starts from a clean context and continues it
      const serverSpan = context.with(ROOT_CONTEXT, () =>
        startSpan("Send", { kind: SpanKind.SERVER, parent: extractFromMetadata(md) }),
      );
      const headers = injectIntoHeaders({} as Record<string, string>, context.active());
      serverSpan.end();
      withSpan("apply report", { kind: SpanKind.CONSUMER, parent: extractFromHeaders(headers) }, () => {
        logged = traceLogMixin();
      });
      return root.spanContext().traceId;
    });
    assert.deepEqual(traceLogMixin(), {}, "outside a span logs carry no trace fields");
    await tel.shutdown();
    assert.equal(tracingEnabled(), false);

    const spans = await collector.waitForTrace(traceId, ["SubmitOrder", "Send", "apply report"], { timeoutMs: 10_000 });
    const root = spanNamed(spans, "SubmitOrder");
    const send = spanNamed(spans, "Send");
    const apply = spanNamed(spans, "apply report");
    assert.equal(root.parentSpanId, undefined);
    assert.equal(parentOf(spans, send)?.spanId, root.spanId);
    assert.equal(parentOf(spans, apply)?.spanId, root.spanId);
    assert.equal(root.kind, 2, "SERVER");
    assert.equal(apply.kind, 5, "CONSUMER");
    assert.equal(root.serviceName, "svc-a");
    assert.equal(root.resource["deployment.environment"], "test");
    assert.deepEqual(logged, { traceId, spanId: apply.spanId });
    assert.deepEqual(collector.errors, []);
  });

  it("a failing function marks its span as an error with the exception, and rethrows", async () => {
    const tel = initTelemetry({ serviceName: "svc-b", env: collector.env() });
    let traceId = "";
    await assert.rejects(
      withSpan("CheckOrder", {}, async (span) => {
        traceId = span.spanContext().traceId;
        throw new Error("max order qty 100 exceeded: 500");
      }),
      /max order qty/,
    );
    await tel.shutdown();
    const [span] = await collector.waitForTrace(traceId, ["CheckOrder"]);
    assert.equal(span.statusCode, 2);
    assert.match(span.statusMessage, /max order qty/);
    assert.equal(span.events[0]?.name, "exception");
    assert.equal(span.serviceName, "svc-b");
  });

  it("OTEL_SDK_DISABLED=true: spans are no-ops and nothing is exported", async () => {
    const before = collector.requests;
    const tel = initTelemetry({ serviceName: "svc-c", env: { ...collector.env(), OTEL_SDK_DISABLED: "true" } });
    assert.equal(tel.enabled, false);
    const sc = withSpan("nothing", {}, (span) => span.spanContext());
    assert.equal(sc.traceId, "00000000000000000000000000000000");
    await tel.shutdown();
    // an enabled SDK flushes on shutdown; give a stray export time to show up
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(collector.requests, before);
  });

  it("OTEL_TRACES_SAMPLER=always_off: spans are not recorded, yet the incoming context is handed on", async () => {
    const before = collector.requests;
    const tel = initTelemetry({ serviceName: "svc-d", env: { ...collector.env(), OTEL_TRACES_SAMPLER: "always_off" } });
    const incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    const out = withSpan("Send", { parent: extractFromHeaders({ traceparent: incoming }) }, (span) => {
      assert.equal(span.isRecording(), false);
      return injectIntoHeaders({} as Record<string, string>);
    });
    assert.match(out.traceparent ?? "", /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$/);
    await tel.shutdown();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(collector.requests, before);
  });

  it("two services in one process share the SDK; it stops with the last one", async () => {
    const a = initTelemetry({ serviceName: "embedded", env: collector.env() });
    const b = initTelemetry({ serviceName: "risk", env: collector.env() });
    await a.shutdown();
    assert.equal(tracingEnabled(), true, "b still open");
    const traceId = withSpan("CheckOrder", {}, (s) => s.spanContext().traceId, b.tracer);
    await b.shutdown();
    assert.equal(tracingEnabled(), false);
    const [span] = await collector.waitForTrace(traceId, ["CheckOrder"]);
    assert.equal(span.scope, "risk");
    assert.equal(span.serviceName, "embedded");
  });
});
