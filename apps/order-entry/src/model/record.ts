/**
 * An order as order-entry stores it: libs/orders' `Order` (the state machine's own object, with its evidence) plus
 * what only order-entry knows — the idempotency key, whether the connector has the NewOrderSingle, the executions
 * as a client sees them, the event version — and the one pure step every store runs: `step(record, input, now)`.
 *
 * A store loads the record, steps it on a private copy, and commits the copy only if nobody committed in between
 * (memory: trivially; Redis: a revision check inside the Lua commit). The state machine is the same code in both,
 * so status precedence, CumQty rules and held reports behave identically everywhere.
 */
import type { ExecutionSnapshot, OrderEvent, OrderSnapshot } from "@fixmesh/bus";
import { OrderStatus } from "@fixmesh/contracts";
import {
  type ApplyResult,
  apply,
  type ExecutionReport,
  kindOf,
  type Order,
  type OrderCancelReject,
  type OrderInput,
  OrderStore,
  ReportKind,
} from "@fixmesh/orders";
import {
  orderTypeFromFix,
  orderTypeName,
  sideFromFix,
  sideName,
  statusFromFix,
  statusName,
  tifFromFix,
  tifName,
} from "./convert.js";

export interface ExtraField {
  tag: number;
  value: string;
}

export interface OrderRecord {
  order: Order;
  /** Event version: 1 for the first event, +1 per visible change (the ORDERS event id is `<orderId>:<version>`). */
  version: number;
  /** Write revision: +1 per commit, visible or not (held reports change the record but not what a client sees). */
  rev: number;
  /** Listing position: newest first in ListOrders. */
  seq: number;
  account: string;
  idempotencyKey?: string;
  stopPrice?: string;
  expireTime?: number;
  extraFields?: ExtraField[];
  /** The connector has persisted the NewOrderSingle ("sent"), or refused it ("failed": nothing went out). */
  send: "pending" | "sent" | "failed";
  /** MsgSeqNum the NewOrderSingle went out with. */
  msgSeqNum?: number;
  /** Why it never reached the venue, when `send` is "failed". */
  notSentReason?: string;
  /** Text(58) of the venue's last reject or cancel. */
  text?: string;
  /** The trades, as clients see them (with the MsgSeqNum they came in with). */
  executions: ExecutionSnapshot[];
  /** W3C traceparent of the order's trace. */
  traceparent?: string;
}

/** What moved, for the update log and the ORDERS event: NEW_REQUEST, ACK, FILL, … (orders.proto OrderUpdate). */
export type ChangeName = string;

/** The input a store applies to one order, with what order-entry adds to the state machine's inputs. */
export type StepInput =
  | { type: "report"; report: ExecutionReport; msgSeqNum?: number }
  | { type: "cancelReject"; reject: OrderCancelReject }
  | { type: "request"; input: OrderInput }
  | { type: "sent"; msgSeqNum: number }
  | { type: "notSent"; reason: string };

export interface StepResult {
  outcome: ApplyResult["outcome"] | "noop";
  /** The new record to commit (undefined: nothing to write). */
  record?: OrderRecord;
  /** A visible change: an update to log and publish. */
  change?: ChangeName;
  execution?: ExecutionSnapshot;
  apply?: ApplyResult;
}

/** A one-order OrderStore holding a private copy of `order`, for `apply`. */
export function storeWith(order?: Order): OrderStore {
  const s = new OrderStore();
  if (order) {
    s.add(order);
    for (const id of order.facts.orderIDs) s.indexOrderID(order, id);
  }
  return s;
}

/**
 * The dedupe key of a report, by (session, ExecID) — or, for an OrderCancelReject, (session, ClOrdID of the
 * refused request). `undefined` for an Order Status report with ExecID "0", which FIX allows and which moves nothing.
 */
export function reportDedupeKey(r: ExecutionReport): string | undefined {
  if (kindOf(r) === ReportKind.Status && r.execID === "0") return undefined;
  return `8|${r.execID}`;
}
export function cancelRejectDedupeKey(x: OrderCancelReject): string {
  return `9|${x.clOrdID}`;
}

