/**
 * The message store of each session, of the kind the configuration names (memory, file, Redis), wrapped for the
 * connector: outbound retention (memory and file; the Redis store trims by itself) and a tap that sees each
 * committed batch (the outbound log lines).
 */
import { join } from "node:path";
import type { RunnerLogger } from "@fixmesh/engine";
import { describeLinkError, LinkFailure, redisClientOptions } from "@fixmesh/security";
import {
  type CommitBatch,
  FileStore,
  MemoryStore,
  type MessageStore,
  type OutboxEntry,
  type StoredMessage,
  type StoreState,
} from "@fixmesh/session";
import { createRedisClient, RedisStore } from "@fixmesh/store";
import type { ConnectorConfig, SessionConfig } from "../config/schema.js";

type Redis = ReturnType<typeof createRedisClient>;

/**
 * The stores of a connector's sessions, of the kind the configuration names. Redis sessions share one client
 * (one connection, commands of each session still in order), which `close` quits after the stores closed.
 */
export class Stores {
  private redis: Redis | null = null;
  private readonly made: SessionStore[] = [];

  constructor(
    private readonly config: ConnectorConfig,
    private readonly log: RunnerLogger,
  ) {}

  /**
   * A session's store, not opened yet (the session runner opens it when it starts). It stays open when the runner
   * closes it at stop, so the outbox publisher can still drain the session's last events; `close` closes it.
   */
  for(session: SessionConfig, onCommit?: SessionStoreOptions["onCommit"]): SessionStore {
    const store = this.make(session, onCommit);
    this.made.push(store);
    return store;
  }

  private make(session: SessionConfig, onCommit: SessionStoreOptions["onCommit"]): SessionStore {
    const s = this.config.store;
    const retainMessages = s.retainMessages;
    switch (s.kind) {
      case "memory":
        return new SessionStore(new MemoryStore({ session: session.id }), { retainMessages, onCommit, holdOpen: true });
      case "file": {
        const file = new FileStore({
          dir: join(this.config.connector.dataDir, "sessions"),
          session: session.id,
          fsync: s.fsync,
          fsyncIntervalMs: s.fsyncIntervalMs,
        });
        return new SessionStore(file, { retainMessages, onCommit, holdOpen: true });
      }
      case "redis": {
        // The Redis store trims in the same script as the commit: no trimming of ours on top.
        const redis = new RedisStore({
          redis: this.redisClient(),
          session: session.id,
          prefix: s.redis.prefix,
          ...(retainMessages !== undefined && { retention: retainMessages }),
        });
        return new SessionStore(redis, { onCommit, holdOpen: true });
      }
    }
  }

  /**
   * With a Redis store: connects now and fails with a `LinkError` naming the reason (never the password) when the
   * server refuses the credentials or the TLS handshake fails — retrying cannot fix either. A server that is merely
   * down (or silent for `timeoutMs`) is left to the client's reconnects and the stores' own open, as before.
   */
  async check(timeoutMs = 5000): Promise<void> {
    if (this.config.store.kind !== "redis") return;
    const client = this.redisClient();
    const cfg = this.config.store.redis;
    const err = await new Promise<unknown>((resolve) => {
      if (client.status === "ready") {
        resolve(undefined);
        return;
      }
      const done = (e?: unknown) => {
        clearTimeout(timer);
        client.off("ready", onReady);
        client.off("error", onError);
        resolve(e);
      };
      const onReady = () => done();
      // Only what retrying cannot fix is this check's to report; anything else is left to the store's own path.
      const onError = (e: unknown) => {
        const d = describeLinkError("redis", e);
        done(d.failure === LinkFailure.Auth || d.failure === LinkFailure.Tls ? e : undefined);
      };
      const timer = setTimeout(() => done(), timeoutMs);
      client.on("ready", onReady);
      client.on("error", onError);
      // The client connects lazily (at the first store's open): connect now; the events above tell the outcome.
      if (client.status === "wait") client.connect().catch((e: unknown) => onError(e));
    });
    if (err === undefined) return;
    const e = describeLinkError("redis", err, { server: cfg.url, user: cfg.username, secrets: this.config.secrets });
    this.redis = null;
    client.disconnect();
    throw e;
  }

  /** Closes every session's store, then the shared Redis connection. */
  async close(): Promise<void> {
    const failures: unknown[] = [];
    for (const store of this.made.splice(0)) {
      await store.release().catch((err: unknown) => failures.push(err));
    }
    const r = this.redis;
    this.redis = null;
    if (failures.length > 0) {
      r?.disconnect();
      throw new AggregateError(failures, `${failures.length} store(s) did not close cleanly`);
    }
    if (r === null) return;
    if (r.status === "ready") await r.quit();
    else r.disconnect();
  }

