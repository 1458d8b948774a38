/**
 * The venue's order handling: accepts or rejects orders, fills them by the symbol's policy (immediate, partial(N),
 * or a price-time book), cancels and replaces them, answers status requests. No sockets and no FIX versions:
 * requests come in as plain values, reports go out as version-neutral events to a sink, and time comes from an
 * injected clock.
 */
import { OrderBook } from "./book.js";
import { policyFor, type SymbolPolicy, type VenueSimConfig } from "./config.js";
import {
  type CancelRejectEvent,
  type CxlRejReason,
  type ExecEvent,
  ExecKind,
  eventOf,
  isOpen,
  leavesOf,
  type OrderSnapshot,
  OrderState,
  type OrdRejReason,
  roundQty,
  type Side,
  snapshotOf,
  type VenueOrder,
} from "./order.js";

/** Where reports go: the simulator renders and sends them on the owning session (and the drop copy). */
export interface VenueSink {
  execution(session: string, ev: ExecEvent): void;
  cancelReject(session: string, ev: CancelRejectEvent): void;
}

export interface VenueClock {
  now(): number;
  /** Runs `fn` after `ms`; returns a function that cancels it. */
  after(ms: number, fn: () => void): () => void;
}

export interface IdSource {
  execId(): string;
  orderId(): string;
}

/** A NewOrderSingle's fields, as received (text; the venue parses and checks them). */
export interface NewOrderRequest {
  clOrdId: string;
  symbol: string;
  side: string;
  ordType: string;
  orderQty?: string;
  price?: string;
  timeInForce?: string;
  account?: string;
}

export interface CancelRequest {
  clOrdId: string;
  origClOrdId: string;
  orderId?: string;
  account?: string;
}

export interface ReplaceRequest {
  clOrdId: string;
  origClOrdId: string;
  orderId?: string;
  symbol?: string;
  side?: string;
  ordType?: string;
  orderQty?: string;
  price?: string;
  timeInForce?: string;
  account?: string;
}

export interface StatusRequest {
  clOrdId?: string;
  orderId?: string;
  symbol?: string;
  side?: string;
  ordStatusReqId?: string;
}

/** A resting order as `book(symbol)` shows it. */
export interface BookLevelEntry {
  orderId: string;
  clOrdId: string;
  session: string;
  price: number;
  leavesQty: number;
}

export interface BookSnapshot {
  symbol: string;
  /** Best (highest) first; within a price, earliest first. */
  bids: BookLevelEntry[];
  /** Best (lowest) first. */
  asks: BookLevelEntry[];
}

const MARKET = "1";
const LIMIT = "2";
const TIF_IOC = "3";
const TIF_FOK = "4";

interface Problem {
  reason: OrdRejReason;
  text: string;
}

interface Refusal {
  reason: CxlRejReason;
  text: string;
}

const UNKNOWN: Refusal = { reason: "unknownOrder", text: "unknown order" };

export class Venue {
  private readonly byOrderId = new Map<string, VenueOrder>();
  /** Per session: every ClOrdID of every order's chain → the order. */
  private readonly byClOrdId = new Map<string, Map<string, VenueOrder>>();
  /** Per session: every ClOrdID seen (orders, cancels, replaces, rejected ones): a second use is a duplicate. */
  private readonly used = new Map<string, Set<string>>();
  private readonly books = new Map<string, OrderBook<VenueOrder>>();
  private priority = 0;

  constructor(
    private readonly config: VenueSimConfig,
    private readonly ids: IdSource,
    private readonly sink: VenueSink,
    private readonly clock: VenueClock,
  ) {}

  /** Whether `clOrdId` was already used in `session` (by an order, a cancel or a replace). */
  seen(session: string, clOrdId: string): boolean {
    return this.used.get(session)?.has(clOrdId) ?? false;
  }

  policy(symbol: string): SymbolPolicy {
    return policyFor(this.config, symbol);
  }

