/**
 * `startOrderEntry(config)`: the whole service — store (Redis or memory), connector and risk clients, the
 * ExecutionReport consumer, the ORDERS publisher, the kill-switch watcher and the gRPC server — and a handle whose
 * `close()` stops it in order. Embedded (`fixmesh start`) passes an in-process bus and a memory store; as its own
 * process it connects to NATS JetStream and Redis from the configuration.
 */
import { randomUUID } from "node:crypto";
import {
  type AuditEvent,
  type DurableBus,
  type EventBus,
  InProcessBus,
  JetStreamBus,
  sessionToken,
} from "@fixmesh/bus";
import {
  type AuditSink,
  type ClientTls,
  clientTls,
  describeLinkError,
  linkSecrets,
  natsConnectOptions,
  probeRedis,
  redisClientOptions,
} from "@fixmesh/security";
import { serveMetrics, traceLogMixin } from "@fixmesh/telemetry";
import { credsAuthenticator, nkeyAuthenticator } from "@nats-io/transport-node";
import pino, { type Logger } from "pino";
import { ConnectorClient } from "./clients/connector.js";
import { MessageFeed } from "./clients/message-feed.js";
import { RiskClient } from "./clients/risk.js";
import { followSessionHealth } from "./clients/session-health.js";
import type { ClientTlsConfig, OrderEntryConfig } from "./config/schema.js";
import { ExecutionConsumer } from "./service/executions.js";
import { startGrpcServer } from "./service/grpc.js";
import { KillSwitchWatcher } from "./service/kill-switches.js";
import { MeteredOrderEntry, OrderEntryMetrics } from "./service/metrics.js";
import type { OrderEntry, OrderEntryDeps, Sender } from "./service/order-entry.js";
import { OrderEventPublisher } from "./service/publisher.js";
import { MemoryOrderStore } from "./store/memory.js";
import { RedisOrderStore } from "./store/redis.js";
import type { OrderRepository } from "./store/types.js";

export interface StartOptions {
  /** The FIX event bus to consume ExecutionReports from (embedded: the in-process bus). Default: NATS from config. */
  fixBus?: DurableBus;
  /** Where ORDERS events go (embedded: the in-process bus). Default: NATS from config; none without NATS. */
  ordersBus?: EventBus | null;
  logger?: Logger;
  /** A store to use instead of the configured one (tests). */
  repo?: OrderRepository;
}

export interface OrderEntryHandle {
  readonly port: number;
  /** The plaintext health-only listener's port (`grpc.healthPort`), or null. */
  readonly healthPort: number | null;
  /** The Prometheus endpoint's port (`metrics`), or null when not served. */
  readonly metricsPort: number | null;
  readonly metrics: OrderEntryMetrics;
  readonly core: OrderEntry;
  readonly repo: OrderRepository;
  readonly consumer: ExecutionConsumer | null;
  readonly publisher: OrderEventPublisher;
  readonly killSwitches: KillSwitchWatcher;
  close(): Promise<void>;
}

/** mTLS client credentials from the config (files reloaded on rotation, server name always checked). */
function dialTls(t: ClientTlsConfig | undefined, field: string): ClientTls | undefined {
  if (t === undefined) return undefined;
  return clientTls({
    caFile: t.caFile,
    ...(t.certFile !== undefined && { certFile: t.certFile }),
    ...(t.keyFile !== undefined && { keyFile: t.keyFile }),
    ...(t.serverName !== undefined && { serverName: t.serverName }),
    field,
  });
}

