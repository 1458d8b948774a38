/**
 * The behaviour both stores share, written once on a few primitives each backend provides atomically: read a
 * record; commit a record if its revision is still the one read (with the dedupe key, the CumQty guard, the
 * ClOrdID/OrderID indexes, the open-order set and the log entry, all or nothing); keep and take back reports for
 * unknown orders. Everything else — which order a report is for, what it does, retries after a concurrent write —
 * is here, so Redis and memory cannot drift apart.
 */
import type { OrderEvent } from "@fixmesh/bus";
import { Decimal, kindOf, type Order, ReportKind } from "@fixmesh/orders";
import {
  cancelRejectDedupeKey,
  eventOf,
  isOpen,
  type OrderRecord,
  reportDedupeKey,
  type StepInput,
  step,
} from "../model/record.js";
import {
  ConcurrentUpdateError,
  type IdempotencyRecord,
  type ListFilter,
  type LogEntry,
  type OrderRepository,
  type ReportInput,
  type ReportOutcome,
  type StoreCounters,
  type UpdateOutcome,
} from "./types.js";

export interface CommitRequest {
  orderId: string;
  sessionId: string;
  /** 0: the order must not exist yet. */
  expectedRev: number;
  record: OrderRecord;
  /**
   * Dedupe members within the session (`8|<ExecID>`, `9|<ClOrdID>`), one per report the commit applies: refused as
   * a duplicate if any is already there.
   */
  dedupe?: readonly string[];
  /** CumQty before and after; the commit is refused if it goes down without `allowCumQtyDown`. */
  cumQtyBefore: string;
  allowCumQtyDown: boolean;
  /** ClOrdIDs and OrderIDs to index for this order (taken ones owned by another order fail the commit). */
  clOrdIds: string[];
  orderIds: string[];
  open: boolean;
  /** The visible changes, in order: each its own log entry, at consecutive positions. */
  events?: readonly OrderEvent[];
  at: number;
  /** Counter to bump on success, by `counterBy` (default 1). */
  counter?: keyof StoreCounters;
  counterBy?: number;
}

export type CommitResult =
  /**
   * `position`: the first event's (the others follow it). `unmatched`: reports kept for unknown orders on the session
   * (0: no rematch to try).
   */
  | { ok: true; position?: number; unmatched?: number }
  | { ok: false; why: "duplicate" | "cumQtyBackwards" | "clOrdIdTaken" }
  /** `current`: the record as it now is, when the backend read it anyway (saves the retry a round trip). */
  | { ok: false; why: "conflict"; current?: OrderRecord };

const MAX_ATTEMPTS = 20;

export abstract class BaseRepository implements OrderRepository {
  abstract readonly kind: "memory" | "redis";
  abstract nextClOrdId(sessionId: string, now: number): Promise<string>;
  abstract claimIdempotency(rec: IdempotencyRecord, ttlMs: number): Promise<IdempotencyRecord | null>;
  abstract releaseIdempotency(key: string, orderId: string): Promise<void>;
  abstract noteIdempotency(rec: IdempotencyRecord): Promise<void>;
  abstract getIdempotency(key: string): Promise<IdempotencyRecord | null>;
  abstract get(orderId: string): Promise<OrderRecord | undefined>;
  abstract list(
    filter: ListFilter,
    pageSize: number,
    pageToken?: string,
  ): Promise<{ records: OrderRecord[]; next?: string }>;
  abstract readLog(from: number, limit: number): Promise<LogEntry[]>;
  abstract logBounds(): Promise<{ oldest: number; newest: number }>;
  abstract watchLog(fn: (e: LogEntry) => void): () => void;
  abstract unpublished(olderThanMs: number, now: number, limit: number): Promise<LogEntry[]>;
  abstract markPublished(positions: readonly number[]): Promise<void>;
  abstract unmatched(sessionId: string): Promise<ReportInput[]>;
  abstract counters(): Promise<StoreCounters>;
  abstract openCount(): Promise<number>;
  abstract raiseClOrdIdCounter(sessionId: string, atLeast: number): Promise<void>;
  abstract close(): Promise<void>;

  /** The order id owning a ClOrdID / a venue OrderID on the session. */
  protected abstract lookupClOrdId(sessionId: string, clOrdId: string): Promise<string | undefined>;
  protected abstract lookupVenueOrderId(sessionId: string, orderId: string): Promise<string | undefined>;
  protected abstract commit(c: CommitRequest): Promise<CommitResult>;
  /** Keeps a report for an unknown order, deduped like any report; false when it is a duplicate. */
  protected abstract keepUnmatched(sessionId: string, dedupe: string | undefined, input: ReportInput): Promise<boolean>;
  /** Removes and returns the unmatched reports naming any of these ClOrdIDs or OrderIDs. */
  protected abstract takeUnmatched(sessionId: string, clOrdIds: string[], orderIds: string[]): Promise<ReportInput[]>;
  protected abstract bump(counter: keyof StoreCounters, by?: number): Promise<void>;

