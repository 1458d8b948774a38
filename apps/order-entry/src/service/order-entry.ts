/**
 * What OrderEntryService does, independent of gRPC: submit (validate → idempotency claim → session health → risk
 * check → persist → send through the connector → mark sent), cancel, replace, mass cancel, get, list. Every change
 * it commits comes back as log entries, handed to the publisher (ORDERS events) — the update log itself is in the
 * store, shared by every instance, and StreamOrderUpdates serves it.
 *
 * Why persist before send: an ExecutionReport can arrive (on another instance, even) before the connector's answer
 * reaches us; the order must already be findable by its ClOrdID. Why the idempotency key is claimed before the risk
 * check: two instances racing on one key must not both pass risk and both send. A claim whose order never got
 * persisted (the instance died during the risk check) is taken over after `claimTakeoverMs`; an order persisted but
 * whose send result was lost is resent with the same connector idempotency key (its ClOrdID), which the connector
 * answers with the first MsgSeqNum instead of sending it again.
 */
import { createHash } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { OrderSnapshot } from "@fixmesh/bus";
import {
  type CancelOrderRequest,
  type CheckOrderResponse,
  type GetOrderRequest,
  type ListOrdersRequest,
  type MassCancelRequest,
  type OrderSchema,
  type ReplaceOrderRequest,
  RiskCheckKind,
  RpcError,
  type SendResponse,
  SessionHealth,
  type SubmitOrderRequest,
} from "@fixmesh/contracts";
import { status as Code } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { type OutboundMessage, SendOutcomeUnknownError } from "../clients/connector.js";
import { type CheckInit, RiskUnavailableError } from "../clients/risk.js";
import {
  orderTypeFromFix,
  orderTypeFromName,
  sideFromFix,
  sideFromName,
  statusFromName,
  tifFromName,
} from "../model/convert.js";
import { isOpen, newRecord, type OrderRecord, snapshotOf, statusOf } from "../model/record.js";
import { newOrderId } from "../store/ids.js";
import {
  DuplicateOrderError,
  type IdempotencyRecord,
  type LogEntry,
  type OrderRepository,
  type UnconfirmedAmend,
} from "../store/types.js";
import { cancelRequest, newOrderSingle, replaceRequest } from "./messages.js";
import { currentTraceparent, inSpan } from "./tracing.js";
import {
  knownSession,
  type OrderRef,
  type ValidSubmit,
  validateCancel,
  validateReplace,
  validateSubmit,
} from "./validate.js";

export type OrderInit = MessageInitShape<typeof OrderSchema>;

export interface RiskChecker {
  check(req: CheckInit, deadlineMs?: number, traceparent?: string): Promise<CheckOrderResponse>;
}

export interface Sender {
  send(msg: OutboundMessage): Promise<SendResponse>;
  healthOf(sessionId: string): SessionHealth;
}

export interface OrderEntryDeps {
  repo: OrderRepository;
  risk: RiskChecker;
  sender: Sender;
  sessions: ReadonlySet<string>;
  /** Every committed update, for the ORDERS publisher. */
  onCommitted(entries: readonly LogEntry[]): void;
  /** Operator actions (MassCancel), for the AUDIT stream. */
  audit?(e: {
    action: string;
    principal: string;
    resource: string;
    reason: string;
    outcome: "ok" | "failed";
    detail: string;
  }): void;
  logger: Logger;
  now?: () => number;
  /** How long an idempotency key is kept (default 7 days). */
  idempotencyTtlMs?: number;
  /** A claim with no persisted order this old is taken over by a retry (default 5 s). */
  claimTakeoverMs?: number;
  /** How long a retry waits for the first attempt to finish before acting itself (default 3 s). */
  retryWaitMs?: number;
}

export interface Answer {
  order: OrderInit;
  replayed: boolean;
}

const LIVE = new Set([SessionHealth.LIVE, SessionHealth.DEGRADED]);

function fingerprint(x: unknown): string {
  return createHash("sha256").update(JSON.stringify(x)).digest("base64url");
}

/** The active span's traceparent as a send's field (the connector ignores it when comparing idempotent retries). */
function traceField(): { traceparent?: string } {
  const tp = currentTraceparent();
  return tp === undefined ? {} : { traceparent: tp };
}

