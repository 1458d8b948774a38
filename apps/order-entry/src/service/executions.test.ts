/**
 * ExecutionConsumer.handle: how a durable batch of the connector's FIX events reaches the store — the reports of one
 * order together and in the order they came, different orders (and the same venue OrderID on another session)
 * apart, events that are not reports or not ours skipped, each report with the traceparent of its bus event.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Delivered } from "@fixmesh/bus";
import { Encoder } from "@fixmesh/fix";
import pino from "pino";
import type { OrderRepository, ReportInput, ReportOutcome } from "../store/types.js";
import { ExecutionConsumer } from "./executions.js";

const A = "FIX.4.4:CLIENT->VENUE";
const B = "FIX.4.4:CLIENT2->VENUE";
let seq = 0;

/** An inbound ExecutionReport as the connector publishes it (libs/engine FixMessageEvent). */
function report(
  session: string,
  o: { orderId: string; clOrdId: string; execId: string; execType: string; cum: string; traceparent?: string },
): Delivered {
  const n = ++seq;
  const enc = new Encoder("FIX.4.4", "VENUE", session === A ? "CLIENT" : "CLIENT2");
  const filled = o.cum !== "0";
  const raw = enc.encode("8", n, "20261127-09:00:00.000", [
    37,
    o.orderId,
    11,
    o.clOrdId,
    17,
    o.execId,
    150,
    o.execType,
    39,
    filled ? "2" : "0",
    55,
    "IBM",
    54,
    "1",
    38,
    "100",
    14,
    o.cum,
    151,
    filled ? "0" : "100",
    6,
    filled ? "10" : "0",
    ...(filled ? [32, "100", 31, "10"] : []),
  ]);
  const body = {
    session,
    dir: "in",
    seq: n,
    msgType: "8",
    possDup: false,
    orderId: o.orderId,
    raw: raw.toString("base64"),
  };
  return {
    id: `${session}:${n}`,
    seq: n,
    subject: `fix.x.in.8`,
    payload: Buffer.from(JSON.stringify(body)),
    ...(o.traceparent !== undefined && { headers: { traceparent: o.traceparent } }),
  };
}

function consumer(sessions: string[]) {
  const calls: Array<{ session: string; inputs: readonly ReportInput[] }> = [];
  const repo = {
    async applyReports(session: string, inputs: readonly ReportInput[]): Promise<ReportOutcome[]> {
      calls.push({ session, inputs });
      return inputs.map(() => ({ outcome: "applied" }));
    },
  } as unknown as OrderRepository;
  const c = new ExecutionConsumer({
    bus: {} as never,
    repo,
    sessions: new Set(sessions),
    logger: pino({ level: "silent" }),
    onCommitted: () => undefined,
  });
  return { c, calls };
}

const TP1 = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const TP2 = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01";

describe("ExecutionConsumer: a batch to the store", () => {
  it("hands the reports of one order to the store together, in arrival order, each with its event's traceparent", async () => {
    const { c, calls } = consumer([A]);
    await c.handle([
      report(A, { orderId: "V1", clOrdId: "C1", execId: "E1", execType: "0", cum: "0", traceparent: TP1 }),
      report(A, { orderId: "V2", clOrdId: "C2", execId: "E2", execType: "0", cum: "0" }),
      report(A, { orderId: "V1", clOrdId: "C1", execId: "E3", execType: "F", cum: "100", traceparent: TP2 }),
    ]);
    const byOrder = new Map(
      calls.map((x) => [x.inputs.map((i) => (i.type === "report" ? i.report.execID : "")).join(","), x]),
    );
    assert.deepEqual([...byOrder.keys()].sort(), ["E1,E3", "E2"]);
    const run = byOrder.get("E1,E3")?.inputs ?? [];
    // Tracing is off here: each report carries its bus event's own traceparent (what inSpan handed on before).
    assert.deepEqual(
      run.map((i) => i.traceparent),
      [TP1, TP2],
    );
    assert.equal(c.counters.applied, 3);
  });

  it("keeps the same venue OrderID on two sessions apart, and skips sessions it does not serve", async () => {
    const { c, calls } = consumer([A, B]);
    await c.handle([
      report(A, { orderId: "V9", clOrdId: "C9", execId: "E10", execType: "0", cum: "0" }),
      report(B, { orderId: "V9", clOrdId: "D9", execId: "E11", execType: "0", cum: "0" }),
    ]);
    assert.deepEqual(calls.map((x) => [x.session, x.inputs.length]).sort(), [
      [A, 1],
      [B, 1],
    ]);
    const other = consumer([A]);
    await other.c.handle([report(B, { orderId: "V9", clOrdId: "D9", execId: "E12", execType: "0", cum: "0" })]);
    assert.deepEqual(other.calls, []);
  });
});