  // --- requests -------------------------------------------------------------------------------------------------

  /** NewOrderSingle: New, then fills by the symbol's policy; or Rejected (ExecType 8) naming the rule. */
  newOrder(session: string, req: NewOrderRequest): void {
    const now = this.clock.now();
    const used = this.usedOf(session);
    const qty = parseDecimal(req.orderQty);
    const price = parseDecimal(req.price);
    if (used.has(req.clOrdId)) {
      // Nothing is created and the order that has this ClOrdID is left alone.
      const ev: ExecEvent = {
        kind: ExecKind.Rejected,
        execId: this.ids.execId(),
        status: OrderState.Rejected,
        orderId: "NONE",
        clOrdId: req.clOrdId,
        symbol: req.symbol,
        sideCode: req.side,
        ordTypeCode: req.ordType,
        orderQty: Number.isFinite(qty) ? qty : 0,
        cumQty: 0,
        leavesQty: 0,
        avgPx: 0,
        ordRejReason: "duplicateOrder",
        text: `duplicate ClOrdID ${req.clOrdId}`,
        transactTime: now,
      };
      this.sink.execution(session, ev);
      return;
    }
    used.add(req.clOrdId);
    const o: VenueOrder = {
      orderId: this.ids.orderId(),
      session,
      clOrdId: req.clOrdId,
      origClOrdId: undefined,
      chain: [req.clOrdId],
      symbol: req.symbol,
      side: sideOf(req.side),
      sideCode: req.side,
      ordTypeCode: req.ordType,
      price: req.ordType === MARKET || !Number.isFinite(price) ? undefined : price,
      orderQty: Number.isFinite(qty) ? qty : 0,
      cumQty: 0,
      notional: 0,
      timeInForce: req.timeInForce,
      account: req.account,
      state: OrderState.New,
      priority: ++this.priority,
      fillsLeft: 0,
      timers: [],
    };
    this.byOrderId.set(o.orderId, o);
    this.indexOf(session).set(o.clOrdId, o);
    const p = this.policy(o.symbol);
    const problem =
      this.symbolProblem(o.symbol, p) ?? this.orderProblem(p, o.symbol, req.side, req.ordType, qty, price);
    if (problem !== null) {
      o.state = OrderState.Rejected;
      const ev = eventOf(o, ExecKind.Rejected, this.ids.execId(), now);
      ev.ordRejReason = problem.reason;
      ev.text = problem.text;
      this.sink.execution(session, ev);
      return;
    }
    this.sink.execution(session, eventOf(o, ExecKind.New, this.ids.execId(), now));
    this.work(o, p);
  }

  /** OrderCancelRequest: [PendingCancel,] Canceled; or OrderCancelReject (CxlRejResponseTo=1). */
  cancel(session: string, req: CancelRequest): void {
    const o = this.find(session, req.origClOrdId, req.orderId);
    const refusal = this.amendRefusal(session, o, req.clOrdId, req.origClOrdId, "cancel");
    if (refusal !== null || o === undefined) {
      this.cancelReject(session, o, req, "cancel", refusal ?? UNKNOWN);
      return;
    }
    if (this.policy(o.symbol).pendingStates) {
      const ev = eventOf(o, ExecKind.PendingCancel, this.ids.execId(), this.clock.now());
      ev.status = "pendingCancel";
      ev.clOrdId = req.clOrdId;
      ev.origClOrdId = o.clOrdId;
      this.sink.execution(session, ev);
    }
    this.cancelOrder(o, { clOrdId: req.clOrdId });
  }

