import type { RedisOptions } from "ioredis";
import { type KillSwitchState, killSwitchKey } from "../engine/kill-switches.js";
import { RecordFanout, RedisRecords } from "./redis-records.js";

/**
 * Where kill switches live and how every risk and order-entry instance learns of a change at once.
 *
 * - `set` records a change and tells every watcher of every instance (its own included);
 * - `watch(cb)` calls `cb` with each change made after it was called — and, after a lost connection, with every
 *   switch that changed meanwhile (a reload on reconnect), so a missed message is never a missed engage;
 * - `current()` is the state as this instance knows it now (for checks and for a newly started watcher).
 *
 * order-entry can watch it to mass-cancel the open orders a newly engaged switch covers (`cancelOpenOrders`).
 */
export interface KillSwitchStore {
  /** Loads the switches and starts listening for changes. Idempotent. */
  start(): Promise<void>;
  current(): KillSwitchState[];
  set(change: Omit<KillSwitchState, "at"> & { at?: number }): Promise<KillSwitchState>;
  /** Returns a function that stops watching. */
  watch(cb: (s: KillSwitchState) => void): () => void;
  close(): Promise<void>;
}

/** Kill switches in process memory: embedded mode (`fixmesh start`) and tests. */
export class MemoryKillSwitchStore implements KillSwitchStore {
  private readonly fanout: RecordFanout<KillSwitchState>;
  constructor(
    private readonly now: () => number = Date.now,
    onWatcherError: (err: unknown) => void = () => undefined,
  ) {
    this.fanout = new RecordFanout(onWatcherError);
  }
  async start(): Promise<void> {}
  current(): KillSwitchState[] {
    return [...this.fanout.known.values()];
  }
  async set(change: Omit<KillSwitchState, "at"> & { at?: number }): Promise<KillSwitchState> {
    const key = killSwitchKey(change.scope, change.target);
    const old = this.fanout.known.get(key);
    // Never before the switch's last change, even with a clock that went back.
    const at = Math.max(change.at ?? this.now(), (old?.at ?? 0) + 1);
    const s: KillSwitchState = { ...change, at };
    this.fanout.deliver(key, s);
    return s;
  }
  watch(cb: (s: KillSwitchState) => void): () => void {
    return this.fanout.watch((_k, s) => cb(s));
  }
  async close(): Promise<void> {
    this.fanout.clear();
  }
}

export interface RedisKillSwitchStoreOptions {
  /** A connection URL (`redis://127.0.0.1:6379`) or options; the store opens its own two connections. */
  redis: string | RedisOptions;
  /** With a URL: the link's credentials and TLS (`redisClientOptions` of @fixmesh/security). */
  redisOptions?: RedisOptions;
  /** Key prefix (default `fixmesh`): the hash `<prefix>:risk:kill-switches` and its channel `…:changes`. */
  prefix?: string;
  /** A watcher threw, or a record could not be read: something to log. */
  onError?: (err: unknown, what: string) => void;
  /** Called after every reload (start and each reconnect) with the number of switches that changed. */
  onReload?: (changed: number) => void;
}

const SCOPES = new Set(["GLOBAL", "SESSION", "ACCOUNT"]);

export function parseKillSwitch(value: unknown): KillSwitchState {
  const v = value as Partial<KillSwitchState> | null;
  if (typeof v !== "object" || v === null || !SCOPES.has(String(v.scope)) || typeof v.at !== "number") {
    throw new Error(`not a kill switch record: ${JSON.stringify(value).slice(0, 200)}`);
  }
  return {
    scope: v.scope as KillSwitchState["scope"],
    target: String(v.target ?? ""),
    engaged: v.engaged === true,
    reason: String(v.reason ?? ""),
    operator: String(v.operator ?? ""),
    at: v.at,
    cancelOpenOrders: v.cancelOpenOrders === true,
  };
}

/** Kill switches in Redis, seen by every instance at once (see RedisRecords). */
export class RedisKillSwitchStore implements KillSwitchStore {
  private readonly records: RedisRecords<KillSwitchState>;

  constructor(opts: RedisKillSwitchStoreOptions) {
    this.records = new RedisRecords<KillSwitchState>({
      redis: opts.redis,
      ...(opts.redisOptions && { redisOptions: opts.redisOptions }),
      key: `${opts.prefix ?? "fixmesh"}:risk:kill-switches`,
      parse: parseKillSwitch,
      ...(opts.onError && { onError: opts.onError }),
      ...(opts.onReload && { onReload: opts.onReload }),
    });
  }

  start(): Promise<void> {
    return this.records.start();
  }

  reload(): Promise<number> {
    return this.records.reload();
  }

  current(): KillSwitchState[] {
    return [...this.records.fanout.known.values()];
  }

  set(change: Omit<KillSwitchState, "at"> & { at?: number }): Promise<KillSwitchState> {
    const { at: _ignored, ...rest } = change;
    return this.records.set(killSwitchKey(change.scope, change.target), rest);
  }

  watch(cb: (s: KillSwitchState) => void): () => void {
    return this.records.fanout.watch((_k, s) => cb(s));
  }

  close(): Promise<void> {
    return this.records.close();
  }
}
