/** The Grafana dashboard (k8s/base/dashboards/fixmesh-sessions.json). */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { dashboardQueries, panelCount } from "./dashboard.js";
import { DASHBOARD_FILE } from "./paths.js";
import { connectorMetrics, exported, metricNames } from "./prometheus.js";

const dashboard = (): { uid?: string; title?: string; panels?: unknown[] } =>
  JSON.parse(readFileSync(DASHBOARD_FILE, "utf8"));

test("the dashboard parses, with a uid, a title and panels", () => {
  const d = dashboard();
  assert.equal(d.uid, "fixmesh-sessions");
  assert.ok(d.title);
  assert.ok(panelCount(d) >= 10, `only ${panelCount(d)} panels`);
});

test("every metric the dashboard queries is one the connector exports (apps/connector/src/metrics)", () => {
  const metrics = connectorMetrics();
  assert.ok(metrics.names.has("fixmesh_session_health"), "read no metric names from the connector's sources");
  const queried = new Set(dashboardQueries(dashboard()).flatMap((q) => [...metricNames(q)]));
  assert.ok(queried.size > 0, "the dashboard queries nothing");
  assert.deepEqual(
    [...queried].filter((n) => !exported(n, metrics)),
    [],
    "metrics the connector does not export",
  );
});

test("the dashboard shows every per-session metric the connector exports", () => {
  const metrics = connectorMetrics();
  const queried = new Set(dashboardQueries(dashboard()).flatMap((q) => [...metricNames(q)]));
  const shown = (name: string) => queried.has(name) || (metrics.histograms.has(name) && queried.has(`${name}_bucket`));
  assert.deepEqual(
    [...metrics.names].filter((n) => !shown(n)),
    [],
    "exported metrics with no panel",
  );
});