  /** OrderCancelReplaceRequest: [PendingReplace,] Replaced; or OrderCancelReject (CxlRejResponseTo=2). */
  replace(session: string, req: ReplaceRequest): void {
    const o = this.find(session, req.origClOrdId, req.orderId);
    const ordType = req.ordType ?? o?.ordTypeCode ?? "";
    const qty = req.orderQty === undefined ? (o?.orderQty ?? Number.NaN) : parseDecimal(req.orderQty);
    const price = ordType === MARKET ? undefined : req.price === undefined ? o?.price : parseDecimal(req.price);
    const p = this.policy(o?.symbol ?? req.symbol ?? "");
    const refusal =
      this.amendRefusal(session, o, req.clOrdId, req.origClOrdId, "replace") ??
      (o === undefined ? UNKNOWN : this.replaceRefusal(p, o, req, ordType, qty, price));
    if (refusal !== null || o === undefined) {
      this.cancelReject(session, o, req, "replace", refusal ?? UNKNOWN);
      return;
    }
    const now = this.clock.now();
    if (p.pendingStates) {
      const ev = eventOf(o, ExecKind.PendingReplace, this.ids.execId(), now);
      ev.status = "pendingReplace";
      ev.clOrdId = req.clOrdId;
      ev.origClOrdId = o.clOrdId;
      this.sink.execution(session, ev);
    }
    // Time priority is lost when the price moves or the quantity grows (a decrease keeps it).
    const lostPriority = price !== o.price || qty > o.orderQty;
    o.orderQty = qty;
    o.price = price;
    o.ordTypeCode = ordType;
    if (req.timeInForce !== undefined) o.timeInForce = req.timeInForce;
    this.moveClOrdId(o, req.clOrdId);
    // Requested quantity equal to the executed one: the balance is cancelled and "filled" takes precedence
    // (FIX 4.2 D11 / FIX 4.4 D13).
    if (leavesOf(o) <= 0) {
      o.state = OrderState.Filled;
      this.done(o);
    }
    const ev = eventOf(o, ExecKind.Replaced, this.ids.execId(), now);
    ev.origClOrdId = o.origClOrdId;
    ev.status =
      o.state === OrderState.Filled ? OrderState.Filled : o.cumQty > 0 ? OrderState.PartiallyFilled : "replaced";
    this.sink.execution(session, ev);
    if (isOpen(o) && p.fill === "book") {
      const book = this.bookOf(o.symbol);
      book.remove(o);
      if (lostPriority) o.priority = ++this.priority;
      this.aggress(o, book);
    }
  }

  /** OrderStatusRequest: an ExecutionReport of the order as it is (4.4 ExecType=I; 4.2 ExecTransType=3). */
  status(session: string, req: StatusRequest): void {
    const now = this.clock.now();
    const o = this.find(session, req.clOrdId, req.orderId);
    let ev: ExecEvent;
    if (o === undefined) {
      ev = {
        kind: ExecKind.Status,
        execId: this.ids.execId(),
        status: OrderState.Rejected,
        orderId: req.orderId ?? "NONE",
        clOrdId: req.clOrdId ?? "NONE",
        symbol: req.symbol ?? "[N/A]",
        sideCode: req.side ?? "1",
        orderQty: 0,
        cumQty: 0,
        leavesQty: 0,
        avgPx: 0,
        ordRejReason: "unknownOrder",
        text: `unknown order ${req.clOrdId ?? req.orderId ?? ""}`.trim(),
        transactTime: now,
      };
    } else {
      ev = eventOf(o, ExecKind.Status, this.ids.execId(), now);
      if (o.origClOrdId !== undefined) ev.origClOrdId = o.origClOrdId;
    }
    if (req.ordStatusReqId !== undefined) ev.ordStatusReqId = req.ordStatusReqId;
    this.sink.execution(session, ev);
  }

  /**
   * Cancels an open order on the venue's own initiative: ExecType=4, OrdStatus=4, the order's current ClOrdID, no
   * OrigClOrdID, Text saying why. `session` narrows the search when ClOrdIDs repeat across sessions. Returns
   * whether an open order was found.
   */
  cancelUnsolicited(clOrdId: string, opts: { session?: string; text?: string } = {}): boolean {
    for (const [session, index] of this.byClOrdId) {
      if (opts.session !== undefined && opts.session !== session) continue;
      const o = index.get(clOrdId);
      if (o !== undefined && isOpen(o)) {
        this.cancelOrder(o, { text: opts.text ?? "unsolicited cancel by the venue" });
        return true;
      }
    }
    return false;
  }

