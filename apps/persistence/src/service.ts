/**
 * The persistence service: migrations at start, the ingest (durable consumers → PostgreSQL or PGlite), day
 * partitions and retention, AuditService over gRPC, Prometheus metrics. `startPersistence` runs it in this
 * process and returns a handle; with an InProcessBus and PGlite it is the embedded mode of `fixmesh start`.
 */
import { type DurableBus, type EventBus, JetStreamBus } from "@fixmesh/bus";
import { type AuditEvent, describeLinkError, LinkFailure, natsConnectOptions, pgClientConfig } from "@fixmesh/security";
import { serveMetrics } from "@fixmesh/telemetry";
import { credsAuthenticator, nkeyAuthenticator } from "@nats-io/transport-node";
import { type Logger, pino } from "pino";
import { AuditStore } from "./audit/store.js";
import {
  grpcSecurityOf,
  type PersistenceConfig,
  type PersistenceConfigInput,
  persistenceConfig,
  resolveDatabaseLink,
  resolveNatsLinkOf,
} from "./config/config.js";
import { type Db, type DbConfig, openDb } from "./db/db.js";
import { migrate } from "./db/migrate.js";
import { Partitions } from "./db/partitions.js";
import { type AuditServerHandle, startAuditServer } from "./grpc/audit-service.js";
import { Redactor, type StreamKind } from "./ingest/decode.js";
import { Ingest } from "./ingest/ingest.js";
import { IngestMetrics } from "./ingest/metrics.js";
import { BatchWriter } from "./ingest/writer.js";

export interface PersistenceDeps {
  /** One bus for every stream (embedded: the InProcessBus of `fixmesh start`). Default: JetStream from config. */
  bus?: DurableBus;
  /** An open database (the caller closes it). Default: opened from config. */
  db?: Db;
  logger?: Logger;
  /** How long start waits for the database to accept the migrations (default 60 s). */
  startTimeoutMs?: number;
  /** Where `…Env` secret keys are read (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Relative paths of an inline configuration (secrets, certificates, policy) resolve against this (default cwd). */
  baseDir?: string;
}

/**
 * The database settings of a configuration: PostgreSQL through @fixmesh/security's link (password from a file or
 * the environment, SCRAM when the server asks, TLS with chain and host name verified), or PGlite.
 */
export function databaseOptions(
  config: PersistenceConfig,
  env: Readonly<Record<string, string | undefined>> = process.env,
  onError?: (err: Error) => void,
): DbConfig {
  if (config.database.engine === "pglite") return config.database;
  const d = config.database;
  return {
    engine: "postgres",
    url: d.url,
    connection: pgClientConfig(resolveDatabaseLink(d, env)),
    poolSize: d.poolSize,
    connectTimeoutMs: d.connectTimeoutMs,
    statementTimeoutMs: d.statementTimeoutMs,
    ...(onError && { onError }),
  };
}

export interface PersistenceHandle {
  readonly config: PersistenceConfig;
  readonly db: Db;
  readonly store: AuditStore;
  readonly metrics: IngestMetrics;
  /** AuditService port (undefined when gRPC is off). */
  readonly grpcPort: number | undefined;
  /** The plaintext health-only port (`grpc.healthPort`), or undefined. */
  readonly grpcHealthPort: number | undefined;
  /** `enforce`: TLS and the policy on every AuditService call; `open`: plaintext loopback (embedded, tests). */
  readonly authorization: "open" | "enforce" | undefined;
  readonly metricsPort: number | undefined;
  /** Events not yet stored and acknowledged, over every stream consumed so far (see `ready`). */
  lag(): Promise<number>;
  /** Resolves once every enabled stream is being consumed (NATS may be unreachable at start). */
  ready(): Promise<void>;
  /** Runs retention now (it also runs every `retention.intervalMs`). */
  applyRetention(now?: number): Promise<{ dropped: string[]; deleted: number }>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function migrateWithRetry(db: Db, log: Logger, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await migrate(db);
      if (r.applied.length > 0) log.info({ applied: r.applied }, "migrations applied");
      return;
    } catch (err) {
      const code = (err as { code?: string }).code ?? "";
      const transient = /^(08|57)/.test(code) || /ECONNREFUSED|ECONNRESET|timeout|terminat/i.test(String(err));
      if (!transient || Date.now() > deadline) throw err;
      if (attempt === 0) log.warn({ err: (err as Error).message }, "database not reachable yet: waiting to migrate");
      await sleep(Math.min(2000, 100 * 2 ** attempt));
    }
  }
}

