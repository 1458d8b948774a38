/**
 * The message store: sequence numbers and the outbound message log of one FIX session.
 *
 * Shaped for group commit: the engine collects every outbound message produced in one turn of the event
 * loop, and one `commit` persists them together with both sequence numbers, atomically, before a byte
 * reaches the socket (persist before send). A crash therefore either keeps the whole batch or none of it.
 *
 * Fencing: each writer carries an epoch (a number that only grows: a Kubernetes Lease's leaseTransitions,
 * or an INCR in Redis). `fence(epoch)` raises the session's epoch; every write by a holder of a lower
 * epoch fails with `StaleEpochError`, so a deposed leader can never burn a sequence number the new leader
 * also uses. Memory and file stores enforce it within their reach (one process / one directory); the Redis
 * store enforces it across processes in its Lua scripts.
 */

/** One outbound message as it was sent: its MsgSeqNum, MsgType and exact bytes. */
export interface StoredMessage {
  seq: number;
  msgType: string;
  bytes: Buffer;
}

/** The state a session resumes from. */
export interface StoreState {
  /** MsgSeqNum of the next message we send. */
  nextSenderSeq: number;
  /** MsgSeqNum we expect next from the counterparty. */
  nextTargetSeq: number;
  /**
   * Identifies one sequence-number cycle; changes at every reset so data of different days never collides.
   * Opaque; monotonic in time (e.g. `20261127T045729Z-1a2b`).
   */
  cycle: string;
  /** When this cycle began (epoch ms); schedules use it to decide whether a daily reset is due. */
  creationTime: number;
  /** The highest epoch that has fenced this session (0 when never fenced). */
  epoch: number;
  /**
   * Why the session is SAFE, when it is (absent otherwise): SAFE outlives a restart and a failover, until an
   * operator (or an agreed reset, or the next session window) clears it.
   */
  safeReason?: string;
}

/**
 * An event for the bus, kept in the store's outbox until the bus has accepted it. Recorded in the same atomic
 * commit as the messages and sequence numbers it describes, so a crash can neither publish an event for
 * something that was not persisted nor lose the event of something that was.
 */
export interface OutboxEvent {
  /** Deduplication id on the bus (`<session>:<cycle>:<in|out>:<seq>` for messages). */
  id: string;
  subject: string;
  payload: Buffer;
  headers?: Record<string, string>;
}

/** An outbox event with its position: positions only grow, across cycles and resets. */
export interface OutboxEntry extends OutboxEvent {
  pos: number;
}

/** What one `commit` persists, atomically. */
export interface CommitBatch {
  /** Outbound messages, in ascending MsgSeqNum order; may be empty (a checkpoint-only commit). */
  outbound: readonly StoredMessage[];
  /** Next sender MsgSeqNum after this batch. */
  nextSenderSeq: number;
  /** Next expected inbound MsgSeqNum after the messages received so far (the inbound checkpoint). */
  nextTargetSeq: number;
  /** Events to add to the outbox, in order (may be absent or empty). */
  events?: readonly OutboxEvent[];
  /**
   * Client idempotency keys of messages in this batch, recorded in the same atomic write, so a retry that reaches
   * the next leader after a failover finds the first answer exactly when the message was persisted. Stores that
   * outlive no process (memory, file) may ignore them; the Redis store keeps them (bounded in age and number).
   */
  idempotency?: readonly IdempotencyRecord[];
}

/** A client's idempotency key: the request it was first used with (a digest) and the MsgSeqNum that got. */
export interface IdempotencyRecord {
  key: string;
  /** Digest of the first request, to tell a retry from a different request reusing the key. */
  fingerprint: string;
  seq: number;
}

export interface MessageStore {
  /** `memory`, `file` or `redis`. */
  readonly kind: string;
  /** Loads the session's state, creating a fresh cycle (1/1) when there is none. */
  open(now: number): Promise<StoreState>;
  /** Raises the session's epoch to `epoch` and makes it this writer's; lower than the current → StaleEpochError. */
  fence(epoch: number): Promise<void>;
  /**
   * Persists a batch atomically. StaleEpochError when a higher epoch has fenced the session since. A store that
   * can resolves with the batch's events as they now sit in the outbox (with their positions, payloads the store's
   * own bytes, not to be changed): the outbox publisher then takes them from memory instead of reading them back.
   */
  commit(batch: CommitBatch): Promise<readonly OutboxEntry[] | undefined>;
  /** Stored outbound messages with seq in [begin, end] (inclusive), ascending; missing ones are skipped. */
  getRange(begin: number, end: number): Promise<StoredMessage[]>;
  /** Starts a new cycle: both sequence numbers back to 1 (or as given), log emptied. Returns the new state. */
  reset(now: number, next?: { nextSenderSeq?: number; nextTargetSeq?: number }): Promise<StoreState>;
  /** Sets sequence numbers without changing the cycle (admin: SequenceReset, InSeqNum/OutSeqNum). */
  setSequences(nextSenderSeq: number, nextTargetSeq: number): Promise<void>;
  /**
   * Records that the session is SAFE (`reason`) or no longer SAFE (null), fenced like every write. Survives
   * `reset` (a new cycle does not resolve what made the session SAFE; the session clears it when it does).
   */
  setSafe(reason: string | null): Promise<void>;
  /** Drops stored messages with seq < `belowSeq` (retention). */
  trim(belowSeq: number): Promise<void>;
  /**
   * The oldest `limit` outbox events not yet acknowledged, in order. The outbox survives `reset` (a new cycle
   * must not lose the previous cycle's unpublished events) and restarts.
   */
  readOutbox(limit: number): Promise<OutboxEntry[]>;
  /** Drops outbox events with pos ≤ `upToPos` (the bus has accepted them). Fenced like every write. */
  ackOutbox(upToPos: number): Promise<void>;
  close(): Promise<void>;
}