  // --- views ----------------------------------------------------------------------------------------------------

  book(symbol: string): BookSnapshot {
    const s = this.books.get(symbol)?.snapshot() ?? { bids: [], asks: [] };
    const entry = (o: VenueOrder): BookLevelEntry => ({
      orderId: o.orderId,
      clOrdId: o.clOrdId,
      session: o.session,
      price: o.price as number,
      leavesQty: leavesOf(o),
    });
    return { symbol, bids: s.bids.map(entry), asks: s.asks.map(entry) };
  }

  orders(): OrderSnapshot[] {
    return [...this.byOrderId.values()].map(snapshotOf);
  }

  order(session: string, clOrdId: string): OrderSnapshot | undefined {
    const o = this.byClOrdId.get(session)?.get(clOrdId);
    return o === undefined ? undefined : snapshotOf(o);
  }

  /** Stops every timer (partial fills, unsolicited cancels). */
  stop(): void {
    for (const o of this.byOrderId.values()) for (const c of o.timers.splice(0)) c();
  }

  /** Forgets every order and book. */
  clear(): void {
    this.stop();
    this.byOrderId.clear();
    this.byClOrdId.clear();
    this.used.clear();
    this.books.clear();
  }

  // --- the rules ------------------------------------------------------------------------------------------------

  private symbolProblem(symbol: string, p: SymbolPolicy): Problem | null {
    if (this.config.unknownSymbols === "reject" && this.config.symbols[symbol] === undefined) {
      return { reason: "unknownSymbol", text: `unknown symbol ${symbol}` };
    }
    if (p.restricted) return { reason: "brokerOption", text: `symbol ${symbol} is restricted` };
    return null;
  }

  private orderProblem(
    p: SymbolPolicy,
    symbol: string,
    side: string,
    ordType: string,
    qty: number,
    price: number,
  ): Problem | null {
    if (!["1", "2", "5", "6"].includes(side)) {
      return { reason: "unsupported", text: `Side ${side} is not supported (1, 2, 5 and 6 are)` };
    }
    if (ordType !== MARKET && ordType !== LIMIT) {
      return { reason: "unsupported", text: `OrdType ${ordType} is not supported (1 market and 2 limit are)` };
    }
    if (!(qty > 0)) return { reason: "incorrectQuantity", text: "OrderQty must be above 0" };
    if (p.maxQuantity !== undefined && qty > p.maxQuantity) {
      return { reason: "exceedsLimit", text: `OrderQty ${qty} exceeds the maximum ${p.maxQuantity} for ${symbol}` };
    }
    if (ordType === LIMIT) {
      if (!(price > 0)) return { reason: "brokerOption", text: "a limit order needs a Price above 0" };
      const ref = p.referencePrice;
      if (ref !== undefined && p.priceBandPercent !== undefined) {
        const band = (ref * p.priceBandPercent) / 100;
        if (Math.abs(price - ref) > band + 1e-9) {
          return {
            reason: "brokerOption",
            text: `Price ${price} is outside the band of ±${p.priceBandPercent}% around ${ref}`,
          };
        }
      }
    } else if (p.fill !== "book" && p.referencePrice === undefined) {
      return { reason: "brokerOption", text: `no reference price to fill a market order in ${symbol}` };
    }
    return null;
  }

  // --- filling --------------------------------------------------------------------------------------------------

