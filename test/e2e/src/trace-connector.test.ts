/**
 * One trace per order through the connector: a connector (in this process, memory store, events on a NATS
 * JetStream stream of the test's own) with the venue simulator filling every order at once. A Send that carries a
 * W3C traceparent — the request field on SendStream, the gRPC metadata on unary Send — is continued by the
 * connector's spans (Send → FIX out D → FIX in 8), exported over OTLP/HTTP to a collector the test runs, and the
 * order's events on NATS carry the trace in their `traceparent` header: out.D the Send span's, each in.8 (the
 * venue's New and Trade reports, matched by ClOrdID) its own `FIX in 8` span's.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { Delivered } from "@fixmesh/bus";
import { type Connector, parseConfig, startConnector } from "@fixmesh/connector";
import {
  createGrpcClient,
  type GrpcClientOf,
  type SendResult,
  type SendStreamResponse,
  SessionHealth,
  SessionService,
} from "@fixmesh/contracts";
import { formatUtcTimestamp, MsgType, Tag } from "@fixmesh/fix";
import { initTelemetry, SpanKind, type Telemetry, traceparentOf, withSpan } from "@fixmesh/telemetry";
import {
  type CollectedSpan,
  type OtlpCollector,
  parentOf,
  renderTrace,
  spanNamed,
  startOtlpCollector,
} from "@fixmesh/telemetry/testing";
import type { VenueSim } from "@fixmesh/venue-sim";
import * as grpc from "@grpc/grpc-js";
import { connectorYaml, ids, rand, SESSION, StreamReader, startVenue, testNames, waitFor } from "./trace-harness.js";

const T = { timeout: 30_000 };

const str = (tag: number, value: string) => ({ tag, value: { case: "stringValue" as const, value } });

function order(clOrdId: string, extra: { idempotencyKey?: string; traceparent?: string } = {}) {
  return {
    sessionId: SESSION,
    msgType: MsgType.NewOrderSingle,
    fields: [
      str(Tag.ClOrdID, clOrdId),
      str(Tag.Symbol, "IBM"),
      str(Tag.Side, "1"),
      str(Tag.TransactTime, formatUtcTimestamp(Date.now())),
      str(Tag.OrderQty, "100"),
      str(Tag.OrdType, "2"),
      str(Tag.Price, "100"),
    ],
    ...extra,
  };
}

/** Sends these requests in one SendStream frame and returns their results. */
async function sendStream(
  rpc: GrpcClientOf<typeof SessionService>,
  sends: ReturnType<typeof order>[],
): Promise<SendResult[]> {
  const call = rpc.sendStream();
  const results: SendResult[] = [];
  const done = new Promise<void>((resolve, reject) => {
    call.on("data", (f: SendStreamResponse) => {
      results.push(...f.results);
      if (results.length === sends.length) call.end();
    });
    call.on("end", resolve);
    call.on("error", reject);
  });
  call.write({ sends: sends.map((send, i) => ({ correlationId: BigInt(i), send })) });
  await done;
  return results;
}

const header = (e: Delivered) => e.headers?.traceparent;

