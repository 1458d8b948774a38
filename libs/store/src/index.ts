/**
 * @fixmesh/store — message stores for clustered deployments: the fenced Redis store.
 *
 * The interface, its memory and file stores, and the errors every store shares (StaleEpochError,
 * StoreConflictError, StoreCorruptError) live in @fixmesh/session.
 */

// Connecting: the client options a store relies on, for callers that bring their own client.
export { createRedisClient, REDIS_CLIENT_DEFAULTS } from "./client.js";
// Errors of this store (besides @fixmesh/session's).
export { StoreUnavailableError } from "./errors.js";
// Key layout, for operators' tools and tests.
export { type SessionKeys, sessionKeys } from "./keys.js";
// The store.
export { RedisStore, type RedisStoreOptions } from "./redis.js";