  private redisClient(): Redis {
    if (this.redis !== null) return this.redis;
    const cfg = this.config.store.redis;
    // ACL user, password and verified TLS (with pins) as @fixmesh/security maps them for every service.
    const client = createRedisClient(cfg.url, redisClientOptions(cfg));
    // ioredis reconnects on its own and reports each failed attempt: log the first of a run, and the recovery.
    let down = false;
    client.on("error", (err: Error) => {
      if (down) return;
      down = true;
      this.log.warn({ store: "redis", url: cfg.url, err: err.message }, "redis connection failed; retrying");
    });
    client.on("ready", () => {
      if (!down) return;
      down = false;
      this.log.info({ store: "redis", url: cfg.url }, "redis connection restored");
    });
    this.redis = client;
    return client;
  }
}

export interface SessionStoreOptions {
  /** Keep at most this many outbound messages for resends; older ones are trimmed. */
  retainMessages?: number;
  /** Called after each batch is committed (before its bytes reach the socket). */
  onCommit?: (outbound: readonly StoredMessage[]) => void;
  /**
   * `close()` leaves the store open, and `release()` closes it. The session runner closes its store when it
   * stops, but the connector's outbox publisher drains the session's last events (the Logout exchange, the final
   * state changes) after that: without this they stayed in the outbox, and a memory store lost them.
   */
  holdOpen?: boolean;
}

/**
 * A store as the connector runs it. Retention trims in steps of a tenth of the window, right after a commit and
 * through the same store, so it never races the session's writes; a counterparty asking for a message older
 * than the window gets a gap fill for it.
 */
export class SessionStore implements MessageStore {
  readonly kind: string;
  /**
   * The client idempotency keys the store keeps across processes (the Redis store records them in its commits);
   * undefined for stores that keep none.
   */
  get durableKeys(): { read: RedisStore["readIdempotency"] } | undefined {
    const inner = this.inner;
    return inner instanceof RedisStore ? { read: () => inner.readIdempotency() } : undefined;
  }
  private trimmedBelow = 1;
  private readonly trimStep: number;

  constructor(
    private readonly inner: MessageStore,
    private readonly opts: SessionStoreOptions = {},
  ) {
    this.kind = inner.kind;
    this.trimStep = Math.max(1, Math.floor((opts.retainMessages ?? 0) / 10));
  }

  open(now: number): Promise<StoreState> {
    this.trimmedBelow = 1;
    return this.inner.open(now);
  }

  fence(epoch: number): Promise<void> {
    return this.inner.fence(epoch);
  }

  setSafe(reason: string | null): Promise<void> {
    return this.inner.setSafe(reason);
  }

  /** The highest epoch that fenced the session, read from the store (Redis; undefined for other stores). */
  get fenceEpoch(): (() => Promise<number>) | undefined {
    const inner = this.inner;
    return inner instanceof RedisStore ? () => inner.currentEpoch() : undefined;
  }

  async commit(batch: CommitBatch): Promise<readonly OutboxEntry[] | undefined> {
    const entries = await this.inner.commit(batch);
    if (batch.outbound.length > 0) this.opts.onCommit?.(batch.outbound);
    const keep = this.opts.retainMessages;
    if (keep === undefined) return entries;
    const below = batch.nextSenderSeq - keep;
    if (below >= this.trimmedBelow + this.trimStep) {
      await this.inner.trim(below);
      this.trimmedBelow = below;
    }
    return entries;
  }

  getRange(begin: number, end: number): Promise<StoredMessage[]> {
    return this.inner.getRange(begin, end);
  }

  async reset(now: number, next?: { nextSenderSeq?: number; nextTargetSeq?: number }): Promise<StoreState> {
    this.trimmedBelow = 1;
    return this.inner.reset(now, next);
  }

  setSequences(nextSenderSeq: number, nextTargetSeq: number): Promise<void> {
    return this.inner.setSequences(nextSenderSeq, nextTargetSeq);
  }

  trim(belowSeq: number): Promise<void> {
    return this.inner.trim(belowSeq);
  }

  readOutbox(limit: number): Promise<OutboxEntry[]> {
    return this.inner.readOutbox(limit);
  }

  ackOutbox(upToPos: number): Promise<void> {
    return this.inner.ackOutbox(upToPos);
  }

  close(): Promise<void> {
    return this.opts.holdOpen ? Promise.resolve() : this.inner.close();
  }

  /** Closes the store, also one that `holdOpen` kept open. */
  release(): Promise<void> {
    return this.inner.close();
  }
}
