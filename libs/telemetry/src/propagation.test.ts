import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Metadata } from "@grpc/grpc-js";
import { ROOT_CONTEXT, TraceFlags, trace } from "@opentelemetry/api";
import {
  contextFromTraceparent,
  extractFromHeaders,
  extractFromMetadata,
  formatTraceparent,
  injectIntoHeaders,
  injectIntoMetadata,
  parseTraceparent,
  traceparentOf,
} from "./propagation.js";

const TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const sc = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: TraceFlags.SAMPLED };
const ctx = trace.setSpanContext(ROOT_CONTEXT, sc);

describe("W3C trace context in gRPC metadata and headers records (SDK not started)", () => {
  it("gRPC metadata: inject writes traceparent, extract gives a remote parent with the same ids", () => {
    const md = injectIntoMetadata(new Metadata(), ctx);
    assert.deepEqual(md.get("traceparent"), [TP]);
    const got = trace.getSpanContext(extractFromMetadata(md));
    assert.equal(got?.traceId, sc.traceId);
    assert.equal(got?.spanId, sc.spanId);
    assert.equal(got?.isRemote, true);
  });

  it("headers record: round trip, tracestate included", () => {
    const md = new Metadata();
    md.set("traceparent", TP);
    md.set("tracestate", "vendor=abc");
    const h: Record<string, string> = injectIntoHeaders({ "Nats-Msg-Id": "x" }, extractFromMetadata(md));
    assert.equal(h.traceparent, TP);
    assert.equal(h.tracestate, "vendor=abc");
    assert.equal(h["Nats-Msg-Id"], "x");
    assert.equal(traceparentOf(extractFromHeaders(h)), TP);
  });

  it("no or malformed traceparent: extract returns the base context itself, inject writes nothing", () => {
    assert.equal(extractFromHeaders({}, ROOT_CONTEXT), ROOT_CONTEXT);
    assert.equal(extractFromHeaders(undefined, ROOT_CONTEXT), ROOT_CONTEXT);
    assert.equal(extractFromMetadata(new Metadata(), ROOT_CONTEXT), ROOT_CONTEXT);
    assert.equal(trace.getSpanContext(extractFromHeaders({ traceparent: "00-zz-yy-01" })), undefined);
    const h = injectIntoHeaders({}, ROOT_CONTEXT);
    assert.deepEqual(h, {});
    assert.deepEqual(injectIntoMetadata(new Metadata(), ROOT_CONTEXT).getMap(), {});
  });

  it("parseTraceparent accepts version 00 only, rejects all-zero ids; format is its inverse", () => {
    assert.deepEqual(parseTraceparent(TP), { ...sc, isRemote: true });
    assert.equal(formatTraceparent(parseTraceparent(TP) as typeof sc), TP);
    assert.equal(parseTraceparent(undefined), undefined);
    assert.equal(parseTraceparent(""), undefined);
    assert.equal(parseTraceparent(TP.toUpperCase()), undefined);
    assert.equal(parseTraceparent(`00-${"0".repeat(32)}-b7ad6b7169203331-01`), undefined);
    assert.equal(parseTraceparent(`00-0af7651916cd43dd8448eb211c80319c-${"0".repeat(16)}-01`), undefined);
    assert.equal(formatTraceparent({ ...sc, traceFlags: TraceFlags.NONE }), TP.replace(/01$/, "00"));
  });

  it("contextFromTraceparent / traceparentOf round trip; absent gives the base", () => {
    assert.equal(traceparentOf(contextFromTraceparent(TP)), TP);
    assert.equal(contextFromTraceparent(undefined, ROOT_CONTEXT), ROOT_CONTEXT);
    assert.equal(traceparentOf(ROOT_CONTEXT), undefined);
  });
});
