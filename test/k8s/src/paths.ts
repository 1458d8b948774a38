import { fileURLToPath } from "node:url";

/** The repository's root (this file is test/k8s/{src,dist}/paths.*). */
export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
/** This package's directory: its node_modules resolve the schema packages. */
export const PACKAGE_DIR = fileURLToPath(new URL("../", import.meta.url));
export const K8S_DIR = `${REPO}k8s/`;
export const ALERTS_DIR = `${K8S_DIR}base/alerts/`;
export const RULES_FILE = `${ALERTS_DIR}fixmesh-rules.yaml`;
export const RULES_TEST_FILE = `${ALERTS_DIR}fixmesh-rules.test.yaml`;
export const DASHBOARD_FILE = `${K8S_DIR}base/dashboards/fixmesh-sessions.json`;
export const PROMETHEUS_RULE_FILE = `${K8S_DIR}components/prometheus-operator/prometheusrule.yaml`;
export const OPERATIONS_DOC = `${REPO}docs/operations.md`;
/** Where the connector's metrics are made: every `fixmesh_*` name they create is exported. */
export const CONNECTOR_METRICS_DIR = `${REPO}apps/connector/src/metrics/`;
/** order-entry's and risk's metrics (a @fixmesh/telemetry MetricsRegistry each). */
export const SERVICE_METRICS_FILES = [
  `${REPO}apps/order-entry/src/service/metrics.ts`,
  `${REPO}apps/risk/src/metrics.ts`,
];

/** The overlays test/k8s renders, and what kind of environment each is. */
export const OVERLAYS = [
  { name: "dev", dir: `${K8S_DIR}overlays/dev`, env: "dev" },
  { name: "prod", dir: `${K8S_DIR}overlays/prod`, env: "prod" },
] as const;
export type Overlay = (typeof OVERLAYS)[number];
