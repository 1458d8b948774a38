/**
 * @fixmesh/session — the FIX session engine as a pure state machine, and the message stores.
 */
export { ConfigError, StaleEpochError, StoreCorruptError } from "./errors.js";
export type { CommitBatch, MessageStore, StoredMessage, StoreState } from "./store/store.js";
