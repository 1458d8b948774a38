import { Redis, type RedisOptions } from "ioredis";

/**
 * Records every instance must agree on (kill switches, limit sets set through SetLimits), kept in Redis: a hash
 * holds each record's last version (persisted: a restarted instance reads it), a pub/sub channel carries every
 * change to every instance the moment it is made, and each (re)connection of the subscriber reloads the hash so
 * nothing published while it was away is lost. Each change is stamped with the server's clock, never before the
 * record's previous change, so instances with skewed clocks agree on which change is the latest.
 */
export interface Stamped {
  /** Epoch ms of the change (the Redis server's clock). */
  at: number;
}

export interface RedisRecordsOptions<T extends Stamped> {
  /** A connection URL (`redis://127.0.0.1:6379`) or options; two connections are opened (commands, subscriber). */
  redis: string | RedisOptions;
  /** With a URL: the link's credentials and TLS (`redisClientOptions` of @fixmesh/security). */
  redisOptions?: RedisOptions;
  /** The hash's key; the channel is `<key>:changes`. */
  key: string;
  /** Reads a stored record; throws on anything else. */
  parse(value: unknown): T;
  onError?: (err: unknown, what: string) => void;
  /** After every reload (start and each reconnect): how many records were newer than what this instance knew. */
  onReload?: (changed: number) => void;
}

const SET_SCRIPT = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
local t = redis.call('TIME')
local at = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if old then
  local prev = cjson.decode(old)
  if prev.at ~= nil and prev.at >= at then at = prev.at + 1 end
end
local rec = cjson.decode(ARGV[2])
rec.at = at
local out = cjson.encode(rec)
redis.call('HSET', KEYS[1], ARGV[1], out)
redis.call('PUBLISH', KEYS[2], cjson.encode({ field = ARGV[1], record = rec }))
return out
`;

/** The latest record per field, handed to the watchers once each. */
export class RecordFanout<T extends Stamped> {
  readonly known = new Map<string, T>();
  private readonly watchers = new Set<(field: string, rec: T) => void>();
  constructor(private readonly onWatcherError: (err: unknown) => void = () => undefined) {}

  deliver(field: string, rec: T): boolean {
    const old = this.known.get(field);
    if (old !== undefined && old.at >= rec.at) return false;
    this.known.set(field, rec);
    for (const w of this.watchers) {
      try {
        w(field, rec);
      } catch (err) {
        this.onWatcherError(err);
      }
    }
    return true;
  }

  watch(cb: (field: string, rec: T) => void): () => void {
    this.watchers.add(cb);
    return () => this.watchers.delete(cb);
  }

  clear(): void {
    this.watchers.clear();
  }
}

export class RedisRecords<T extends Stamped> {
  private readonly cmd: Redis;
  private readonly sub: Redis;
  private readonly channel: string;
  readonly fanout: RecordFanout<T>;
  private started: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly opts: RedisRecordsOptions<T>) {
    const base: RedisOptions = { maxRetriesPerRequest: 2, lazyConnect: true };
    this.cmd =
      typeof opts.redis === "string"
        ? new Redis(opts.redis, { ...opts.redisOptions, ...base })
        : new Redis({ ...opts.redis, ...base });
    this.sub = this.cmd.duplicate();
    this.channel = `${opts.key}:changes`;
    this.fanout = new RecordFanout<T>((err) => opts.onError?.(err, "watcher"));
    this.cmd.defineCommand("setStampedRecord", { numberOfKeys: 2, lua: SET_SCRIPT });
    this.cmd.on("error", (err) => opts.onError?.(err, "redis"));
    this.sub.on("error", (err) => opts.onError?.(err, "redis subscriber"));
  }

  start(): Promise<void> {
    this.started ??= (async () => {
      this.sub.on("message", (channel: string, message: string) => {
        if (channel !== this.channel) return;
        try {
          const m = JSON.parse(message) as { field?: unknown; record?: unknown };
          if (typeof m.field !== "string") throw new Error("no field");
          this.fanout.deliver(m.field, this.opts.parse(m.record));
        } catch (err) {
          this.opts.onError?.(err, `unreadable change on ${this.channel}`);
        }
      });
      await this.cmd.connect();
      await this.sub.connect();
      await this.sub.subscribe(this.channel);
      await this.reload();
      // After the first connection, every reconnection reloads (ioredis resubscribes by itself).
      this.sub.on("ready", () => {
        if (this.closed) return;
        this.reload().catch((err: unknown) => this.opts.onError?.(err, "reload"));
      });
    })();
    return this.started;
  }

  /** Reads every record and delivers those newer than what this instance knew. */
  async reload(): Promise<number> {
    const all = await this.cmd.hgetall(this.opts.key);
    let changed = 0;
    for (const [field, v] of Object.entries(all)) {
      try {
        if (this.fanout.deliver(field, this.opts.parse(JSON.parse(v)))) changed++;
      } catch (err) {
        this.opts.onError?.(err, `unreadable record ${this.opts.key} ${field}`);
      }
    }
    this.opts.onReload?.(changed);
    return changed;
  }

  /** Records a change (its `at` is set by the server) and publishes it; known here at once. */
  async set(field: string, rec: Omit<T, "at">): Promise<T> {
    const cmd = this.cmd as unknown as {
      setStampedRecord(k1: string, k2: string, f: string, v: string): Promise<string>;
    };
    const out = await cmd.setStampedRecord(this.opts.key, this.channel, field, JSON.stringify({ ...rec, at: 0 }));
    const stored = this.opts.parse(JSON.parse(out));
    this.fanout.deliver(field, stored);
    return stored;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fanout.clear();
    // QUIT only on a live connection: one that never got in (a refused password, a bad certificate) is retrying, and
    // QUIT would wait for it; disconnect stops the retries.
    const end = async (c: Redis) => {
      if (c.status === "ready") await c.quit();
      else c.disconnect();
    };
    await Promise.allSettled([end(this.sub), end(this.cmd)]);
  }
}
