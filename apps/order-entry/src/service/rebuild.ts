/**
 * Rebuilds order-entry's store from the connector's FIX stream (`fixmesh order-entry rebuild`): every
 * NewOrderSingle, OrderCancelRequest and OrderCancelReplaceRequest the connector sent for our sessions, and every
 * ExecutionReport and OrderCancelReject it received, in stream order, through the same repository calls (and so
 * the same libs/orders state machine, ExecID dedupe and CumQty checks) as the live service. The result: orders,
 * their ClOrdID/OrderID indexes, the (session, ExecID) dedupe set and an update log, plus each session's ClOrdID
 * counter moved past every ClOrdID the session used.
 *
 * The order ids and idempotency keys are not in the FIX messages: they come from order-entry's own ORDERS stream
 * when it still holds the order's first event; otherwise the order gets an id derived from (session, ClOrdID).
 * Idempotency claims are not rebuilt (their request fingerprints are nowhere on a stream). The rebuilt updates are
 * marked published: the ORDERS stream has them already.
 */
import { createHash } from "node:crypto";
import type { Delivered, EventBus } from "@fixmesh/bus";
import { MsgType, Parser, parseUtcTimestamp, Tag } from "@fixmesh/fix";
import { cancelRejectFrom, executionReportFrom, MalformedMessageError, type OrderInput } from "@fixmesh/orders";
import { newRecord } from "../model/record.js";
import type { LogEntry, OrderRepository, ReportInput } from "../store/types.js";

/** A stream to read from the start: the FIX stream, or ORDERS. */
export interface ReplayableBus extends EventBus {
  lastSeq(): Promise<number>;
}

export interface RebuildOptions {
  fix: ReplayableBus;
  /** FIX stream subject prefix (`fix`). */
  fixSubjectPrefix: string;
  /** order-entry's ORDERS stream, for the order ids and idempotency keys (none: ids derived from ClOrdIDs). */
  orders?: ReplayableBus;
  ordersSubjectPrefix?: string;
  repo: OrderRepository;
  sessions: ReadonlySet<string>;
  logger: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Give up when the stream delivers nothing for this long before its last event (default 30 s). */
  stallMs?: number;
}

export interface RebuildSummary {
  /** FIX events read (every subject of the stream). */
  events: number;
  orders: number;
  /** Cancel and replace requests recorded. */
  requests: number;
  /** ExecutionReports and OrderCancelRejects applied. */
  reports: number;
  /** Reports dropped as already applied (PossDup/PossResend copies on the stream). */
  duplicates: number;
  /** Reports for no known order, kept for reconciliation as the live service keeps them. */
  unknownOrder: number;
  /** Messages that could not be used (unparsable, a request for an unknown order, a ClOrdID reused). */
  skipped: number;
  /** Order ids taken from the ORDERS stream (the rest were derived). */
  idsFromOrdersStream: number;
  /** The most events held read ahead of the store at once (at most `REPLAY_BUFFER`, whatever the stream's length). */
  maxBuffered: number;
}

/** The store is not empty: a rebuild writes into an empty prefix only. */
export class RebuildTargetNotEmptyError extends Error {
  override readonly name = "RebuildTargetNotEmptyError";
}

/** The parts of the connector's FixMessageEvent read here (@fixmesh/engine `FixMessageEvent`). */
interface FixEventBody {
  session: string;
  dir: "in" | "out";
  seq: number;
  msgType: string;
  at: number;
  raw: string;
}

/** Events read from a stream but not yet handled, at most (the bus is not asked for more meanwhile). */
export const REPLAY_BUFFER = 1000;

/**
 * Reads a whole stream from its first event to the last one there was when called, one event at a time. Holds at
 * most `REPLAY_BUFFER` events read ahead of the handler: when the buffer is full the subscription's handler does not
 * return until it is half empty, and a JetStream subscription pulls nothing more meanwhile — a rebuild of a stream of
 * millions of events through a store slower than the bus keeps a bounded number of them in memory. Returns the most
 * it ever held.
 */
