import { performance } from "node:perf_hooks";
import { type Connector, SessionRunner, tcpConnector } from "@fixmesh/engine";
import {
  type FieldList,
  type FixMessage,
  formatUtcTimestamp,
  loadDictionary,
  MsgType,
  Tag,
  validate,
} from "@fixmesh/fix";
import { type ApplyResult, apply, isFinal, type Order, OrderStore, Outcome } from "@fixmesh/orders";
import {
  Health,
  MemoryBacking,
  MemoryStore,
  type MessageStore,
  resolveSettings,
  type SessionNotice,
  type SessionSettings,
  type Validator,
} from "@fixmesh/session";
import { stamp, waitFor } from "./wait.js";
import { WireLog } from "./wire.js";

/** A health change as our session announced it, with what the session looked like at that moment. */
export interface HealthChange {
  at: number;
  from: Health;
  to: Health;
  reason: string;
  nextTargetSeq: number;
  /** Inbound messages queued behind a gap. */
  queued: number;
  /** A ResendRequest of ours is outstanding. */
  resendOpen: boolean;
  safe: boolean;
}

/** A report our order store did not apply as a fresh execution and did not drop as a duplicate. */
export interface Problem {
  execId: string | undefined;
  clOrdId: string | undefined;
  outcome: string;
  text: string;
}

export interface OrderTerms {
  clOrdId: string;
  symbol: string;
  side?: "1" | "2";
  qty: number;
  /** A limit price; none for a market order. */
  price?: number;
}

export interface OurSideOptions {
  /** Where to connect (the proxy in front of the venue). */
  port: number;
  settings?: Partial<SessionSettings>;
  store?: MessageStore;
  /** Validate inbound messages against the FIX 4.4 dictionary (default true). */
  validate?: boolean;
  /** Tap our socket to keep the last messages for diagnostics (default true). */
  wireLog?: boolean;
}

/** The settings every scenario starts from; a scenario overrides what its failure needs. */
export const BASE_SETTINGS = {
  BeginString: "FIX.4.4",
  SenderCompID: "CLIENT",
  TargetCompID: "VENUE",
  ConnectionType: "initiator",
  HeartBtInt: 2,
  ReconnectInterval: 0.1,
  ReconnectMaxInterval: 0.5,
  // Ask for a large gap 1,000 messages at a time (ARCHITECTURE.md: "replayed in bounded chunks").
  ResendRequestChunkSize: 1000,
  // Hysteresis, shortened so a scenario does not wait 5 s to see DEGRADED → LIVE.
  DegradedRecoverySeconds: 1,
} as const satisfies Partial<SessionSettings>;

/**
 * Our side of the session, as order-entry would run it: an initiator `SessionRunner` whose ExecutionReports and
 * OrderCancelRejects feed the `@fixmesh/orders` state machine (deduplicated by session + ExecID), plus everything a
 * chaos scenario needs to judge the outcome: every health change with a snapshot, every notice, the MsgSeqNums of
 * the application messages delivered (to prove order), how often each ExecID was applied, and the wire.
 */
export class OurSide {
  readonly orders = new OrderStore();
  readonly health: HealthChange[] = [];
  readonly notices: Array<SessionNotice & { at: number }> = [];
  /** How many times each ExecID moved an order (must be 1 for every one). */
  readonly applied = new Map<string, number>();
  /** Reports dropped as duplicates, by ExecID (or ClOrdID for an OrderCancelReject). */
  readonly duplicates: string[] = [];
  readonly problems: Problem[] = [];
  /** ExecIDs of reports held by the order store (contradicting the order for now); empty once converged. */
  readonly held = new Set<string>();
  /** MsgSeqNums of the application messages delivered to us, per store cycle (a reset starts a new list). */
  readonly delivered: number[][] = [[]];
  readonly wire: WireLog;
  /** Order terms by ClOrdID of the original order. */
  readonly terms = new Map<string, OrderTerms>();
  /** Milliseconds from submitting each order to the report that finished it (filled, canceled or rejected). */
  readonly latencies: number[] = [];
  private readonly submittedAt = new Map<string, number>();
  private nextOrderId = 1;

  private current!: SessionRunner;
  private readonly opts: OurSideOptions;
  private readonly backing = new MemoryBacking();
  private readonly connect: Connector;
  private readonly validator: Validator | null;

  private constructor(o: OurSideOptions) {
    this.opts = o;
    this.wire = new WireLog();
    const base = tcpConnector([{ host: "127.0.0.1", port: o.port }], { timeoutMs: 2000 });
    this.connect = o.wireLog === false ? base : this.wire.tap(base);
    const dict = loadDictionary("FIX.4.4");
    this.validator = o.validate === false ? null : (m) => validate(m, dict);
  }

  static async start(o: OurSideOptions): Promise<OurSide> {
    const side = new OurSide(o);
    await side.boot(o.settings ?? {});
    return side;
  }

  /**
   * Stops our runner and starts a new one on the same store and order store, with `settings` over the first ones —
   * what an operator does to restart the connector with, say, ResetOnLogon=Y for an agreed reset.
   */
  async restart(settings: Partial<SessionSettings>): Promise<void> {
    await this.current.stop(200);
    await this.boot({ ...this.opts.settings, ...settings });
  }