function changeOfReport(r: ExecutionReport, rec: OrderRecord): ChangeName {
  switch (kindOf(r)) {
    case ReportKind.Trade:
      return rec.order.status === "2" || rec.order.status === "B" ? "FILL" : "PARTIAL_FILL";
    case ReportKind.TradeCancel:
      return "TRADE_CANCEL";
    case ReportKind.TradeCorrect:
      return "TRADE_CORRECT";
    case ReportKind.New:
    case ReportKind.PendingNew:
      return "ACK";
    case ReportKind.Canceled:
      return "CANCELED";
    case ReportKind.Replaced:
      return "REPLACED";
    case ReportKind.PendingCancel:
      return "PENDING_CANCEL";
    case ReportKind.PendingReplace:
      return "PENDING_REPLACE";
    case ReportKind.Rejected:
      return "REJECTED";
    case ReportKind.Expired:
      return "EXPIRED";
    case ReportKind.DoneForDay:
      return "DONE_FOR_DAY";
    case ReportKind.Restated:
      return "RESTATED";
    default:
      return "STATUS";
  }
}

/**
 * A deep copy of plain data — what a record is (it is stored as JSON): objects, arrays, strings, numbers, booleans.
 * Properties set to undefined are left out, as JSON leaves them. 4–6× faster than a JSON round trip or
 * structuredClone for a record of a few fills (2–3 µs against 12 on this machine), and every step makes one.
 */