async function replay(
  bus: ReplayableBus,
  filter: string,
  stallMs: number,
  handle: (d: Delivered) => Promise<void>,
): Promise<number> {
  const last = await bus.lastSeq();
  if (last === 0) return 0;
  const queue: Delivered[] = [];
  let most = 0;
  let wake: (() => void) | null = null;
  // Set while the subscription's handler waits for room (a holder: TypeScript does not track closures' writes).
  const full: { resume: (() => void) | null } = { resume: null };
  const sub = await bus.subscribe(
    filter,
    (d) => {
      queue.push(d);
      most = Math.max(most, queue.length);
      wake?.();
      if (queue.length < REPLAY_BUFFER) return undefined;
      return new Promise<void>((r) => {
        full.resume = r;
      });
    },
    { fromSeq: 1 },
  );
  try {
    let seen = 0;
    let idleSince = Date.now();
    while (seen < last) {
      const d = queue.shift();
      if (d === undefined) {
        if (Date.now() - idleSince > stallMs) {
          throw new Error(`stream stalled at ${seen} of ${last} (nothing for ${stallMs} ms)`);
        }
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 200);
        });
        wake = null;
        continue;
      }
      const resume = full.resume;
      if (resume !== null && queue.length <= REPLAY_BUFFER / 2) {
        full.resume = null;
        resume();
      }
      idleSince = Date.now();
      seen = d.seq;
      await handle(d);
    }
  } finally {
    const resume = full.resume;
    full.resume = null;
    resume?.();
    await sub.unsubscribe();
  }
  return most;
}

const CLORDID_COUNTER = /^\d{8}-([0-9a-z]+)$/;

function derivedOrderId(session: string, clOrdId: string): string {
  return `o-rb-${createHash("sha256").update(`${session}\u0000${clOrdId}`).digest("hex").slice(0, 20)}`;
}