  private async boot(settings: Partial<SessionSettings>): Promise<void> {
    let runner: SessionRunner | undefined;
    const early: SessionNotice[] = [];
    runner = await SessionRunner.start({
      settings: resolveSettings({ ...BASE_SETTINGS, ...settings }),
      store: this.opts.store ?? new MemoryStore({ backing: this.backing }),
      validate: this.validator,
      connect: this.connect,
      schedule: null,
      app: {
        onMessage: (msg, _s, possDup) => {
          if (runner === this.current) this.onApplication(msg, possDup);
        },
        onNotice: (n) => {
          if (runner === undefined) early.push(n);
          else if (runner === this.current) this.onNotice(n);
        },
      },
    });
    this.current = runner;
    for (const n of early) this.onNotice(n);
  }

  /** Our session's runner (a new one after \`restart\`). */
  get runner(): SessionRunner {
    return this.current;
  }

  get state() {
    return this.runner.state;
  }

  get session(): string {
    return this.runner.id;
  }

  waitLive(ms = 5000): Promise<void> {
    return waitFor(() => this.runner.state.health === Health.Live, ms, "our session LIVE");
  }

  // --- order entry -----------------------------------------------------------------------------------------------

  /** Records a new order (Pending New) in our order store, then sends the NewOrderSingle. */
  submit(t: OrderTerms): Promise<number> {
    this.terms.set(t.clOrdId, t);
    this.submittedAt.set(t.clOrdId, performance.now());
    const r = apply(
      this.orders,
      {
        type: "newOrder",
        id: `o${this.nextOrderId++}`,
        session: this.session,
        clOrdID: t.clOrdId,
        symbol: t.symbol,
        side: t.side ?? "1",
        ordType: t.price === undefined ? "1" : "2",
        orderQty: String(t.qty),
        ...(t.price !== undefined && { price: String(t.price) }),
      },
      Date.now(),
    );
    if (r.outcome !== Outcome.Applied)
      throw new Error(`order ${t.clOrdId} refused by our order store: ${r.rejection?.text}`);
    return this.runner.send(MsgType.NewOrderSingle, newOrderBody(t));
  }

  /** Records a cancel request on the order, then sends the OrderCancelRequest. */
  cancel(origClOrdId: string, clOrdId: string): Promise<number> {
    const order = this.order(origClOrdId);
    const t = this.termsOf(order);
    const r = apply(
      this.orders,
      { type: "cancelRequest", orderId: order.id, clOrdID: clOrdId, origClOrdID: origClOrdId },
      Date.now(),
    );
    if (r.outcome !== Outcome.Applied)
      throw new Error(`cancel ${clOrdId} refused by our order store: ${r.rejection?.text}`);
    return this.runner.send(MsgType.OrderCancelRequest, [
      Tag.ClOrdID,
      clOrdId,
      Tag.OrderQty,
      order.orderQty,
      Tag.OrigClOrdID,
      origClOrdId,
      Tag.Side,
      t.side ?? "1",
      Tag.Symbol,
      t.symbol,
      Tag.TransactTime,
      now(),
    ]);
  }

  /** Records a cancel/replace request on the order, then sends the OrderCancelReplaceRequest. */
  replace(origClOrdId: string, clOrdId: string, qty: number, price: number): Promise<number> {
    const order = this.order(origClOrdId);
    const t = this.termsOf(order);
    const r = apply(
      this.orders,
      {
        type: "replaceRequest",
        orderId: order.id,
        clOrdID: clOrdId,
        origClOrdID: origClOrdId,
        orderQty: String(qty),
        price: String(price),
      },
      Date.now(),
    );
    if (r.outcome !== Outcome.Applied)
      throw new Error(`replace ${clOrdId} refused by our order store: ${r.rejection?.text}`);
    return this.runner.send(MsgType.OrderCancelReplaceRequest, [
      Tag.ClOrdID,
      clOrdId,
      Tag.HandlInst,
      "1",
      Tag.OrderQty,
      qty,
      Tag.OrdType,
      "2",
      Tag.OrigClOrdID,
      origClOrdId,
      Tag.Price,
      price,
      Tag.Side,
      t.side ?? "1",
      Tag.Symbol,
      t.symbol,
      Tag.TransactTime,
      now(),
    ]);
  }

  /** The order with `clOrdId` anywhere in its chain. */
  order(clOrdId: string): Order {
    const o = this.orders.findByClOrdID(this.session, clOrdId);
    if (o === undefined) throw new Error(`no order ${clOrdId} on our side`);
    return o;
  }

  /** Waits until the order with `clOrdId` satisfies `check` (e.g. has a status). */
  waitOrder(clOrdId: string, check: (o: Order) => boolean, what: string, ms = 5000): Promise<void> {
    return waitFor(
      () => {
        const o = this.orders.findByClOrdID(this.session, clOrdId);
        return o !== undefined && check(o);
      },
      ms,
      `${clOrdId} ${what}`,
    );
  }