describe("one trace per order through the connector (venue simulator, NATS events, OTLP collector)", () => {
  let venue: VenueSim;
  let connector: Connector;
  let conn: grpc.Client;
  let rpc: GrpcClientOf<typeof SessionService>;
  let reader: StreamReader;
  let collector: OtlpCollector;
  let telemetry: Telemetry | undefined;
  const names = testNames();

  /** The order's out.D event and its two reports' in.8 events (the venue's New and Trade), once all are on NATS. */
  async function eventsOf(clOrdId: string): Promise<{ out: Delivered; reports: Delivered[] }> {
    await waitFor(
      () => reader.ofOrder(clOrdId, "out", "D").length === 1 && reader.ofOrder(clOrdId, "in", "8").length === 2,
      15_000,
      `the out.D and two in.8 events of ${clOrdId}`,
    );
    return { out: reader.ofOrder(clOrdId, "out", "D")[0], reports: reader.ofOrder(clOrdId, "in", "8") };
  }

  before(async () => {
    collector = await startOtlpCollector();
    venue = await startVenue();
    reader = await StreamReader.open(names);
    connector = await startConnector(parseConfig(connectorYaml({ venuePort: venue.port, nats: names })));
    conn = new grpc.Client(`127.0.0.1:${connector.grpcPort}`, grpc.credentials.createInsecure());
    rpc = createGrpcClient(SessionService, conn);
    const end = Date.now() + 15_000;
    for (;;) {
      const { session } = await rpc.getSession({ sessionId: SESSION }, { deadline: Date.now() + 2000 });
      if (session?.health === SessionHealth.LIVE) break;
      if (Date.now() > end) throw new Error("the connector's session never became LIVE");
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  after(async () => {
    await telemetry?.shutdown();
    conn?.close();
    await connector?.stop();
    await venue?.stop(0);
    await reader?.close();
    await collector?.close();
  });

  it(
    "without an SDK here, the caller's traceparent reaches the order's out.D and in.8 events unchanged",
    T,
    async () => {
      const tp = `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`;
      assert.ok(ids(tp), "a valid traceparent");
      const md = new grpc.Metadata();
      md.set("traceparent", tp);
      const res = await rpc.send(order("PASS-1"), { metadata: md, deadline: Date.now() + 5000 });
      assert.ok(res.msgSeqNum > 0);
      const { out, reports } = await eventsOf("PASS-1");
      assert.equal(header(out), tp);
      for (const r of reports) assert.equal(header(r), tp);
    },
  );

  it("an order sent without a traceparent has events without one", T, async () => {
    const [r] = await sendStream(rpc, [order("PLAIN-1")]);
    assert.equal(r.result.case, "ok");
    const { out, reports } = await eventsOf("PLAIN-1");
    assert.equal(header(out), undefined);
    for (const e of reports) assert.equal(header(e), undefined);
  });

  it(
    "with the SDK: SendStream → FIX out D → FIX in 8 (×2) in the caller's trace, and the events carry those spans",
    T,
    async () => {
      telemetry = initTelemetry({ serviceName: "connector-under-test", env: collector.env() });
      const { traceId, rootSpanId } = await withSpan("client SubmitOrder", { kind: SpanKind.CLIENT }, async (span) => {
        const [r] = await sendStream(rpc, [order("TR-1", { traceparent: traceparentOf() })]);
        assert.equal(r.result.case, "ok");
        return { traceId: span.spanContext().traceId, rootSpanId: span.spanContext().spanId };
      });
      const { out, reports } = await eventsOf("TR-1");
      const spans = await collector.waitForTrace(
        traceId,
        ["client SubmitOrder", "fixmesh.v1.SessionService/SendStream", "FIX out D", "FIX in 8", "FIX in 8"],
        { timeoutMs: 15_000 },
      );
      const tree = renderTrace(spans);
      const send = spanNamed(spans, "fixmesh.v1.SessionService/SendStream");
      const wire = spanNamed(spans, "FIX out D");
      const ins = spans.filter((s) => s.name === "FIX in 8");
      assert.equal(send.parentSpanId, rootSpanId, tree);
      assert.equal(send.kind, 2, "SERVER");
      assert.equal(send.serviceName, "connector-under-test");
      assert.equal(send.attributes["fix.cl_ord_id"], "TR-1");
      assert.equal(parentOf(spans, wire)?.spanId, send.spanId, tree);
      assert.equal(wire.attributes["fix.msg_seq_num"], send.attributes["fix.msg_seq_num"]);
      assert.equal(typeof wire.attributes["fix.msg_seq_num"], "number");
      for (const s of ins) {
        assert.equal(parentOf(spans, s)?.spanId, wire.spanId, tree);
        assert.equal(s.kind, 5, "CONSUMER");
        assert.equal(s.attributes["fix.cl_ord_id"], "TR-1");
      }
      assert.deepEqual(ins.map((s) => s.attributes["fix.exec_type"]).sort(), ["0", "F"], "the venue's New and Trade");

      // On NATS: out.D carries the Send span, each in.8 its own FIX in 8 span.
      assert.deepEqual(ids(header(out)), { traceId, spanId: send.spanId });
      const reportSpans = reports.map((r) => ids(header(r)));
      for (const r of reportSpans) assert.equal(r?.traceId, traceId);
      assert.deepEqual(
        reportSpans.map((r) => r?.spanId).sort(),
        ins.map((s: CollectedSpan) => s.spanId).sort(),
        "each in.8 event names its own FIX in 8 span",
      );
      assert.deepEqual(collector.errors, []);
    },
  );

  it("a unary Send continues the trace of its traceparent gRPC metadata", T, async () => {
    assert.ok(telemetry?.enabled, "runs after the SDK was started");
    const { traceId, md } = withSpan("client", {}, (span) => {
      const md = new grpc.Metadata();
      md.set("traceparent", traceparentOf() ?? "");
      return { traceId: span.spanContext().traceId, md };
    });
    await rpc.send(order("TR-2"), { metadata: md, deadline: Date.now() + 5000 });
    const spans = await collector.waitForTrace(traceId, ["client", "fixmesh.v1.SessionService/Send", "FIX out D"]);
    const send = spanNamed(spans, "fixmesh.v1.SessionService/Send");
    assert.equal(parentOf(spans, send)?.name, "client", renderTrace(spans));
    assert.equal(send.attributes["rpc.method"], "Send");
    const { out } = await eventsOf("TR-2");
    assert.equal(ids(header(out))?.spanId, send.spanId);
  });

  it(
    "a retry with the same idempotency key from another trace is the same request: the first answer, nothing sent twice",
    T,
    async () => {
      const key = `k-${rand()}`;
      const a = withSpan("try 1", {}, () => traceparentOf() ?? "");
      const b = withSpan("try 2", {}, () => traceparentOf() ?? "");
      const req = order("IDEM-1", { idempotencyKey: key });
      const [first] = await sendStream(rpc, [{ ...req, traceparent: a }]);
      const [second] = await sendStream(rpc, [{ ...req, traceparent: b }]);
      assert.equal(first.result.case, "ok");
      assert.equal(second.result.case, "ok", `the retry was refused: ${JSON.stringify(second.result.value)}`);
      if (first.result.case !== "ok" || second.result.case !== "ok") return;
      assert.equal(second.result.value.duplicate, true);
      assert.equal(second.result.value.msgSeqNum, first.result.value.msgSeqNum);
      await eventsOf("IDEM-1");
      assert.equal(reader.ofOrder("IDEM-1", "out", "D").length, 1);
    },
  );

  it("a malformed traceparent is ignored: the order is sent and its events carry none", T, async () => {
    const [r] = await sendStream(rpc, [order("BAD-TP", { traceparent: "00-not-a-trace-01" })]);
    assert.equal(r.result.case, "ok");
    const { out, reports } = await eventsOf("BAD-TP");
    assert.equal(header(out), undefined);
    for (const e of reports) assert.equal(header(e), undefined);
  });
});
