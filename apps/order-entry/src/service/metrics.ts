/**
 * order-entry's Prometheus metrics (`metrics: { host, port }` in its configuration; README "Metrics"): orders
 * submitted, accepted and rejected by reason, submit latency, the risk check and connector send as order-entry
 * sees them, ExecutionReports applied / duplicates dropped / unknown orders kept, open orders, StreamOrderUpdates
 * subscribers, and the lag of the ExecutionReport durable (`fixmesh_consumer_lag_messages`, as the alerts read it).
 */
import { RpcError } from "@fixmesh/contracts";
import { LATENCY_BUCKETS, MetricsRegistry, type Sample } from "@fixmesh/telemetry";
import type { OrderRepository } from "../store/types.js";
import type { ExecutionCounters } from "./executions.js";
import { type Answer, OrderEntry, type OrderEntryDeps, type RiskChecker, type Sender } from "./order-entry.js";

export interface OrderEntryMetricsSources {
  repo: OrderRepository;
  /** The ExecutionReport consumer's tallies and its durable, once started. */
  executions?: { counters: ExecutionCounters; stream: string; name: string; lag(): Promise<number> };
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;

export class OrderEntryMetrics {
  readonly registry = new MetricsRegistry();
  readonly submitted = this.registry.counter(
    "fixmesh_order_entry_orders_submitted_total",
    "SubmitOrder requests (unary and stream), retries included.",
  );
  readonly accepted = this.registry.counter(
    "fixmesh_order_entry_orders_accepted_total",
    "New orders checked by risk and sent to the connector (a retry answered with the first result: replayed).",
  );
  readonly rejected = this.registry.counter(
    "fixmesh_order_entry_orders_rejected_total",
    "SubmitOrder requests refused by order-entry, by the answer's reason (INVALID_FIELD, SESSION_NOT_LIVE, RISK_REJECTED, RISK_UNAVAILABLE, ...).",
  );
  readonly submitLatency = this.registry.histogram(
    "fixmesh_order_entry_submit_seconds",
    "SubmitOrder from request to answer (validation, idempotency claim, risk, store, connector send).",
  );
  readonly riskLatency = this.registry.histogram(
    "fixmesh_order_entry_risk_check_seconds",
    "Risk checks as order-entry waits for them (the gRPC stream round trip included), by outcome.",
    LATENCY_BUCKETS,
  );
  readonly sendLatency = this.registry.histogram(
    "fixmesh_order_entry_connector_send_seconds",
    "Connector sends until the connector answered (persisted and sent), by outcome.",
    LATENCY_BUCKETS,
  );
  private subscribers = 0;
  // Series resolved once (no label key built per order).
  private readonly riskAllowed = this.riskLatency.child({ outcome: "allowed" });
  private readonly riskRefused = this.riskLatency.child({ outcome: "refused" });
  private readonly riskError = this.riskLatency.child({ outcome: "error" });
  private readonly sendOk = this.sendLatency.child({ outcome: "ok" });
  private readonly sendError = this.sendLatency.child({ outcome: "error" });
  readonly submittedOne = this.submitted.child();
  readonly acceptedNew = this.accepted.child({ replayed: "false" });
  readonly acceptedReplayed = this.accepted.child({ replayed: "true" });
  readonly submitTimer = this.submitLatency.child();

  constructor(private readonly src: OrderEntryMetricsSources) {
    const tally = (key: keyof ExecutionCounters) => (): Sample => src.executions?.counters[key] ?? 0;
    this.registry.observedCounter(
      "fixmesh_order_entry_executions_applied_total",
      "ExecutionReports and OrderCancelRejects applied to an order by this instance.",
      tally("applied"),
    );
    this.registry.observedCounter(
      "fixmesh_order_entry_duplicate_reports_total",
      "ExecutionReports dropped as already applied (same session and ExecID; PossDup/PossResend copies included).",
      tally("duplicates"),
    );
    this.registry.observedCounter(
      "fixmesh_order_entry_unknown_reports_total",
      "ExecutionReports for an order nobody knows, kept for reconciliation.",
      tally("unknownOrder"),
    );
    this.registry.observedCounter(
      "fixmesh_order_entry_refused_reports_total",
      "Reports the order state machine refused, or that could not be read.",
      () => (src.executions ? src.executions.counters.rejected + src.executions.counters.malformed : 0),
    );
    this.registry.gauge("fixmesh_order_entry_open_orders", "Orders not in a final state (the whole store).", () =>
      src.repo.openCount(),
    );
    this.registry.gauge(
      "fixmesh_order_entry_update_subscribers",
      "StreamOrderUpdates calls open on this instance.",
      () => this.subscribers,
    );
    this.registry.gauge(
      "fixmesh_consumer_lag_messages",
      "Events in the stream not yet acknowledged by this durable consumer.",
      async (): Promise<Sample> => {
        const e = src.executions;
        return e === undefined ? [] : [[{ stream: e.stream, consumer: e.name }, await e.lag()]];
      },
    );
  }

  /** The risk client, each check timed. */
  timedRisk(risk: RiskChecker): RiskChecker {
    return {
      check: async (req, deadlineMs, traceparent) => {
        const t0 = performance.now();
        try {
          const r = await risk.check(req, deadlineMs, traceparent);
          (r.allowed ? this.riskAllowed : this.riskRefused).observe(seconds(t0));
          return r;
        } catch (err) {
          this.riskError.observe(seconds(t0));
          throw err;
        }
      },
    };
  }

  /** The connector sender, each send timed. */
  timedSender(sender: Sender): Sender {
    return {
      healthOf: (id) => sender.healthOf(id),
      send: async (msg) => {
        const t0 = performance.now();
        try {
          const r = await sender.send(msg);
          this.sendOk.observe(seconds(t0));
          return r;
        } catch (err) {
          this.sendError.observe(seconds(t0));
          throw err;
        }
      },
    };
  }

  /**
   * The repository as the gRPC server sees it: each `watchLog` (one per StreamOrderUpdates call) counted while it
   * lasts. Everything else goes to the repository itself.
   */
  watchedRepo(repo: OrderRepository): OrderRepository {
    const watchLog: OrderRepository["watchLog"] = (fn) => {
      this.subscribers++;
      const stop = repo.watchLog(fn);
      let stopped = false;
      return () => {
        if (!stopped) {
          stopped = true;
          this.subscribers--;
        }
        stop();
      };
    };
    return new Proxy(repo, {
      get(target, prop) {
        if (prop === "watchLog") return watchLog;
        const v = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
  }

  sourceExecutions(e: NonNullable<OrderEntryMetricsSources["executions"]>): void {
    this.src.executions = e;
  }
}

/** OrderEntry with every SubmitOrder counted and timed (the unary call and each stream item alike). */
export class MeteredOrderEntry extends OrderEntry {
  constructor(
    deps: OrderEntryDeps,
    private readonly metrics: OrderEntryMetrics,
  ) {
    super(deps);
  }

  override async submit(...args: Parameters<OrderEntry["submit"]>): Promise<Answer> {
    const t0 = performance.now();
    this.metrics.submittedOne.inc();
    try {
      const a = await super.submit(...args);
      (a.replayed ? this.metrics.acceptedReplayed : this.metrics.acceptedNew).inc();
      return a;
    } catch (err) {
      this.metrics.rejected.inc({ reason: err instanceof RpcError ? err.reason : "INTERNAL" });
      throw err;
    } finally {
      this.metrics.submitTimer.observe(seconds(t0));
    }
  }
}
