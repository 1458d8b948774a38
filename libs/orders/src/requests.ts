/**
 * Our own requests: a new order, a cancel, a cancel/replace. Each creates state before the venue answers (a new
 * order is Pending New; a cancel makes it Pending Cancel) and adds its ClOrdID to the order's chain, so that every
 * report naming any ClOrdID of the chain finds the order.
 */
import { Decimal } from "./decimal.js";
import { derive } from "./derive.js";
import { type Order, type OrderRequest, RequestKind, RequestState } from "./order.js";
import { isFinal, OrdStatus } from "./status.js";
import type { OrderStore } from "./store.js";
import { RejectCode, type Rejection } from "./transitions.js";

export interface NewOrderRequest {
  type: "newOrder";
  /** Our internal id for the order (unique in the store). */
  id: string;
  session: string;
  clOrdID: string;
  account?: string;
  symbol: string;
  /** Side(54). */
  side: string;
  /** OrdType(40). */
  ordType: string;
  price?: string;
  orderQty: string;
  /** TimeInForce(59). */
  timeInForce?: string;
}

export interface CancelRequest {
  type: "cancelRequest";
  /** Internal id of the order. */
  orderId: string;
  /** ClOrdID of the OrderCancelRequest (35=F). */
  clOrdID: string;
  /** OrigClOrdID to send; default: the ClOrdID the order goes by now (the last accepted one). */
  origClOrdID?: string;
  /**
   * The request was sent already (rebuilding from the stream): record it even if the order looks over by now —
   * the venue's answer to it is on its way, and refusing it here would leave that answer without its request.
   */
  replay?: boolean;
}

export interface ReplaceRequest {
  type: "replaceRequest";
  orderId: string;
  /** ClOrdID of the OrderCancelReplaceRequest (35=G). */
  clOrdID: string;
  origClOrdID?: string;
  /** As for CancelRequest. */
  replay?: boolean;
  /** The new terms; at least one. */
  orderQty?: string;
  price?: string;
  ordType?: string;
  timeInForce?: string;
}

export type OrderRequestInput = NewOrderRequest | CancelRequest | ReplaceRequest;

export type RequestResult = { ok: true; order: Order } | { ok: false; order?: Order; rejection: Rejection };

function invalid(text: string, order?: Order): RequestResult {
  return { ok: false, order, rejection: { code: RejectCode.InvalidRequest, text, held: false } };
}

function isPositiveDecimal(s: string | undefined): boolean {
  return s !== undefined && (Decimal.parse(s)?.isPositive() ?? false);
}

export function createOrder(store: OrderStore, x: NewOrderRequest, now: number): RequestResult {
  for (const k of ["id", "session", "clOrdID", "symbol", "side", "ordType"] as const) {
    if (!x[k]) return invalid(`newOrder: ${k} is required`);
  }
  if (!isPositiveDecimal(x.orderQty)) return invalid(`newOrder: orderQty ${JSON.stringify(x.orderQty)} is not > 0`);
  if (x.price !== undefined && Decimal.parse(x.price) === undefined) return invalid(`newOrder: price is not a number`);
  if (store.get(x.id)) {
    return {
      ok: false,
      rejection: { code: RejectCode.DuplicateOrderId, text: `order id ${x.id} exists`, held: false },
    };
  }
  const other = store.findByClOrdID(x.session, x.clOrdID);
  if (other) {
    const text = `ClOrdID ${x.clOrdID} is already used on ${x.session} by order ${other.id}`;
    return { ok: false, rejection: { code: RejectCode.DuplicateClOrdID, text, held: false } };
  }
  const initial: Order["facts"]["initial"] = { clOrdID: x.clOrdID, orderQty: x.orderQty, ordType: x.ordType };
  if (x.price !== undefined) initial.price = x.price;
  if (x.timeInForce !== undefined) initial.timeInForce = x.timeInForce;
  const order: Order = {
    id: x.id,
    session: x.session,
    clOrdID: x.clOrdID,
    chain: [x.clOrdID],
    symbol: x.symbol,
    side: x.side,
    ordType: x.ordType,
    orderQty: x.orderQty,
    status: OrdStatus.PendingNew,
    cumQty: "0",
    leavesQty: x.orderQty,
    avgPx: "0",
    requests: [],
    execCount: 0,
    createdAt: now,
    updatedAt: now,
    held: [],
    facts: {
      initial,
      acknowledged: false,
      executions: [],
      finals: [],
      conditions: [],
      restatements: [],
      orderIDs: [],
    },
  };
  if (x.account !== undefined) order.account = x.account;
  derive(order);
  store.add(order);
  return { ok: true, order };
}

