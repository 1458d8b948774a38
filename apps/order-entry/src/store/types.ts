/**
 * Where order-entry keeps its state: orders (by internal id, by (session, ClOrdID) over each whole replace chain, by
 * (session, OrderID)), idempotency keys, the (session, ExecID) dedupe set, the update log that StreamOrderUpdates
 * serves and the ORDERS publisher drains, and the reports for orders nobody knows. Two backends with one behaviour
 * (store-suite.ts runs against both): memory for the embedded stack, Redis for everything else — any number of
 * order-entry instances share one Redis and see the same orders.
 */
import type { OrderEvent } from "@fixmesh/bus";
import type { ApplyResult, ExecutionReport, OrderCancelReject } from "@fixmesh/orders";
import type { FieldInit } from "../clients/connector.js";
import type { OrderRecord, StepInput } from "../model/record.js";

/** One update of the log: strictly increasing positions over the whole log, shared by every instance. */
export interface LogEntry {
  position: number;
  event: OrderEvent;
}

/** A claimed idempotency key: which order it made, and the request it was made with. */
export interface IdempotencyRecord {
  key: string;
  /** A digest of the request: the same key with a different request is refused. */
  fingerprint: string;
  orderId: string;
  clOrdId: string;
  /** Epoch ms of the claim (a claim whose order never got persisted can be taken over after a while). */
  at: number;
  /**
   * A cancel or replace whose send the connector could not confirm (PERSIST_FAILED, or no answer): it may be in the
   * connector's store and reach the venue as a resend. A retry with the same key sends exactly this message again
   * under the same connector idempotency key (the ClOrdID), which answers the stored MsgSeqNum or sends it.
   */
  unconfirmed?: UnconfirmedAmend;
}

/** What a cancel/replace retry needs to send the identical message and record the request. */
export interface UnconfirmedAmend {
  kind: "cancel" | "replace";
  /** The ClOrdID the request replaces (OrigClOrdID of the message). */
  origClOrdId: string;
  terms?: { quantity: string; price?: string };
  msgType: string;
  fields: FieldInit[];
}

export interface ListFilter {
  sessionId?: string;
  account?: string;
  symbol?: string;
  openOnly?: boolean;
}

export interface UpdateOutcome {
  outcome: "applied" | "noop" | "rejected" | "duplicate" | "unknownOrder";
  record?: OrderRecord;
  /** The update logged, when the change was visible. */
  entry?: LogEntry;
  apply?: ApplyResult;
}

/** `traceparent`: the trace context the report is applied in; the order event it makes continues that trace. */
export type ReportInput =
  | { type: "report"; report: ExecutionReport; msgSeqNum?: number; traceparent?: string }
  | { type: "cancelReject"; reject: OrderCancelReject; traceparent?: string };

export interface ReportOutcome extends UpdateOutcome {
  /** For duplicates: how the copy was flagged. */
  possDup?: boolean;
  possResend?: boolean;
  /** Updates of other reports this one let through (held or unmatched ones now explained). */
  released?: LogEntry[];
}

export interface StoreCounters {
  applied: number;
  duplicates: number;
  duplicatesPossDup: number;
  duplicatesPossResend: number;
  duplicatesUnflagged: number;
  unknownOrder: number;
  rejected: number;
  rematched: number;
}

/** A second writer committed the order between our read and our write; the caller re-reads and retries. */
export class ConcurrentUpdateError extends Error {
  override readonly name = "ConcurrentUpdateError";
}

/** A ClOrdID or order id already taken. */
export class DuplicateOrderError extends Error {
  override readonly name = "DuplicateOrderError";
}

export class CumQtyBackwardsError extends Error {
  override readonly name = "CumQtyBackwardsError";
}

