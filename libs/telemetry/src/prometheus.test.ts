import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MetricsRegistry, serveMetrics } from "./prometheus.js";

describe("Prometheus registry and endpoint", () => {
  it("renders counters by label set, cumulative histogram buckets and gauges read at scrape, escaped", async () => {
    const r = new MetricsRegistry();
    const c = r.counter("x_total", "Things.");
    c.inc({ reason: 'a"b\\c' });
    c.inc({ reason: 'a"b\\c' }, 2);
    c.inc({ reason: "other" });
    const h = r.histogram("lat_seconds", "Latency.", [0.01, 0.1]);
    h.observe(0.005);
    h.observe(0.05);
    h.observe(3);
    let open = 4;
    r.gauge("open", "Open.", () => open);
    r.gauge("sw", "Switches.", async () => [[{ scope: "GLOBAL", target: "" }, 1]]);
    open = 5;
    const text = await r.render();
    assert.match(text, /^x_total\{reason="a\\"b\\\\c"\} 3$/m);
    assert.match(text, /^x_total\{reason="other"\} 1$/m);
    assert.match(text, /^# TYPE lat_seconds histogram$/m);
    assert.match(text, /^lat_seconds_bucket\{le="0.01"\} 1$/m);
    assert.match(text, /^lat_seconds_bucket\{le="0.1"\} 2$/m);
    assert.match(text, /^lat_seconds_bucket\{le="\+Inf"\} 3$/m);
    assert.match(text, /^lat_seconds_count 3$/m);
    assert.match(text, /^open 5$/m);
    assert.match(text, /^sw\{scope="GLOBAL",target=""\} 1$/m);
  });

  it("serves /metrics in the text format on the port it bound, 404 elsewhere, 500 when a gauge fails", async () => {
    const r = new MetricsRegistry();
    r.counter("hits_total", "Hits.").inc();
    let fail = false;
    r.gauge("g", "G.", () => {
      if (fail) throw new Error("down");
      return 1;
    });
    const ep = await serveMetrics({ host: "127.0.0.1", port: 0, registry: r });
    try {
      const res = await fetch(`http://127.0.0.1:${ep.port}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /text\/plain; version=0\.0\.4/);
      assert.match(await res.text(), /^hits_total 1$/m);
      assert.equal((await fetch(`http://127.0.0.1:${ep.port}/`)).status, 404);
      fail = true;
      assert.equal((await fetch(`http://127.0.0.1:${ep.port}/metrics`)).status, 500);
    } finally {
      await ep.close();
    }
  });
});
