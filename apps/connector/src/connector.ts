/**
 * The connector process: builds every session of a configuration (its store, validator and application), the
 * acceptor ports that serve the acceptor sessions and the transports of the initiators, and stops them all with
 * a graceful Logout.
 */
import type { ConnectionOptions, TlsOptions } from "node:tls";
import { type EventBus, InProcessBus, OutboxPublisher, ResilientJetStreamBus } from "@fixmesh/bus";
import { Acceptor, type SessionApplication, SessionRunner, tcpConnector } from "@fixmesh/engine";
import { Tag, validate } from "@fixmesh/fix";
import { ConfigError, type SessionSettings } from "@fixmesh/session";
import { ServerCredentials } from "@grpc/grpc-js";
import { acceptanceApp } from "./apps/acceptance.js";
import type { ClientTlsConfig, ConnectorConfig, ServerTlsConfig, SessionConfig } from "./config/schema.js";
import { type GrpcServerHandle, startGrpcServer } from "./grpc/server.js";
import { type Logger, loggerFor } from "./log/logger.js";
import { type MetricsHandle, startMetrics } from "./metrics/index.js";
import type { SessionRegistry } from "./registry.js";
import { Stores } from "./store/store.js";

export interface Connector extends SessionRegistry {
  readonly config: ConnectorConfig;
  readonly logger: Logger;
  /** The port each entry of `config.acceptors` listens on (the real one when the config said 0). */
  readonly acceptorPorts: readonly number[];
  /** The gRPC server's port. */
  readonly grpcPort: number | null;
  /** The metrics endpoint's port; null until it is wired in. */
  readonly metricsPort: number | null;
  /** Logs every session out (each within its LogoutTimeout), closes the ports and the stores. */
  stop(): Promise<void>;
}

export interface ConnectorOptions {
  /** Default: the logger the configuration describes, on stdout. */
  logger?: Logger;
}

/** Starts everything the configuration describes; on a failure, stops what had started and throws. */
export async function startConnector(config: ConnectorConfig, opts: ConnectorOptions = {}): Promise<Connector> {
  const c = new RunningConnector(config, opts.logger ?? loggerFor(config));
  try {
    await c.start();
  } catch (err) {
    await c.stop().catch((stopErr: unknown) => c.logger.error({ err: stopErr }, "cleanup after a failed start failed"));
    throw err;
  }
  return c;
}

class RunningConnector implements Connector {
  private readonly sessions = new Map<string, SessionRunner>();
  private readonly acceptors: Acceptor[] = [];
  private readonly stores: Stores;
  private stopping: Promise<void> | null = null;
  grpcPort: number | null = null;
  metricsPort: number | null = null;
  private grpc: GrpcServerHandle | null = null;
  private metrics: MetricsHandle | null = null;
  /** Where events go: NATS JetStream when configured, else the in-process bus. */
  private bus: EventBus | null = null;
  private readonly publishers: OutboxPublisher[] = [];

  constructor(
    readonly config: ConnectorConfig,
    readonly logger: Logger,
  ) {
    this.stores = new Stores(config, logger);
  }

  get acceptorPorts(): number[] {
    return this.acceptors.map((a) => a.port);
  }

  list(): SessionRunner[] {
    return [...this.sessions.values()];
  }

  get(id: string): SessionRunner | undefined {
    return this.sessions.get(id);
  }

