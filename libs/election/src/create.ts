import type { Cluster, Redis, RedisOptions } from "ioredis";
import type { Clock } from "./clock.js";
import { type ElectionLogger, type ElectionTiming, type Elector, resolveTiming } from "./elector.js";
import type { LeaseApi, LeaseApiOptions } from "./lease/lease-api.js";
import { LeaseLock } from "./lease/lease-lock.js";
import { LockElector } from "./lock-elector.js";
import { NoElection } from "./none.js";
import { RedisLock } from "./redis/redis-lock.js";

interface Common {
  /** Default `<host name>-<pid>`. */
  identity?: string;
  logger?: ElectionLogger;
  /** Extra fields on every log line (e.g. `{ session }`). */
  logContext?: Record<string, unknown>;
}

interface Timed extends Common {
  timing?: Partial<ElectionTiming>;
  clock?: Clock;
}

export type ElectorOptions =
  | (Common & { kind: "none"; epoch?: number })
  | (Timed & {
      kind: "redis";
      redis: string | Redis | Cluster;
      key: string;
      subscriber?: boolean | Redis;
      clientOptions?: RedisOptions;
    })
  | (Timed & {
      kind: "lease";
      api: LeaseApi | LeaseApiOptions;
      namespace: string;
      name: string;
      /** The store's fence epoch: each new term's epoch is above it, even after the Lease was deleted. */
      epochFloor?: (signal: AbortSignal) => Promise<number>;
    });

/** An elector of the kind asked for (not started). A RangeError names a bad timing or name. */
export function createElector(opts: ElectorOptions): Elector {
  switch (opts.kind) {
    case "none":
      return new NoElection({ epoch: opts.epoch, identity: opts.identity });
    case "redis": {
      // The timing is checked before the lock opens connections.
      const t = resolveTiming(opts.timing);
      const lock = new RedisLock({
        redis: opts.redis,
        key: opts.key,
        identity: opts.identity,
        leaseDurationMs: Math.ceil(t.leaseDurationMs),
        subscriber: opts.subscriber,
        clientOptions: opts.clientOptions,
      });
      return new LockElector(lock, { ...opts, timing: t });
    }
    case "lease": {
      const t = resolveTiming(opts.timing);
      const lock = new LeaseLock({
        api: opts.api,
        namespace: opts.namespace,
        name: opts.name,
        identity: opts.identity,
        leaseDurationMs: t.leaseDurationMs,
        clock: opts.clock,
        epochFloor: opts.epochFloor,
      });
      return new LockElector(lock, { ...opts, timing: t });
    }
  }
}