  /** What happens after the New: the fills of the policy, and the unsolicited-cancel timer. */
  private work(o: VenueOrder, p: SymbolPolicy): void {
    const after = p.unsolicitedCancelAfterMs;
    if (after !== undefined) {
      o.timers.push(
        this.clock.after(after, () => {
          if (isOpen(o)) this.cancelOrder(o, { text: `unsolicited cancel: the order was open for ${after} ms` });
        }),
      );
    }
    const fill = p.fill;
    if (fill === "immediate") {
      this.trade(o, leavesOf(o), this.fillPrice(o, p));
    } else if (fill === "book") {
      this.aggress(o, this.bookOf(o.symbol));
    } else {
      o.fillsLeft = fill.partial;
      if (p.fillIntervalMs === 0) {
        while (isOpen(o) && o.fillsLeft > 0) this.partialFill(o);
      } else {
        this.schedulePartial(o, p.fillIntervalMs);
      }
    }
  }

  private schedulePartial(o: VenueOrder, ms: number): void {
    o.timers.push(
      this.clock.after(ms, () => {
        if (!isOpen(o)) return;
        this.partialFill(o);
        if (isOpen(o) && o.fillsLeft > 0) this.schedulePartial(o, ms);
      }),
    );
  }

  /** One of the N parts: the leaves shared over the fills left (the last one takes what remains). */
  private partialFill(o: VenueOrder): void {
    const leaves = leavesOf(o);
    const n = o.fillsLeft;
    const part = n <= 1 ? leaves : Number.isInteger(leaves) ? Math.ceil(leaves / n) : roundQty(leaves / n);
    o.fillsLeft--;
    this.trade(o, Math.min(part, leaves), this.fillPrice(o, this.policy(o.symbol)));
  }

  private fillPrice(o: VenueOrder, p: SymbolPolicy): number {
    return o.price ?? (p.referencePrice as number);
  }

  /** Crosses `o` against the book, then rests, or cancels the remainder (market, IOC, FOK). */
  private aggress(o: VenueOrder, book: OrderBook<VenueOrder>): void {
    if (o.timeInForce === TIF_FOK && book.available(o) < leavesOf(o)) {
      this.cancelOrder(o, { text: "fill or kill: not enough liquidity to fill the order" });
      return;
    }
    book.match(o, (resting, qty, price) => {
      this.trade(resting, qty, price);
      this.trade(o, qty, price);
    });
    if (!isOpen(o)) return;
    if (o.price === undefined) this.cancelOrder(o, { text: "market order: no more liquidity; remainder canceled" });
    else if (o.timeInForce === TIF_IOC) this.cancelOrder(o, { text: "immediate or cancel: remainder canceled" });
    else book.add(o);
  }

  private trade(o: VenueOrder, qty: number, price: number): void {
    if (!(qty > 0)) return;
    o.cumQty = roundQty(o.cumQty + qty);
    o.notional += qty * price;
    o.state = leavesOf(o) <= 0 ? OrderState.Filled : OrderState.PartiallyFilled;
    const ev = eventOf(o, ExecKind.Trade, this.ids.execId(), this.clock.now());
    ev.lastQty = qty;
    ev.lastPx = price;
    if (o.state === OrderState.Filled) this.done(o);
    this.sink.execution(o.session, ev);
  }

  /** Cancels `o`: requested (the cancel's ClOrdID, OrigClOrdID the previous) or unsolicited (Text). */
  private cancelOrder(o: VenueOrder, how: { clOrdId?: string; text?: string }): void {
    o.state = OrderState.Canceled;
    this.done(o);
    if (how.clOrdId !== undefined) this.moveClOrdId(o, how.clOrdId);
    const ev = eventOf(o, ExecKind.Canceled, this.ids.execId(), this.clock.now());
    if (how.clOrdId !== undefined && o.origClOrdId !== undefined) ev.origClOrdId = o.origClOrdId;
    if (how.text !== undefined) ev.text = how.text;
    this.sink.execution(o.session, ev);
  }

  private done(o: VenueOrder): void {
    for (const c of o.timers.splice(0)) c();
    this.books.get(o.symbol)?.remove(o);
  }

  private moveClOrdId(o: VenueOrder, clOrdId: string): void {
    o.origClOrdId = o.clOrdId;
    o.clOrdId = clOrdId;
    o.chain.push(clOrdId);
    this.indexOf(o.session).set(clOrdId, o);
  }