export async function startOrderEntry(config: OrderEntryConfig, opts: StartOptions = {}): Promise<OrderEntryHandle> {
  const log =
    opts.logger ??
    pino({
      level: config.log.level,
      base: { service: "order-entry", id: config.orderEntry.id },
      // Every line logged inside a span carries its trace id (traceLogMixin answers a fresh object per line).
      mixin: traceLogMixin,
    });
  const undo: Array<() => Promise<void> | void> = [];
  const cleanup = async () => {
    for (const f of undo.reverse()) await Promise.resolve(f()).catch(() => undefined);
  };
  try {
    const sessions = new Set(config.sessions.map((s) => s.id));
    const redisLink = config.links?.redis;
    const redisUrl = redisLink?.url ?? (config.store.kind === "redis" ? config.store.redis.url : "");
    if (!opts.repo && redisLink) await probeRedis(redisLink);
    const repo =
      opts.repo ??
      (config.store.kind === "redis"
        ? await RedisOrderStore.connect({
            url: redisUrl,
            prefix: config.store.redis.prefix,
            ...(redisLink && { clientOptions: redisClientOptions(redisLink) }),
          }).catch((err: unknown) => {
            // Authentication and TLS failures are named (never with the password in them) and stop the start.
            throw describeLinkError("redis", err, {
              server: redisUrl,
              ...(redisLink?.username !== undefined && { user: redisLink.username }),
              secrets: redisLink ? linkSecrets(redisLink) : [],
            });
          })
        : new MemoryOrderStore());
    if (!opts.repo) undo.push(() => repo.close());

    // One connector client per connector address; the sender routes each session to its own.
    const byAddress = new Map<string, string[]>();
    for (const s of config.sessions) byAddress.set(s.connector, [...(byAddress.get(s.connector) ?? []), s.id]);
    const clients = new Map<string, ConnectorClient>();
    // With the connector's state events (NATS, or the embedded bus) health follows them and GetSession is only a
    // slow fallback; without them it is polled.
    const healthPollMs =
      config.connector?.healthPollMs ?? (opts.fixBus !== undefined || config.nats !== undefined ? 5000 : 500);
    for (const [address, ids] of byAddress) {
      const tls = dialTls(config.connector?.tls, "connector.tls");
      if (tls) undo.push(() => tls.files.close());
      const c = new ConnectorClient({
        address,
        ...(tls && { credentials: tls.credentials, channelOptions: tls.options }),
        sessions: ids,
        healthPollMs,
        onHealth: (sessionId, health, reason) => log.info({ session: sessionId, health, reason }, "session health"),
      });
      undo.push(() => c.close());
      for (const id of ids) clients.set(id, c);
    }
    await Promise.all([...new Set(clients.values())].map((c) => c.start()));
    const sender: Sender = {
      send: (msg) => (clients.get(msg.sessionId) as ConnectorClient).send(msg),
      healthOf: (id) => clients.get(id)?.healthOf(id) ?? 0,
    };

    const riskTls = dialTls(config.risk.tls, "risk.tls");
    if (riskTls) undo.push(() => riskTls.files.close());
    const risk = new RiskClient({
      address: config.risk.address,
      deadlineMs: config.risk.deadlineMs,
      ...(riskTls && { credentials: riskTls.credentials, channelOptions: riskTls.options }),
    });
    undo.push(() => risk.close());

    // NATS with the link's credentials and TLS; an authentication or TLS failure stops the start, named.
    const natsLink = config.links?.nats;
    const natsConnect = async (o: Parameters<typeof JetStreamBus.connect>[0]) =>
      JetStreamBus.connect({
        log,
        ...o,
        ...(natsLink && { servers: (natsLink.url ?? String(o.servers)).split(",") }),
        ...(natsLink && { connectOptions: natsConnectOptions(natsLink, { nkeyAuthenticator, credsAuthenticator }) }),
      }).catch((err: unknown) => {
        throw describeLinkError("nats", err, {
          server: natsLink?.url ?? String(o.servers),
          ...(natsLink?.user !== undefined && { user: natsLink.user }),
          secrets: natsLink ? linkSecrets(natsLink) : [],
        });
      });

    let fixBus = opts.fixBus;
    let ordersBus = opts.ordersBus;
    if (config.nats && (fixBus === undefined || ordersBus === undefined)) {
      const n = config.nats;
      if (fixBus === undefined) {
        const b = await natsConnect({
          servers: n.url,
          stream: n.fixStream,
          subjects: [`${n.fixSubjectPrefix}.>`],
          name: `${config.orderEntry.id}-fix`,
        });
        undo.push(() => b.close());
        fixBus = b;
      }
      if (ordersBus === undefined) {
        const b = await natsConnect({
          servers: n.url,
          stream: n.ordersStream,
          subjects: [`${n.ordersSubjectPrefix}.>`],
          name: `${config.orderEntry.id}-orders`,
        });
        undo.push(() => b.close());
        ordersBus = b;
      }
    }

    if (fixBus !== undefined) {
      const sub = await followSessionHealth({
        bus: fixBus,
        subjectPrefix: config.nats?.fixSubjectPrefix ?? "fix",
        sinks: clients,
        logger: log,
      });
      undo.push(() => sub.unsubscribe());
      // A change between the first GetSession and the subscription: read once more, now that events are followed.
      await Promise.all([...new Set(clients.values())].map((c) => c.pollHealth()));
    }

    const publisher = new OrderEventPublisher({
      bus: ordersBus ?? null,
      repo,
      subjectPrefix: config.nats?.ordersSubjectPrefix ?? "orders",
      logger: log,
    });
    publisher.start();
    undo.push(() => publisher.close());
    const onCommitted = (entries: readonly Parameters<typeof publisher.push>[0][number][]) => publisher.push(entries);

    // MassCancel is an operator action: audited on the AUDIT stream (with NATS; logged either way).
    let audit: OrderEntryDeps["audit"];
    // The security layer's denials and admin outcomes go to the same stream.
    let publishAudit: ((ev: AuditEvent) => void) | undefined;
    if (config.nats) {
      const n = config.nats;
      const auditBus = await natsConnect({
        servers: n.url,
        stream: n.auditStream,
        subjects: [`${n.auditSubjectPrefix}.>`],
        name: `${config.orderEntry.id}-audit`,
      });
      undo.push(() => auditBus.close());
      publishAudit = (ev) => {
        const subject = `${n.auditSubjectPrefix}.${sessionToken("order-entry")}.${sessionToken(ev.action)}`;
        void auditBus
          .publish([{ id: ev.id, subject, payload: Buffer.from(JSON.stringify(ev)) }])
          .catch((err: unknown) => log.error({ err, audit: ev }, "audit event not published"));
      };
      const sink = publishAudit;
      audit = (e) =>
        sink({
          id: `order-entry:${config.orderEntry.id}:${randomUUID()}`,
          at: Date.now(),
          service: "order-entry",
          ...e,
        });
    }
    const metrics = new OrderEntryMetrics({ repo });
    const core = new MeteredOrderEntry(
      {
        ...(audit && { audit }),
        repo,
        risk: metrics.timedRisk(risk),
        sender: metrics.timedSender(sender),
        sessions,
        onCommitted,
        logger: log,
        idempotencyTtlMs: config.idempotency.ttlHours * 3_600_000,
        claimTakeoverMs: config.idempotency.takeoverMs,
      },
      metrics,
    );

    if (fixBus === undefined) {
      // No NATS and no bus given (embedded): read the connectors' inbound 8s and 9s over StreamMessages into a
      // bus of our own.
      const local = new InProcessBus();
      for (const c of new Set(clients.values())) {
        const feed = new MessageFeed({
          rpc: c.rpc,
          sessions: [...clients].filter(([, x]) => x === c).map(([id]) => id),
          bus: local,
          subjectPrefix: "fix",
          logger: log,
        });
        feed.start();
        undo.push(() => feed.stop());
      }
      fixBus = local;
    }
    let consumer: ExecutionConsumer | null = null;
    if (fixBus) {
      consumer = new ExecutionConsumer({
        bus: fixBus,
        repo,
        sessions,
        subjectPrefix: config.nats?.fixSubjectPrefix ?? "fix",
        durableName: config.nats?.durable ?? "order-entry",
        parallel: config.nats?.pullers ?? 1,
        logger: log,
        onCommitted,
      });
      await consumer.start();
      const c = consumer;
      undo.push(() => c.stop());
      metrics.sourceExecutions({
        counters: c.counters,
        stream: config.nats?.fixStream ?? "fix",
        name: config.nats?.durable ?? "order-entry",
        lag: () => c.lag(),
      });
    } else {
      log.warn("no FIX event bus configured: ExecutionReports are not consumed");
    }

    // Orders left "pending" (an instance died between storing and sending, or the connector answered PERSIST_FAILED):
    // resolved in the background.
    let recovering: Promise<unknown> = Promise.resolve();
    const recovery = setInterval(
      () => {
        recovering = recovering.then(() =>
          core.recoverPendingSends().catch((err: unknown) => log.warn({ err }, "pending-send recovery failed")),
        );
      },
      Math.max(2000, config.idempotency.takeoverMs),
    );
    recovery.unref();
    undo.push(async () => {
      clearInterval(recovery);
      await recovering;
    });

    const killSwitches = new KillSwitchWatcher({
      read: () => risk.killSwitches(),
      core,
      sessions: [...sessions],
      pollMs: config.risk.killSwitchPollMs,
      logger: log,
    });
    killSwitches.start();
    undo.push(() => killSwitches.stop());

    const { host, port, ...security } = config.grpc;
    const server = await startGrpcServer({
      core,
      repo: metrics.watchedRepo(repo),
      host,
      port,
      logger: log,
      security,
      ...(publishAudit && { audit: publishAudit as AuditSink }),
    });
    undo.push(() => server.close());
    log.info(
      { port: server.port, healthPort: server.healthPort, sessions: [...sessions], store: repo.kind },
      "order-entry listening",
    );

    let metricsPort: number | null = null;
    if (config.metrics !== undefined) {
      const endpoint = await serveMetrics({ ...config.metrics, registry: metrics.registry, logger: log });
      undo.push(() => endpoint.close());
      metricsPort = endpoint.port;
    }

    let closing: Promise<void> | null = null;
    return {
      port: server.port,
      healthPort: server.healthPort,
      metricsPort,
      metrics,
      core,
      repo,
      consumer,
      publisher,
      killSwitches,
      close() {
        closing ??= cleanup();
        return closing;
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
