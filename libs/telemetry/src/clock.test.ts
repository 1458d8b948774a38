import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hrTimeToMilliseconds } from "@opentelemetry/core";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { PreciseWallClock } from "./clock.js";
import { initTelemetry } from "./sdk.js";
import { startSpan } from "./spans.js";

function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy: the two spans must start this far apart
  }
}

describe("PreciseWallClock", () => {
  it("settles on the offset between the clocks from Date.now()'s whole milliseconds", () => {
    // Monotonic time in µs steps; the wall clock is it + 1,000,000.4 ms, read floored as Date.now() is.
    let mono = 0;
    const clock = new PreciseWallClock(
      () => mono,
      () => Math.floor(mono + 1_000_000.4),
    );
    const readings: number[] = [];
    for (let i = 0; i < 3000; i++) {
      mono += 0.0137;
      readings.push(clock.now() - mono);
    }
    // The first reading can be up to 1 ms low; once a reading has crossed a millisecond it is exact to 0.02 ms.
    assert.ok(Math.abs((readings.at(-1) as number) - 1_000_000.4) < 0.02, `offset ${readings.at(-1)}`);
    for (const r of readings) assert.ok(r <= 1_000_000.4 + 1e-9 && r > 1_000_000.4 - 1, `offset ${r}`);
  });

  it("follows the wall clock when it is set back (never outside Date.now()'s millisecond)", () => {
    let mono = 0;
    let wallOffset = 5_000.7;
    const clock = new PreciseWallClock(
      () => mono,
      () => Math.floor(mono + wallOffset),
    );
    for (let i = 0; i < 500; i++) {
      mono += 0.01;
      clock.now();
    }
    wallOffset = 4_000.2; // set back by about a second
    mono += 0.01;
    const t = clock.now();
    assert.ok(t >= Math.floor(mono + wallOffset) && t < Math.floor(mono + wallOffset) + 1, `${t}`);
    for (let i = 0; i < 500; i++) {
      mono += 0.01;
      clock.now();
    }
    assert.ok(Math.abs(clock.now() - mono - 4_000.2) < 0.02);
  });
});

describe("span start times (initTelemetry)", () => {
  it("are not rounded to the millisecond: spans started 0.3 ms apart are 0.3 ms apart, and end after their start", async () => {
    const exporter = new InMemorySpanExporter();
    const tel = initTelemetry({
      serviceName: "clock-test",
      env: { OTEL_SDK_DISABLED: "false", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" },
      exporter,
      simpleProcessor: true,
    });
    try {
      const gaps: number[] = [];
      for (let i = 0; i < 20; i++) {
        const before = Date.now();
        const a = startSpan("a");
        spin(0.3);
        const b = startSpan("b");
        spin(0.2);
        b.end();
        a.end();
        const after = Date.now();
        const [sa, sb] = exporter.getFinishedSpans().slice(-2).reverse();
        assert.ok(sa && sb);
        const startA = hrTimeToMilliseconds(sa.startTime);
        const startB = hrTimeToMilliseconds(sb.startTime);
        assert.ok(startA >= before && startA < after + 1, `start ${startA} within [${before}, ${after + 1})`);
        assert.ok(hrTimeToMilliseconds(sb.endTime) - startB >= 0.2, "b lasted its 0.2 ms");
        gaps.push(startB - startA);
      }
      // With whole-millisecond starts each gap would be 0 or 1 ms.
      gaps.sort((x, y) => x - y);
      const median = gaps[10] as number;
      assert.ok(median >= 0.29 && median < 0.6, `median gap between the starts ${median} ms (${gaps.join(", ")})`);
    } finally {
      await tel.shutdown();
    }
  });
});