export function addRequest(
  store: OrderStore,
  order: Order,
  x: CancelRequest | ReplaceRequest,
  now: number,
): RequestResult {
  if (!x.clOrdID) return invalid(`${x.type}: clOrdID is required`, order);
  const kind = x.type === "cancelRequest" ? RequestKind.Cancel : RequestKind.Replace;
  const learnt = order.requests.findIndex((r) => r.foreign && r.kind === kind && r.clOrdID === x.clOrdID);
  if (learnt >= 0) return adopt(order, learnt, x, now);
  if (isFinal(order.status) && !x.replay) {
    const text = `${x.type}: order ${order.id} is over (OrdStatus ${order.status}); the venue could only refuse it`;
    return { ok: false, order, rejection: { code: RejectCode.OrderDone, text, held: false } };
  }
  if (store.findByClOrdID(order.session, x.clOrdID)) {
    const text = `ClOrdID ${x.clOrdID} is already used on ${order.session}`;
    return { ok: false, order, rejection: { code: RejectCode.DuplicateClOrdID, text, held: false } };
  }
  const req: OrderRequest = {
    kind,
    clOrdID: x.clOrdID,
    origClOrdID: x.origClOrdID ?? order.clOrdID,
    seq: order.requests.length + 1,
    state: RequestState.Sent,
    sentAt: now,
  };
  if (x.type === "replaceRequest") {
    const problem = replaceProblem(x);
    if (problem) return invalid(problem, order);
    setTerms(req, x);
  }
  order.requests = [...order.requests, req];
  order.chain = [...order.chain, x.clOrdID];
  store.indexClOrdID(order, x.clOrdID);
  order.updatedAt = now;
  derive(order);
  return { ok: true, order };
}

function replaceProblem(x: ReplaceRequest): string | undefined {
  if (x.orderQty === undefined && x.price === undefined && x.ordType === undefined && x.timeInForce === undefined) {
    return `replaceRequest: nothing to change`;
  }
  if (x.orderQty !== undefined && !isPositiveDecimal(x.orderQty)) {
    return `replaceRequest: orderQty ${JSON.stringify(x.orderQty)} is not > 0`;
  }
  if (x.price !== undefined && Decimal.parse(x.price) === undefined) return `replaceRequest: price is not a number`;
  return undefined;
}

function setTerms(req: OrderRequest, x: ReplaceRequest): void {
  if (x.orderQty !== undefined) req.orderQty = x.orderQty;
  if (x.price !== undefined) req.price = x.price;
  if (x.ordType !== undefined) req.ordType = x.ordType;
  if (x.timeInForce !== undefined) req.timeInForce = x.timeInForce;
}

/**
 * Our request, recorded after the venue's answer to it taught us its ClOrdID (a replay that delivers the inbound
 * report before the outbound request): the learnt record becomes ours, keeping the state the venue gave it. The
 * order may be over by now; the request was made before it was, so it is not refused for that.
 */
function adopt(order: Order, i: number, x: CancelRequest | ReplaceRequest, now: number): RequestResult {
  const req: OrderRequest = { ...order.requests[i], sentAt: now };
  delete req.foreign;
  if (x.origClOrdID !== undefined) req.origClOrdID = x.origClOrdID;
  if (x.type === "replaceRequest") {
    const problem = replaceProblem(x);
    if (problem) return invalid(problem, order);
    setTerms(req, x);
  }
  order.requests = order.requests.map((r, j) => (j === i ? req : r));
  order.updatedAt = now;
  derive(order);
  return { ok: true, order };
}