  /** Submits `n` orders `<prefix>-1` … `<prefix>-n` (alternating sides unless given) and returns their ClOrdIDs. */
  async submitMany(
    prefix: string,
    n: number,
    t: Omit<OrderTerms, "clOrdId"> = { symbol: "IBM", qty: 100, price: 100 },
  ): Promise<string[]> {
    const ids: string[] = [];
    const sends: Array<Promise<number>> = [];
    for (let i = 1; i <= n; i++) {
      const clOrdId = `${prefix}-${i}`;
      ids.push(clOrdId);
      sends.push(this.submit({ side: i % 2 === 1 ? "1" : "2", ...t, clOrdId }));
    }
    await Promise.all(sends);
    return ids;
  }

  private termsOf(order: Order): OrderTerms {
    const t = this.terms.get(order.chain[0]);
    if (t === undefined) throw new Error(`no terms for ${order.chain[0]}`);
    return t;
  }

  // --- what our session tells us ----------------------------------------------------------------------------------

  /** Health changes, as a path: `LIVE→RECOVERY→LIVE`. */
  healthPath(since = 0): string {
    return this.health
      .filter((h) => h.at >= since)
      .map((h) => h.to)
      .join("→");
  }

  noticesOf<K extends SessionNotice["kind"]>(
    kind: K,
    since = 0,
  ): Array<Extract<SessionNotice, { kind: K }> & { at: number }> {
    return this.notices.filter((n) => n.kind === kind && n.at >= since) as Array<
      Extract<SessionNotice, { kind: K }> & { at: number }
    >;
  }

  /** Executions applied once (distinct ExecIDs that moved an order). */
  get executions(): number {
    return this.applied.size;
  }

  private onNotice(n: SessionNotice): void {
    const at = stamp();
    this.notices.push({ ...n, at });
    if (n.kind === "health") {
      const st = this.runner.state;
      this.health.push({
        at,
        from: n.from,
        to: n.to,
        reason: n.reason,
        nextTargetSeq: st.nextTargetSeq,
        queued: st.queue.size,
        resendOpen: st.resendRange !== null,
        safe: st.safeReason !== null,
      });
    } else if (n.kind === "logon" && n.reset) {
      this.delivered.push([]);
    }
  }

  private onApplication(msg: FixMessage, possDup: boolean): void {
    this.delivered[this.delivered.length - 1].push(msg.getInt(Tag.MsgSeqNum) ?? 0);
    if (msg.msgType !== MsgType.ExecutionReport && msg.msgType !== MsgType.OrderCancelReject) {
      this.problems.push({
        execId: undefined,
        clOrdId: msg.get(Tag.ClOrdID),
        outcome: "unexpected",
        text: `MsgType ${msg.msgType}${possDup ? " (PossDup)" : ""}: ${msg.get(Tag.Text) ?? ""}`,
      });
      return;
    }
    const r = apply(this.orders, { type: "fixMessage", session: this.session, message: msg }, Date.now());
    this.record(msg, r);
  }

  private record(msg: FixMessage, r: ApplyResult): void {
    const execId = msg.get(Tag.ExecID);
    const key = execId ?? `9:${msg.get(Tag.ClOrdID)}`;
    switch (r.outcome) {
      case Outcome.Applied: {
        if (execId !== undefined) this.applied.set(execId, (this.applied.get(execId) ?? 0) + 1);
        const o = r.order;
        const at = o === undefined ? undefined : this.submittedAt.get(o.chain[0]);
        if (o !== undefined && at !== undefined && isFinal(o.status)) {
          this.latencies.push(performance.now() - at);
          this.submittedAt.delete(o.chain[0]);
        }
        break;
      }
      case Outcome.Duplicate:
        this.duplicates.push(key);
        break;
      case Outcome.Rejected:
        // Held: contradicts what the order holds for now; a later report may explain it (then it is released).
        if (r.rejection?.held === true && execId !== undefined) {
          this.held.add(execId);
          break;
        }
        this.problems.push({
          execId,
          clOrdId: msg.get(Tag.ClOrdID),
          outcome: r.outcome,
          text: r.rejection?.text ?? "",
        });
        break;
      default:
        this.problems.push({
          execId,
          clOrdId: msg.get(Tag.ClOrdID),
          outcome: r.outcome,
          text: r.rejection?.text ?? "",
        });
    }
    for (const id of r.released) {
      this.held.delete(id);
      this.applied.set(id, (this.applied.get(id) ?? 0) + 1);
    }
  }
}

const now = () => formatUtcTimestamp(Date.now(), 3);

/** A FIX 4.4 NewOrderSingle body, fields in the dictionary's order. */
export function newOrderBody(t: OrderTerms): FieldList {
  const body: FieldList = [Tag.ClOrdID, t.clOrdId, Tag.HandlInst, "1", Tag.OrderQty, t.qty];
  body.push(Tag.OrdType, t.price === undefined ? "1" : "2");
  if (t.price !== undefined) body.push(Tag.Price, t.price);
  body.push(Tag.Side, t.side ?? "1", Tag.Symbol, t.symbol, Tag.TransactTime, now());
  return body;
}
