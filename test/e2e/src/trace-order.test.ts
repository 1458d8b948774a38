/**
 * One trace per order (issue 6), across processes: risk, the connector and order-entry each run as their own
 * `fixmesh` process with the OTEL_* variables pointing at an OTLP/HTTP collector this test runs; the venue
 * simulator fills every order at once; FIX and order events go through the test's own NATS JetStream streams.
 *
 * The test is the client: inside its own span it opens StreamOrderUpdates, submits one order with the span's
 * traceparent in the gRPC metadata, and waits for the fill on the stream. Then every span about the order is in
 * that one trace, with these parent links:
 *
 *   test-client   client SubmitOrder
 *   order-entry     order-entry.SubmitOrder
 *   order-entry       order-entry.risk-check
 *   risk                risk.check
 *   order-entry       order-entry.send
 *   connector           fixmesh.v1.SessionService/SendStream (or /Send)
 *   connector             FIX out D                      bytes on the wire
 *   connector               FIX in 8  (×2: New, Trade)   the venue's ExecutionReports
 *   order-entry               order-entry.execution-applied   (one per report, from the NATS event's header)
 *   order-entry                 order-entry.update-streamed   the update written to the client's stream (ACK, FILL)
 *   order-entry       order-entry.update-streamed                the new order's own update (NEW_REQUEST)
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  createGrpcClient,
  type GrpcClientOf,
  OrderEntryService,
  OrderStatus,
  OrderType,
  type OrderUpdate,
  Side,
  TimeInForce,
} from "@fixmesh/contracts";
import { initTelemetry, injectIntoMetadata, SpanKind, type Telemetry, withSpan } from "@fixmesh/telemetry";
import {
  type CollectedSpan,
  type OtlpCollector,
  parentOf,
  renderTrace,
  startOtlpCollector,
} from "@fixmesh/telemetry/testing";
import type { VenueSim } from "@fixmesh/venue-sim";
import * as grpc from "@grpc/grpc-js";
import {
  connectorYaml,
  NATS_URL,
  rand,
  SESSION,
  ServiceProcess,
  StreamReader,
  startVenue,
  tempFiles,
  testNames,
  waitFor,
} from "./trace-harness.js";

const T = { timeout: 120_000 };

/** The spans of one order, by the name each service gives them (see the header). */
const SPAN = {
  client: "client SubmitOrder",
  submit: "order-entry.SubmitOrder",
  riskCheck: "order-entry.risk-check",
  riskServer: "risk.check",
  send: "order-entry.send",
  connectorSend: /^fixmesh\.v1\.SessionService\/Send(Stream)?$/,
  wire: "FIX out D",
  reportIn: "FIX in 8",
  applied: "order-entry.execution-applied",
  streamed: "order-entry.update-streamed",
} as const;

function named(spans: CollectedSpan[], name: string | RegExp): CollectedSpan[] {
  return spans.filter((s) => (typeof name === "string" ? s.name === name : name.test(s.name)));
}

function one(spans: CollectedSpan[], name: string | RegExp): CollectedSpan {
  const found = named(spans, name);
  assert.equal(found.length, 1, `one span ${name}, found ${found.length} in\n${renderTrace(spans)}`);
  return found[0];
}

