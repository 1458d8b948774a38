/**
 * @fixmesh/session — the FIX session engine as a pure state machine, and the message stores.
 */

export { AgeQueue } from "./age-queue.js";
export { strictObject, unknownKey } from "./config/strict-object.js";
export { ConfigError, StaleEpochError, StoreConflictError, StoreCorruptError } from "./errors.js";
export { RecentMap } from "./recent-map.js";
export { type ScheduleConfig, ScheduleConfigError, SessionSchedule } from "./schedule/schedule.js";
export { businessRejectFor, isAdmin, reverseRoute } from "./session/messages.js";
export type { SessionSchedulePort } from "./session/schedule-port.js";
export {
  DEFAULT_SETTINGS,
  resolveSettings,
  type SessionSettings,
  sessionIdOf,
} from "./session/settings.js";
export { createSession, nextDeadline, step } from "./session/step.js";
export {
  Health,
  type SessionAction,
  type SessionCounters,
  type SessionEvent,
  type SessionNotice,
  type SessionState,
  Status,
  type StepResult,
  type ValidationFailure,
  type Validator,
} from "./session/types.js";
// For other store implementations (the Redis store): the input checks every store applies, so all reject alike.
export { checkBatch, checkEvents, checkPosition, checkSeq, MAX_SEQ } from "./store/batch.js";
export { checkNow, cycleTime, newCycleId } from "./store/cycle.js";
export { FileStore, type FileStoreOptions, FsyncPolicy, sessionDirName } from "./store/file.js";
export { MemoryBacking, MemoryStore, type MemoryStoreOptions } from "./store/memory.js";
export type {
  CommitBatch,
  IdempotencyRecord,
  MessageStore,
  OutboxEntry,
  OutboxEvent,
  StoredMessage,
  StoreState,
} from "./store/store.js";
