/**
 * The alert rules (k8s/base/alerts): promtool's check and unit tests, the metrics they read, their labels and
 * annotations, and the PrometheusRule copy for the Prometheus Operator.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { parse as parseYaml } from "yaml";
import { OPERATIONS_DOC, PROMETHEUS_RULE_FILE, RULES_FILE, RULES_TEST_FILE } from "./paths.js";
import {
  connectorMetrics,
  exported,
  metricNames,
  NOT_YET_EXPORTED,
  promtool,
  type Rule,
  readRuleGroups,
  serviceMetrics,
} from "./prometheus.js";

function run(args: string[], file: string): string {
  const r = promtool(args, file);
  if ("missing" in r) assert.fail(r.missing);
  assert.ok(r.ok, `promtool ${args.join(" ")} ${file} failed:\n${r.output}`);
  return r.output;
}

const rules = (): Rule[] => readRuleGroups(RULES_FILE).flatMap((g) => g.rules);

test("promtool check rules accepts fixmesh-rules.yaml", (t) => {
  t.diagnostic(run(["check", "rules"], RULES_FILE));
});

test("promtool test rules passes fixmesh-rules.test.yaml", (t) => {
  t.diagnostic(run(["test", "rules"], RULES_TEST_FILE));
});

test("the seed alerts are all there", () => {
  const alerts = new Set(rules().flatMap((r) => (r.alert ? [r.alert] : [])));
  for (const name of [
    "FixmeshSessionDown", // no heartbeat: not logged on
    "FixmeshHeartbeatsLate", // no heartbeat: TestRequests
    "FixmeshTestRequestSlow", // TestRequest round trip
    "FixmeshGapUnresolved",
    "FixmeshResendStorm",
    "FixmeshSessionSafe",
    "FixmeshSequenceResetOutsideSchedule",
    "FixmeshFailover",
    "FixmeshStoreWriteSlow",
    "FixmeshConsumerLagHigh",
    "FixmeshKillSwitchEngaged",
  ]) {
    assert.ok(alerts.has(name), `no alert ${name}`);
  }
});

test("every alert has a severity, a summary, a description and a runbook section that exists", () => {
  const doc = readFileSync(OPERATIONS_DOC, "utf8");
  // GitHub's anchors: lower case, punctuation dropped, spaces to dashes.
  const anchors = new Set(
    [...doc.matchAll(/^#+\s+(.+)$/gm)].map((m) =>
      m[1]
        .toLowerCase()
        .replace(/[^a-z0-9 -]/g, "")
        .replace(/ /g, "-"),
    ),
  );
  const problems: string[] = [];
  for (const r of rules()) {
    if (r.alert === undefined) continue;
    if (!["critical", "warning", "info"].includes(r.labels?.severity ?? "")) problems.push(`${r.alert}: severity`);
    for (const a of ["summary", "description", "runbook"]) {
      if (!r.annotations?.[a]) problems.push(`${r.alert}: no ${a}`);
    }
    const anchor = /^docs\/operations\.md#(.+)$/.exec(r.annotations?.runbook ?? "")?.[1];
    if (anchor === undefined || !anchors.has(anchor)) {
      problems.push(`${r.alert}: runbook ${r.annotations?.runbook} is no section of docs/operations.md`);
    }
  }
  assert.deepEqual(problems, []);
});

test("the rules read only metrics the connector, order-entry and risk export, or the documented ones to come", () => {
  const c = connectorMetrics();
  const s = serviceMetrics();
  const metrics = { names: new Set([...c.names, ...s.names]), histograms: new Set([...c.histograms, ...s.histograms]) };
  const header = readFileSync(RULES_FILE, "utf8");
  const doc = readFileSync(OPERATIONS_DOC, "utf8");
  const problems: string[] = [];
  for (const r of rules()) {
    for (const name of metricNames(r.expr)) {
      if (exported(name, metrics)) continue;
      if (NOT_YET_EXPORTED[name] === undefined) problems.push(`${r.alert ?? r.record}: ${name} is not exported`);
      else if (!header.includes(name) || !doc.includes(name)) {
        problems.push(`${name} (${NOT_YET_EXPORTED[name]}) is not documented in the rules file and docs/operations.md`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test("the PrometheusRule of components/prometheus-operator carries the same groups as fixmesh-rules.yaml", () => {
  const pr = parseYaml(readFileSync(PROMETHEUS_RULE_FILE, "utf8")) as { kind: string; spec: { groups: unknown } };
  assert.equal(pr.kind, "PrometheusRule");
  assert.deepEqual(
    pr.spec.groups,
    readRuleGroups(RULES_FILE),
    "regenerate it: pnpm exec tsc -b && node test/k8s/dist/write-prometheus-rule.js",
  );
});