export async function rebuildFromStream(opts: RebuildOptions): Promise<RebuildSummary> {
  const { repo, logger } = opts;
  const stallMs = opts.stallMs ?? 30_000;
  if ((await repo.logBounds()).newest > 0 || (await repo.list({}, 1)).records.length > 0) {
    throw new RebuildTargetNotEmptyError("the store already holds orders: rebuild into an empty prefix");
  }
  const summary: RebuildSummary = {
    events: 0,
    orders: 0,
    requests: 0,
    reports: 0,
    duplicates: 0,
    unknownOrder: 0,
    skipped: 0,
    idsFromOrdersStream: 0,
    maxBuffered: 0,
  };

  // Order ids and idempotency keys by (session, first ClOrdID), from each order's first ORDERS event.
  const identity = new Map<string, { orderId: string; idempotencyKey?: string }>();
  if (opts.orders) {
    const heldOrders = await replay(opts.orders, `${opts.ordersSubjectPrefix ?? "orders"}.>`, stallMs, async (d) => {
      try {
        const ev = JSON.parse(Buffer.from(d.payload).toString("utf8")) as {
          orderId?: string;
          version?: number;
          order?: { sessionId?: string; clOrdId?: string; idempotencyKey?: string };
        };
        if (ev.version !== 1 || !ev.orderId || !ev.order?.sessionId || !ev.order.clOrdId) return;
        identity.set(`${ev.order.sessionId}|${ev.order.clOrdId}`, {
          orderId: ev.orderId,
          ...(ev.order.idempotencyKey !== undefined && { idempotencyKey: ev.order.idempotencyKey }),
        });
      } catch {
        // Not an order event: it says nothing about identities.
      }
    });
    summary.maxBuffered = Math.max(summary.maxBuffered, heldOrders);
  }

  const parser = new Parser();
  const positions: number[] = [];
  const logged = (entry?: LogEntry, released?: readonly LogEntry[]) => {
    if (entry) positions.push(entry.position);
    for (const e of released ?? []) positions.push(e.position);
  };
  const counters = new Map<string, number>();
  const sawClOrdId = (session: string, clOrdId: string | undefined) => {
    const m = clOrdId === undefined ? null : CLORDID_COUNTER.exec(clOrdId);
    if (m) counters.set(session, Math.max(counters.get(session) ?? 0, Number.parseInt(m[1], 36)));
  };

  const heldFix = await replay(opts.fix, `${opts.fixSubjectPrefix}.>`, stallMs, async (d) => {
    summary.events++;
    if (!d.subject.includes(".in.") && !d.subject.includes(".out.")) return; // state events
    let ev: FixEventBody;
    try {
      ev = JSON.parse(Buffer.from(d.payload).toString("utf8")) as FixEventBody;
    } catch {
      summary.skipped++;
      return;
    }
    if (!opts.sessions.has(ev.session)) return;
    const relevant =
      ev.dir === "out"
        ? ev.msgType === MsgType.NewOrderSingle ||
          ev.msgType === MsgType.OrderCancelRequest ||
          ev.msgType === MsgType.OrderCancelReplaceRequest
        : ev.msgType === MsgType.ExecutionReport || ev.msgType === MsgType.OrderCancelReject;
    if (!relevant) return;
    const msg = parser.parse(Buffer.from(ev.raw, "base64"));
    if (typeof msg === "string") {
      summary.skipped++;
      logger.warn({ session: ev.session, seq: ev.seq, reason: msg }, "garbled FIX message on the stream: skipped");
      return;
    }

    if (ev.dir === "out" && ev.msgType === MsgType.NewOrderSingle) {
      const clOrdId = msg.get(Tag.ClOrdID);
      sawClOrdId(ev.session, clOrdId);
      const symbol = msg.get(Tag.Symbol);
      const side = msg.get(Tag.Side);
      const ordType = msg.get(Tag.OrdType);
      const orderQty = msg.get(Tag.OrderQty);
      if (!clOrdId || !symbol || !side || !ordType || !orderQty) {
        summary.skipped++;
        return;
      }
      const price = msg.get(Tag.Price);
      const stopPrice = msg.get(Tag.StopPx);
      const transactTime = msg.get(Tag.TransactTime);
      // TransactTime is the order's creation time (messages.ts builds the NewOrderSingle that way).
      let now = ev.at;
      if (transactTime !== undefined) {
        const t = parseUtcTimestamp(transactTime);
        if (Number.isFinite(t)) now = t;
      }
      const known = identity.get(`${ev.session}|${clOrdId}`);
      if (known) summary.idsFromOrdersStream++;
      const made = newRecord(
        {
          orderId: known?.orderId ?? derivedOrderId(ev.session, clOrdId),
          sessionId: ev.session,
          clOrdId,
          account: msg.get(Tag.Account) ?? "",
          symbol,
          side,
          ordType,
          orderQty,
          timeInForce: msg.get(Tag.TimeInForce) ?? "0",
          ...(price !== undefined && { price }),
          ...(stopPrice !== undefined && { stopPrice }),
          ...(known?.idempotencyKey !== undefined && { idempotencyKey: known.idempotencyKey }),
        },
        now,
        now,
      );
      if ("error" in made) {
        summary.skipped++;
        logger.warn({ session: ev.session, clOrdId, error: made.error }, "NewOrderSingle not rebuilt");
        return;
      }
      try {
        const c = await repo.create(made.record, now);
        logged(c.entry, c.released);
      } catch (err) {
        if ((err as Error).name !== "DuplicateOrderError") throw err;
        summary.skipped++;
        logger.warn({ session: ev.session, clOrdId }, "NewOrderSingle for a ClOrdID already rebuilt: skipped");
        return;
      }
      const u = await repo.update(made.record.order.id, { type: "sent", msgSeqNum: ev.seq }, now);
      logged(u.entry);
      summary.orders++;
      return;
    }

    if (ev.dir === "out") {
      const clOrdId = msg.get(Tag.ClOrdID);
      const orig = msg.get(Tag.OrigClOrdID);
      sawClOrdId(ev.session, clOrdId);
      const rec = clOrdId && orig ? await repo.findByClOrdId(ev.session, orig) : undefined;
      if (!rec || !clOrdId || !orig) {
        summary.skipped++;
        logger.warn({ session: ev.session, clOrdId, origClOrdId: orig }, "request for an unknown order: skipped");
        return;
      }
      const price = msg.get(Tag.Price);
      const input: OrderInput =
        ev.msgType === MsgType.OrderCancelRequest
          ? { type: "cancelRequest", orderId: rec.order.id, clOrdID: clOrdId, origClOrdID: orig, replay: true }
          : {
              type: "replaceRequest",
              orderId: rec.order.id,
              clOrdID: clOrdId,
              origClOrdID: orig,
              replay: true,
              orderQty: msg.get(Tag.OrderQty) ?? rec.order.orderQty,
              ...(price !== undefined && { price }),
            };
      const u = await repo.update(rec.order.id, { type: "request", input }, ev.at);
      logged(u.entry, u.released);
      summary.requests++;
      return;
    }

    let input: ReportInput;
    try {
      input =
        ev.msgType === MsgType.ExecutionReport
          ? { type: "report", report: executionReportFrom(msg, ev.session), msgSeqNum: ev.seq }
          : { type: "cancelReject", reject: cancelRejectFrom(msg, ev.session) };
    } catch (err) {
      if (!(err instanceof MalformedMessageError)) throw err;
      summary.skipped++;
      return;
    }
    const r = await repo.applyReport(ev.session, input, ev.at);
    logged(r.entry, r.released);
    if (r.outcome === "duplicate") summary.duplicates++;
    else if (r.outcome === "unknownOrder") summary.unknownOrder++;
    else summary.reports++;
  });
  summary.maxBuffered = Math.max(summary.maxBuffered, heldFix);

  for (const [session, n] of counters) await repo.raiseClOrdIdCounter(session, n);
  for (let i = 0; i < positions.length; i += 1000) await repo.markPublished(positions.slice(i, i + 1000));
  logger.info({ ...summary }, "order-entry store rebuilt from the FIX stream");
  return summary;
}
