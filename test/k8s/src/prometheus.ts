/**
 * The alert rules: promtool (Debian's prometheus package), the metric names they and the dashboard query, and
 * the PrometheusRule that carries the same groups for the Prometheus Operator.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { CONNECTOR_METRICS_DIR, SERVICE_METRICS_FILES } from "./paths.js";

export const PROMTOOL_MISSING =
  "promtool is not installed: install Debian's prometheus package (apt-get install --no-install-recommends " +
  "prometheus; .ci/run's ensure_promtool does it)";

export interface ToolRun {
  ok: boolean;
  output: string;
}

/** `promtool ARGS…` in the directory of `file` (rule tests name their rule files relative to themselves). */
export function promtool(args: string[], file: string): ToolRun | { missing: string } {
  const r = spawnSync("promtool", [...args, file], { cwd: dirname(file), encoding: "utf8" });
  if (r.error !== undefined) {
    if ((r.error as NodeJS.ErrnoException).code === "ENOENT") return { missing: PROMTOOL_MISSING };
    throw r.error;
  }
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleGroup {
  name: string;
  rules: Rule[];
}

export function readRuleGroups(file: string): RuleGroup[] {
  return (parseYaml(readFileSync(file, "utf8")) as { groups: RuleGroup[] }).groups;
}

/** The PrometheusRule of components/prometheus-operator, as text: the rules file's groups, generated. */
export function prometheusRuleText(groups: RuleGroup[]): string {
  const rule = {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: { name: "fixmesh-rules", labels: { "app.kubernetes.io/part-of": "fixmesh" } },
    spec: { groups },
  };
  return (
    "# GENERATED from k8s/base/alerts/fixmesh-rules.yaml by `node test/k8s/dist/write-prometheus-rule.js`:\n" +
    "# edit the rules file and run that again (test/k8s fails while the two differ).\n" +
    stringifyYaml(rule, { lineWidth: 0 })
  );
}

/** The `fixmesh_*` metric names a PromQL expression reads (recording-rule names contain `:`, and are skipped). */
export function metricNames(expr: string): Set<string> {
  // Label values are strings: drop them first.
  const bare = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return new Set([...bare.matchAll(/(?<![\w:])fixmesh_[a-zA-Z0-9_]+/g)].map((m) => m[0]));
}

export interface ConnectorMetrics {
  /** Every name the connector exposes. */
  names: Set<string>;
  /** Histograms: their series are `<name>_bucket`, `_sum`, `_count`. */
  histograms: Set<string>;
}

/** The metrics the connector creates (apps/connector/src/metrics/*.ts, session-meters.ts among them). */
export function connectorMetrics(dir = CONNECTOR_METRICS_DIR): ConnectorMetrics {
  const names = new Set<string>();
  const histograms = new Set<string>();
  for (const f of readdirSync(dir)) {
    if (!f.endsWith(".ts") || f.endsWith(".test.ts")) continue;
    const src = readFileSync(`${dir}${f}`, "utf8");
    for (const m of src.matchAll(/"(fixmesh_[a-z0-9_]+)"/g)) names.add(m[1]);
    for (const m of src.matchAll(/createHistogram\(\s*"(fixmesh_[a-z0-9_]+)"/g)) histograms.add(m[1]);
  }
  return { names, histograms };
}

/** The metrics order-entry and risk create: every `fixmesh_*` name in their metrics files, histograms by call. */
export function serviceMetrics(files = SERVICE_METRICS_FILES): ConnectorMetrics {
  const names = new Set<string>();
  const histograms = new Set<string>();
  for (const f of files) {
    const src = readFileSync(f, "utf8");
    for (const m of src.matchAll(/"(fixmesh_[a-z0-9_]+)"/g)) names.add(m[1]);
    for (const m of src.matchAll(/\.histogram\(\s*"(fixmesh_[a-z0-9_]+)"/g)) histograms.add(m[1]);
  }
  return { names, histograms };
}

/** Whether a series name is one the connector exports (a histogram's `_bucket`/`_sum`/`_count` included). */
export function exported(name: string, metrics: ConnectorMetrics): boolean {
  if (metrics.names.has(name)) return true;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  return m !== null && metrics.histograms.has(m[1]);
}

/**
 * Metrics the rules use that the connector does not export yet, each with who will: the rules are ready for
 * them, and the rules file and docs/operations.md say so.
 */
export const NOT_YET_EXPORTED: Readonly<Record<string, string>> = {};
