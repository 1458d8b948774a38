/**
 * The Redis backend: one key holds the lock (`"<epoch> <identity>"`, with a TTL of leaseDuration), a second one
 * counts the epochs (INCR, never expires, never decreases). Taking the lock and the next epoch is one Lua script
 * (SET NX PX, then INCR); renewing and releasing check, in their script, that the lock still holds this holder's
 * term. The lock's expiry is Redis's clock alone, so no two processes' clocks are compared.
 */
import { readFileSync } from "node:fs";
import { type Cluster, Redis, type RedisOptions } from "ioredis";
import type { AcquireResult, LeaderLock } from "../lock.js";
import { defaultIdentity } from "../none.js";

const dir = new URL("../../lua/", import.meta.url);
const read = (file: string) => readFileSync(new URL(file, dir), "utf8");

interface LockCommands {
  fixmeshElectAcquire(
    lock: string,
    counter: string,
    identity: string,
    ttlMs: string,
  ): Promise<[number, string | number]>;
  fixmeshElectRenew(lock: string, value: string, ttlMs: string): Promise<number>;
  fixmeshElectRelease(lock: string, value: string, channel: string): Promise<number>;
}

const SCRIPTS: Record<keyof LockCommands, { numberOfKeys: number; lua: string }> = {
  fixmeshElectAcquire: { numberOfKeys: 2, lua: read("acquire.lua") },
  fixmeshElectRenew: { numberOfKeys: 1, lua: read("renew.lua") },
  fixmeshElectRelease: { numberOfKeys: 1, lua: read("release.lua") },
};

const defined = new WeakSet<Redis | Cluster>();

function withScripts(client: Redis | Cluster): (Redis | Cluster) & LockCommands {
  if (!defined.has(client)) {
    for (const [name, def] of Object.entries(SCRIPTS)) client.defineCommand(name, def);
    defined.add(client);
  }
  return client as (Redis | Cluster) & LockCommands;
}

/**
 * ioredis options for the clients an election writes through (used for clients made from a URL):
 * a command sent while disconnected fails at once, and one that failed is never written later behind the
 * elector's back (a renewal replayed after a reconnect would stretch a term the elector already gave up).
 */
export const ELECTION_REDIS_DEFAULTS = {
  commandTimeout: 5_000,
  connectTimeout: 2_000,
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
} as const satisfies RedisOptions;

export interface RedisLockOptions {
  /**
   * A `redis://`/`rediss://` URL (the lock creates its clients with ELECTION_REDIS_DEFAULTS and quits them on
   * `close`), or an ioredis client the caller owns.
   */
  redis: string | Redis | Cluster;
  /**
   * The lock's key. The epoch counter is `<key>:epoch`; put a hash tag in the key (`fixmesh:{<session>}:leader`)
   * so both live in one slot on Redis Cluster.
   */
  key: string;
  /** Default `<host name>-<pid>`. */
  identity?: string;
  /** The lock's time to live after each renewal. */
  leaseDurationMs: number;
  /**
   * Where to listen for releases (channel `<key>:released`), so a standby takes over a released lock at once:
   * `true` (default) opens a second connection for it (URL only), a client (in subscriber mode, the caller's),
   * or `false` (standbys notice at their next retry).
   */
  subscriber?: boolean | Redis;
  /** Extra ioredis options for the clients made from a URL (TLS, credentials). */
  clientOptions?: RedisOptions;
}

export class RedisLock implements LeaderLock {
  readonly kind = "redis";
  readonly identity: string;
  readonly name: string;
  readonly counterKey: string;
  readonly channel: string;
  private readonly client: (Redis | Cluster) & LockCommands;
  private readonly owned: Redis | null;
  private readonly sub: Redis | null;
  private readonly ownsSub: boolean;
  private readonly ttl: string;
  private readonly watchers = new Set<() => void>();
  private readonly onMessage = (channel: string) => {
    if (channel === this.channel) for (const fn of this.watchers) fn();
  };

  constructor(opts: RedisLockOptions) {
    if (!Number.isSafeInteger(opts.leaseDurationMs) || opts.leaseDurationMs < 1) {
      throw new RangeError(`leaseDurationMs must be a whole number of milliseconds ≥ 1, got ${opts.leaseDurationMs}`);
    }
    if (opts.key === "") throw new RangeError("key must not be empty");
    this.name = opts.key;
    this.counterKey = `${opts.key}:epoch`;
    this.channel = `${opts.key}:released`;
    this.identity = opts.identity ?? defaultIdentity();
    if (/\s/.test(this.identity) || this.identity === "") {
      throw new RangeError(`identity must be non-empty and without spaces, got ${JSON.stringify(this.identity)}`);
    }
    this.ttl = String(opts.leaseDurationMs);
    if (typeof opts.redis === "string") {
      const c = new Redis(opts.redis, { ...ELECTION_REDIS_DEFAULTS, ...opts.clientOptions });
      // ioredis reconnects on its own; the elector logs the failed calls. Without a listener an error event
      // would be thrown.
      c.on("error", () => {});
      this.owned = c;
      this.client = withScripts(c);
    } else {
      this.owned = null;
      this.client = withScripts(opts.redis);
    }
    const sub = opts.subscriber ?? true;
    if (sub === true && typeof opts.redis === "string") {
      // Subscribing must wait for the connection and be redone after a reconnect (ioredis does both with its
      // offline queue, which is harmless here: SUBSCRIBE writes nothing).
      const s = new Redis(opts.redis, { ...opts.clientOptions, connectTimeout: 2_000, maxRetriesPerRequest: null });
      s.on("error", () => {});
      this.sub = s;
      this.ownsSub = true;
    } else {
      this.sub = sub instanceof Redis ? sub : null;
      this.ownsSub = false;
    }
    if (this.sub !== null) {
      this.sub.on("message", this.onMessage);
      this.sub.subscribe(this.channel).catch(() => {
        // Without the channel the standbys still take over at their next retry.
      });
    }
  }

  /** The value the lock holds during the term of `epoch`. */
  valueOf(epoch: number): string {
    return `${epoch} ${this.identity}`;
  }

  async acquire(): Promise<AcquireResult> {
    const [won, v] = await this.client.fixmeshElectAcquire(this.name, this.counterKey, this.identity, this.ttl);
    if (won === 1) return { acquired: true, epoch: Number(v) };
    const holder = String(v);
    const sp = holder.indexOf(" ");
    return { acquired: false, holder: sp < 0 ? holder : holder.slice(sp + 1) };
  }

  async renew(epoch: number): Promise<boolean> {
    return (await this.client.fixmeshElectRenew(this.name, this.valueOf(epoch), this.ttl)) === 1;
  }

  async release(epoch: number): Promise<void> {
    await this.client.fixmeshElectRelease(this.name, this.valueOf(epoch), this.channel);
  }

  watch(fn: () => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  async close(): Promise<void> {
    this.watchers.clear();
    if (this.sub !== null) {
      this.sub.off("message", this.onMessage);
      if (this.ownsSub) this.sub.disconnect();
      else await this.sub.unsubscribe(this.channel).catch(() => undefined);
    }
    const c = this.owned;
    if (c === null) return;
    if (c.status === "ready") await c.quit().catch(() => c.disconnect());
    else c.disconnect();
  }
}
