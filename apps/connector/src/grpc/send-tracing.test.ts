import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { SendRequestSchema } from "@fixmesh/contracts";
import { Encoder, type FieldList, type FixMessage, MsgType, Parser, Tag } from "@fixmesh/fix";
import { Metadata } from "@grpc/grpc-js";
import { callTraceparent, OrderTraces } from "./send-tracing.js";

const TP1 = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const TP2 = "00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-01";
const TP3 = "00-2af7651916cd43dd8448eb211c80319c-d7ad6b7169203331-01";

const enc = new Encoder("FIX.4.4", "VENUE", "CLIENT");
let seq = 1;
function msg(msgType: string, body: FieldList): FixMessage {
  const m = new Parser().parse(enc.encode(msgType, seq++, "20260101-00:00:00", body));
  assert.ok(typeof m === "object");
  return m;
}
const report = (clOrdId: string, orig?: string) =>
  msg(MsgType.ExecutionReport, [
    Tag.OrderID,
    "O1",
    Tag.ClOrdID,
    clOrdId,
    ...(orig === undefined ? [] : [Tag.OrigClOrdID, orig]),
    Tag.ExecID,
    `E${seq}`,
    Tag.ExecType,
    "0",
    Tag.OrdStatus,
    "0",
  ]);

// No OpenTelemetry SDK in this process: the connector hands the remembered traceparent on unchanged.
describe("OrderTraces: an order's reports find its trace by ClOrdID (no SDK: handed on unchanged)", () => {
  it("an ExecutionReport or OrderCancelReject for a remembered ClOrdID gets its traceparent", () => {
    const t = new OrderTraces("S");
    t.remember("A1", TP1);
    assert.equal(t.inbound(report("A1")), TP1);
    const reject = msg(MsgType.OrderCancelReject, [Tag.OrderID, "O1", Tag.ClOrdID, "A1", Tag.OrigClOrdID, "A0"]);
    assert.equal(t.inbound(reject), TP1);
  });

  it("a report naming a replaced order by OrigClOrdID only falls back to it", () => {
    const t = new OrderTraces("S");
    t.remember("A1", TP1);
    assert.equal(t.inbound(report("A2-unknown", "A1")), TP1);
  });

  it("other messages and unknown orders get none", () => {
    const t = new OrderTraces("S");
    t.remember("A1", TP1);
    assert.equal(t.inbound(report("ZZ")), undefined);
    assert.equal(t.inbound(msg(MsgType.NewOrderSingle, [Tag.ClOrdID, "A1"])), undefined);
    assert.equal(t.inbound(msg(MsgType.Heartbeat, [])), undefined);
  });

  it("is bounded: the least recently used order is forgotten first, and a report refreshes its order", () => {
    const t = new OrderTraces("S", 2);
    t.remember("A1", TP1);
    t.remember("A2", TP2);
    assert.equal(t.inbound(report("A1")), TP1); // A1 now more recent than A2
    t.remember("A3", TP3);
    assert.equal(t.size, 2);
    assert.equal(t.inbound(report("A2")), undefined, "A2 was the least recently used");
    assert.equal(t.inbound(report("A1")), TP1);
    assert.equal(t.inbound(report("A3")), TP3);
  });
});

describe("callTraceparent: which trace a Send continues", () => {
  const req = (traceparent = "") => create(SendRequestSchema, { sessionId: "S", msgType: "D", traceparent });
  const md = (v: string) => {
    const m = new Metadata();
    m.set("traceparent", v);
    return m;
  };

  it("the request's field wins over the call's metadata", () => {
    assert.equal(callTraceparent(req(TP1), md(TP2)), TP1);
    assert.equal(callTraceparent(req(), md(TP2)), TP2);
    assert.equal(callTraceparent(req(), undefined), "");
    assert.equal(callTraceparent(req(), new Metadata()), "");
  });

  it("a malformed traceparent counts as none (tracing never refuses a send)", () => {
    assert.equal(callTraceparent(req("00-xyz-01"), undefined), "");
    assert.equal(callTraceparent(req(TP1.toUpperCase()), undefined), "");
    assert.equal(callTraceparent(req(), md("garbage")), "");
  });
});
