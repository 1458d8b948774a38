import { Acceptor, type RunnerLogger, type SessionRunner } from "@fixmesh/engine";
import { type FixMessage, MsgType, Tag } from "@fixmesh/fix";
import { businessRejectFor } from "@fixmesh/session";
import { type LatencyRange, parseVenueSimConfig, type VenueSimConfig, type VenueSimConfigInput } from "./config.js";
import type { ExecEvent, OrderSnapshot } from "./order.js";
import { renderCancelReject, renderExecution } from "./reports.js";
import { VenueSession } from "./session.js";
import { type BookSnapshot, type IdSource, Venue, type VenueClock } from "./venue.js";

export interface VenueSimOptions {
  logger?: RunnerLogger;
}

/** One report the venue sent, as `onExecution` listeners see it. */
export interface ExecutionNotice {
  /** The session that owns the order (`FIX.4.4:VENUE->CLIENT`). */
  session: string;
  event: ExecEvent;
}

/** A running venue simulator. */
export interface VenueSim {
  readonly host: string;
  /** The port it listens on (the same after `restartWithWipedStore`). */
  readonly port: number;
  /** Prefix of every ExecID and OrderID of this run: the start time (base 36), so they never repeat across runs. */
  readonly startToken: string;
  readonly config: VenueSimConfig;
  /** Every session: the trading sessions in config order, then the drop copy (if any). */
  readonly sessions: readonly VenueSession[];
  readonly dropCopy: VenueSession | undefined;
  /** A session by id (`FIX.4.4:VENUE->CLIENT`) or by the counterparty's CompID (`CLIENT`). */
  session(ref: string): VenueSession;
  /** The resting orders of `symbol`'s book. */
  book(symbol: string): BookSnapshot;
  /** Every order the venue knows, with its final state (for reconciliation). */
  orders(): OrderSnapshot[];
  /** An order by any ClOrdID of its chain; `session` (id or CompID) when ClOrdIDs repeat across sessions. */
  order(clOrdId: string, session?: string): OrderSnapshot | undefined;
  /** Cancels an open order on the venue's initiative (ExecType=4, no OrigClOrdID). False when none is open. */
  cancelUnsolicited(clOrdId: string, opts?: { session?: string; text?: string }): boolean;
  /** Every ExecutionReport event (executions and status answers) as the venue emits it. */
  onExecution(fn: (e: ExecutionNotice) => void): () => void;
  /**
   * Stops every session abruptly (sockets dropped, no Logout), deletes every store, and starts again on the same
   * port with sequence numbers at 1. Orders and books survive (the matching engine keeps its own state) unless
   * `keepOrders: false`.
   */
  restartWithWipedStore(opts?: { keepOrders?: boolean }): Promise<void>;
  /** Logs every session out (waiting up to `graceMs`), closes the stores and the port. */
  stop(graceMs?: number): Promise<void>;
}

let instances = 0;

/** The start time in base 36; a suffix keeps two simulators started in the same millisecond apart. */
function startTokenOf(now: number): string {
  const n = instances++;
  return n === 0 ? now.toString(36) : `${now.toString(36)}${n.toString(36)}`;
}

/** Starts the simulator: parses `config` (a ConfigError names the field), opens the stores, listens. */
export async function startVenueSim(
  config: VenueSimConfig | VenueSimConfigInput,
  options: VenueSimOptions = {},
): Promise<VenueSim> {
  const sim = new Simulator(parseVenueSimConfig(config), options);
  await sim.start();
  return sim;
}

class Simulator implements VenueSim {
  readonly config: VenueSimConfig;
  readonly startToken: string;
  readonly host: string;
  port = 0;
  sessions: VenueSession[] = [];
  dropCopy: VenueSession | undefined;
  private acceptor: Acceptor;
  private readonly venue: Venue;
  private readonly byId = new Map<string, VenueSession>();
  private readonly listeners = new Set<(e: ExecutionNotice) => void>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly logger: RunnerLogger | undefined;
  private stopped = false;

