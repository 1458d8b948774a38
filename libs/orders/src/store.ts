/**
 * The orders of one order-entry instance, by internal id, with indexes by (session, ClOrdID) over each order's whole
 * chain of ClOrdIDs and by (session, OrderID); the set of executions already seen, for dedupe; and the reports that
 * matched no order, for reconciliation. In memory: an app that must survive restarts persists it or rebuilds it by
 * replaying the stream through `apply`.
 *
 * Read it freely; change it only through `apply`. The methods marked "for apply" are how `apply` does so.
 */
import type { OrderCancelReject } from "./cancel-reject.js";
import { Decimal } from "./decimal.js";
import type { ExecutionReport } from "./execution-report.js";
import type { Order } from "./order.js";

/** A report for an order we do not know (yet): kept for reconciliation, and applied if the order turns up. */
export type UnmatchedEntry =
  | { type: "executionReport"; report: ExecutionReport; at: number }
  | { type: "cancelReject"; reject: OrderCancelReject; at: number };

export interface OrderCounters {
  /** Reports (ExecutionReport, OrderCancelReject) applied, including those released from `held` or `unmatched`. */
  applied: number;
  /** Copies of a report already seen: counted, not applied. */
  duplicates: number;
  /** …of which carried PossDupFlag=Y. */
  duplicatesPossDup: number;
  /** …of which carried PossResend=Y. */
  duplicatesPossResend: number;
  /** …of which carried neither: the venue reused an ExecID, or a consumer redelivered. Worth an alert. */
  duplicatesUnflagged: number;
  /** Reports for no order we know, kept in `unmatched`. */
  unknownOrder: number;
  /** Reports and requests refused (including those held). */
  rejected: number;
  /** Reports held on their order because they contradict what it holds. */
  held: number;
  /** Held reports applied later, once a later report explained them. */
  released: number;
  /** Unmatched reports applied later, once their order or request was known. */
  rematched: number;
}

export interface OrderStoreOptions {
  /**
   * How far a reported AvgPx may be from the exact average of the fills before it is flagged, beyond the half unit
   * in the last place the venue wrote. Default "0".
   */
  avgPxTolerance?: string;
}

function key(session: string, id: string): string {
  return `${session}\x01${id}`;
}

export class OrderStore {
  readonly unmatched: UnmatchedEntry[] = [];
  readonly counters: OrderCounters = {
    applied: 0,
    duplicates: 0,
    duplicatesPossDup: 0,
    duplicatesPossResend: 0,
    duplicatesUnflagged: 0,
    unknownOrder: 0,
    rejected: 0,
    held: 0,
    released: 0,
    rematched: 0,
  };
  readonly avgPxTolerance: Decimal;
  private readonly orders = new Map<string, Order>();
  private readonly byClOrdID = new Map<string, string>();
  private readonly byOrderID = new Map<string, string>();
  private readonly seen = new Set<string>();

  constructor(opts: OrderStoreOptions = {}) {
    const tol = Decimal.parse(opts.avgPxTolerance ?? "0");
    if (tol === undefined || tol.isNegative()) throw new RangeError(`avgPxTolerance: not a non-negative decimal`);
    this.avgPxTolerance = tol;
  }

  get size(): number {
    return this.orders.size;
  }

  get(id: string): Order | undefined {
    return this.orders.get(id);
  }

  /** The order that has `clOrdID` anywhere in its chain (original, cancel or replace) on `session`. */
  findByClOrdID(session: string, clOrdID: string): Order | undefined {
    const id = this.byClOrdID.get(key(session, clOrdID));
    return id === undefined ? undefined : this.orders.get(id);
  }

  findByOrderID(session: string, orderID: string): Order | undefined {
    const id = this.byOrderID.get(key(session, orderID));
    return id === undefined ? undefined : this.orders.get(id);
  }

  all(): IterableIterator<Order> {
    return this.orders.values();
  }

  /** True when an ExecutionReport with this ExecID on this session has been seen (applied, held or unmatched). */
  hasSeenExecution(session: string, execID: string): boolean {
    return this.seen.has(`8\x01${key(session, execID)}`);
  }

  /** The order a report refers to: by ClOrdID, then OrigClOrdID, then OrderID. */
  match(session: string, clOrdID?: string, origClOrdID?: string, orderID?: string): Order | undefined {
    return (
      (clOrdID ? this.findByClOrdID(session, clOrdID) : undefined) ??
      (origClOrdID ? this.findByClOrdID(session, origClOrdID) : undefined) ??
      (orderID ? this.findByOrderID(session, orderID) : undefined)
    );
  }

  /** For apply: records a dedupe key; false when it was already there. */
  markSeen(dedupeKey: string): boolean {
    if (this.seen.has(dedupeKey)) return false;
    this.seen.add(dedupeKey);
    return true;
  }

  /** For apply. */
  isSeen(dedupeKey: string): boolean {
    return this.seen.has(dedupeKey);
  }

  /** For apply. */
  add(order: Order): void {
    this.orders.set(order.id, order);
    for (const c of order.chain) this.indexClOrdID(order, c);
  }

  /** For apply: false when the ClOrdID already belongs to another order on the session. */
  indexClOrdID(order: Order, clOrdID: string): boolean {
    const k = key(order.session, clOrdID);
    const owner = this.byClOrdID.get(k);
    if (owner !== undefined && owner !== order.id) return false;
    this.byClOrdID.set(k, order.id);
    return true;
  }

  /** For apply. */
  indexOrderID(order: Order, orderID: string): void {
    const k = key(order.session, orderID);
    if (!this.byOrderID.has(k)) this.byOrderID.set(k, order.id);
  }
}
