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
import {
  type AuditEvent,
  auditSubject,
  credsAuthenticator,
  type EventBus,
  InProcessBus,
  nkeyAuthenticator,
  OutboxPublisher,
  ResilientJetStreamBus,
  sessionToken,
} from "@fixmesh/bus";
import {
  Acceptor,
  type DynamicSessionIds,
  type SessionApplication,
  SessionRunner,
  tcpConnector,
} from "@fixmesh/engine";
import { Tag, validate } from "@fixmesh/fix";
import { describeLinkError, LinkFailure, natsConnectOptions } from "@fixmesh/security";
import { ConfigError, type MessageStore, type SessionSettings, sessionIdOf } from "@fixmesh/session";
import { logonChecker } from "./acceptor-access.js";
import { acceptanceApp } from "./apps/acceptance.js";
import {
  COMP_ID_WILDCARD,
  type ConnectorConfig,
  clientTlsOptions,
  type ServerTlsConfig,
  type SessionConfig,
} from "./config/schema.js";
import { ElectedSession, type Leadership, type LeadershipTransition } from "./election/elected-session.js";
import { Electors } from "./election/electors.js";
import { type GrpcServerHandle, startGrpcServer } from "./grpc/server.js";
import { type Logger, loggerFor } from "./log/logger.js";
import { type MetricsHandle, startMetrics } from "./metrics/index.js";
import type { SessionRegistry } from "./registry.js";
import { type SessionStore, Stores } from "./store/store.js";

/** Outbox events read (and published, and acknowledged) per round trip. */
const OUTBOX_BATCH = 1024;
/** How long the outbox publisher lets events gather after a commit before it reads them. */
const OUTBOX_LINGER_MS = 5;
/**
 * How long published events may stay in the outbox before they are acknowledged together: a crash meanwhile
 * republishes them, and the bus's duplicate window (minutes) drops the copies.
 */
const OUTBOX_ACK_MS = 100;

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
  /** Connections and Logons the acceptor ports refused, by port and reason (also a metric). */
  acceptorRefusals(): Array<{ acceptor: string; reason: string; count: number }>;
  /** Logs every session out (each within its LogoutTimeout), closes the ports and the stores. */
  stop(): Promise<void>;
}

export interface ConnectorOptions {
  /** Default: the logger the configuration describes, on stdout. */
  logger?: Logger;
  /**
   * Where events go when no NATS is configured (embedded `fixmesh start`: the in-process bus the other services
   * read). The caller owns it: stop() does not close it. Default: a bus of the connector's own.
   */
  bus?: EventBus;
}