  constructor(config: VenueSimConfig, options: VenueSimOptions) {
    this.config = config;
    this.logger = options.logger;
    this.host = config.listen.host;
    this.startToken = startTokenOf(Date.now());
    let execs = 0;
    let orders = 0;
    const ids: IdSource = {
      execId: () => `${this.startToken}-E${++execs}`,
      orderId: () => `${this.startToken}-O${++orders}`,
    };
    const clock: VenueClock = {
      now: Date.now,
      after: (ms, fn) => {
        const t = setTimeout(() => {
          this.timers.delete(t);
          fn();
        }, ms);
        this.timers.add(t);
        return () => {
          clearTimeout(t);
          this.timers.delete(t);
        };
      },
    };
    this.venue = new Venue(
      config,
      ids,
      { execution: (s, ev) => this.onReport(s, ev), cancelReject: (s, ev) => this.onCancelReject(s, ev) },
      clock,
    );
    this.acceptor = this.newAcceptor(config.listen.port);
  }

  async start(): Promise<void> {
    const register = (r: SessionRunner) => this.acceptor.register(r);
    const onMessage = (s: VenueSession, msg: FixMessage, possDup: boolean) => this.onMessage(s, msg, possDup);
    try {
      for (const c of this.config.sessions) {
        const s = await VenueSession.start({
          config: c,
          role: "trading",
          defaultStore: this.config.store,
          logger: this.logger,
          onMessage,
          register,
        });
        this.add(s);
      }
      if (this.config.dropCopy !== undefined) {
        this.dropCopy = await VenueSession.start({
          config: this.config.dropCopy,
          role: "dropCopy",
          defaultStore: this.config.store,
          logger: this.logger,
          onMessage,
          register,
        });
        this.add(this.dropCopy);
      }
      this.port = await this.acceptor.listen();
    } catch (err) {
      await this.stop(0);
      throw err;
    }
  }

  private add(s: VenueSession): void {
    this.sessions.push(s);
    this.byId.set(s.id, s);
  }

  private newAcceptor(port: number): Acceptor {
    return new Acceptor({
      host: this.config.listen.host,
      port,
      logonTimeout: this.config.listen.logonTimeout,
      logger: this.logger,
    });
  }

  session(ref: string): VenueSession {
    const s = this.byId.get(ref) ?? this.sessions.find((x) => x.targetCompId === ref);
    if (s === undefined) throw new Error(`no session ${ref} (have ${this.sessions.map((x) => x.id).join(", ")})`);
    return s;
  }

  book(symbol: string): BookSnapshot {
    return this.venue.book(symbol);
  }

  orders(): OrderSnapshot[] {
    return this.venue.orders();
  }

  order(clOrdId: string, session?: string): OrderSnapshot | undefined {
    const candidates = session === undefined ? this.sessions : [this.session(session)];
    for (const s of candidates) {
      const o = this.venue.order(s.id, clOrdId);
      if (o !== undefined) return o;
    }
    return undefined;
  }

  cancelUnsolicited(clOrdId: string, opts: { session?: string; text?: string } = {}): boolean {
    const session = opts.session === undefined ? undefined : this.session(opts.session).id;
    return this.venue.cancelUnsolicited(clOrdId, { ...opts, session });
  }

