/**
 * The elector of each session, of the kind the configuration names. Every session has its own lock (a Lease, or
 * a Redis key under the session's hash tag), so the sessions of one connector fail over independently; the
 * sessions' Redis locks share one connection and one subscriber connection (for release notices).
 */
import { createElector, type Elector, LeaseApi } from "@fixmesh/election";
import type { RunnerLogger } from "@fixmesh/engine";
import { createRedisClient, sessionKeys } from "@fixmesh/store";
import { clientTlsOptions, type ElectionConfig, type SessionConfig } from "../config/schema.js";

type Redis = ReturnType<typeof createRedisClient>;

/** The Lease name of a session: `fixmesh-` and its id in lower case, every run of other characters a `-`. */
export function leaseNameOf(sessionId: string): string {
  const body = sessionId
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return `fixmesh-${body}`.slice(0, 253).replace(/-+$/, "");
}

/** The Redis lock key of a session: `<prefix>:{<session>}:leader` (the store's hash tag; the epoch is `…:epoch`). */
export function redisLockKeyOf(prefix: string, sessionId: string): string {
  return `${prefix}:${sessionKeys(prefix, sessionId).tag}:leader`;
}

export class Electors {
  private redis: Redis | null = null;
  private subscriber: Redis | null = null;
  private api: LeaseApi | null = null;
  private readonly made: Elector[] = [];

  constructor(
    private readonly config: ElectionConfig,
    private readonly log: RunnerLogger,
  ) {}

  get kind(): ElectionConfig["kind"] {
    return this.config.kind;
  }

  /**
   * The session's elector, not started. `epochFloor` reads the store's fence epoch: a Lease term's epoch is above
   * it, so a deleted and recreated Lease (leaseTransitions back to 0) cannot hand out an epoch the store refuses.
   */
  for(session: SessionConfig, epochFloor?: () => Promise<number>): Elector {
    const c = this.config;
    const common = {
      identity: c.identity,
      logger: this.log,
      logContext: { session: session.id },
      timing: {
        leaseDurationMs: c.leaseDurationMs,
        renewDeadlineMs: c.renewDeadlineMs,
        retryPeriodMs: c.retryPeriodMs,
      },
    };
    let e: Elector;
    switch (c.kind) {
      case "none":
        e = createElector({ kind: "none", identity: c.identity });
        break;
      case "redis": {
        const r = c.redis!;
        e = createElector({
          kind: "redis",
          redis: this.redisClient(),
          subscriber: this.subscriberClient(),
          key: r.key ?? redisLockKeyOf(r.prefix, session.id),
          ...common,
        });
        break;
      }
      case "lease": {
        const l = c.lease!;
        e = createElector({
          kind: "lease",
          api: this.leaseApi(),
          namespace: l.namespace,
          name: l.name ?? leaseNameOf(session.id),
          ...(epochFloor !== undefined && { epochFloor }),
          ...common,
        });
        break;
      }
    }
    this.made.push(e);
    return e;
  }

  /** Closes the shared connections (after every elector stopped). */
  async close(): Promise<void> {
    const r = this.redis;
    const s = this.subscriber;
    this.redis = null;
    this.subscriber = null;
    s?.disconnect();
    if (r !== null) {
      if (r.status === "ready") await r.quit().catch(() => r.disconnect());
      else r.disconnect();
    }
    this.api?.close();
    this.api = null;
  }

  private redisOptions() {
    const r = this.config.redis!;
    return {
      ...(r.username !== undefined && { username: r.username }),
      ...(r.password && { password: r.password.reveal() }),
      ...(r.tls && { tls: clientTlsOptions(r.tls) }),
    };
  }

  private redisClient(): Redis {
    if (this.redis !== null) return this.redis;
    const url = this.config.redis!.url;
    // Connects at once (not lazily): a standby's first attempt should find the connection up. Commands sent
    // while it is down fail at once (no offline queue), and the elector retries them.
    const client = createRedisClient(url, { ...this.redisOptions(), lazyConnect: false, commandTimeout: 5_000 });
    let down = false;
    client.on("error", (err: Error) => {
      if (down) return;
      down = true;
      this.log.warn({ election: "redis", url, err: err.message }, "election redis connection failed; retrying");
    });
    client.on("ready", () => {
      if (!down) return;
      down = false;
      this.log.info({ election: "redis", url }, "election redis connection restored");
    });
    this.redis = client;
    return client;
  }

  private subscriberClient(): Redis {
    if (this.subscriber !== null) return this.subscriber;
    // SUBSCRIBE waits for the connection and is redone after a reconnect: that needs the offline queue (harmless
    // here, since a subscription writes nothing).
    const sub = createRedisClient(this.config.redis!.url, {
      ...this.redisOptions(),
      lazyConnect: false,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
    });
    // Failures show on the command connection's log line; without the channel, standbys take over at their
    // next retry instead of at once.
    sub.on("error", () => {});
    this.subscriber = sub;
    return sub;
  }

  private leaseApi(): LeaseApi {
    if (this.api !== null) return this.api;
    const l = this.config.lease!;
    this.api = new LeaseApi({
      server: l.apiServer,
      ...(l.tokenFile !== undefined && { tokenFile: l.tokenFile }),
      ...(l.ca !== undefined && { ca: l.ca }),
    });
    return this.api;
  }
}
