import type { RedisOptions } from "ioredis";
import { limitSetFromPlain, limitSetToPlain } from "../config/limits-file.js";
import { type LimitSet, scopeKey } from "../engine/limits.js";
import { RecordFanout, RedisRecords, type Stamped } from "./redis-records.js";

/**
 * The limit sets set through SetLimits (over the file's, scope by scope), shared by every risk instance: a
 * SetLimits on one instance applies on all of them at once, and survives their restarts (Redis).
 */
export interface LimitOverride {
  set: LimitSet;
  reason: string;
  principal: string;
  at: number;
}

export interface LimitOverrideStore {
  start(): Promise<void>;
  current(): LimitOverride[];
  set(set: LimitSet, reason: string, principal: string): Promise<LimitOverride>;
  /** Every change, from any instance. Returns a function that stops watching. */
  watch(cb: (o: LimitOverride) => void): () => void;
  close(): Promise<void>;
}

export class MemoryLimitOverrideStore implements LimitOverrideStore {
  private readonly fanout = new RecordFanout<LimitOverride>();
  constructor(private readonly now: () => number = Date.now) {}
  async start(): Promise<void> {}
  current(): LimitOverride[] {
    return [...this.fanout.known.values()];
  }
  async set(set: LimitSet, reason: string, principal: string): Promise<LimitOverride> {
    const key = scopeKey(set.scope);
    const at = Math.max(this.now(), (this.fanout.known.get(key)?.at ?? 0) + 1);
    const o = { set, reason, principal, at };
    this.fanout.deliver(key, o);
    return o;
  }
  watch(cb: (o: LimitOverride) => void): () => void {
    return this.fanout.watch((_k, o) => cb(o));
  }
  async close(): Promise<void> {
    this.fanout.clear();
  }
}

interface StoredOverride extends Stamped {
  /** The set as JSON text: the Lua script's cjson would turn an empty list into an empty mapping. */
  set: string;
  reason: string;
  principal: string;
}

export class RedisLimitOverrideStore implements LimitOverrideStore {
  private readonly records: RedisRecords<StoredOverride & { parsed: LimitSet }>;

  constructor(opts: {
    redis: string | RedisOptions;
    /** With a URL: the link's credentials and TLS (`redisClientOptions` of @fixmesh/security). */
    redisOptions?: RedisOptions;
    prefix?: string;
    onError?: (err: unknown, what: string) => void;
  }) {
    this.records = new RedisRecords({
      redis: opts.redis,
      ...(opts.redisOptions && { redisOptions: opts.redisOptions }),
      key: `${opts.prefix ?? "fixmesh"}:risk:limits`,
      parse: (value: unknown) => {
        const v = value as Partial<StoredOverride> | null;
        if (typeof v !== "object" || v === null || typeof v.at !== "number") throw new Error("not a limit override");
        if (typeof v.set !== "string") throw new Error("not a limit override: no set");
        return {
          set: v.set,
          reason: String(v.reason ?? ""),
          principal: String(v.principal ?? ""),
          at: v.at,
          parsed: limitSetFromPlain(JSON.parse(v.set), "stored limit set"),
        };
      },
      ...(opts.onError && { onError: opts.onError }),
    });
  }

  private static view(r: StoredOverride & { parsed: LimitSet }): LimitOverride {
    return { set: r.parsed, reason: r.reason, principal: r.principal, at: r.at };
  }

  start(): Promise<void> {
    return this.records.start();
  }

  current(): LimitOverride[] {
    return [...this.records.fanout.known.values()].map(RedisLimitOverrideStore.view);
  }

  async set(set: LimitSet, reason: string, principal: string): Promise<LimitOverride> {
    // `parsed` is rebuilt from `set` when read back; it is not stored.
    const rec = { set: JSON.stringify(limitSetToPlain(set)), reason, principal } as unknown as Omit<
      StoredOverride & { parsed: LimitSet },
      "at"
    >;
    return RedisLimitOverrideStore.view(await this.records.set(scopeKey(set.scope), rec));
  }

  watch(cb: (o: LimitOverride) => void): () => void {
    return this.records.fanout.watch((_k, r) => cb(RedisLimitOverrideStore.view(r)));
  }

  close(): Promise<void> {
    return this.records.close();
  }
}