  /** Why a cancel or replace of `o` cannot be done, whatever it asks for; null when it can. */
  private amendRefusal(
    session: string,
    o: VenueOrder | undefined,
    clOrdId: string,
    origClOrdId: string,
    what: "cancel" | "replace",
  ): Refusal | null {
    const used = this.usedOf(session);
    if (used.has(clOrdId)) return { reason: "duplicateClOrdId", text: `duplicate ClOrdID ${clOrdId}` };
    used.add(clOrdId);
    if (o === undefined) return { reason: "unknownOrder", text: `unknown order ${origClOrdId}` };
    if (!isOpen(o)) return { reason: "tooLate", text: `too late to ${what}: the order is ${o.state}` };
    return null;
  }

  /** Why the new terms of a replace are refused: the order rules, and what a replace may not change. */
  private replaceRefusal(
    p: SymbolPolicy,
    o: VenueOrder,
    req: ReplaceRequest,
    ordType: string,
    qty: number,
    price: number | undefined,
  ): Refusal | null {
    if (req.symbol !== undefined && req.symbol !== o.symbol)
      return { reason: "brokerOption", text: "Symbol cannot change" };
    if (req.side !== undefined && sideOf(req.side) !== o.side)
      return { reason: "brokerOption", text: "Side cannot change" };
    const problem = this.orderProblem(p, o.symbol, o.sideCode, ordType, qty, price ?? Number.NaN);
    if (problem !== null) return { reason: "brokerOption", text: problem.text };
    if (qty < o.cumQty) {
      return { reason: "brokerOption", text: `OrderQty ${qty} is below the executed quantity ${o.cumQty}` };
    }
    return null;
  }

  private cancelReject(
    session: string,
    o: VenueOrder | undefined,
    req: { clOrdId: string; origClOrdId: string; account?: string },
    responseTo: "cancel" | "replace",
    refusal: Refusal,
  ): void {
    const ev: CancelRejectEvent = {
      orderId: o?.orderId ?? "NONE",
      clOrdId: req.clOrdId,
      origClOrdId: req.origClOrdId,
      status: o?.state ?? "unknown",
      responseTo,
      reason: refusal.reason,
      text: refusal.text,
      transactTime: this.clock.now(),
    };
    if (req.account !== undefined) ev.account = req.account;
    this.sink.cancelReject(session, ev);
  }

  // --- lookups --------------------------------------------------------------------------------------------------

  private find(session: string, clOrdId: string | undefined, orderId: string | undefined): VenueOrder | undefined {
    const byCl = clOrdId === undefined ? undefined : this.byClOrdId.get(session)?.get(clOrdId);
    if (byCl !== undefined) return byCl;
    const byId = orderId === undefined ? undefined : this.byOrderId.get(orderId);
    return byId?.session === session ? byId : undefined;
  }

  private indexOf(session: string): Map<string, VenueOrder> {
    let m = this.byClOrdId.get(session);
    if (m === undefined) {
      m = new Map();
      this.byClOrdId.set(session, m);
    }
    return m;
  }

  private usedOf(session: string): Set<string> {
    let s = this.used.get(session);
    if (s === undefined) {
      s = new Set();
      this.used.set(session, s);
    }
    return s;
  }

  private bookOf(symbol: string): OrderBook<VenueOrder> {
    let b = this.books.get(symbol);
    if (b === undefined) {
      b = new OrderBook<VenueOrder>(leavesOf);
      this.books.set(symbol, b);
    }
    return b;
  }
}

function sideOf(code: string): Side {
  // 1 Buy; 2 Sell, 5 Sell short, 6 Sell short exempt all sell.
  return code === "1" ? "buy" : "sell";
}

function parseDecimal(s: string | undefined): number {
  if (s === undefined || !/^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$/.test(s)) return Number.NaN;
  return Number(s);
}
