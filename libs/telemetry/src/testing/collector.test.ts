import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { SpanKind, SpanStatusCode, TraceFlags } from "@opentelemetry/api";
import { type OtlpCollector, startOtlpCollector } from "./index.js";

// OpenTelemetry's own protobuf serializer (a dependency of the installed OTLP exporter), so the protobuf
// reader is checked against bytes it did not write itself.
const requireFromExporter = createRequire(
  createRequire(import.meta.url).resolve("@opentelemetry/exporter-trace-otlp-http"),
);
const { ProtobufTraceSerializer, JsonTraceSerializer } = requireFromExporter("@opentelemetry/otlp-transformer") as {
  ProtobufTraceSerializer: { serializeRequest(spans: unknown[]): Uint8Array };
  JsonTraceSerializer: { serializeRequest(spans: unknown[]): Uint8Array };
};

const traceId = "0af7651916cd43dd8448eb211c80319c";
function readableSpan(name: string, spanId: string, parentSpanId?: string) {
  return {
    name,
    kind: SpanKind.CLIENT,
    spanContext: () => ({ traceId, spanId, traceFlags: TraceFlags.SAMPLED }),
    parentSpanContext: parentSpanId ? { traceId, spanId: parentSpanId, traceFlags: 1, isRemote: true } : undefined,
    startTime: [1_700_000_000, 5] as [number, number],
    endTime: [1_700_000_001, 7] as [number, number],
    status: { code: SpanStatusCode.ERROR, message: "refused" },
    attributes: { "fix.cl_ord_id": "A1", "fix.seq": 42, "fix.poss_dup": false, ratio: 0.5 },
    links: [],
    events: [{ name: "sent", time: [1_700_000_000, 9] as [number, number], attributes: { bytes: 120 } }],
    duration: [1, 2] as [number, number],
    ended: true,
    resource: { attributes: { "service.name": "connector" }, schemaUrl: undefined },
    instrumentationScope: { name: "fixmesh.connector" },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}
const spans = [readableSpan("Send", "b7ad6b7169203331", "00f067aa0ba902b7"), readableSpan("root", "00f067aa0ba902b7")];

async function post(c: OtlpCollector, body: Uint8Array, headers: Record<string, string>, path = "/v1/traces") {
  return fetch(c.url + path, { method: "POST", body, headers });
}

describe("OTLP test collector", () => {
  let c: OtlpCollector;
  before(async () => {
    c = await startOtlpCollector();
  });
  after(async () => {
    await c.close();
  });

  for (const [encoding, serializer, type] of [
    ["JSON", JsonTraceSerializer, "application/json"],
    ["protobuf", ProtobufTraceSerializer, "application/x-protobuf"],
  ] as const) {
    it(`decodes ${encoding} exports into spans with ids, parent, kind, times, attributes, status, events`, async () => {
      c.clear();
      const res = await post(c, serializer.serializeRequest(spans), { "content-type": type });
      assert.equal(res.status, 200);
      const got = c.trace(traceId);
      assert.equal(got.length, 2);
      const send = got.find((s) => s.name === "Send");
      assert.ok(send);
      assert.equal(send.spanId, "b7ad6b7169203331");
      assert.equal(send.parentSpanId, "00f067aa0ba902b7");
      assert.equal(got.find((s) => s.name === "root")?.parentSpanId, undefined);
      assert.equal(send.kind, 3);
      assert.equal(send.startTimeUnixNano, 1_700_000_000_000_000_005n);
      assert.equal(send.endTimeUnixNano, 1_700_000_001_000_000_007n);
      assert.deepEqual(send.attributes, { "fix.cl_ord_id": "A1", "fix.seq": 42, "fix.poss_dup": false, ratio: 0.5 });
      assert.equal(send.statusCode, 2);
      assert.equal(send.statusMessage, "refused");
      assert.deepEqual(send.events, [{ name: "sent", attributes: { bytes: 120 } }]);
      assert.equal(send.serviceName, "connector");
      assert.equal(send.scope, "fixmesh.connector");
    });
  }

  it("accepts gzip-compressed bodies", async () => {
    c.clear();
    const res = await post(c, gzipSync(JsonTraceSerializer.serializeRequest(spans)), {
      "content-type": "application/json",
      "content-encoding": "gzip",
    });
    assert.equal(res.status, 200);
    assert.equal(c.spans().length, 2);
  });

  it("answers 400 to a body it cannot decode and records why; 404 off /v1/traces", async () => {
    const before = c.errors.length;
    assert.equal((await post(c, Buffer.from("{nope"), { "content-type": "application/json" })).status, 400);
    assert.equal((await post(c, Buffer.from("x"), { "content-type": "text/plain" })).status, 400);
    assert.equal(
      (await post(c, Buffer.from([0x0a, 0x05, 0x01]), { "content-type": "application/x-protobuf" })).status,
      400,
    );
    assert.equal(c.errors.length, before + 3);
    assert.match(c.errors[before + 1], /unsupported content-type/);
    assert.match(c.errors[before + 2], /truncated/);
    assert.equal((await post(c, Buffer.from("{}"), { "content-type": "application/json" }, "/v1/metrics")).status, 404);
  });

  it("waitFor times out with a readable list of what arrived", async () => {
    c.clear();
    await post(c, JsonTraceSerializer.serializeRequest(spans), { "content-type": "application/json" });
    await assert.rejects(
      c.waitForTrace(traceId, ["Send", "never"], { timeoutMs: 200 }),
      /within 200 ms; received 0af7651916cd43dd8448eb211c80319c: connector:Send, connector:root/,
    );
  });
});