export function clone<T>(x: T): T {
  if (x === null || typeof x !== "object") return x;
  if (Array.isArray(x)) {
    const out = new Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = clone(x[i]);
    return out as T;
  }
  const out: Record<string, unknown> = {};
  for (const k in x) {
    const v = (x as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = clone(v);
  }
  return out as T;
}

/**
 * One input applied to one order. Pure: `rec` is not touched; the result holds the record to commit. Dedupe by
 * ExecID is the store's (it must be atomic with the commit); this only says what the input does to the order.
 */
export function step(rec: OrderRecord, input: StepInput, now: number): StepResult {
  const next = clone(rec);
  switch (input.type) {
    case "sent": {
      if (next.send !== "pending") return { outcome: "noop" };
      next.send = "sent";
      next.msgSeqNum = input.msgSeqNum;
      next.rev++;
      return { outcome: "applied", record: next };
    }
    case "notSent": {
      if (next.send !== "pending") return { outcome: "noop" };
      next.send = "failed";
      next.notSentReason = input.reason;
      next.text = input.reason;
      next.order.updatedAt = now;
      next.version++;
      next.rev++;
      return { outcome: "applied", record: next, change: "REJECTED" };
    }
    case "request": {
      const store = storeWith(next.order);
      const res = apply(store, input.input, now);
      if (res.outcome !== "applied") return { outcome: res.outcome, apply: res };
      next.order = store.get(next.order.id) as Order;
      next.version++;
      next.rev++;
      const change =
        input.input.type === "cancelRequest"
          ? "PENDING_CANCEL"
          : input.input.type === "replaceRequest"
            ? "PENDING_REPLACE"
            : "NEW_REQUEST";
      return { outcome: "applied", record: next, change, apply: res };
    }
    case "report":
    case "cancelReject": {
      const store = storeWith(next.order);
      const res =
        input.type === "report"
          ? apply(store, { type: "executionReport", report: input.report }, now)
          : apply(store, { type: "cancelReject", reject: input.reject }, now);
      const order = store.get(next.order.id) as Order;
      const heldBefore = rec.order.held.length;
      if (res.outcome === "duplicate" || res.outcome === "unknownOrder") return { outcome: res.outcome, apply: res };
      next.order = order;
      if (res.outcome === "rejected") {
        // A held report changes the record (it is retried after every later report) but not what a client sees.
        if (order.held.length === heldBefore) return { outcome: "rejected", apply: res };
        next.rev++;
        return { outcome: "rejected", record: next, apply: res };
      }
      next.rev++;
      // The venue answered, so the NewOrderSingle went out, whatever became of the connector's answer (an instance
      // that died between the send and its record leaves the order "pending").
      if (next.send === "pending") next.send = "sent";
      let execution: ExecutionSnapshot | undefined;
      if (input.type === "report") {
        const r = input.report;
        if (r.text) next.text = r.text;
        if (kindOf(r) === ReportKind.Trade && r.lastQty !== undefined && r.lastPx !== undefined) {
          execution = {
            execId: r.execID,
            execType: r.execType,
            lastQty: r.lastQty,
            lastPx: r.lastPx,
            msgSeqNum: input.msgSeqNum ?? 0,
          };
          if (r.transactTime !== undefined) execution.transactTime = new Date(r.transactTime).toISOString();
          next.executions.push(execution);
        }
      } else if (input.reject.text) {
        next.text = input.reject.text;
      }
      if (res.changes.length === 0) return { outcome: "applied", record: next, apply: res };
      next.version++;
      const change = input.type === "report" ? changeOfReport(input.report, next) : "CANCEL_REJECTED";
      const out: StepResult = { outcome: "applied", record: next, change, apply: res };
      if (execution) out.execution = execution;
      return out;
    }
  }
}

/** A new order's record (not yet stored); `null` with the state machine's reason when the request is refused. */
export function newRecord(
  x: {
    orderId: string;
    sessionId: string;
    clOrdId: string;
    account: string;
    symbol: string;
    side: string;
    ordType: string;
    orderQty: string;
    price?: string;
    timeInForce: string;
    stopPrice?: string;
    expireTime?: number;
    extraFields?: ExtraField[];
    idempotencyKey?: string;
    traceparent?: string;
  },
  seq: number,
  now: number,
): { record: OrderRecord } | { error: string } {
  const store = storeWith();
  const input: OrderInput = {
    type: "newOrder",
    id: x.orderId,
    session: x.sessionId,
    clOrdID: x.clOrdId,
    account: x.account,
    symbol: x.symbol,
    side: x.side,
    ordType: x.ordType,
    orderQty: x.orderQty,
    timeInForce: x.timeInForce,
    ...(x.price !== undefined && { price: x.price }),
  };
  const res = apply(store, input, now);
  if (res.outcome !== "applied" || !res.order) return { error: res.rejection?.text ?? res.outcome };
  const record: OrderRecord = {
    order: res.order,
    version: 1,
    rev: 1,
    seq,
    account: x.account,
    send: "pending",
    executions: [],
  };
  if (x.idempotencyKey !== undefined) record.idempotencyKey = x.idempotencyKey;
  if (x.stopPrice !== undefined) record.stopPrice = x.stopPrice;
  if (x.expireTime !== undefined) record.expireTime = x.expireTime;
  if (x.extraFields !== undefined && x.extraFields.length > 0) record.extraFields = x.extraFields;
  if (x.traceparent !== undefined) record.traceparent = x.traceparent;
  return { record };
}

export function statusOf(rec: OrderRecord): OrderStatus {
  return rec.send === "failed" ? OrderStatus.REJECTED : statusFromFix(rec.order.status);
}

const FINISHED = new Set<OrderStatus>([
  OrderStatus.FILLED,
  OrderStatus.CANCELED,
  OrderStatus.REJECTED,
  OrderStatus.EXPIRED,
  OrderStatus.CALCULATED,
  OrderStatus.REPLACED,
]);

/**
 * Working or pending: may still trade, and may be cancelled or replaced. Done for Day is open: a GTC order done for
 * the day works again the next, and may be cancelled meanwhile (FIX 4.2 Appendix D29).
 */
export function isOpen(rec: OrderRecord): boolean {
  return !FINISHED.has(statusOf(rec));
}

export function snapshotOf(rec: OrderRecord): OrderSnapshot {
  const o = rec.order;
  const s: OrderSnapshot = {
    orderId: o.id,
    sessionId: o.session,
    clOrdId: o.clOrdID,
    origClOrdId: o.chain[0] ?? o.clOrdID,
    account: rec.account,
    symbol: o.symbol,
    side: sideName(sideFromFix(o.side)),
    orderType: orderTypeName(orderTypeFromFix(o.ordType)),
    timeInForce: tifName(tifFromFix(o.timeInForce)),
    quantity: o.orderQty,
    status: statusName(statusOf(rec)),
    cumQty: o.cumQty,
    leavesQty: rec.send === "failed" ? "0" : o.leavesQty,
    avgPx: o.avgPx,
    pending: o.pendingCancel !== undefined || o.pendingReplace !== undefined,
    createdAt: o.createdAt,
    updatedAt: o.updatedAt,
  };
  if (o.orderID !== undefined) s.venueOrderId = o.orderID;
  if (o.price !== undefined) s.price = o.price;
  if (rec.stopPrice !== undefined) s.stopPrice = rec.stopPrice;
  if (rec.text !== undefined) s.text = rec.text;
  if (rec.idempotencyKey !== undefined) s.idempotencyKey = rec.idempotencyKey;
  return s;
}

/** The ORDERS event of a committed visible change. */
export function eventOf(rec: OrderRecord, change: ChangeName, at: number, execution?: ExecutionSnapshot): OrderEvent {
  const e: OrderEvent = { orderId: rec.order.id, version: rec.version, change, at, order: snapshotOf(rec) };
  if (execution) e.execution = execution;
  if (rec.traceparent) e.traceparent = rec.traceparent;
  return e;
}