export async function startPersistence(
  input: PersistenceConfigInput | PersistenceConfig,
  deps: PersistenceDeps = {},
): Promise<PersistenceHandle> {
  const env = deps.env ?? process.env;
  const config = persistenceConfig(input, "<inline>", {
    env,
    ...(deps.baseDir !== undefined && { baseDir: deps.baseDir }),
  });
  const log = deps.logger ?? pino({ name: "persistence", level: config.log.level });
  const ownDb = deps.db === undefined;
  const dbLink = config.database.engine === "postgres" ? resolveDatabaseLink(config.database, env) : undefined;
  const natsLink = resolveNatsLinkOf(config, env);
  const secrets = [
    dbLink?.password,
    dbLink?.tls?.key,
    natsLink.password,
    natsLink.token,
    natsLink.nkeySeed,
    natsLink.creds,
  ].filter((x): x is NonNullable<typeof x> => x !== undefined);
  const db =
    deps.db ??
    (await openDb(
      databaseOptions(config, env, (err) =>
        log.warn({ err: describeLinkError("postgres", err, { secrets }).reason }, "database connection lost"),
      ),
    ));
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch((err) => log.warn({ err: String(err) }, "close failed"));
    closers.length = 0;
  };
  if (ownDb) closers.push(() => db.close());
  // Closers run in reverse order: the buses close after the ingest stopped, before the database.
  const buses: JetStreamBus[] = [];
  closers.push(async () => {
    for (const b of buses) await b.close();
  });
  try {
    try {
      await migrateWithRetry(db, log, deps.startTimeoutMs ?? 60_000);
    } catch (err) {
      // Credentials or a certificate the database refuses: the reason, never the secret.
      if (!ownDb) throw err;
      const target = dbLink && { server: `${dbLink.host}:${dbLink.port}/${dbLink.database}`, user: dbLink.user };
      const e = describeLinkError("postgres", err, { ...target, secrets });
      throw e.failure === LinkFailure.Auth || e.failure === LinkFailure.Tls ? e : err;
    }
    const partitions = new Partitions(db);
    await partitions.ensureAhead();
    const redactor = new Redactor(config.redactTags);
    const metrics = new IngestMetrics();
    const writer = new BatchWriter(db, partitions, redactor);
    const ingest = new Ingest({
      writer,
      redactor,
      metrics,
      logger: log,
      batch: config.ingest.batch,
      ackWaitMs: config.ingest.ackWaitMs,
      parallel: config.ingest.parallel,
      pipeline: config.ingest.pipeline,
    });
    closers.push(() => ingest.stop());

    // Retention and tomorrow's partition, now and then every interval.
    const housekeeping = async (now = Date.now()) => {
      await partitions.ensureAhead(now);
      if (config.retention.days === 0) return { dropped: [], deleted: 0 };
      const r = await partitions.applyRetention(config.retention.days, now);
      if (r.dropped.length > 0 || r.deleted > 0) log.info(r, "retention applied");
      return r;
    };
    await housekeeping();
    const timer = setInterval(() => {
      housekeeping().catch((err) => log.warn({ err: (err as Error).message }, "retention failed; next run will retry"));
    }, config.retention.intervalMs);
    timer.unref();
    closers.push(async () => clearInterval(timer));

    // The security layer's denials go on the AUDIT stream (`audit.persistence.<action>`) like every service's;
    // this service then stores them as it stores the others'. Until NATS is connected they wait (bounded).
    const auditOut = new AuditOutbox(log, config.streams.audit.filter);
    if (deps.bus) auditOut.connected(deps.bus);

    const kinds: StreamKind[] = ["fix", "orders", "audit"];
    const connects: Array<Promise<void>> = [];
    let stopped = false;
    closers.push(async () => {
      stopped = true;
    });
    for (const kind of kinds) {
      const s = config.streams[kind];
      if (!s.enabled) continue;
      if (deps.bus) {
        connects.push(ingest.add({ kind, bus: deps.bus, durable: s.durable, filter: s.filter }));
        continue;
      }
      // NATS may be down at start: keep trying in the background; the gRPC queries work meanwhile.
      const connect = async () => {
        for (let attempt = 0; !stopped; attempt++) {
          try {
            const bus = await JetStreamBus.connect({
              servers: config.nats.url,
              stream: s.stream,
              subjects: [s.filter],
              name: `fixmesh-persistence-${kind}`,
              log,
              connectOptions: natsConnectOptions(natsLink, { nkeyAuthenticator, credsAuthenticator }),
            });
            if (stopped) {
              await bus.close();
              return;
            }
            buses.push(bus);
            if (kind === "audit") auditOut.connected(bus);
            await ingest.add({ kind, bus, durable: s.durable, filter: s.filter });
            return;
          } catch (err) {
            if (attempt === 0) {
              const e = describeLinkError("nats", err, { server: config.nats.url, user: natsLink.user, secrets });
              log.warn({ stream: s.stream, err: e.reason, failure: e.failure }, "NATS not reachable: retrying");
            }
            await sleep(Math.min(5000, 200 * 2 ** attempt));
          }
        }
      };
      connects.push(connect());
    }
    // Start does not wait long for NATS (queries work without it); `ready()` tells when every stream is consumed.
    const ready = Promise.all(connects).then(() => undefined);
    await Promise.race([ready, sleep(5000)]);

    const store = new AuditStore(db);
    let grpc: AuditServerHandle | undefined;
    if (config.grpc.enabled) {
      grpc = await startAuditServer({
        store,
        logger: log,
        host: config.grpc.host,
        port: config.grpc.port,
        security: grpcSecurityOf(config),
        audit: (e) => auditOut.publish(e),
      });
      const g = grpc;
      closers.push(() => g.close());
    }
    let metricsPort: number | undefined;
    if (config.metrics.port !== undefined) {
      // The consumer lag is read from JetStream at each scrape (the last value stays while it cannot be read).
      const endpoint = await serveMetrics({
        host: config.metrics.host,
        port: config.metrics.port,
        registry: {
          render: async () => {
            await ingest.sampleLag();
            return metrics.render();
          },
        },
        logger: log,
      });
      metricsPort = endpoint.port;
      closers.push(() => endpoint.close());
    }
    log.info({ engine: db.engine, grpcPort: grpc?.port, metricsPort }, "persistence started");
    let closing: Promise<void> | null = null;
    return {
      config,
      db,
      store,
      metrics,
      grpcPort: grpc?.port,
      grpcHealthPort: grpc?.healthPort ?? undefined,
      authorization: grpc?.authorization,
      metricsPort,
      lag: () => ingest.lag(),
      ready: () => ready,
      applyRetention: (now) => housekeeping(now),
      close: () => {
        closing ??= closeAll();
        return closing;
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * Publishes the security layer's AuditEvents on the audit bus, subject `<prefix>.persistence.<action>` where the
 * prefix is the audit stream filter's first token (`audit.>` → `audit`). Events raised before the bus is
 * connected wait in a bounded queue; a failed publish is logged (the event was logged at warn already).
 */
class AuditOutbox {
  private bus: EventBus | null = null;
  private readonly waiting: AuditEvent[] = [];
  private readonly prefix: string;

  constructor(
    private readonly log: Logger,
    filter: string,
  ) {
    this.prefix = filter.split(".")[0] || "audit";
  }

  connected(bus: EventBus): void {
    this.bus = bus;
    for (const e of this.waiting.splice(0)) this.publish(e);
  }

  publish(e: AuditEvent): void {
    const bus = this.bus;
    if (bus === null) {
      if (this.waiting.length < 10_000) this.waiting.push(e);
      else this.log.error({ action: e.action, principal: e.principal }, "audit event dropped: NATS not connected");
      return;
    }
    const token = (t: string) => t.replace(/[^A-Za-z0-9_-]/g, "_") || "_";
    bus
      .publish([
        {
          id: e.id,
          subject: `${this.prefix}.persistence.${token(e.action)}`,
          payload: Buffer.from(JSON.stringify(e)),
        },
      ])
      .catch((err: unknown) =>
        this.log.error({ err: String(err), action: e.action, principal: e.principal }, "audit event not published"),
      );
  }
}
