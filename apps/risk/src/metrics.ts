/**
 * Risk's Prometheus metrics (`metrics: { host, port }` in its configuration; README "Metrics"): checks by outcome
 * and the rule that refused, check latency, kill switches engaged, limit changes, and the lag of its order-event
 * durable (the `fixmesh_consumer_lag_messages` the alert rules read).
 */
import { MetricsRegistry, type Sample } from "@fixmesh/telemetry";
import type { RiskEngine } from "./engine/engine.js";
import type { Decision } from "./engine/rules.js";

/** A check takes microseconds in process: buckets from 5 µs to 50 ms. */
const CHECK_BUCKETS = [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.05];

export interface RiskMetricsSources {
  engine: RiskEngine;
  /** The order-event durable: its stream, name and lag (events not yet acknowledged). */
  consumer?: { stream: string; name: string; lag(): Promise<number> };
}

export class RiskMetrics {
  readonly registry = new MetricsRegistry();
  private readonly checks = this.registry.counter(
    "fixmesh_risk_checks_total",
    "Pre-trade checks, by outcome (allowed, refused) and the rule that refused (empty when allowed).",
  );
  private readonly latency = this.registry.histogram(
    "fixmesh_risk_check_seconds",
    "Time to check one order in process (the engine, not the gRPC hop).",
    CHECK_BUCKETS,
  );
  private readonly limitChanges = this.registry.counter(
    "fixmesh_risk_limit_changes_total",
    "Limit changes: SetLimits through this instance (source set_limits), reloads of the limits file (source file).",
  );

  // Every check counts and times itself: series resolved once, not a label key built per check.
  private readonly allowed = this.checks.child({ outcome: "allowed", rule: "" });
  private readonly refusedBy = new Map<string, { inc(): void }>();
  private readonly checkLatency = this.latency.child();

  constructor(src: RiskMetricsSources) {
    this.registry.gauge(
      "fixmesh_risk_kill_switch_engaged",
      "1 while a kill switch is engaged, 0 once released, by scope (GLOBAL, SESSION, ACCOUNT) and target.",
      (): Sample =>
        src.engine.killSwitches.list().map((s) => [{ scope: s.scope, target: s.target }, s.engaged ? 1 : 0]),
    );
    // Read at scrape time: the durable exists once the service has started its feed.
    this.registry.gauge(
      "fixmesh_consumer_lag_messages",
      "Events in the stream not yet acknowledged by this durable consumer.",
      async (): Promise<Sample> => {
        const c = src.consumer;
        return c === undefined ? [] : [[{ stream: c.stream, consumer: c.name }, await c.lag()]];
      },
    );
  }

  /** One check answered, `seconds` after it started. */
  checked(d: Decision, seconds: number): void {
    if (d.allowed) this.allowed.inc();
    else {
      let c = this.refusedBy.get(d.rule);
      if (c === undefined) {
        c = this.checks.child({ outcome: "refused", rule: d.rule });
        this.refusedBy.set(d.rule, c);
      }
      c.inc();
    }
    this.checkLatency.observe(seconds);
  }

  limitsChanged(source: "set_limits" | "file"): void {
    this.limitChanges.inc({ source });
  }
}