/** Starts everything the configuration describes; on a failure, stops what had started and throws. */
export async function startConnector(config: ConnectorConfig, opts: ConnectorOptions = {}): Promise<Connector> {
  const c = new RunningConnector(config, opts.logger ?? loggerFor(config), opts.bus);
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
  private readonly sessionStores = new Map<string, SessionStore>();
  /** Dynamic sessions being created from a template (AcceptorTemplate), by id: two Logons make one session. */
  private readonly creating = new Map<string, Promise<SessionRunner | undefined>>();
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
    private readonly sharedBus?: EventBus,
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

  /** Connections and Logons the acceptor ports refused, by port and reason (a metric). */
  acceptorRefusals(): Array<{ acceptor: string; reason: string; count: number }> {
    const out: Array<{ acceptor: string; reason: string; count: number }> = [];
    this.acceptors.forEach((a, i) => {
      const name = this.config.acceptors[i].name ?? String(i);
      for (const [reason, count] of a.refusals) out.push({ acceptor: name, reason, count });
    });
    return out;
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
    const template = cfg.sessions.find((s) => s.template);
    if (template !== undefined && elected) {
      // A dynamic session exists only where its Logon arrived; under election a standby knows nothing of it, and
      // a port listens only while its replica leads one of the port's (configured) sessions.
      throw new ConfigError(
        `${template.field}.AcceptorTemplate`,
        "dynamic sessions need election.kind: none for now (a standby could not take over a session only its leader created)",
      );
    }
    // A store that refuses our credentials or certificate fails the start now, with the reason (never the secret).
    await this.stores.check();
    if (cfg.nats.url) {
      const bus = new ResilientJetStreamBus({
        servers: cfg.nats.url,
        stream: cfg.nats.stream,
        subjects: [`${cfg.nats.subjectPrefix}.>`],
        name: `fixmesh-connector-${cfg.connector.id}`,
        connectOptions: natsConnectOptions(cfg.nats, { nkeyAuthenticator, credsAuthenticator }),
        log: this.logger,
      });
      this.bus = bus;
      // NATS down at start is fine (the outbox keeps the events); credentials or a certificate it refuses are not.
      await bus.firstAttempt.catch(async (err: unknown) => {
        const e = describeLinkError("nats", err, { server: cfg.nats.url, user: cfg.nats.user, secrets: cfg.secrets });
        if (e.failure === LinkFailure.Auth || e.failure === LinkFailure.Tls) {
          await bus.close().catch(() => undefined);
          this.bus = null;
          throw e;
        }
        this.logger.warn({ bus: "jetstream", url: cfg.nats.url, err: e.reason }, "NATS not reachable yet; retrying");
      });
    } else {
      this.bus = this.sharedBus ?? new InProcessBus();
    }
    this.logger.info({ bus: this.bus.kind, url: cfg.nats.url }, "events bus");
    for (const [i, a] of cfg.acceptors.entries()) {
      const onPort = cfg.sessions.filter((s) => s.acceptor === i);
      // The Logon check of every session of the port; a dynamic session is checked with its template's.
      const auth = new Map(onPort.map((s) => [s.id, s.auth]));
      const templates = onPort.filter((s) => s.template);
      for (const s of onPort) {
        if (s.auth?.passwordHash === undefined && s.auth?.certificateSubject === undefined) {
          this.logger.warn(
            { session: s.id, acceptor: a.name ?? i },
            "acceptor session without Logon credentials (auth.passwordHash) or a client certificate (auth.certificateSubject): any peer knowing its CompIDs can log on",
          );
        }
      }
      this.acceptors.push(
        new Acceptor({
          host: a.host,
          port: a.port,
          logonTimeout: a.logonTimeout,
          logger: this.logger.child({ acceptor: a.name ?? i }),
          ...(a.tls && { tls: serverTls(a.tls) }),
          ...(a.allowFrom && { allowFrom: a.allowFrom }),
          ...(a.maxConnectionsPerAddress !== undefined && { maxConnectionsPerAddress: a.maxConnectionsPerAddress }),
          authenticate: logonChecker(auth),
          ...(templates.length > 0 && {
            dynamicSessions: {
              match: (ids: DynamicSessionIds) => {
                const made = this.fromTemplate(templates, ids);
                if (made !== undefined) auth.set(made.id, made.auth);
                return made?.id;
              },
              create: (ids: DynamicSessionIds) => this.createDynamic(templates, ids),
            },
          }),
        }),
      );
      this.leadsOn.push(new Set());
    }
    for (const s of cfg.sessions) if (!s.template) this.sessions.set(s.id, this.electedSession(s));

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
      // Redis store: Send idempotency keys are recorded with the messages and survive a failover.
      idempotency: { durable: (id) => this.sessionStores.get(id)?.durableKeys },
      security: cfg.grpc,
      audit: (e) => this.publishAudit(e),
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

  /** The session a template of the port makes for a Logon with these CompIDs (the first template that matches). */
  private fromTemplate(templates: readonly SessionConfig[], ids: DynamicSessionIds): SessionConfig | undefined {
    const matches = (pattern: string, value: string) => pattern === COMP_ID_WILDCARD || pattern === value;
    const t = templates.find(
      (x) =>
        x.settings.BeginString === ids.beginString &&
        matches(x.settings.SenderCompID, ids.targetCompID) &&
        matches(x.settings.TargetCompID, ids.senderCompID),
    );
    if (t === undefined || ids.senderCompID === "" || ids.targetCompID === "") return undefined;
    const settings: SessionSettings = { ...t.settings, SenderCompID: ids.targetCompID, TargetCompID: ids.senderCompID };
    const id = sessionIdOf(settings);
    const { template: _, ...rest } = t;
    return { ...rest, id, field: `${t.field} (dynamic session ${id})`, settings };
  }

  /**
   * Creates a dynamic session (after its Logon passed the template's check) with its own store keys, and starts
   * it: it registers on the port, which hands it the connection. A session created earlier is reused.
   */
  private createDynamic(
    templates: readonly SessionConfig[],
    ids: DynamicSessionIds,
  ): Promise<SessionRunner | undefined> {
    const s = this.fromTemplate(templates, ids);
    if (s === undefined || this.stopping !== null) return Promise.resolve(undefined);
    const existing = this.sessions.get(s.id);
    if (existing !== undefined) return Promise.resolve(existing.runner ?? undefined);
    let made = this.creating.get(s.id);
    if (made === undefined) {
      made = (async () => {
        const es = this.electedSession(s);
        this.sessions.set(s.id, es);
        try {
          await es.start();
        } catch (err) {
          this.sessions.delete(s.id);
          throw err;
        }
        this.logger.info({ session: s.id, template: s.field }, "dynamic session created from a template");
        return es.runner ?? undefined;
      })().finally(() => this.creating.delete(s.id));
      this.creating.set(s.id, made);
    }
    return made;
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
    this.sessionStores.set(s.id, store);
    return new ElectedSession({
      id: s.id,
      store,
      elector: this.electors.for(s, store.fenceEpoch),
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
      const p = new OutboxPublisher(store, this.bus, { batch: OUTBOX_BATCH, ackEveryMs: OUTBOX_ACK_MS });
      // Woken at most once per OUTBOX_LINGER_MS: a commit per event-loop turn each waking the publisher cost a
      // read and an ack (two more round trips on the store's connection) per commit, a few events each. The
      // first commit after a quiet spell wakes it at once: a lone ExecutionReport is not held back by the linger.
      // With the in-process bus (embedded mode) a publish is a function call: no linger, or an order's
      // ExecutionReport, committed a millisecond after its NewOrderSingle woke the publisher, waited out the rest.
      const linger = this.bus.kind === "in-process" ? 0 : OUTBOX_LINGER_MS;
      let wake: NodeJS.Timeout | null = null;
      let lastWake = Number.NEGATIVE_INFINITY;
      const off = runner.onCommit((c) => {
        // The committed events themselves (memory and Redis stores say where they sit): published from memory.
        if (c.entries !== undefined) p.offer(c.entries);
        if (c.events === 0 || wake !== null) return;
        const now = performance.now();
        if (now - lastWake >= linger) {
          lastWake = now;
          p.notify();
          return;
        }
        wake = setTimeout(
          () => {
            wake = null;
            lastWake = performance.now();
            p.notify();
          },
          linger - (now - lastWake),
        );
      });
      unsubscribe = () => {
        off();
        if (wake !== null) clearTimeout(wake);
        wake = null;
      };
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

  /** A gRPC denial or admin action onto the bus (stream AUDIT, `audit.connector.<action>`); already logged. */
  private publishAudit(e: AuditEvent): void {
    this.bus
      ?.publish([{ id: e.id, subject: auditSubject("connector", e.action), payload: Buffer.from(JSON.stringify(e)) }])
      .catch((err: unknown) => this.logger.warn({ err, auditId: e.id }, "could not publish an audit event"));
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
    if (this.bus !== this.sharedBus) {
      await this.bus?.close().catch((err: unknown) => this.logger.warn({ err }, "closing the bus failed"));
    }
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

/** FIX bytes as a log shows them: SOH as `|`. */
function fixText(b: Buffer): string {
  return b.toString("latin1").replaceAll("\x01", "|");
}