  /**
   * A new ClOrdID and the idempotency claim made with it, in one step where the backend can (Redis: one script).
   * `earlier`: the key was claimed before (nothing taken, no ClOrdID used).
   */
  async claimNew(
    sessionId: string,
    claim: Omit<IdempotencyRecord, "clOrdId">,
    ttlMs: number,
  ): Promise<{ clOrdId: string; earlier: null } | { earlier: IdempotencyRecord }> {
    const clOrdId = await this.nextClOrdId(sessionId, claim.at);
    const earlier = await this.claimIdempotency({ ...claim, clOrdId }, ttlMs);
    return earlier === null ? { clOrdId, earlier: null } : { earlier };
  }

  async findByClOrdId(sessionId: string, clOrdId: string): Promise<OrderRecord | undefined> {
    const id = await this.lookupClOrdId(sessionId, clOrdId);
    return id === undefined ? undefined : this.get(id);
  }

  async create(record: OrderRecord, at: number): Promise<{ entry: LogEntry; released: LogEntry[] }> {
    const o = record.order;
    const res = await this.commit({
      orderId: o.id,
      sessionId: o.session,
      expectedRev: 0,
      record,
      cumQtyBefore: "0",
      allowCumQtyDown: false,
      clOrdIds: [...o.chain],
      orderIds: [...o.facts.orderIDs],
      open: isOpen(record),
      events: [eventOf(record, "NEW_REQUEST", at)],
      at,
    });
    if (!res.ok) {
      throw new (await import("./types.js")).DuplicateOrderError(
        res.why === "conflict" ? `order ${o.id} exists` : `ClOrdID ${o.clOrdID} is taken on ${o.session}`,
      );
    }
    const entry: LogEntry = { position: res.position ?? 0, event: eventOf(record, "NEW_REQUEST", at) };
    const released = res.unmatched === 0 ? [] : await this.rematch(o, at);
    return { entry, released };
  }