  async start(): Promise<void> {
    const cfg = this.config;
    this.logger.info(
      {
        source: cfg.source,
        store: cfg.store.kind,
        dataDir: cfg.store.kind === "file" ? cfg.connector.dataDir : undefined,
        sessions: cfg.sessions.map((s) => s.id),
      },
      "connector starting",
    );
    this.bus = cfg.nats.url
      ? new ResilientJetStreamBus({
          servers: cfg.nats.url,
          stream: cfg.nats.stream,
          subjects: [`${cfg.nats.subjectPrefix}.>`],
          name: `fixmesh-connector-${cfg.connector.id}`,
          ...(cfg.nats.user !== undefined && { user: cfg.nats.user }),
          ...(cfg.nats.password && { pass: cfg.nats.password.reveal() }),
        })
      : new InProcessBus();
    this.logger.info({ bus: this.bus.kind, url: cfg.nats.url }, "events bus");
    for (const [i, a] of cfg.acceptors.entries()) {
      this.acceptors.push(
        new Acceptor({
          host: a.host,
          port: a.port,
          logonTimeout: a.logonTimeout,
          logger: this.logger.child({ acceptor: a.name ?? i }),
          ...(a.tls && { tls: serverTls(a.tls) }),
        }),
      );
    }
    // Acceptor sessions first and their ports open before any initiator dials, so a configuration whose
    // initiator talks to its own acceptor (tests, a loopback bridge) connects at the first attempt.
    for (const s of cfg.sessions) {
      if (s.acceptor !== undefined) this.acceptors[s.acceptor].register(await this.startSession(s));
    }
    for (const [i, acceptor] of this.acceptors.entries()) {
      const a = cfg.acceptors[i];
      try {
        await acceptor.listen();
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
        throw new ConfigError(`acceptors[${i}].port`, `cannot listen on ${a.host}:${a.port}: ${code}`);
      }
      this.logger.info(
        { acceptor: a.name ?? i, host: a.host, port: acceptor.port, tls: a.tls !== undefined },
        "listening",
      );
    }
    for (const s of cfg.sessions) if (s.initiator !== undefined) await this.startSession(s);

    this.grpc = await startGrpcServer({
      registry: this,
      host: cfg.grpc.host,
      port: cfg.grpc.port,
      logger: this.logger.child({ component: "grpc" }),
      ...(cfg.grpc.tls && { credentials: grpcServerCredentials(cfg.grpc.tls) }),
    });
    this.grpcPort = this.grpc.port;

    this.metrics = await startMetrics({
      registry: this,
      host: cfg.metrics.host,
      port: cfg.metrics.port,
      logger: this.logger.child({ component: "metrics" }),
    });
    this.metricsPort = this.metrics.port;

    this.logger.info(
      { acceptors: this.acceptorPorts, grpc: this.grpcPort, metrics: this.metricsPort },
      "connector started",
    );
  }