/** The fingerprint a SubmitOrder request is claimed with (tests build a dead instance's claim with it). */
export function submitFingerprint(req: SubmitOrderRequest, sessions: ReadonlySet<string>): string {
  return fingerprint(validateSubmit(req, sessions));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A proto Order from a record (with its executions) or from an update's snapshot. */
export function orderProto(rec: OrderRecord): OrderInit {
  return { ...(snapshotProto(snapshotOf(rec)) as object), executions: rec.executions.map(executionProto) } as OrderInit;
}

export function executionProto(e: OrderRecord["executions"][number]) {
  return {
    execId: e.execId,
    execType: e.execType,
    lastQty: e.lastQty,
    lastPx: e.lastPx,
    msgSeqNum: e.msgSeqNum,
    ...(e.transactTime && { transactTime: timestampFromMs(Date.parse(e.transactTime)) }),
  };
}

export function snapshotProto(s: OrderSnapshot): OrderInit {
  return {
    orderId: s.orderId,
    sessionId: s.sessionId,
    clOrdId: s.clOrdId,
    origClOrdId: s.origClOrdId,
    venueOrderId: s.venueOrderId ?? "",
    account: s.account,
    symbol: s.symbol,
    side: sideFromName(s.side),
    orderType: orderTypeFromName(s.orderType),
    timeInForce: tifFromName(s.timeInForce),
    quantity: s.quantity,
    price: s.price ?? "",
    stopPrice: s.stopPrice ?? "",
    status: statusFromName(s.status),
    cumQty: s.cumQty,
    leavesQty: s.leavesQty,
    avgPx: s.avgPx,
    text: s.text ?? "",
    createdAt: timestampFromMs(s.createdAt),
    updatedAt: timestampFromMs(s.updatedAt),
    pending: s.pending,
    idempotencyKey: s.idempotencyKey ?? "",
  };
}

/** The connector refused the message (nothing was sent): the same refusal in order-entry's words. */
function fromConnector(err: RpcError): RpcError {
  if (err.reason === "SESSION_NOT_LOGGED_ON" || err.reason === "SESSION_SAFE" || err.reason === "SESSION_STOPPED") {
    return new RpcError(Code.FAILED_PRECONDITION, "SESSION_NOT_LIVE", `session not live: ${err.message}`, {
      metadata: { ...err.metadata },
      cause: err,
    });
  }
  return err;
}

export class OrderEntry {
  private readonly repo: OrderRepository;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly ttl: number;
  private readonly takeoverMs: number;
  private readonly retryWaitMs: number;

  constructor(private readonly deps: OrderEntryDeps) {
    this.repo = deps.repo;
    this.now = deps.now ?? Date.now;
    this.log = deps.logger;
    this.ttl = deps.idempotencyTtlMs ?? 7 * 86_400_000;
    this.takeoverMs = deps.claimTakeoverMs ?? 5000;
    this.retryWaitMs = deps.retryWaitMs ?? 3000;
  }

  private committed(...entries: Array<LogEntry | undefined | readonly LogEntry[]>): void {
    const out: LogEntry[] = [];
    for (const e of entries) {
      if (e === undefined) continue;
      if (Array.isArray(e)) out.push(...e);
      else out.push(e as LogEntry);
    }
    if (out.length > 0) this.deps.onCommitted(out);
  }

  // --- submit ---------------------------------------------------------------------------------------------------

  async submit(req: SubmitOrderRequest, prefix = ""): Promise<Answer> {
    const v = validateSubmit(req, this.deps.sessions, prefix);
    return inSpan(
      "order-entry.SubmitOrder",
      { "fixmesh.session": v.sessionId, "fixmesh.account": v.account },
      async (span) => {
        const now = this.now();
        const fp = fingerprint(v);
        const orderId = newOrderId(now);
        // The ClOrdID and the idempotency claim in one step (one Redis round trip).
        const claimed = await this.repo.claimNew(
          v.sessionId,
          { key: v.idempotencyKey, fingerprint: fp, orderId, at: now },
          this.ttl,
        );
        const earlier = claimed.earlier;
        if (earlier !== null) {
          if (earlier.fingerprint !== fp) {
            throw new RpcError(
              Code.INVALID_ARGUMENT,
              "IDEMPOTENCY_KEY_REUSED",
              `${prefix}idempotency_key: "${v.idempotencyKey}" was used for a different order (${earlier.orderId})`,
              { metadata: { field: `${prefix}idempotency_key`, order_id: earlier.orderId } },
            );
          }
          span.setAttribute("fixmesh.replayed", true);
          return this.resume(v, earlier);
        }
        span.setAttribute("fixmesh.order_id", orderId);
        span.setAttribute("fixmesh.cl_ord_id", claimed.clOrdId);
        return this.place(v, orderId, claimed.clOrdId, true);
      },
    );
  }

  /** Checks, persists and sends a new order under an id/ClOrdID already claimed for its idempotency key. */
  private async place(v: ValidSubmit, orderId: string, clOrdId: string, release: boolean): Promise<Answer> {
    try {
      await this.gate({
        kind: RiskCheckKind.NEW,
        sessionId: v.sessionId,
        account: v.account,
        symbol: v.symbol,
        side: v.side,
        quantity: v.quantity,
        orderType: v.orderType,
        price: v.price ?? "",
        idempotencyKey: v.idempotencyKey,
      });
    } catch (err) {
      // Refused before anything was stored or sent: the key is free again for a retry.
      if (release) await this.repo.releaseIdempotency(v.idempotencyKey, orderId);
      throw err;
    }
    const now = this.now();
    const made = newRecord(
      {
        orderId,
        sessionId: v.sessionId,
        clOrdId,
        account: v.account,
        symbol: v.symbol,
        side: v.fix.side,
        ordType: v.fix.ordType,
        orderQty: v.quantity,
        timeInForce: v.fix.timeInForce,
        extraFields: v.extraFields,
        idempotencyKey: v.idempotencyKey,
        ...(v.price !== undefined && { price: v.price }),
        ...(v.stopPrice !== undefined && { stopPrice: v.stopPrice }),
        ...(v.expireTime !== undefined && { expireTime: v.expireTime }),
        ...(currentTraceparent() !== undefined && { traceparent: currentTraceparent() as string }),
      },
      now,
      now,
    );
    if ("error" in made) throw new RpcError(Code.INTERNAL, "INTERNAL", `order ${orderId}: ${made.error}`);
    const { entry, released } = await this.repo.create(made.record, now);
    this.committed(entry, released);
    return { order: orderProto(await this.sendNew(made.record)), replayed: false };
  }

  /** Sends a stored order's NewOrderSingle and records the outcome; the order as it then is. */
  private async sendNew(rec: OrderRecord): Promise<OrderRecord> {
    const id = rec.order.id;
    const msg = newOrderSingle(rec);
    let res: SendResponse;
    try {
      res = await inSpan("order-entry.send", { "fixmesh.cl_ord_id": rec.order.facts.initial.clOrdID }, () =>
        this.deps.sender.send({
          sessionId: rec.order.session,
          ...msg,
          idempotencyKey: rec.order.facts.initial.clOrdID,
          ...traceField(),
        }),
      );
    } catch (err) {
      const f = sendFailure(err, "order");
      if ("unknown" in f) {
        // Maybe sent, maybe not (no answer; or the connector's store did not confirm the write, which may have
        // landed — then the NewOrderSingle reaches the venue as the resend it asks for). The order stays pending: a
        // retry with the same key resends under the same connector idempotency key, which answers the stored
        // MsgSeqNum or sends.
        const { reason, detail, cause } = f.unknown;
        const next = reason === "PERSIST_FAILED" ? "it stays pending: retry" : "retry";
        throw new RpcError(Code.UNAVAILABLE, reason, `${detail}; ${next} with the same idempotency key`, { cause });
      }
      const e = f.refused;
      if (e.reason === "IDEMPOTENCY_KEY_REUSED") {
        // The connector holds a different message under this ClOrdID: what went out is unknown here, so the
        // order is not marked as unsent (a bug to look at, never a silent second order).
        this.log.error(
          { orderId: id, clOrdId: rec.order.facts.initial.clOrdID, err: e.message },
          "connector idempotency conflict",
        );
        throw new RpcError(Code.INTERNAL, "INTERNAL", `order ${id}: ${e.message}`, { cause: e });
      }
      const u = await this.repo.update(
        id,
        { type: "notSent", reason: `${e.reason || "REFUSED"}: ${e.message}` },
        this.now(),
      );
      this.committed(u.entry);
      throw e;
    }
    const u = await this.repo.update(id, { type: "sent", msgSeqNum: res.msgSeqNum }, this.now(), rec);
    this.committed(u.entry);
    return u.record ?? rec;
  }

  /**
   * Orders stored but whose send was never confirmed, older than the takeover delay: the instance that placed them
   * died between storing and recording the connector's answer, or the connector could not confirm it stored the
   * NewOrderSingle (PERSIST_FAILED) — and no client retried. Each is resent with its own
   * connector idempotency key (the connector answers with the first MsgSeqNum if it had it). The risk check was
   * passed before the order was stored. Returns how many were resolved.
   */
  async recoverPendingSends(limit = 500): Promise<number> {
    const cutoff = this.now() - this.takeoverMs;
    let token: string | undefined;
    let resolved = 0;
    let seen = 0;
    do {
      const page = await this.repo.list({ openOnly: true }, 200, token);
      for (const rec of page.records) {
        if (++seen > limit * 10) return resolved;
        if (rec.send !== "pending" || rec.order.createdAt > cutoff) continue;
        try {
          await this.sendNew(rec);
          resolved++;
          this.log.warn(
            { orderId: rec.order.id, clOrdId: rec.order.clOrdID },
            "pending send resolved (its instance died, or the connector had not confirmed it)",
          );
        } catch (err) {
          this.log.warn({ err, orderId: rec.order.id }, "pending send not resolved yet");
        }
        if (resolved >= limit) return resolved;
      }
      token = page.next;
    } while (token);
    return resolved;
  }

  /** A retry of a key claimed before: answer as the first call did, finishing what it left undone. */
  private async resume(v: ValidSubmit, claim: { orderId: string; clOrdId: string; at: number }): Promise<Answer> {
    const deadline = this.now() + this.retryWaitMs;
    let rec = await this.repo.get(claim.orderId);
    while (rec === undefined || rec.send === "pending") {
      if (this.now() >= deadline) break;
      await sleep(25);
      rec = await this.repo.get(claim.orderId);
    }
    if (rec === undefined) {
      if (this.now() - claim.at < this.takeoverMs) {
        throw new RpcError(
          Code.UNAVAILABLE,
          "SHUTTING_DOWN",
          "a request with this idempotency key is in progress; retry",
        );
      }
      // The first attempt died before persisting the order: finish it under the claimed ids.
      try {
        return { ...(await this.place(v, claim.orderId, claim.clOrdId, false)), replayed: true };
      } catch (err) {
        if (!(err instanceof DuplicateOrderError)) throw err;
        rec = await this.repo.get(claim.orderId);
        if (rec === undefined) throw err;
      }
    }
    if (rec.send === "failed") {
      throw new RpcError(
        Code.FAILED_PRECONDITION,
        "SEND_REFUSED",
        `order ${rec.order.id} was not sent: ${rec.notSentReason}`,
        {
          metadata: { order_id: rec.order.id },
        },
      );
    }
    if (rec.send === "pending") rec = await this.sendNew(rec);
    return { order: orderProto(rec), replayed: true };
  }

  /** Session health, then risk; throws the refusal. */
  private async gate(check: CheckInit & { sessionId: string }): Promise<void> {
    const health = this.deps.sender.healthOf(check.sessionId);
    if (!LIVE.has(health)) {
      throw new RpcError(
        Code.FAILED_PRECONDITION,
        "SESSION_NOT_LIVE",
        `session ${check.sessionId} is ${SessionHealth[health]}; nothing was sent`,
        {
          metadata: { session_id: check.sessionId, status: SessionHealth[health] },
        },
      );
    }
    let r: CheckOrderResponse;
    try {
      r = await inSpan("order-entry.risk-check", { "fixmesh.session": check.sessionId }, () =>
        this.deps.risk.check({ ...check, sessionHealth: health }, undefined, currentTraceparent()),
      );
    } catch (err) {
      if (err instanceof RiskUnavailableError) {
        throw new RpcError(
          Code.UNAVAILABLE,
          "RISK_UNAVAILABLE",
          `${err.message}; the order was refused, nothing was sent`,
          { cause: err },
        );
      }
      throw err;
    }
    if (r.allowed) return;
    const metadata = { rule: r.rule, limit: r.limit, value: r.value, limit_set: r.limitSet };
    const text = r.message || `risk rule ${r.rule}: limit ${r.limit}, order ${r.value}`;
    switch (r.rule) {
      case "KILL_SWITCH":
        throw new RpcError(Code.FAILED_PRECONDITION, "KILL_SWITCH_ENGAGED", text, { metadata });
      case "SESSION_NOT_LIVE":
        throw new RpcError(Code.FAILED_PRECONDITION, "SESSION_NOT_LIVE", text, { metadata });
      case "ORDER_RATE":
        throw new RpcError(Code.RESOURCE_EXHAUSTED, "THROTTLED", text, { metadata });
      default:
        throw new RpcError(Code.FAILED_PRECONDITION, "RISK_REJECTED", text, { metadata });
    }
  }

  // --- cancel and replace ---------------------------------------------------------------------------------------

  private async find(ref: OrderRef): Promise<OrderRecord> {
    const rec =
      "orderId" in ref ? await this.repo.get(ref.orderId) : await this.repo.findByClOrdId(ref.sessionId, ref.clOrdId);
    if (!rec) {
      const what = "orderId" in ref ? ref.orderId : `${ref.clOrdId} on ${ref.sessionId}`;
      throw new RpcError(Code.NOT_FOUND, "ORDER_NOT_FOUND", `no order ${what}`);
    }
    return rec;
  }

  private assertAmendable(rec: OrderRecord): void {
    if (!isOpen(rec)) {
      throw new RpcError(
        Code.FAILED_PRECONDITION,
        "ORDER_NOT_OPEN",
        `order ${rec.order.id} is ${statusName(rec)}: nothing to cancel or replace`,
        {
          metadata: { order_id: rec.order.id, status: statusName(rec) },
        },
      );
    }
    if (rec.send !== "sent" || rec.order.pendingCancel !== undefined || rec.order.pendingReplace !== undefined) {
      throw new RpcError(
        Code.FAILED_PRECONDITION,
        "PENDING_REQUEST",
        `order ${rec.order.id} has a request waiting for the venue's answer`,
        {
          metadata: { order_id: rec.order.id },
        },
      );
    }
  }

  /**
   * Claims an optional idempotency key of a cancel/replace. A retry gets the earlier answer, or — when the earlier
   * send was not confirmed by the connector — that request to send again (`resend`).
   */
  private async claimAmend(
    kind: string,
    key: string | undefined,
    rec: OrderRecord,
    body: unknown,
  ): Promise<{
    replay?: Answer;
    resend?: IdempotencyRecord & { unconfirmed: UnconfirmedAmend };
    claim?: IdempotencyRecord;
    clOrdId: string;
  }> {
    const clOrdId = await this.repo.nextClOrdId(rec.order.session, this.now());
    if (key === undefined) return { clOrdId };
    const claim: IdempotencyRecord = {
      key: `${kind}:${key}`,
      fingerprint: fingerprint({ kind, body }),
      orderId: rec.order.id,
      clOrdId,
      at: this.now(),
    };
    const earlier = await this.repo.claimIdempotency(claim, this.ttl);
    if (earlier === null) return { clOrdId, claim };
    if (earlier.fingerprint !== claim.fingerprint) {
      throw new RpcError(
        Code.INVALID_ARGUMENT,
        "IDEMPOTENCY_KEY_REUSED",
        `idempotency_key: "${key}" was used for a different request`,
        {
          metadata: { field: "idempotency_key" },
        },
      );
    }
    if (earlier.unconfirmed !== undefined) {
      return { resend: { ...earlier, unconfirmed: earlier.unconfirmed }, claim: earlier, clOrdId: earlier.clOrdId };
    }
    const now = (await this.repo.get(earlier.orderId)) ?? rec;
    return { replay: { order: orderProto(now), replayed: true }, clOrdId: earlier.clOrdId };
  }

  /**
   * Runs a cancel/replace under its claim: a key is released when the request was refused or failed before it
   * could reach the venue, and kept when the connector could not confirm it (the retry sends it again).
   */
  private async underClaim(claim: IdempotencyRecord | undefined, orderId: string, run: () => Promise<Answer>) {
    try {
      return await run();
    } catch (err) {
      if (claim !== undefined && !(err instanceof UnconfirmedSendError)) {
        await this.repo.releaseIdempotency(claim.key, orderId);
      }
      throw err;
    }
  }

  async cancel(req: CancelOrderRequest, prefix = ""): Promise<Answer> {
    const v = validateCancel(req, prefix);
    const rec = await this.find(v.ref);
    const c = await this.claimAmend("cancel", v.idempotencyKey, rec, { order: rec.order.id });
    if (c.replay) return c.replay;
    return this.underClaim(c.claim, rec.order.id, async () => {
      if (c.resend) return this.resendAmend(rec, c.resend);
      this.assertAmendable(rec);
      return { order: orderProto(await this.sendAmend(rec, "cancel", c.clOrdId, c.claim)), replayed: false };
    });
  }

  async replace(req: ReplaceOrderRequest, prefix = ""): Promise<Answer> {
    const v = validateReplace(req, prefix);
    const rec = await this.find(v.ref);
    const c = await this.claimAmend("replace", v.idempotencyKey, rec, {
      order: rec.order.id,
      q: v.quantity,
      p: v.price,
    });
    if (c.replay) return c.replay;
    return this.underClaim(c.claim, rec.order.id, async () => {
      // Checked by risk when it was first sent; the same message goes again.
      if (c.resend) return this.resendAmend(rec, c.resend);
      this.assertAmendable(rec);
      const quantity = v.quantity ?? rec.order.orderQty;
      const price = v.price ?? rec.order.price;
      await this.gate({
        kind: RiskCheckKind.REPLACE,
        sessionId: rec.order.session,
        account: rec.account,
        symbol: rec.order.symbol,
        side: sideFromFix(rec.order.side),
        quantity,
        orderType: orderTypeFromFix(rec.order.ordType),
        price: price ?? "",
        orderId: rec.order.id,
        ...(v.idempotencyKey !== undefined && { idempotencyKey: v.idempotencyKey }),
      });
      const terms = { quantity, ...(price !== undefined && { price }) };
      return { order: orderProto(await this.sendAmend(rec, "replace", c.clOrdId, c.claim, terms)), replayed: false };
    });
  }

  /**
   * Sends a cancel or replace, then records it. Sent first: if the connector refuses, nothing happened and the order
   * is untouched; the venue's answer may overtake our record of the request, which the state machine handles (a
   * report naming an OrigClOrdID of ours is learnt, and our request adopts it when it is recorded).
   */
  private async sendAmend(
    rec: OrderRecord,
    kind: "cancel" | "replace",
    clOrdId: string,
    claim: IdempotencyRecord | undefined,
    terms?: { quantity: string; price?: string },
  ): Promise<OrderRecord> {
    const now = this.now();
    const msg = kind === "cancel" ? cancelRequest(rec, clOrdId, now) : replaceRequest(rec, clOrdId, terms!, now);
    const amend: UnconfirmedAmend = {
      kind,
      origClOrdId: rec.order.clOrdID,
      ...(terms !== undefined && { terms }),
      ...msg,
    };
    await this.sendAmendMessage(rec, clOrdId, amend, claim);
    return this.recordAmend(rec, clOrdId, amend);
  }

  /**
   * A retry of a cancel/replace the connector did not confirm: the same message under the same ClOrdID. `replayed`
   * when the connector had it (it answers the stored MsgSeqNum); otherwise it was sent now.
   */
  private async resendAmend(
    rec: OrderRecord,
    claim: IdempotencyRecord & { unconfirmed: UnconfirmedAmend },
  ): Promise<Answer> {
    const { unconfirmed, ...settled } = claim;
    const duplicate = await this.sendAmendMessage(rec, claim.clOrdId, unconfirmed, claim);
    this.log.info(
      { orderId: rec.order.id, clOrdId: claim.clOrdId, kind: unconfirmed.kind, duplicate },
      "unconfirmed cancel/replace settled by its retry",
    );
    const out = await this.recordAmend(rec, claim.clOrdId, unconfirmed);
    await this.repo.noteIdempotency(settled);
    return { order: orderProto(out), replayed: duplicate };
  }

  /**
   * The connector send of a cancel/replace. When its outcome is unknown — the connector could not confirm it stored
   * the message (PERSIST_FAILED) or did not answer — the message may still reach the venue (as the resend it asks
   * for), so the request's key stays claimed with the message noted on it: a retry sends the identical message under
   * the same connector key, which answers the stored MsgSeqNum or sends it, never a second request. Whether the
   * connector answered a copy it had (`duplicate`).
   */
  private async sendAmendMessage(
    rec: OrderRecord,
    clOrdId: string,
    amend: UnconfirmedAmend,
    claim: IdempotencyRecord | undefined,
  ): Promise<boolean> {
    let unknown: UnknownOutcome;
    try {
      const res = await inSpan("order-entry.send", { "fixmesh.cl_ord_id": clOrdId }, () =>
        this.deps.sender.send({
          sessionId: rec.order.session,
          msgType: amend.msgType,
          fields: amend.fields,
          idempotencyKey: clOrdId,
          ...traceField(),
        }),
      );
      return res.duplicate;
    } catch (err) {
      const f = sendFailure(err, amend.kind);
      if ("refused" in f) throw f.refused;
      unknown = f.unknown;
    }
    this.log.warn(
      { orderId: rec.order.id, clOrdId, kind: amend.kind, reason: unknown.reason },
      "cancel/replace not confirmed by the connector",
    );
    if (claim !== undefined && (await this.noteUnconfirmed(claim, amend))) {
      throw new UnconfirmedSendError(
        unknown.reason,
        `${unknown.detail}; it may still reach the venue: retry with the same idempotency key, which sends it once at most`,
        unknown.cause,
      );
    }
    throw new RpcError(
      Code.UNAVAILABLE,
      unknown.reason,
      `${unknown.detail}; it may still reach the venue: the order's updates will tell — ask again only once they show it did not`,
      { cause: unknown.cause },
    );
  }

  /**
   * Notes an unconfirmed cancel/replace on its key; false when the store would not take it. The key is then
   * released (if the store lets it) rather than kept answering "done" for a request that may not have gone: a retry
   * asks again under a new ClOrdID.
   */
  private async noteUnconfirmed(claim: IdempotencyRecord, amend: UnconfirmedAmend): Promise<boolean> {
    try {
      await this.repo.noteIdempotency({ ...claim, unconfirmed: amend });
      return true;
    } catch (err) {
      this.log.error(
        { err, orderId: claim.orderId, clOrdId: claim.clOrdId },
        "cannot note an unconfirmed cancel/replace on its idempotency key",
      );
      return false;
    }
  }

  /** Records a cancel/replace the connector took on the order (its request, pending the venue's answer). */
  private async recordAmend(rec: OrderRecord, clOrdId: string, amend: UnconfirmedAmend): Promise<OrderRecord> {
    const input =
      amend.kind === "cancel"
        ? {
            type: "cancelRequest" as const,
            orderId: rec.order.id,
            clOrdID: clOrdId,
            origClOrdID: amend.origClOrdId,
            replay: true,
          }
        : {
            type: "replaceRequest" as const,
            orderId: rec.order.id,
            clOrdID: clOrdId,
            origClOrdID: amend.origClOrdId,
            replay: true,
            orderQty: amend.terms!.quantity,
            ...(amend.terms!.price !== undefined && { price: amend.terms!.price }),
          };
    const u = await this.repo.update(rec.order.id, { type: "request", input }, this.now());
    this.committed(u.entry, u.released ?? []);
    if (u.outcome === "rejected")
      this.log.warn(
        { orderId: rec.order.id, clOrdId, rejection: u.apply?.rejection },
        "request sent but refused by the state machine",
      );
    return u.record ?? rec;
  }

  // --- mass cancel, get, list -----------------------------------------------------------------------------------

  async massCancel(
    req: Pick<MassCancelRequest, "sessionId" | "account" | "symbol" | "reason">,
    /** Who asked (the caller's principal, or the kill switch's operator). */
    principal = "unknown",
  ): Promise<{ orderIds: string[]; failures: Array<{ orderId: string; error: RpcError }> }> {
    if (!req.sessionId && !req.account && !req.symbol)
      throw RpcError.invalidField("session_id", "at least one of session_id, account, symbol is required");
    if (req.sessionId) knownSession("session_id", req.sessionId, this.deps.sessions);
    const filter = {
      openOnly: true,
      ...(req.sessionId && { sessionId: req.sessionId }),
      ...(req.account && { account: req.account }),
      ...(req.symbol && { symbol: req.symbol }),
    };
    const targets: OrderRecord[] = [];
    let token: string | undefined;
    do {
      const page = await this.repo.list(filter, 500, token);
      targets.push(...page.records);
      token = page.next;
    } while (token);
    this.log.info({ filter, reason: req.reason, orders: targets.length }, "mass cancel");
    const orderIds: string[] = [];
    const failures: Array<{ orderId: string; error: RpcError }> = [];
    await Promise.all(
      targets.map(async (t) => {
        try {
          const rec = (await this.repo.get(t.order.id)) ?? t;
          if (rec.order.pendingCancel !== undefined) {
            orderIds.push(rec.order.id); // a cancel is already on its way
            return;
          }
          this.assertAmendable(rec);
          await this.sendAmend(rec, "cancel", await this.repo.nextClOrdId(rec.order.session, this.now()), undefined);
          orderIds.push(rec.order.id);
        } catch (err) {
          failures.push({ orderId: t.order.id, error: RpcError.from(err) });
        }
      }),
    );
    this.deps.audit?.({
      action: "MassCancel",
      principal,
      resource: Object.entries(filter)
        .filter(([k]) => k !== "openOnly")
        .map(([k, v]) => `${k}=${v}`)
        .join(" "),
      reason: req.reason,
      outcome: failures.length === 0 ? "ok" : "failed",
      detail: `${orderIds.length} cancelled, ${failures.length} failed`,
    });
    return { orderIds, failures };
  }

  async getOrder(req: GetOrderRequest): Promise<OrderInit> {
    const ref = "orderId" in req && req.orderId ? { orderId: req.orderId } : undefined;
    if (ref) return orderProto(await this.find(ref));
    if (!req.clOrdId || !req.sessionId)
      throw RpcError.invalidField("order_id", "required (or session_id with cl_ord_id)");
    return orderProto(await this.find({ sessionId: req.sessionId, clOrdId: req.clOrdId }));
  }

  async listOrders(req: ListOrdersRequest): Promise<{ orders: OrderInit[]; nextPageToken: string }> {
    if (req.pageSize > 1000) throw RpcError.invalidField("page_size", "at most 1000");
    if (req.pageToken && !/^\d+$/.test(req.pageToken))
      throw RpcError.invalidField("page_token", "not a token this server gave");
    const page = await this.repo.list(
      {
        ...(req.sessionId && { sessionId: req.sessionId }),
        ...(req.account && { account: req.account }),
        ...(req.symbol && { symbol: req.symbol }),
        openOnly: req.openOnly,
      },
      req.pageSize || 100,
      req.pageToken || undefined,
    );
    return { orders: page.records.map(orderProto), nextPageToken: page.next ?? "" };
  }
}

/**
 * A cancel/replace whose send the connector could not confirm: UNAVAILABLE to the caller, and its idempotency key
 * stays claimed (with the message noted) so that a retry cannot make a second request.
 */
class UnconfirmedSendError extends RpcError {
  constructor(reason: string, message: string, cause: unknown) {
    super(Code.UNAVAILABLE, reason, message, { cause });
  }
}

/** A connector send whose outcome is not known: it may have been stored, and then reaches the venue. */
interface UnknownOutcome {
  reason: "SHUTTING_DOWN" | "PERSIST_FAILED";
  detail: string;
  cause: unknown;
}

/**
 * What a failed connector send means: outcome unknown — no answer, or PERSIST_FAILED (the connector's store did not
 * confirm a write that may have landed) — or a refusal, as order-entry reports it (`fromConnector`). `what` names
 * the message ("order", "cancel", "replace").
 */
function sendFailure(err: unknown, what: string): { unknown: UnknownOutcome } | { refused: RpcError } {
  if (err instanceof SendOutcomeUnknownError) {
    return { unknown: { reason: "SHUTTING_DOWN", detail: `connector did not answer (${err.message})`, cause: err } };
  }
  const e = fromConnector(RpcError.from(err));
  if (e.reason !== "PERSIST_FAILED") return { refused: e };
  return {
    unknown: {
      reason: "PERSIST_FAILED",
      detail: `the connector could not confirm it stored the ${what} (${e.message})`,
      cause: e,
    },
  };
}

function statusName(rec: OrderRecord): string {
  return snapshotOf(rec).status ?? String(statusOf(rec));
}