  async update(
    orderId: string,
    input: StepInput,
    now: number,
    known?: OrderRecord,
  ): Promise<UpdateOutcome & { released?: LogEntry[] }> {
    // The caller's copy saves a read; if it is stale the commit says so (with the current record when it has it).
    let cached = known;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const rec = cached ?? (await this.get(orderId));
      cached = undefined;
      if (!rec) return { outcome: "unknownOrder" };
      const r = step(rec, input, now);
      if (!r.record)
        return {
          outcome: r.outcome === "applied" ? "noop" : r.outcome,
          record: rec,
          ...(r.apply && { apply: r.apply }),
        };
      const next = r.record;
      const event = r.change ? eventOf(next, r.change, now, r.execution) : undefined;
      const ids = gained(rec.order, next.order);
      const res = await this.commit({
        orderId,
        sessionId: rec.order.session,
        expectedRev: rec.rev,
        record: next,
        cumQtyBefore: rec.order.cumQty,
        allowCumQtyDown: false,
        clOrdIds: ids.clOrdIds,
        orderIds: ids.orderIds,
        open: isOpen(next),
        ...(event && { events: [event] }),
        at: now,
      });
      if (!res.ok) {
        if (res.why === "conflict") {
          cached = res.current;
          continue;
        }
        throw new Error(`order ${orderId}: commit refused (${res.why})`);
      }
      const out: UpdateOutcome & { released?: LogEntry[] } = {
        outcome: r.outcome === "rejected" ? "rejected" : "applied",
        record: next,
      };
      if (r.apply) out.apply = r.apply;
      if (event && res.position !== undefined) out.entry = { position: res.position, event };
      if (ids.clOrdIds.length > 0 && res.unmatched !== 0)
        out.released = await this.rematch(next.order, now, ids.clOrdIds);
      return out;
    }
    throw new ConcurrentUpdateError(`order ${orderId}: still contended after ${MAX_ATTEMPTS} attempts`);
  }

  async applyReport(sessionId: string, input: ReportInput, now: number): Promise<ReportOutcome> {
    const dedupe = dedupeKeyOf(input);
    const flags =
      input.type === "report"
        ? { possDup: input.report.possDup === true, possResend: input.report.possResend === true }
        : { possDup: input.reject.possDup === true, possResend: input.reject.possResend === true };
    return this.applyMatched(sessionId, input, dedupe, flags, now, false);
  }

  async applyReports(sessionId: string, inputs: readonly ReportInput[], now: number): Promise<ReportOutcome[]> {
    if (inputs.length > 1) {
      const together = await this.applyTogether(sessionId, inputs, now);
      if (together !== undefined) return together;
    }
    const out: ReportOutcome[] = [];
    for (const input of inputs) out.push(await this.applyReport(sessionId, input, now));
    return out;
  }

  /**
   * Reports of one order in one commit (a venue's acknowledgement and fill usually come together): stepped one after
   * another on the order as it is, then committed with every dedupe key and every update at once. Only the plain
   * case — each report new, for this order, applied with a visible change, no trade bust or correction — and only
   * if the commit takes it whole; otherwise `undefined` with nothing written, and the caller applies them one by one
   * (which sorts out duplicates, conflicts and the rest exactly as for a lone report).
   */
  private async applyTogether(
    sessionId: string,
    inputs: readonly ReportInput[],
    now: number,
  ): Promise<ReportOutcome[] | undefined> {
    const found = await this.loadFor(sessionId, inputs[0] as ReportInput);
    const first = found?.record;
    if (found === undefined || first === undefined) return undefined;
    const dedupe: string[] = [];
    const events: OrderEvent[] = [];
    const steps: ReportOutcome[] = [];
    let rec = first;
    for (const input of inputs) {
      const names = input.type === "report" ? input.report : input.reject;
      const ours =
        (names.clOrdID !== undefined && rec.order.chain.includes(names.clOrdID)) ||
        (names.origClOrdID !== undefined && rec.order.chain.includes(names.origClOrdID)) ||
        (names.orderID !== undefined && rec.order.facts.orderIDs.includes(names.orderID));
      const key = dedupeKeyOf(input);
      const kind = input.type === "report" ? kindOf(input.report) : undefined;
      if (!ours || key === undefined || dedupe.includes(key)) return undefined;
      if (kind === ReportKind.TradeCancel || kind === ReportKind.TradeCorrect) return undefined;
      const r = step(rec, input, now);
      if (r.outcome !== "applied" || r.record === undefined || r.change === undefined) return undefined;
      const event = eventOf(r.record, r.change, now, r.execution);
      if (input.traceparent !== undefined) event.traceparent = input.traceparent;
      dedupe.push(key);
      events.push(event);
      steps.push({ outcome: "applied", record: r.record, ...(r.apply && { apply: r.apply }) });
      rec = r.record;
    }
    rec.rev = first.rev + 1; // one commit
    const ids = gained(first.order, rec.order);
    const res = await this.commit({
      orderId: found.orderId,
      sessionId,
      expectedRev: first.rev,
      record: rec,
      dedupe,
      cumQtyBefore: first.order.cumQty,
      allowCumQtyDown: false,
      clOrdIds: ids.clOrdIds,
      orderIds: ids.orderIds,
      open: isOpen(rec),
      events,
      at: now,
      counter: "applied",
      counterBy: inputs.length,
    });
    if (!res.ok) return undefined;
    if (res.position !== undefined) {
      const p = res.position;
      steps.forEach((s, i) => {
        s.entry = { position: p + i, event: events[i] as OrderEvent };
      });
    }
    if ((ids.clOrdIds.length > 0 || ids.orderIds.length > 0) && res.unmatched !== 0) {
      const last = steps[steps.length - 1] as ReportOutcome;
      last.released = await this.rematch(rec.order, now, ids.clOrdIds, ids.orderIds);
    }
    return steps;
  }

  /** The order a report names (by ClOrdID, then OrigClOrdID, then OrderID) and its record. */
  protected async loadFor(
    sessionId: string,
    input: ReportInput,
  ): Promise<{ orderId: string; record?: OrderRecord } | undefined> {
    const orderId = await this.findOrderFor(sessionId, input);
    if (orderId === undefined) return undefined;
    const record = await this.get(orderId);
    return record ? { orderId, record } : { orderId };
  }

  private async findOrderFor(sessionId: string, input: ReportInput): Promise<string | undefined> {
    const ids =
      input.type === "report"
        ? [input.report.clOrdID, input.report.origClOrdID]
        : [input.reject.clOrdID, input.reject.origClOrdID];
    for (const id of ids) {
      if (!id) continue;
      const found = await this.lookupClOrdId(sessionId, id);
      if (found !== undefined) return found;
    }
    const venueId = input.type === "report" ? input.report.orderID : input.reject.orderID;
    return venueId ? this.lookupVenueOrderId(sessionId, venueId) : undefined;
  }

  private async applyMatched(
    sessionId: string,
    input: ReportInput,
    dedupe: string | undefined,
    flags: { possDup: boolean; possResend: boolean },
    now: number,
    rematched: boolean,
  ): Promise<ReportOutcome> {
    // After a revision conflict the commit hands back the order as it now is: no second lookup.
    let again: { orderId: string; record?: OrderRecord } | undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const found = again ?? (await this.loadFor(sessionId, input));
      again = undefined;
      const orderId = found?.orderId;
      if (orderId === undefined) {
        if (!(await this.keepUnmatched(sessionId, dedupe, input))) return this.duplicate(flags);
        await this.bump("unknownOrder");
        return { outcome: "unknownOrder" };
      }
      const rec = found?.record;
      if (!rec) return { outcome: "unknownOrder" };
      const r = step(rec, input, now);
      if (r.outcome === "duplicate") return this.duplicate(flags);
      const next = r.record;
      const event = next && r.change ? eventOf(next, r.change, now, r.execution) : undefined;
      if (event !== undefined && input.traceparent !== undefined) event.traceparent = input.traceparent;
      const kind = input.type === "report" ? kindOf(input.report) : undefined;
      // A report refused for good gains nothing: gained(rec, rec) is empty.
      const ids = gained(rec.order, (next ?? rec).order);
      const res = await this.commit({
        orderId,
        sessionId,
        expectedRev: rec.rev,
        // A report refused for good changes nothing but must still be remembered as seen.
        record: next ?? rec,
        ...(dedupe !== undefined && !rematched && { dedupe: [dedupe] }),
        cumQtyBefore: rec.order.cumQty,
        // Only a trade bust or correction may lower CumQty (FIX: ExecType H/G, 4.2 ExecTransType 1/2).
        allowCumQtyDown: kind === ReportKind.TradeCancel || kind === ReportKind.TradeCorrect,
        clOrdIds: ids.clOrdIds,
        orderIds: ids.orderIds,
        open: isOpen(next ?? rec),
        ...(event && { events: [event] }),
        at: now,
        counter: r.outcome === "applied" ? "applied" : "rejected",
      });
      if (!res.ok) {
        if (res.why === "conflict") {
          if (res.current !== undefined) again = { orderId, record: res.current };
          continue;
        }
        if (res.why === "duplicate") return this.duplicate(flags);
        throw new Error(`order ${orderId}: commit refused (${res.why})`);
      }
      const out: ReportOutcome = { outcome: r.outcome === "applied" ? "applied" : "rejected", record: next ?? rec };
      if (r.apply) out.apply = r.apply;
      if (event && res.position !== undefined) out.entry = { position: res.position, event };
      // Nothing kept for unknown orders on the session (the commit counted them): nothing to take back.
      if (next && (ids.clOrdIds.length > 0 || ids.orderIds.length > 0) && res.unmatched !== 0)
        out.released = await this.rematch(next.order, now, ids.clOrdIds, ids.orderIds);
      return out;
    }
    throw new ConcurrentUpdateError(`report on ${sessionId}: still contended after ${MAX_ATTEMPTS} attempts`);
  }

  private async duplicate(flags: { possDup: boolean; possResend: boolean }): Promise<ReportOutcome> {
    await this.bump("duplicates");
    if (flags.possDup) await this.bump("duplicatesPossDup");
    if (flags.possResend) await this.bump("duplicatesPossResend");
    if (!flags.possDup && !flags.possResend) await this.bump("duplicatesUnflagged");
    return { outcome: "duplicate", ...flags };
  }

  /** Applies the kept reports that name a ClOrdID or OrderID the order has just gained. */
  private async rematch(
    order: Order,
    now: number,
    clOrdIds = order.chain,
    orderIds = order.facts.orderIDs,
  ): Promise<LogEntry[]> {
    const taken = await this.takeUnmatched(order.session, [...clOrdIds], [...orderIds]);
    const out: LogEntry[] = [];
    for (const input of taken) {
      await this.bump("rematched");
      const r = await this.applyMatched(
        order.session,
        input,
        undefined,
        { possDup: false, possResend: false },
        now,
        true,
      );
      if (r.entry) out.push(r.entry);
      if (r.released) out.push(...r.released);
    }
    return out;
  }
}

/** The ClOrdIDs and venue OrderIDs `after` has and `before` had not: what a commit indexes and a rematch looks for. */
function gained(before: Order, after: Order): { clOrdIds: string[]; orderIds: string[] } {
  return {
    clOrdIds: after.chain.filter((c) => !before.chain.includes(c)),
    orderIds: after.facts.orderIDs.filter((c) => !before.facts.orderIDs.includes(c)),
  };
}

/** A report's dedupe key within its session (undefined: an Order Status report with ExecID 0, which moves nothing). */
function dedupeKeyOf(input: ReportInput): string | undefined {
  return input.type === "report" ? reportDedupeKey(input.report) : cancelRejectDedupeKey(input.reject);
}

/** CumQty went down: refused unless a trade bust or correction did it. */
export function cumQtyWentDown(before: string, after: string): boolean {
  return Decimal.of(after).lt(Decimal.of(before));
}
