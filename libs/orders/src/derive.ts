/**
 * The visible state of an order — status, quantities, current terms and ClOrdID — computed from its evidence
 * (`facts` and `requests`). Every function here depends only on the sets held, not on the order they were learnt in.
 */
import { Decimal } from "./decimal.js";
import { avgPxOf, type FillTotals, fillTotals } from "./fills.js";
import {
  type ConditionFact,
  type Order,
  type OrderFacts,
  type OrderRequest,
  RequestKind,
  RequestState,
} from "./order.js";
import { deriveStatus, isDone, type OrdStatus } from "./status.js";

export interface Terms {
  orderQty: string;
  price?: string;
  ordType: string;
  timeInForce?: string;
}

interface TermsChange {
  at: number;
  seq: number;
  id: string;
  orderQty?: string;
  price?: string;
  ordType?: string;
  timeInForce?: string;
}

/**
 * The order's terms: the original, then each accepted replace in chain order and each restatement by TransactTime
 * among them. Order-independent: the changes are sorted, not taken as they come.
 */
export function termsOf(facts: OrderFacts, requests: readonly OrderRequest[]): Terms {
  const changes: TermsChange[] = [];
  const order = chainOrder(facts.initial.clOrdID, requests);
  const accepted = requests
    .filter((r) => r.kind === RequestKind.Replace && r.state === RequestState.Accepted)
    .sort(order);
  // Replaces apply in chain order whatever their TransactTimes say: R2 was built on R1. Each is placed no earlier
  // than the one before it, and restatements fall in between by time; `seq` below only breaks ties.
  let floor = -1;
  for (const r of accepted) {
    floor = Math.max(floor, r.acceptedAt ?? -1);
    changes.push({
      at: floor,
      seq: changes.length,
      id: r.clOrdID,
      orderQty: r.acceptedQty ?? r.orderQty,
      price: r.acceptedPrice ?? r.price,
      ordType: r.ordType,
      timeInForce: r.timeInForce,
    });
  }
  for (const s of facts.restatements) {
    changes.push({ at: s.at ?? -1, seq: Number.MAX_SAFE_INTEGER, id: s.execID, orderQty: s.orderQty, price: s.price });
  }
  changes.sort((a, b) => a.at - b.at || a.seq - b.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const t: Terms = {
    orderQty: facts.initial.orderQty,
    price: facts.initial.price,
    ordType: facts.initial.ordType,
    timeInForce: facts.initial.timeInForce,
  };
  for (const c of changes) {
    if (c.orderQty !== undefined) t.orderQty = c.orderQty;
    if (c.price !== undefined) t.price = c.price;
    if (c.ordType !== undefined) t.ordType = c.ordType;
    if (c.timeInForce !== undefined) t.timeInForce = c.timeInForce;
  }
  return t;
}

/**
 * Orders requests along the chain: by how many OrigClOrdID links lead back to the original ClOrdID, then by the order
 * they were made or learnt. The links, not the arrival order, decide which of two requests came later — R2 naming R1
 * as its OrigClOrdID is after R1 however the reports about them arrived.
 */
export function chainOrder(
  initial: string,
  requests: readonly OrderRequest[],
): (a: OrderRequest, b: OrderRequest) => number {
  const byId = new Map(requests.map((r) => [r.clOrdID, r]));
  const depth = new Map<string, number>();
  const depthOf = (r: OrderRequest): number => {
    const known = depth.get(r.clOrdID);
    if (known !== undefined) return known;
    depth.set(r.clOrdID, 1); // guards a cycle of OrigClOrdIDs
    const parent = r.origClOrdID === initial ? undefined : byId.get(r.origClOrdID);
    const d = parent === undefined ? 1 : depthOf(parent) + 1;
    depth.set(r.clOrdID, d);
    return d;
  };
  return (a, b) => depthOf(a) - depthOf(b) || a.seq - b.seq;
}

/**
 * The OrderQty a report about `clOrdID` should be checked against when it does not carry OrderQty(38): the quantity
 * that ClOrdID asked for (a report on the pre-replace ClOrdID speaks of the old quantity), or the order's current
 * one.
 */
export function qtyFor(order: Order, clOrdID: string | undefined, depth = 0): string {
  if (clOrdID === undefined || depth > order.requests.length) return order.orderQty;
  const req = order.requests.find((r) => r.clOrdID === clOrdID);
  if (req === undefined) {
    // The original ClOrdID, once replaced, speaks of the original quantity.
    const replaced = clOrdID === order.facts.initial.clOrdID && clOrdID !== order.clOrdID;
    return replaced ? order.facts.initial.orderQty : order.orderQty;
  }
  if (req.kind === RequestKind.Replace) return req.acceptedQty ?? req.orderQty ?? order.orderQty;
  // A cancel request speaks of the order it cancels.
  return req.origClOrdID === clOrdID ? order.orderQty : qtyFor(order, req.origClOrdID, depth + 1);
}

function holds(c: ConditionFact, liveAt: number | undefined): boolean {
  return c.at === undefined || liveAt === undefined || c.at >= liveAt;
}

function newestOutstanding(requests: readonly OrderRequest[], kind: RequestKind): string | undefined {
  let best: OrderRequest | undefined;
  for (const r of requests) {
    if (r.kind !== kind || (r.state !== RequestState.Sent && r.state !== RequestState.Pending)) continue;
    if (best === undefined || r.seq > best.seq) best = r;
  }
  return best?.clOrdID;
}

/** Status of an order with these facts, requests, terms and fills. */
export function statusOf(facts: OrderFacts, requests: readonly OrderRequest[], orderQty: string, t: FillTotals) {
  const qty = Decimal.of(orderQty);
  const cond = (kind: ConditionFact["kind"]) => facts.conditions.some((c) => c.kind === kind && holds(c, facts.liveAt));
  return deriveStatus({
    acknowledged: facts.acknowledged,
    rejected: facts.finals.some((f) => f.kind === "rejected"),
    canceled: facts.finals.some((f) => f.kind === "canceled"),
    expired: facts.finals.some((f) => f.kind === "expired"),
    filled: qty.isPositive() && t.cumQty.cmp(qty) >= 0,
    partiallyFilled: t.cumQty.isPositive(),
    doneForDay: cond("doneForDay"),
    // Calculated reports on a completed order; nothing later lifts it.
    calculated: facts.conditions.some((c) => c.kind === "calculated"),
    stopped: cond("stopped"),
    suspended: cond("suspended"),
    pendingCancel: newestOutstanding(requests, RequestKind.Cancel) !== undefined,
    pendingReplace: newestOutstanding(requests, RequestKind.Replace) !== undefined,
  });
}

/** Recomputes every derived field of `order` from its evidence. */
export function derive(order: Order): void {
  const { facts, requests } = order;
  const terms = termsOf(facts, requests);
  order.orderQty = terms.orderQty;
  setOptional(order, "price", terms.price);
  order.ordType = terms.ordType;
  setOptional(order, "timeInForce", terms.timeInForce);

  const later = chainOrder(facts.initial.clOrdID, requests);
  let current: OrderRequest | undefined;
  for (const r of requests) {
    if (r.state === RequestState.Accepted && (!current || later(r, current) > 0)) current = r;
  }
  order.clOrdID = current?.clOrdID ?? facts.initial.clOrdID;
  setOptional(order, "origClOrdID", current?.origClOrdID);
  setOptional(order, "orderID", facts.orderIDs[0]);

  const totals = fillTotals(facts.executions);
  order.cumQty = totals.cumQty.toString();
  order.avgPx = avgPxOf(totals).toString();
  const status: OrdStatus = statusOf(facts, requests, terms.orderQty, totals);
  order.status = status;
  const open = Decimal.of(terms.orderQty).sub(totals.cumQty);
  order.leavesQty = isDone(status) || open.isNegative() ? "0" : open.toString();
  setOptional(order, "pendingCancel", newestOutstanding(requests, RequestKind.Cancel));
  setOptional(order, "pendingReplace", newestOutstanding(requests, RequestKind.Replace));
}

/** Sets an optional field, deleting it for undefined so the order stays free of `key: undefined` entries. */
function setOptional<
  K extends "price" | "timeInForce" | "origClOrdID" | "orderID" | "pendingCancel" | "pendingReplace",
>(order: Order, k: K, v: string | undefined): void {
  if (v === undefined) delete order[k];
  else order[k] = v;
}
