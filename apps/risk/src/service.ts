/**
 * The risk service: the engine fed by its inputs — limits (file with hot reload, SetLimits), kill switches
 * (memory or Redis, every change seen at once), order events (positions, open exposure) and session state
 * events (health) — served over gRPC, every limit and kill-switch change audited as an event.
 */
import { type DurableBus, type EventBus, InProcessBus, JetStreamBus, type Subscription } from "@fixmesh/bus";
import { natsConnectOptions, probeRedis, redisClientOptions } from "@fixmesh/security";
import { serveMetrics, traceLogMixin } from "@fixmesh/telemetry";
import { credsAuthenticator, nkeyAuthenticator } from "@nats-io/transport-node";
import { type Logger, pino } from "pino";
import type { RiskConfig } from "./config/config.js";
import type { RiskConfigError } from "./config/errors.js";
import { LimitsWatcher } from "./config/limits-watcher.js";
import { type CheckInput, RiskEngine } from "./engine/engine.js";
import { describeKillSwitch, type KillSwitchState } from "./engine/kill-switches.js";
import { describeScope, type LimitSet, scopeKey } from "./engine/limits.js";
import type { Decision } from "./engine/rules.js";
import { startGrpcServer } from "./grpc/server.js";
import { RiskMetrics } from "./metrics.js";
import { AuditPublisher } from "./state/audit.js";
import { type FeedStats, followSessionHealth, OrderFeed } from "./state/feeds.js";
import { type KillSwitchStore, MemoryKillSwitchStore, RedisKillSwitchStore } from "./state/kill-switch-store.js";
import { type LimitOverrideStore, MemoryLimitOverrideStore, RedisLimitOverrideStore } from "./state/limit-store.js";

/** The buses risk reads and writes. Embedded mode passes one InProcessBus for all three. */
export interface RiskBuses {
  /** Order events (`orders.>`), read through a durable consumer. */
  orders: DurableBus;
  /** Session state events (`fix.*.state`). */
  fix: EventBus;
  /** Where audit events go. */
  audit: EventBus;
}

export interface RiskDeps {
  buses?: RiskBuses;
  killSwitches?: KillSwitchStore;
  limitOverrides?: LimitOverrideStore;
  logger?: Logger;
  now?: () => number;
  /** Do not serve gRPC (embedded callers that use `check` directly). */
  noGrpc?: boolean;
}

export interface RiskHandle {
  /** The gRPC port (0 when not serving). */
  readonly port: number;
  /** The plaintext health-only port (`grpc.healthPort`), or null. */
  readonly healthPort: number | null;
  /** The Prometheus endpoint's port (`metrics`), or null when not served. */
  readonly metricsPort: number | null;
  readonly metrics: RiskMetrics;
  readonly engine: RiskEngine;
  readonly killSwitches: KillSwitchStore;
  readonly stats: FeedStats;
  /** Checks one order in process (what CheckOrder does). */
  check(input: CheckInput): Decision;
  /** Replaces the limits of one scope, audited (what SetLimits does). */
  setLimits(set: LimitSet, reason: string, principal: string): Promise<LimitSet>;
  setKillSwitch(change: Omit<KillSwitchState, "at">): Promise<KillSwitchState>;
  limits(): { sets: LimitSet[]; source: string; loadedAt: number };
  close(): Promise<void>;
}

/** The service's pino logger; lines logged inside a traced check carry its trace id. */
export function riskLogger(config: RiskConfig): Logger {
  return pino({
    level: config.log.level,
    base: { service: "risk", risk: config.risk.id },
    mixin: traceLogMixin,
  });
}

/** Admin actions whose success the service audits itself (`setLimits`, `setKillSwitch` of the handle). */
const SELF_AUDITED = new Set(["SetLimits", "SetKillSwitch"]);

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; api_error?: { err_code?: number }; message?: string };
  return e?.api_error?.err_code === 10014 || /consumer not found/i.test(String(e?.message ?? ""));
}