  private async startSession(s: SessionConfig): Promise<SessionRunner> {
    const log = this.logger;
    const settings: SessionSettings = s.password ? { ...s.settings, Password: s.password.reveal() } : s.settings;
    const builtin = s.application === "acceptance-test" ? acceptanceApp(s.dictionary, log) : undefined;
    const store = this.stores.for(s, (outbound) => {
      if (!log.isLevelEnabled("debug")) return;
      const trace = log.isLevelEnabled("trace");
      for (const m of outbound) {
        log.debug({ session: s.id, seq: m.seq, msgType: m.msgType, ...(trace && { raw: fixText(m.bytes) }) }, "out");
      }
    });
    const app: SessionApplication = {
      onMessage: (msg, session, possDup) => {
        if (log.isLevelEnabled("debug")) {
          const trace = log.isLevelEnabled("trace");
          log.debug(
            {
              session: session.id,
              seq: msg.getInt(Tag.MsgSeqNum),
              msgType: msg.msgType,
              possDup,
              ...(trace && { raw: fixText(msg.raw) }),
            },
            "in",
          );
        }
        builtin?.onMessage?.(msg, session, possDup);
      },
      onNotice: (n, session) => builtin?.onNotice?.(n, session),
    };
    const dict = s.dictionary;
    const runner = await SessionRunner.start({
      settings,
      store,
      app,
      events: true,
      eventSubjectPrefix: this.config.nats.subjectPrefix,
      validate: s.useDataDictionary ? (m) => validate(m, dict, s.validation) : null,
      logger: log,
      ...(s.initiator && {
        connect: tcpConnector(s.initiator.hosts, {
          timeoutMs: s.initiator.connectTimeoutMs,
          ...(s.initiator.tls && { tls: clientTls(s.initiator.tls) }),
        }),
      }),
    });
    this.sessions.set(s.id, runner);
    if (this.bus !== null) {
      const publisher = new OutboxPublisher(store, this.bus);
      runner.onCommit((c) => {
        if (c.events > 0) publisher.notify();
      });
      publisher.start();
      this.publishers.push(publisher);
    }
    log.info(
      {
        session: s.id,
        role: settings.ConnectionType,
        nextSenderSeq: runner.state.nextSenderSeq,
        nextTargetSeq: runner.state.nextTargetSeq,
        application: s.application,
        ...(s.initiator && { hosts: s.initiator.hosts.map((h) => `${h.host}:${h.port}`) }),
      },
      "session started",
    );
    return runner;
  }

  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async stopAll(): Promise<void> {
    this.logger.info({ sessions: this.sessions.size }, "connector stopping: logging out every session");
    const failures: unknown[] = [];
    // The gRPC server first, so no new sends arrive while the sessions log out.
    await this.grpc?.close().catch((err: unknown) => {
      failures.push(err);
      this.logger.error({ err }, "closing the gRPC server failed");
    });
    await Promise.all(
      this.list().map((r) =>
        r.stop(r.state.settings.LogoutTimeout * 1000).catch((err: unknown) => {
          failures.push(err);
          this.logger.error({ session: r.id, err }, "session did not stop cleanly");
        }),
      ),
    );
    // After the sessions, so a last scrape still sees the Logouts.
    await this.metrics
      ?.close()
      .catch((err: unknown) => this.logger.warn({ err }, "closing the metrics endpoint failed"));
    // The ports close after the Logouts: closing an acceptor drops the sockets it accepted.
    await Promise.all(this.acceptors.map((a) => a.close()));
    // Whatever the outboxes still hold goes to the bus now if it can; what it cannot take stays in the stores.
    await Promise.all(
      this.publishers.map((p) =>
        p
          .stop()
          .then(() =>
            p
              .drain()
              .catch((err: unknown) => this.logger.warn({ err }, "events left in the outbox for the next start")),
          ),
      ),
    );
    await this.bus?.close().catch((err: unknown) => this.logger.warn({ err }, "closing the bus failed"));
    await this.stores.close().catch((err: unknown) => {
      failures.push(err);
      this.logger.error({ err }, "closing the store connection failed");
    });
    this.logger.info("connector stopped");
    if (failures.length > 0) throw new AggregateError(failures, `${failures.length} session(s) did not stop cleanly`);
  }
}

function serverTls(t: ServerTlsConfig): TlsOptions {
  return {
    cert: t.cert,
    key: t.key.reveal(),
    ...(t.ca !== undefined && { ca: t.ca }),
    ...(t.passphrase && { passphrase: t.passphrase.reveal() }),
    requestCert: t.requireClientCert,
    rejectUnauthorized: t.requireClientCert,
  };
}

function grpcServerCredentials(t: ServerTlsConfig): ServerCredentials {
  return ServerCredentials.createSsl(
    t.ca !== undefined ? Buffer.from(t.ca) : null,
    [{ cert_chain: Buffer.from(t.cert), private_key: Buffer.from(t.key.reveal()) }],
    t.requireClientCert,
  );
}

function clientTls(t: ClientTlsConfig): ConnectionOptions {
  return {
    ...(t.ca !== undefined && { ca: t.ca }),
    ...(t.cert !== undefined && { cert: t.cert }),
    ...(t.key && { key: t.key.reveal() }),
    ...(t.passphrase && { passphrase: t.passphrase.reveal() }),
    ...(t.servername !== undefined && { servername: t.servername }),
  };
}

/** FIX bytes as a log shows them: SOH as `|`. */
function fixText(b: Buffer): string {
  return b.toString("latin1").replaceAll("\x01", "|");
}