export interface OrderRepository {
  readonly kind: "memory" | "redis";
  /** A ClOrdID unique per session across restarts, instances and trading days. */
  nextClOrdId(sessionId: string, now: number): Promise<string>;
  /** Claims `rec.key`; resolves `null` when the claim is ours, else the earlier claim (which is left as it is). */
  claimIdempotency(rec: IdempotencyRecord, ttlMs: number): Promise<IdempotencyRecord | null>;
  /**
   * `nextClOrdId` and `claimIdempotency` in one step (Redis: one script, one round trip): the claim is made with a
   * new ClOrdID, or — when the key was claimed before — `earlier` is that claim and no ClOrdID is used up.
   */
  claimNew(
    sessionId: string,
    claim: Omit<IdempotencyRecord, "clOrdId">,
    ttlMs: number,
  ): Promise<{ clOrdId: string; earlier: null } | { earlier: IdempotencyRecord }>;
  /** Drops our claim (the request failed before anything was sent), so a retry runs afresh. */
  releaseIdempotency(key: string, orderId: string): Promise<void>;
  /**
   * Rewrites a claim (its `unconfirmed` request set or cleared) when it is still held for `rec.orderId`, keeping its
   * expiry; a claim that expired or belongs to another order is left alone.
   */
  noteIdempotency(rec: IdempotencyRecord): Promise<void>;
  getIdempotency(key: string): Promise<IdempotencyRecord | null>;
  /** Stores a new order (version 1) and logs its NEW_REQUEST; throws DuplicateOrderError if id or ClOrdID is taken. */
  create(record: OrderRecord, at: number): Promise<{ entry: LogEntry; released: LogEntry[] }>;
  /** Applies one of our inputs (request, sent, not sent) to an order, atomically. */
  /** `known`: the caller's copy of the record (saves a read when still current). */
  update(
    orderId: string,
    input: StepInput,
    now: number,
    known?: OrderRecord,
  ): Promise<UpdateOutcome & { released?: LogEntry[] }>;
  /** Applies a venue report once per (session, ExecID) — PossDup/PossResend copies included — atomically. */
  applyReport(sessionId: string, input: ReportInput, now: number): Promise<ReportOutcome>;
  /**
   * Reports of one order, in the order they came: the same outcomes as `applyReport` on each in turn, in one commit
   * where they allow it (one Redis round trip for a venue's acknowledgement and fill instead of two).
   */
  applyReports(sessionId: string, inputs: readonly ReportInput[], now: number): Promise<ReportOutcome[]>;
  get(orderId: string): Promise<OrderRecord | undefined>;
  /** By any ClOrdID of the order's chain. */
  findByClOrdId(sessionId: string, clOrdId: string): Promise<OrderRecord | undefined>;
  /** Newest first; `pageToken` from the previous page. */
  list(filter: ListFilter, pageSize: number, pageToken?: string): Promise<{ records: OrderRecord[]; next?: string }>;
  /** Log entries from `from` (inclusive), at most `limit`. */
  readLog(from: number, limit: number): Promise<LogEntry[]>;
  /** The oldest position still held (0 when the log is empty), and the newest. */
  logBounds(): Promise<{ oldest: number; newest: number }>;
  /** New log entries as any instance commits them, in position order. Returns a stop function. */
  watchLog(fn: (e: LogEntry) => void): () => void;
  /** Entries committed more than `olderThanMs` ago and not yet marked published (crash recovery of the publisher). */
  unpublished(olderThanMs: number, now: number, limit: number): Promise<LogEntry[]>;
  markPublished(positions: readonly number[]): Promise<void>;
  /** Reports kept for orders nobody knows (reconciliation). */
  unmatched(sessionId: string): Promise<ReportInput[]>;
  counters(): Promise<StoreCounters>;
  /** Orders not in a final state (the metrics' open-order gauge). */
  openCount(): Promise<number>;
  /**
   * Moves the session's ClOrdID counter up to at least `atLeast` (never down): a rebuilt store must not hand out
   * a ClOrdID the session already used.
   */
  raiseClOrdIdCounter(sessionId: string, atLeast: number): Promise<void>;
  close(): Promise<void>;
}

export function emptyCounters(): StoreCounters {
  return {
    applied: 0,
    duplicates: 0,
    duplicatesPossDup: 0,
    duplicatesPossResend: 0,
    duplicatesUnflagged: 0,
    unknownOrder: 0,
    rejected: 0,
    rematched: 0,
  };
}