describe("one trace per order across order-entry, risk and the connector (separate processes)", () => {
  let collector: OtlpCollector;
  let telemetry: Telemetry;
  let venue: VenueSim;
  let fixStream: StreamReader;
  let ordersStream: StreamReader;
  let auditStream: StreamReader;
  const files = tempFiles();
  const fix = testNames();
  const orders = testNames();
  const audit = testNames();
  const procs: ServiceProcess[] = [];
  let conn: grpc.Client | undefined;

  before(async () => {
    collector = await startOtlpCollector();
    telemetry = initTelemetry({ serviceName: "test-client", env: collector.env() });
    venue = await startVenue();
    // The streams exist (and are the test's own) before any service starts.
    fixStream = await StreamReader.open(fix);
    ordersStream = await StreamReader.open(orders);
    auditStream = await StreamReader.open(audit);
  });

  after(async () => {
    conn?.close();
    for (const p of procs.reverse()) await p.stop();
    await telemetry?.shutdown();
    await venue?.stop(0);
    await fixStream?.close();
    await ordersStream?.close();
    await auditStream?.close();
    await collector?.close();
    files.remove();
  });

  it(
    "SubmitOrder → risk → connector → wire → ExecutionReports → order updates → client stream: one trace",
    T,
    async () => {
      // --- the services, each its own process -------------------------------------------------------------------
      const connectorFile = files.write("connector.yaml", connectorYaml({ venuePort: venue.port, nats: fix }));
      const connector = ServiceProcess.start("connector", ["connector", "--config", connectorFile], {
        ...collector.env("fixmesh-connector"),
      });
      procs.push(connector);
      const { grpc: connectorPort } = await connector.line<{ grpc: number }>("listening");

      files.write(
        "limits.yaml",
        ["limits:", "  - normal:", "      maxOrderQty: 10000", "    referencePrices:", '      IBM: "100"', ""].join(
          "\n",
        ),
      );
      const riskFile = files.write(
        "risk.yaml",
        [
          `risk: { id: risk-${rand()} }`,
          "grpc: { plaintext: true, host: 127.0.0.1, port: 0 }",
          "limits: { file: limits.yaml }",
          "state: { kind: memory }",
          "bus:",
          "  kind: nats",
          `  nats: { url: "${NATS_URL}", ordersStream: ${orders.stream}, ordersPrefix: ${orders.subjectPrefix}, fixStream: ${fix.stream}, fixPrefix: ${fix.subjectPrefix}, auditStream: ${audit.stream}, auditPrefix: ${audit.subjectPrefix} }`,
          "log: { level: warn }",
          "",
        ].join("\n"),
      );
      const risk = ServiceProcess.start("risk", ["risk-service", "--config", riskFile], {
        ...collector.env("fixmesh-risk"),
      });
      procs.push(risk);
      const { grpc: riskPort } = await risk.line<{ grpc: number }>("listening");

      const oeFile = files.write(
        "order-entry.yaml",
        [
          `orderEntry: { id: oe-${rand()} }`,
          "grpc: { plaintext: true, host: 127.0.0.1, port: 0 }",
          `sessions: [{ id: "${SESSION}", connector: "127.0.0.1:${connectorPort}" }]`,
          `risk: { address: "127.0.0.1:${riskPort}", deadlineMs: 2000 }`,
          "store: { kind: memory }",
          `nats: { url: "${NATS_URL}", fixStream: ${fix.stream}, fixSubjectPrefix: ${fix.subjectPrefix}, ordersStream: ${orders.stream}, ordersSubjectPrefix: ${orders.subjectPrefix}, durable: oe-${rand()} }`,
          "log: { level: warn }",
          "",
        ].join("\n"),
      );
      const orderEntry = ServiceProcess.start("order-entry", ["order-entry", "--config", oeFile], {
        ...collector.env("fixmesh-order-entry"),
      });
      procs.push(orderEntry);
      const oePort = await orderEntry.line<number>("listening");

      // --- the client -------------------------------------------------------------------------------------------
      conn = new grpc.Client(`127.0.0.1:${oePort}`, grpc.credentials.createInsecure());
      const rpc: GrpcClientOf<typeof OrderEntryService> = createGrpcClient(OrderEntryService, conn);
      const updates: OrderUpdate[] = [];
      const watch = rpc.streamOrderUpdates({});
      watch.on("data", (u: OrderUpdate) => updates.push(u));
      watch.on("error", () => undefined); // cancelled at the end

      // The session must be LIVE before an order is accepted; retry the submit (same key) until it is.
      const key = `trace-${rand()}`;
      const { traceId, rootSpanId, orderId, clOrdId } = await withSpan(
        SPAN.client,
        { kind: SpanKind.CLIENT },
        async (span) => {
          const end = Date.now() + 30_000;
          for (;;) {
            try {
              const res = await rpc.submitOrder(
                {
                  idempotencyKey: key,
                  sessionId: SESSION,
                  account: "ACC-T",
                  symbol: "IBM",
                  side: Side.BUY,
                  quantity: "100",
                  orderType: OrderType.LIMIT,
                  price: "100",
                  timeInForce: TimeInForce.DAY,
                },
                { metadata: injectIntoMetadata(new grpc.Metadata()), deadline: Date.now() + 10_000 },
              );
              const o = res.order;
              assert.ok(o);
              return {
                traceId: span.spanContext().traceId,
                rootSpanId: span.spanContext().spanId,
                orderId: o.orderId,
                clOrdId: o.clOrdId,
              };
            } catch (err) {
              if (Date.now() > end) throw err;
              await new Promise((r) => setTimeout(r, 250));
            }
          }
        },
      );
      await waitFor(
        () => updates.some((u) => u.order?.orderId === orderId && u.order.status === OrderStatus.FILLED),
        30_000,
        `order ${orderId} FILLED on the client's stream`,
      );
      watch.cancel();
      await telemetry.forceFlush();

      // --- the trace --------------------------------------------------------------------------------------------
      const spans = await collector.waitForTrace(
        traceId,
        [
          SPAN.client,
          SPAN.submit,
          SPAN.riskCheck,
          SPAN.riskServer,
          SPAN.send,
          SPAN.wire,
          SPAN.reportIn,
          SPAN.reportIn,
          SPAN.applied,
          SPAN.applied,
          SPAN.streamed,
        ],
        { timeoutMs: 30_000 },
      );
      const tree = renderTrace(spans);
      const byService = (s: CollectedSpan, service: string) =>
        assert.equal(s.serviceName, service, `${s.name}\n${tree}`);
      const parentIs = (child: CollectedSpan, parent: CollectedSpan) =>
        assert.equal(parentOf(spans, child)?.spanId, parent.spanId, `${child.name} ← ${parent.name}\n${tree}`);

      const client = one(spans, SPAN.client);
      assert.equal(client.spanId, rootSpanId);
      const submit = one(spans, SPAN.submit);
      const riskCheck = one(spans, SPAN.riskCheck);
      const riskServer = one(spans, SPAN.riskServer);
      const send = one(spans, SPAN.send);
      const connectorSend = one(spans, SPAN.connectorSend);
      const wire = one(spans, SPAN.wire);
      const reportsIn = named(spans, SPAN.reportIn);
      const applied = named(spans, SPAN.applied);
      const streamed = named(spans, SPAN.streamed);

      byService(submit, "fixmesh-order-entry");
      byService(riskServer, "fixmesh-risk");
      byService(connectorSend, "fixmesh-connector");
      byService(wire, "fixmesh-connector");

      parentIs(submit, client);
      parentIs(riskCheck, submit);
      parentIs(riskServer, riskCheck);
      parentIs(send, submit);
      parentIs(connectorSend, send);
      parentIs(wire, connectorSend);
      assert.equal(reportsIn.length, 2, tree);
      for (const r of reportsIn) parentIs(r, wire);
      assert.equal(applied.length, 2, tree);
      assert.deepEqual(
        applied.map((a) => a.parentSpanId).sort(),
        reportsIn.map((r) => r.spanId).sort(),
        `each report applied continues its own FIX in 8 span\n${tree}`,
      );
      // Each update written to the client's stream continues what caused it: the new order its SubmitOrder, each
      // report's update (ACK, FILL) the span that applied that report.
      assert.equal(streamed.length, 3, tree);
      const streamedFrom = (change: string) => {
        const s = streamed.find((x) => x.attributes["fixmesh.change"] === change);
        assert.ok(s, `an update-streamed span for ${change}\n${tree}`);
        return parentOf(spans, s);
      };
      assert.equal(streamedFrom("NEW_REQUEST")?.spanId, submit.spanId, tree);
      const ackParent = streamedFrom("ACK");
      const fillParent = streamedFrom("FILL");
      assert.ok(ackParent && applied.includes(ackParent), `ACK streamed under a report applied\n${tree}`);
      assert.ok(fillParent && applied.includes(fillParent), `FILL streamed under a report applied\n${tree}`);
      assert.notEqual(ackParent?.spanId, fillParent?.spanId, tree);
      assert.equal(wire.attributes["fix.cl_ord_id"], clOrdId);

      // One trace per order: no span about this order anywhere else.
      const elsewhere = collector
        .spans()
        .filter(
          (s) => s.traceId !== traceId && Object.values(s.attributes).some((v) => v === clOrdId || v === orderId),
        );
      assert.deepEqual(
        elsewhere.map((s) => `${s.serviceName}: ${s.name}`),
        [],
        "spans about the order outside its trace",
      );
      assert.deepEqual(collector.errors, []);
    },
  );
});
