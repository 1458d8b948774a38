/**
 * @fixmesh/election — leader election for a FIX session's replicas. One interface (`Elector`), three backends:
 * a Kubernetes Lease, a Redis lock with an epoch counter, or none. The epoch a leader is elected with is its
 * session store's fencing token.
 */

// Time
export { type Clock, systemClock, type TimerHandle } from "./clock.js";
// Making one
export { createElector, type ElectorOptions } from "./create.js";
// The interface
export {
  DEFAULT_TIMING,
  DeposeCode,
  type DeposedReason,
  ElectionKind,
  type ElectionLogger,
  type ElectionTiming,
  type Elector,
  type ElectorEvents,
  JITTER_FACTOR,
  resolveTiming,
} from "./elector.js";
export {
  inClusterOptions,
  type Lease,
  LeaseApi,
  LeaseApiError,
  type LeaseApiOptions,
  type LeaseSpec,
  SERVICE_ACCOUNT_DIR,
} from "./lease/lease-api.js";
export { EPOCH_ANNOTATION, epochOf, LeaseLock, type LeaseLockOptions } from "./lease/lease-lock.js";
export { type AcquireResult, AttemptTimeoutError, type LeaderLock } from "./lock.js";
// Backends, and the campaign they share
export { LockElector, type LockElectorOptions } from "./lock-elector.js";
export { defaultIdentity, NoElection, type NoElectionOptions } from "./none.js";
export { ELECTION_REDIS_DEFAULTS, RedisLock, type RedisLockOptions } from "./redis/redis-lock.js";
