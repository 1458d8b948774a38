/**
 * The one interface every election backend implements. A process that wants to lead a FIX session asks an
 * `Elector`; the epoch it is elected with is the session store's fencing token (`MessageStore.fence(epoch)`):
 * it only grows, so a deposed leader's next store write is refused even when it does not know it was deposed.
 */

/** The backends. */
export const ElectionKind = {
  /** A single instance: leader at once. */
  None: "none",
  /** A Redis lock with a TTL and an epoch counter (Lua). */
  Redis: "redis",
  /** A Kubernetes `coordination.k8s.io/v1` Lease, with client-go's semantics. */
  Lease: "lease",
} as const;
export type ElectionKind = (typeof ElectionKind)[keyof typeof ElectionKind];

/** Why a leader is no longer one. */
export const DeposeCode = {
  /**
   * No renewal succeeded for `renewDeadline`: the leader stepped down on its own, before its lock could expire
   * and before any other replica could win (renewDeadline < leaseDuration).
   */
  RenewDeadline: "renew-deadline",
  /** The lock is someone else's now (taken over after it expired, released or deleted behind our back). */
  Lost: "lost",
  /** The application gave leadership up (`resign`), e.g. after its store refused a write with a stale epoch. */
  Resigned: "resigned",
  /** `stop()` while leading. */
  Stopped: "stopped",
} as const;
export type DeposeCode = (typeof DeposeCode)[keyof typeof DeposeCode];

export interface DeposedReason {
  code: DeposeCode;
  /** For logs: what happened, in words. */
  message: string;
  /** The epoch of the leadership that ended. */
  epoch: number;
}

export interface ElectorEvents {
  /** This process leads, with `epoch` (fence the store with it before the first write). */
  elected: (epoch: number) => void;
  /**
   * This process no longer leads. Emitted synchronously at the moment the elector decides, before it tries to
   * release anything: stop writing and drop the connection at once.
   */
  deposed: (reason: DeposedReason) => void;
}

export interface Elector {
  readonly kind: ElectionKind;
  /** Who this process is in the lock (`holderIdentity` of a Lease; the Redis lock's value). */
  readonly identity: string;
  /** What is being contended for, for logs (`fixmesh:{FIX.4.4:A->B}:leader`, `namespace/name`). */
  readonly name: string;
  readonly isLeader: boolean;
  /** The epoch of the current leadership; after a deposition, of the last one; 0 before the first. */
  readonly epoch: number;
  /** Starts campaigning (idempotent). */
  start(): void;
  /** Gives leadership up now (released if still held) and campaigns again after a retry period. */
  resign(reason: string): Promise<void>;
  /** Stops campaigning; releases the lock when leading (emitting `deposed` with `stopped` first). */
  stop(): Promise<void>;
  on<E extends keyof ElectorEvents>(event: E, fn: ElectorEvents[E]): () => void;
}

/**
 * client-go's three durations (`k8s.io/client-go/tools/leaderelection`), in milliseconds.
 *
 * - `leaseDurationMs`: how long a lock lives after its last renewal; a standby takes over only after it.
 * - `renewDeadlineMs`: how long a leader keeps trying to renew before it steps down on its own. Below the lease
 *   duration, so a leader that cannot renew has stepped down before anyone else can win.
 * - `retryPeriodMs`: the pause between attempts (to acquire, or to renew).
 */
export interface ElectionTiming {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/**
 * Defaults for a FIX session: a SIGKILLed leader is replaced about 3.5 s later (inside the 5 s failover target);
 * 4 API or Redis calls per second per session. (client-go's are 15 s, 10 s and 2 s.)
 */
export const DEFAULT_TIMING: Readonly<ElectionTiming> = {
  leaseDurationMs: 3000,
  renewDeadlineMs: 2000,
  retryPeriodMs: 500,
};

/** client-go's JitterFactor: standbys wait retryPeriod × [1, 1.2) between attempts. */
export const JITTER_FACTOR = 1.2;

/** The timing with defaults filled in; a RangeError names what is wrong (client-go's own checks). */
export function resolveTiming(t: Partial<ElectionTiming> = {}): ElectionTiming {
  const out: ElectionTiming = { ...DEFAULT_TIMING, ...stripUndefined(t) };
  for (const [k, v] of Object.entries(out)) {
    if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${k} must be a positive number of milliseconds, got ${v}`);
  }
  if (out.leaseDurationMs <= out.renewDeadlineMs) {
    throw new RangeError(
      `leaseDuration (${out.leaseDurationMs} ms) must be greater than renewDeadline (${out.renewDeadlineMs} ms)`,
    );
  }
  if (out.renewDeadlineMs <= out.retryPeriodMs * JITTER_FACTOR) {
    throw new RangeError(
      `renewDeadline (${out.renewDeadlineMs} ms) must be greater than retryPeriod × ${JITTER_FACTOR} (${out.retryPeriodMs * JITTER_FACTOR} ms)`,
    );
  }
  return out;
}

/** What the electors log through (pino's shape; the connector's logger is one). */
export interface ElectionLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
