import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { context, ROOT_CONTEXT, TraceFlags, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { traceLogMixin, withTraceLogMixin } from "./logging.js";

// pino's default mixin merge: the line's own fields are written into the object the mixin returned.
const pinoMerge = (mixin: () => object, line: object) => Object.assign(mixin(), line);

const sc = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: TraceFlags.SAMPLED };

describe("trace ids in log lines (pino mixin)", () => {
  it("outside a span: no trace fields, and the object takes the line's fields (a fresh one each time)", () => {
    const a = pinoMerge(traceLogMixin, { msg: "one" });
    const b = pinoMerge(traceLogMixin, { msg: "two" });
    assert.deepEqual(a, { msg: "one" });
    assert.deepEqual(b, { msg: "two" });
  });

  it("inside a span: traceId and spanId of the active span", () => {
    const cm = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(cm);
    try {
      const line = context.with(trace.setSpanContext(ROOT_CONTEXT, sc), () => pinoMerge(traceLogMixin, { msg: "in" }));
      assert.deepEqual(line, { traceId: sc.traceId, spanId: sc.spanId, msg: "in" });
      const chained = context.with(trace.setSpanContext(ROOT_CONTEXT, sc), () =>
        pinoMerge(
          withTraceLogMixin(() => ({ service: "risk" })),
          { msg: "x" },
        ),
      );
      assert.deepEqual(chained, { traceId: sc.traceId, spanId: sc.spanId, service: "risk", msg: "x" });
      assert.deepEqual(
        pinoMerge(
          withTraceLogMixin(() => ({ service: "risk" })),
          { msg: "y" },
        ),
        { service: "risk", msg: "y" },
      );
    } finally {
      context.disable();
    }
  });
});
