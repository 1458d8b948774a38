import http from "node:http";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";

const exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, withoutTargetInfo: true });
const mp = new MeterProvider({ readers: [exporter] });
const m = mp.getMeter("fixmesh");
const c = m.createCounter("fixmesh_x_total", { description: "x" });
c.add(3, { session: "FIX.4.4:A->B" });
const oc = m.createObservableCounter("fixmesh_messages_in", { description: "in" });
oc.addCallback((r) => r.observe(5, { session: "s" }));
const g = m.createObservableGauge("fixmesh_session_health", { description: "h" });
g.addCallback((r) => {
  r.observe(1, { session: "s", health: "LIVE" });
  r.observe(0, { session: "s", health: "SAFE" });
});
const h = m.createHistogram("fixmesh_store_commit_seconds", {
  description: "commit",
  unit: "s",
  advice: { explicitBucketBoundaries: [0.00005, 0.001, 1] },
});
h.record(0.0002, { session: "s" });
const srv = http.createServer((req, res) => exporter.getMetricsRequestHandler(req, res));
srv.listen(0, "127.0.0.1", async () => {
  const port = srv.address().port;
  const r = await fetch(`http://127.0.0.1:${port}/metrics`);
  console.log(r.status, r.headers.get("content-type"));
  console.log(await r.text());
  srv.close();
  await mp.shutdown();
});
