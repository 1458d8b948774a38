#!/usr/bin/env node
/**
 * Writes k8s/components/prometheus-operator/prometheusrule.yaml from k8s/base/alerts/fixmesh-rules.yaml, so the
 * Prometheus Operator gets the same groups as a plain Prometheus. Usage: node test/k8s/dist/write-prometheus-rule.js
 */
import { writeFileSync } from "node:fs";
import { PROMETHEUS_RULE_FILE, RULES_FILE } from "./paths.js";
import { prometheusRuleText, readRuleGroups } from "./prometheus.js";

writeFileSync(PROMETHEUS_RULE_FILE, prometheusRuleText(readRuleGroups(RULES_FILE)));
console.log(`wrote ${PROMETHEUS_RULE_FILE}`);
