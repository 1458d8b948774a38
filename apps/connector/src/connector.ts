/**
 * The connector process: builds every session of a configuration (its store, validator and application), the
 * acceptor ports that serve the acceptor sessions and the transports of the initiators, and stops them all with
 * a graceful Logout.
 *
 * Under election (`election.kind: redis | lease`) each session is an `ElectedSession`: a warm standby until its
 * elector wins, then a fenced leadership term with its own runner (see election/elected-session.ts). Without
 * election (`none`) every session leads at once, unfenced, and starts as it always did.
 */
import type { TlsOptions } from "node:tls";
import { type EventBus, InProcessBus, OutboxPublisher, ResilientJetStreamBus, sessionToken } from "@fixmesh/bus";
import { Acceptor, type SessionApplication, SessionRunner, tcpConnector } from "@fixmesh/engine";
import { Tag, validate } from "@fixmesh/fix";
import { ConfigError, type MessageStore, type SessionSettings } from "@fixmesh/session";
import { ServerCredentials } from "@grpc/grpc-js";
import { acceptanceApp } from "./apps/acceptance.js";
import { type ConnectorConfig, clientTlsOptions, type ServerTlsConfig, type SessionConfig } from "./config/schema.js";
import { ElectedSession, type Leadership, type LeadershipTransition } from "./election/elected-session.js";
import { Electors } from "./election/electors.js";
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
  /** A configured session's leadership (always leading, epoch 0, without election). */
  leadership(id: string): Leadership | undefined;
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
  private readonly sessions = new Map<string, ElectedSession>();
  private readonly acceptors: Acceptor[] = [];
  /** Per acceptor: the sessions on it this connector leads now (under election it listens only while any). */
  private readonly leadsOn: Array<Set<string>> = [];
  private readonly stores: Stores;
  private readonly electors: Electors;
  private readonly leadershipListeners = new Set<(t: { session: string; transition: string }) => void>();
  private stopping: Promise<void> | null = null;
  grpcPort: number | null = null;
  metricsPort: number | null = null;
  private grpc: GrpcServerHandle | null = null;
  private metrics: MetricsHandle | null = null;
  /** Where events go: NATS JetStream when configured, else the in-process bus. */
  private bus: EventBus | null = null;

  constructor(
    readonly config: ConnectorConfig,
    readonly logger: Logger,
  ) {
    this.stores = new Stores(config, logger);
    this.electors = new Electors(config.election, logger);
  }

  get acceptorPorts(): number[] {
    return this.acceptors.map((a, i) => a.port || this.config.acceptors[i].port);
  }

  list(): SessionRunner[] {
    const out: SessionRunner[] = [];
    for (const s of this.sessions.values()) if (s.runner !== null) out.push(s.runner);
    return out;
  }

  get(id: string): SessionRunner | undefined {
    return this.sessions.get(id)?.runner ?? undefined;
  }

  leadership(id: string): Leadership | undefined {
    return this.sessions.get(id)?.leadership;
  }

  leaderships(): Leadership[] {
    return [...this.sessions.values()].map((s) => s.leadership);
  }

  onLeadership(fn: (t: { session: string; transition: string }) => void): () => void {
    this.leadershipListeners.add(fn);
    return () => this.leadershipListeners.delete(fn);
  }

  async start(): Promise<void> {
    const cfg = this.config;
    const elected = cfg.election.kind !== "none";
    this.logger.info(
      {
        source: cfg.source,
        store: cfg.store.kind,
        dataDir: cfg.store.kind === "file" ? cfg.connector.dataDir : undefined,
        sessions: cfg.sessions.map((s) => s.id),
        election: cfg.election.kind,
        ...(elected && {
          identity: cfg.election.identity,
          leaseDurationMs: cfg.election.leaseDurationMs,
          renewDeadlineMs: cfg.election.renewDeadlineMs,
          retryPeriodMs: cfg.election.retryPeriodMs,
        }),
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
      this.leadsOn.push(new Set());
    }
    for (const s of cfg.sessions) this.sessions.set(s.id, this.electedSession(s));

    if (!elected) {
      // Acceptor sessions first and their ports open before any initiator dials, so a configuration whose
      // initiator talks to its own acceptor (tests, a loopback bridge) connects at the first attempt.
      for (const s of cfg.sessions) if (s.acceptor !== undefined) await this.sessions.get(s.id)?.start();
      for (const i of this.acceptors.keys()) await this.listen(i);
      for (const s of cfg.sessions) if (s.initiator !== undefined) await this.sessions.get(s.id)?.start();
    } else {
      // The warm standby: every store connected and opened before any election, so a bad store fails the start.
      for (const s of this.sessions.values()) await s.warm();
    }

    this.grpc = await startGrpcServer({
      registry: this,
      host: cfg.grpc.host,
      port: cfg.grpc.port,
      logger: this.logger.child({ component: "grpc" }),
      leading: !elected,
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

    // Campaigning starts once gRPC and metrics serve, so a standby answers (NOT_LEADER) from its first moment.
    if (elected) for (const s of this.sessions.values()) await s.start();

    this.logger.info(
      { acceptors: this.acceptorPorts, grpc: this.grpcPort, metrics: this.metricsPort },
      "connector started",
    );
  }

  private electedSession(s: SessionConfig): ElectedSession {
    const log = this.logger;
    const store = this.stores.for(s, (outbound) => {
      if (!log.isLevelEnabled("debug")) return;
      const trace = log.isLevelEnabled("trace");
      for (const m of outbound) {
        log.debug({ session: s.id, seq: m.seq, msgType: m.msgType, ...(trace && { raw: fixText(m.bytes) }) }, "out");
      }
    });
    return new ElectedSession({
      id: s.id,
      store,
      elector: this.electors.for(s),
      logger: log,
      logoutTimeoutMs: s.settings.LogoutTimeout * 1000,
      startRunner: (fenced) => this.startRunner(s, fenced),
      onLead: (runner, fenced) => this.serve(s, runner, fenced),
      onTransition: (t) => this.onTransition(t),
    });
  }

  /** A leadership term's runner: opens (fenced) `store` and starts the session; an initiator connects at once. */
  private async startRunner(s: SessionConfig, store: MessageStore): Promise<SessionRunner> {
    const log = this.logger;
    const settings: SessionSettings = s.password ? { ...s.settings, Password: s.password.reveal() } : s.settings;
    const builtin = s.application === "acceptance-test" ? acceptanceApp(s.dictionary, log) : undefined;
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
          ...(s.initiator.tls && { tls: clientTlsOptions(s.initiator.tls) }),
        }),
      }),
    });
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

  /**
   * What a leading runner needs besides itself: its outbox published, and (acceptor sessions) its registration on
   * the port, which listens while it serves a session this connector leads. Returns how to undo it.
   */
  private async serve(
    s: SessionConfig,
    runner: SessionRunner,
    store: MessageStore,
  ): Promise<(graceful: boolean) => Promise<void>> {
    let publisher: OutboxPublisher | null = null;
    let unsubscribe: (() => void) | null = null;
    if (this.bus !== null) {
      const p = new OutboxPublisher(store, this.bus);
      unsubscribe = runner.onCommit((c) => {
        if (c.events > 0) p.notify();
      });
      p.start();
      publisher = p;
    }
    const i = s.acceptor;
    if (i !== undefined) {
      this.acceptors[i].register(runner);
      this.leadsOn[i].add(s.id);
      // Without election the ports open once every acceptor session is registered (see `start`).
      if (this.config.election.kind !== "none") await this.listen(i);
    }
    return async (graceful) => {
      if (i !== undefined) {
        this.acceptors[i].unregister(runner);
        this.leadsOn[i].delete(s.id);
        if (this.config.election.kind !== "none" && this.leadsOn[i].size === 0 && this.stopping === null) {
          // No session of the port is led here any more: a counterparty is to reach the leader, not us.
          await this.acceptors[i].close();
          this.logger.info({ acceptor: this.config.acceptors[i].name ?? i }, "stopped listening (standby)");
        }
      }
      unsubscribe?.();
      if (publisher !== null) {
        await publisher.stop();
        // After a Logout, what the outbox still holds (the Logout exchange, the last state changes) goes to the bus
        // now if it can; what it cannot take stays in the store for the next leader.
        if (graceful) {
          await publisher
            .drain()
            .catch((err: unknown) => this.logger.warn({ err }, "events left in the outbox for the next start"));
        }
      }
    };
  }

  private async listen(i: number): Promise<void> {
    const acceptor = this.acceptors[i];
    if (acceptor.listening) return;
    const a = this.config.acceptors[i];
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

  /** Metrics, the readiness service and an event on the bus for every change of leadership. */
  private onTransition(t: LeadershipTransition): void {
    const transition = t.leader ? "elected" : (t.reason ?? "stopped");
    for (const fn of this.leadershipListeners) fn({ session: t.session, transition });
    this.grpc?.setLeading(this.leaderships().every((l) => l.leader));
    if (this.config.election.kind === "none" || this.bus === null) return;
    // A state event like the session's own (`<prefix>.<session>.state`), published directly: a deposed leader
    // may no longer write to the store's outbox.
    const at = Date.now();
    const text = t.leader
      ? `leader elected: ${t.identity}, epoch ${t.epoch}`
      : `leadership ended (${transition}): ${t.identity}, epoch ${t.epoch}${t.detail ? `: ${t.detail}` : ""}`;
    const payload = {
      session: t.session,
      cycle: "",
      at,
      notice: { kind: "warning", text },
      leadership: { leader: t.leader, epoch: t.epoch, identity: t.identity, transition },
    };
    this.bus
      .publish([
        {
          id: `${t.session}:leader:${t.epoch}:${t.identity}:${transition}`,
          subject: `${this.config.nats.subjectPrefix}.${sessionToken(t.session)}.state`,
          payload: Buffer.from(JSON.stringify(payload)),
        },
      ])
      .catch((err: unknown) => this.logger.warn({ session: t.session, err }, "could not publish a leadership event"));
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
    // Each session logs out (sends already handed over go first), publishes what its outbox holds, and only then
    // releases its lock: its successor never logs on while it still is.
    await Promise.all(
      [...this.sessions.values()].map((s) =>
        s.stop().catch((err: unknown) => {
          failures.push(err);
          this.logger.error({ session: s.id, err }, "session did not stop cleanly");
        }),
      ),
    );
    // After the sessions, so a last scrape still sees the Logouts.
    await this.metrics
      ?.close()
      .catch((err: unknown) => this.logger.warn({ err }, "closing the metrics endpoint failed"));
    // The ports close after the Logouts: closing an acceptor drops the sockets it accepted.
    await Promise.all(this.acceptors.map((a) => a.close()));
    await this.electors.close().catch((err: unknown) => this.logger.warn({ err }, "closing the election failed"));
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

/** FIX bytes as a log shows them: SOH as `|`. */
function fixText(b: Buffer): string {
  return b.toString("latin1").replaceAll("\x01", "|");
}