  onExecution(fn: (e: ExecutionNotice) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async restartWithWipedStore(opts: { keepOrders?: boolean } = {}): Promise<void> {
    const port = this.port;
    // Sockets dropped without a Logout, as a crash would; the port is free again once the server has closed.
    await this.acceptor.close();
    this.acceptor = this.newAcceptor(port);
    if (opts.keepOrders === false) this.venue.clear();
    await Promise.all(this.sessions.map((s) => s.restart("wipe")));
    this.port = await this.acceptor.listen();
  }

  async stop(graceMs = 500): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.venue.stop();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.sessions.map((s) => s.stop(graceMs)));
    await this.acceptor.close();
  }

  // --- inbound ----------------------------------------------------------------------------------------------------

  private onMessage(s: VenueSession, msg: FixMessage, possDup: boolean): void {
    const type = msg.msgType;
    if (s.role !== "trading" || !TRADING_TYPES.has(type)) {
      const r = businessRejectFor(s.runner.state, msg, 3, "Unsupported Message Type");
      s.sendReport(MsgType.BusinessMessageReject, r.body, r.header);
      return;
    }
    const get = (tag: number) => {
      const v = msg.get(tag);
      return v === undefined || v === "" ? undefined : v;
    };
    const clOrdId = get(Tag.ClOrdID) ?? "";
    // A copy the client resent (PossDupFlag=Y) of a request already handled is not handled twice.
    if (possDup && type !== MsgType.OrderStatusRequest && this.venue.seen(s.id, clOrdId)) {
      this.logger?.info({ session: s.id, clOrdId, msgType: type }, "possible duplicate of a handled request ignored");
      return;
    }
    const symbol = get(Tag.Symbol);
    const delay = sample(this.venue.policy(symbol ?? "").latency);
    const common = {
      clOrdId,
      ...(get(Tag.Account) !== undefined && { account: get(Tag.Account) }),
      ...(get(Tag.OrderID) !== undefined && { orderId: get(Tag.OrderID) }),
    };
    switch (type) {
      case MsgType.NewOrderSingle: {
        const req = {
          ...common,
          symbol: symbol ?? "",
          side: get(Tag.Side) ?? "",
          ordType: get(Tag.OrdType) ?? "",
          orderQty: get(Tag.OrderQty),
          price: get(Tag.Price),
          timeInForce: get(Tag.TimeInForce),
        };
        s.enqueue(delay, () => this.venue.newOrder(s.id, req));
        return;
      }
      case MsgType.OrderCancelRequest: {
        const req = { ...common, origClOrdId: get(Tag.OrigClOrdID) ?? "" };
        s.enqueue(delay, () => this.venue.cancel(s.id, req));
        return;
      }
      case MsgType.OrderCancelReplaceRequest: {
        const req = {
          ...common,
          origClOrdId: get(Tag.OrigClOrdID) ?? "",
          symbol,
          side: get(Tag.Side),
          ordType: get(Tag.OrdType),
          orderQty: get(Tag.OrderQty),
          price: get(Tag.Price),
          timeInForce: get(Tag.TimeInForce),
        };
        s.enqueue(delay, () => this.venue.replace(s.id, req));
        return;
      }
      case MsgType.OrderStatusRequest: {
        const req = {
          clOrdId: get(Tag.ClOrdID),
          orderId: get(Tag.OrderID),
          symbol,
          side: get(Tag.Side),
          ordStatusReqId: get(Tag.OrdStatusReqID),
        };
        s.enqueue(delay, () => this.venue.status(s.id, req));
        return;
      }
    }
  }

  // --- outbound ---------------------------------------------------------------------------------------------------

  private onReport(sessionId: string, ev: ExecEvent): void {
    const s = this.byId.get(sessionId);
    if (s === undefined) return;
    s.sendReport(MsgType.ExecutionReport, renderExecution(s.beginString, ev));
    const dc = this.dropCopy;
    // The drop copy gets every execution in its own FIX version, with the same ExecID, and OnBehalfOfCompID(115)
    // naming the client the execution belongs to. Status answers are not executions and are not copied.
    if (dc !== undefined && ev.kind !== "status") {
      dc.sendReport(MsgType.ExecutionReport, renderExecution(dc.beginString, ev), [
        Tag.OnBehalfOfCompID,
        s.targetCompId,
      ]);
    }
    for (const l of this.listeners) {
      try {
        l({ session: sessionId, event: ev });
      } catch (err) {
        this.logger?.error({ err }, "an onExecution listener failed");
      }
    }
  }

  private onCancelReject(sessionId: string, ev: Parameters<typeof renderCancelReject>[1]): void {
    const s = this.byId.get(sessionId);
    if (s !== undefined) s.sendReport(MsgType.OrderCancelReject, renderCancelReject(s.beginString, ev));
  }
}

const TRADING_TYPES = new Set<string>([
  MsgType.NewOrderSingle,
  MsgType.OrderCancelRequest,
  MsgType.OrderCancelReplaceRequest,
  MsgType.OrderStatusRequest,
]);

function sample(l: LatencyRange): number {
  return l.max <= l.min ? l.min : l.min + Math.random() * (l.max - l.min);
}
