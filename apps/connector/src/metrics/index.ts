/** Prometheus metrics of a connector's sessions, through OpenTelemetry; see the connector's README, "Metrics". */
export { METRICS_PATH } from "@fixmesh/telemetry";
export { type MetricsHandle, type MetricsOptions, startMetrics } from "./exposition.js";
export type { MeteredLeadership, MeteredRegistry, MeteredSession } from "./session-meters.js";