/** Starts the risk service; resolves once its positions are rebuilt from the order stream and it serves. */
export async function startRisk(config: RiskConfig, deps: RiskDeps = {}): Promise<RiskHandle> {
  const log = deps.logger ?? riskLogger(config);
  const now = deps.now ?? Date.now;
  const engine = new RiskEngine({ reservationTtlMs: config.limits.reservationTtlMs });
  const metricSources: ConstructorParameters<typeof RiskMetrics>[0] = { engine };
  const metrics = new RiskMetrics(metricSources);
  const cleanups: Array<() => Promise<void> | void> = [];
  let stopping: Promise<void> | null = null;
  const cleanup = () => {
    stopping ??= (async () => {
      for (const c of cleanups.reverse()) {
        try {
          await c();
        } catch (err) {
          log.warn({ err }, "error while stopping");
        }
      }
    })();
    return stopping;
  };

  try {
    // --- buses -------------------------------------------------------------------------------------------------
    let buses = deps.buses;
    let replay: ((name: string) => Promise<void>) | undefined;
    const nats = config.bus.nats;
    const redisLink = config.links?.redis;
    if (buses === undefined && config.bus.kind === "nats") {
      const url = nats.url as string;
      // The link's credentials and TLS (user/password, token, nkey, creds; verified TLS).
      const natsLink = config.links?.nats;
      const servers = natsLink?.url !== undefined ? natsLink.url.split(",") : url;
      const connectOptions = natsLink && natsConnectOptions(natsLink, { nkeyAuthenticator, credsAuthenticator });
      const name = `risk-${config.risk.id}`;
      const orders = await JetStreamBus.connect({
        servers,
        stream: nats.ordersStream,
        subjects: [`${nats.ordersPrefix}.>`],
        name,
        log,
        ...(connectOptions && { connectOptions }),
      });
      cleanups.push(() => orders.close());
      const fix = await JetStreamBus.connect({
        servers,
        stream: nats.fixStream,
        subjects: [`${nats.fixPrefix}.>`],
        name,
        log,
        ...(connectOptions && { connectOptions }),
      });
      cleanups.push(() => fix.close());
      const audit = await JetStreamBus.connect({
        servers,
        stream: nats.auditStream,
        subjects: [`${nats.auditPrefix}.>`],
        name,
        log,
        ...(connectOptions && { connectOptions }),
      });
      cleanups.push(() => audit.close());
      buses = { orders, fix, audit };
      // Positions live in memory: a (re)started instance replays the order stream from its beginning.
      replay = async (durable) => {
        await orders.deleteDurable(durable).catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
      };
    }
    if (buses === undefined) {
      const bus = new InProcessBus();
      buses = { orders: bus, fix: bus, audit: bus };
    }
    const audit = new AuditPublisher(buses.audit, config.bus.kind === "nats" ? nats.auditPrefix : "audit", now);
    const auditSafely = async (e: Parameters<AuditPublisher["publish"]>[0]) => {
      try {
        await audit.publish(e);
      } catch (err) {
        log.error({ err, action: e.action, resource: e.resource }, "audit event not published");
      }
    };

    // --- limits ------------------------------------------------------------------------------------------------
    // The file's sets, then the SetLimits ones over them scope by scope (shared by every instance through the
    // override store: Redis when state.kind is redis).
    let fileSets: LimitSet[] = [];
    let loadedAt = now();
    const source = config.limits.file ?? "";
    if (redisLink && (deps.limitOverrides === undefined || deps.killSwitches === undefined)) {
      await probeRedis(redisLink);
    }
    const overrides =
      deps.limitOverrides ??
      (config.state.kind === "redis"
        ? new RedisLimitOverrideStore({
            redis: redisLink?.url ?? (config.state.redis.url as string),
            ...(redisLink && { redisOptions: redisClientOptions(redisLink) }),
            prefix: config.state.redis.prefix,
            onError: (err, what) => log.warn({ err, what }, "limit store"),
          })
        : new MemoryLimitOverrideStore(now));
    const applyLimits = () => {
      const merged = new Map<string, LimitSet>();
      for (const s of fileSets) merged.set(scopeKey(s.scope), s);
      for (const o of overrides.current()) merged.set(scopeKey(o.set.scope), o.set);
      engine.limits.replaceAll([...merged.values()]);
    };
    const unwatchLimits = overrides.watch((o) => {
      applyLimits();
      log.warn({ scope: describeScope(o.set.scope), reason: o.reason, principal: o.principal }, "limits set");
    });
    cleanups.push(unwatchLimits);
    if (deps.limitOverrides === undefined) cleanups.push(() => overrides.close());
    await overrides.start();
    if (config.limits.file !== undefined) {
      const file = config.limits.file;
      const watcher = new LimitsWatcher({
        file,
        now,
        onLoad: (sets, at) => {
          fileSets = sets;
          loadedAt = at;
          applyLimits();
          metrics.limitsChanged("file");
          log.info({ file, limitSets: sets.length }, "limits file reloaded");
          void auditSafely({
            principal: "limits-file",
            action: "ReloadLimits",
            resource: file,
            outcome: "ok",
            detail: `${sets.length} limit sets`,
          });
        },
        onReject: (err: RiskConfigError) => {
          const detail = err.issues.map((i) => `${i.field}: ${i.reason}`).join("; ");
          log.error({ file, issues: err.issues }, `limits file refused, the limits in force stay: ${detail}`);
          void auditSafely({
            principal: "limits-file",
            action: "ReloadLimits",
            resource: file,
            outcome: "failed",
            detail,
          });
        },
      });
      fileSets = watcher.load();
      watcher.start();
      cleanups.push(() => watcher.close());
      log.info({ file, limitSets: fileSets.length }, "limits loaded");
    }
    applyLimits();

    // --- kill switches -----------------------------------------------------------------------------------------
    const killSwitches =
      deps.killSwitches ??
      (config.state.kind === "redis"
        ? new RedisKillSwitchStore({
            redis: redisLink?.url ?? (config.state.redis.url as string),
            ...(redisLink && { redisOptions: redisClientOptions(redisLink) }),
            prefix: config.state.redis.prefix,
            onError: (err, what) => log.warn({ err, what }, "kill-switch store"),
            onReload: (changed) => {
              if (changed > 0) log.info({ changed }, "kill switches reloaded");
            },
          })
        : new MemoryKillSwitchStore(now, (err) => log.error({ err }, "kill-switch watcher failed")));
    // Watch before start: the first load arrives through the watcher too, and nothing falls in between.
    const unwatch = killSwitches.watch((s) => {
      if (engine.applyKillSwitch(s)) {
        log.warn(
          { scope: s.scope, target: s.target, engaged: s.engaged, operator: s.operator, reason: s.reason },
          `kill switch ${describeKillSwitch(s)} ${s.engaged ? "engaged" : "released"}`,
        );
      }
    });
    cleanups.push(unwatch);
    if (deps.killSwitches === undefined) cleanups.push(() => killSwitches.close());
    await killSwitches.start();
    for (const s of killSwitches.current()) engine.applyKillSwitch(s);

    // --- events ------------------------------------------------------------------------------------------------
    const stats: FeedStats = { orderEvents: 0, fills: 0, duplicateFills: 0, unreadable: 0, stateEvents: 0 };
    const ordersFilter = config.bus.kind === "nats" ? `${nats.ordersPrefix}.>` : "orders.>";
    const stateFilter = config.bus.kind === "nats" ? `${nats.fixPrefix}.*.state` : "fix.*.state";
    const feed = new OrderFeed({
      bus: buses.orders,
      name: `risk-${config.risk.id}`,
      filter: ordersFilter,
      engine,
      stats,
      log,
      ...(replay && { replay }),
      // Named per instance (the pod): the server drops it once the pod is gone for good.
      inactiveThresholdMs: config.bus.durableInactiveMs,
    });
    await feed.start();
    cleanups.push(() => feed.stop());
    const health: Subscription = await followSessionHealth(buses.fix, stateFilter, engine, stats, log);
    cleanups.push(() => health.unsubscribe());
    await feed.caughtUp(config.bus.catchUpTimeoutMs);
    log.info({ orderEvents: stats.orderEvents, fills: stats.fills }, "positions rebuilt from the order stream");

    // --- metrics -----------------------------------------------------------------------------------------------
    metricSources.consumer = {
      stream: config.bus.kind === "nats" ? nats.ordersStream : "orders",
      name: `risk-${config.risk.id}`,
      lag: () => feed.lag(),
    };
    let metricsPort: number | null = null;
    if (config.metrics !== undefined) {
      const endpoint = await serveMetrics({ ...config.metrics, registry: metrics.registry, logger: log });
      cleanups.push(() => endpoint.close());
      metricsPort = endpoint.port;
    }

    // --- the service -------------------------------------------------------------------------------------------
    const handle: RiskHandle = {
      port: 0,
      healthPort: null,
      metricsPort,
      metrics,
      engine,
      killSwitches,
      stats,
      check: (input) => {
        const t0 = performance.now();
        const d = engine.check(input, now());
        metrics.checked(d, (performance.now() - t0) / 1000);
        return d;
      },
      limits: () => ({ sets: engine.limits.list(), source, loadedAt }),
      async setLimits(set, reason, principal) {
        await overrides.set(set, reason, principal);
        metrics.limitsChanged("set_limits");
        await auditSafely({
          principal,
          action: "SetLimits",
          resource: describeScope(set.scope),
          reason,
          outcome: "ok",
        });
        return set;
      },
      async setKillSwitch(change) {
        const s = await killSwitches.set(change);
        engine.applyKillSwitch(s);
        await auditSafely({
          principal: s.operator,
          action: "SetKillSwitch",
          resource: describeKillSwitch(s),
          reason: s.reason,
          outcome: "ok",
          detail: `${s.engaged ? "engaged" : "released"}${s.engaged && s.cancelOpenOrders ? ", cancel open orders" : ""}`,
        });
        return s;
      },
      close: cleanup,
    };
    if (deps.noGrpc) return handle;
    const { host, port, closeGraceMs, ...security } = config.grpc;
    const server = await startGrpcServer({
      risk: handle,
      host,
      port,
      closeGraceMs,
      logger: log,
      security,
      // The security layer's denials and admin outcomes go on risk's bus like risk's own audit events. A
      // SetLimits / SetKillSwitch that succeeded is audited by the service itself (above: same principal, with the
      // scope and what changed), so the layer's `ok` event of those two would be a duplicate.
      audit: (e) => {
        if (e.outcome === "ok" && SELF_AUDITED.has(e.action)) return;
        audit.publishEvent(e).catch((err: unknown) => {
          log.error({ err, action: e.action, outcome: e.outcome }, "audit event not published");
        });
      },
    });
    cleanups.push(() => server.close());
    return { ...handle, port: server.port, healthPort: server.healthPort };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
