import { create } from "@bufbuild/protobuf";
import {
  ErrorReason,
  type GrpcServiceImplOf,
  RpcError,
  type SendRequest,
  type SendResponse,
  SendResponseSchema,
  type SendResult,
  SendResultSchema,
  type SendStreamRequest,
  type SendStreamResponse,
  type SessionService,
  StreamMessagesResponseSchema,
} from "@fixmesh/contracts";
import {
  PersistFailedError,
  type RunnerLogger,
  SendRefusedError,
  SessionAbortedError,
  type SessionRunner,
} from "@fixmesh/engine";
import { StaleEpochError, Status } from "@fixmesh/session";
import { status as Code, type ServerWritableStream } from "@grpc/grpc-js";
import type { SessionRegistry } from "../registry.js";
import { msgTypeProblem, toFieldList } from "./fields.js";
import { type DurableKeys, IdempotencyKeys, type IdempotencyOptions, sendFingerprint } from "./idempotency.js";
import { callTraceparent, SendTracing } from "./send-tracing.js";
import { type InboundEntry, SessionTap } from "./session-tap.js";
import { inTradingWindow, sessionView } from "./session-view.js";

export interface SessionServiceOptions {
  registry: SessionRegistry;
  logger?: RunnerLogger;
  idempotency?: IdempotencyOptions;
  /** Inbound application messages held per session for StreamMessages from a given point. Default 10,000. */
  historySize?: number;
  /** SendStream: requests of one stream awaiting their result before the server stops reading. Default 4,096. */
  maxInFlightPerStream?: number;
  /** StreamMessages: frames queued for one slow reader before it is cut off (SLOW_CONSUMER). Default 1,024. */
  maxQueuedFrames?: number;
  /** ClOrdIDs of traced orders remembered per session, so their reports continue the trace: at least this many of the most recent, at most twice as many. Default 32,768. */
  tracedOrders?: number;
  now?: () => number;
}

const MAX_KEY_LENGTH = 256;
/** Messages per StreamMessages frame when replaying history. */
const REPLAY_FRAME = 256;

type Impl = GrpcServiceImplOf<typeof SessionService>;

/** What Send needs of the call it serves (unary or stream): whether it is over already. */
interface CallState {
  readonly cancelled: boolean;
}

/** A stream the service must end when the server closes. */
type Closer = () => void;

/**
 * SessionService over a SessionRegistry: validates each request at the edge, maps it onto the session's
 * runner, and maps the engine's typed errors onto status codes with reasons (see proto/fixmesh/v1/errors.proto).
 */
export class SessionServiceHandlers {
  readonly impl: Impl;
  private readonly registry: SessionRegistry;
  private readonly log: RunnerLogger | undefined;
  private readonly keys: IdempotencyKeys;
  private readonly durableKeys: ((session: string) => DurableKeys | undefined) | undefined;
  /** Per runner (leadership term): its session's recorded keys loaded (`true`), or the load under way. */
  private readonly keysLoaded = new WeakMap<SessionRunner, Promise<void> | true>();
  private readonly taps = new Map<SessionRunner, SessionTap>();
  private readonly historySize: number;
  private readonly maxInFlight: number;
  private readonly maxQueuedFrames: number;
  private readonly now: () => number;
  private readonly streams = new Set<Closer>();
  private readonly tracing: SendTracing;
  private closing = false;

  constructor(opts: SessionServiceOptions) {
    this.registry = opts.registry;
    this.log = opts.logger;
    this.now = opts.now ?? Date.now;
    this.keys = new IdempotencyKeys({ now: this.now, ...opts.idempotency });
    this.durableKeys = opts.idempotency?.durable;
    this.historySize = opts.historySize ?? 10_000;
    this.maxInFlight = opts.maxInFlightPerStream ?? 4096;
    this.maxQueuedFrames = opts.maxQueuedFrames ?? 1024;
    this.tracing = new SendTracing(opts.tracedOrders);
    // Watch every session from the start, so StreamMessages can serve what arrived before its first client.
    for (const r of this.registry.list()) this.tapOf(r);
    this.impl = {
      listSessions: () => ({ sessions: this.registry.list().map((r) => this.view(r)) }),
      getSession: (req) => {
        const r = this.lookup(req.sessionId);
        return { session: this.view(r) };
      },
      send: (req, call) => this.send(req, -1, call, callTraceparent(req, call.metadata), "Send"),
      sendStream: (call) => this.sendStream(call),
      streamMessages: (call) => this.streamMessages(call),
      logout: (req, call) => {
        const r = this.lookup(req.sessionId);
        this.log?.warn({ session: r.id, reason: req.reason, peer: call.getPeer() }, "operator logout (gRPC)");
        r.logout(req.reason);
        return { session: this.view(r) };
      },
      logon: (req, call) => {
        const r = this.lookup(req.sessionId);
        this.log?.warn({ session: r.id, peer: call.getPeer() }, "operator logon (gRPC)");
        r.logon();
        return { session: this.view(r) };
      },
      resetSequence: async (req, call) => {
        const reason = req.reason.trim();
        if (reason === "") throw RpcError.invalidField("reason", "is required: say why the numbers change");
        if (req.nextSenderSeqNum === 0) throw RpcError.invalidField("next_sender_seq_num", "must be 1 or more");
        if (req.nextTargetSeqNum === 0) throw RpcError.invalidField("next_target_seq_num", "must be 1 or more");
        const r = this.lookup(req.sessionId);
        const now = this.now();
        if (!req.force && inTradingWindow(r.state, now)) {
          throw new RpcError(
            Code.FAILED_PRECONDITION,
            ErrorReason.INSIDE_TRADING_WINDOW,
            `session ${r.id} is inside its trading window; set force to reset anyway`,
            { metadata: { session_id: r.id } },
          );
        }
        // Neither number given: both back to 1; one given: the other stays as it is. Either way a new store cycle.
        const both = req.nextSenderSeqNum === undefined && req.nextTargetSeqNum === undefined;
        const sender = both ? 1 : (req.nextSenderSeqNum ?? r.state.nextSenderSeq);
        const target = both ? 1 : (req.nextTargetSeqNum ?? r.state.nextTargetSeq);
        // Audited: who, why, what, and whether the trading-window guard was overridden.
        this.log?.warn(
          {
            session: r.id,
            reason,
            force: req.force,
            nextSenderSeq: sender,
            nextTargetSeq: target,
            peer: call.getPeer(),
          },
          "operator sequence reset (gRPC)",
        );
        // A new cycle, so a lowered number never reuses an event id or a stored message of the previous one.
        // Answered once the store has it: a refusal (fenced, store down) is the caller's to see.
        const cycle = await r.resetSequences({ nextSenderSeq: sender, nextTargetSeq: target }, reason).catch((err) => {
          throw sendError(err, r);
        });
        this.log?.info({ session: r.id, cycle }, "sequence reset stored: new cycle");
        return { session: this.view(r) };
      },
    };
  }

  /** Ends every open stream (UNAVAILABLE/SHUTTING_DOWN) and stops watching the sessions. */
  close(): void {
    this.closing = true;
    for (const c of [...this.streams]) c();
    this.streams.clear();
    for (const t of this.taps.values()) t.close();
    this.taps.clear();
  }

  private tapOf(r: SessionRunner): SessionTap {
    let t = this.taps.get(r);
    if (t === undefined) {
      // A session under election gets a new runner per leadership term: the previous term's tap goes.
      for (const [old, tap] of this.taps) {
        if (old.id === r.id) {
          tap.close();
          this.taps.delete(old);
        }
      }
      t = new SessionTap(r, this.historySize, this.now);
      this.taps.set(r, t);
    }
    return t;
  }

  private view(r: SessionRunner, now = this.now()) {
    const l = this.registry.leadership?.(r.id);
    return sessionView(r, this.tapOf(r), now, l === undefined ? undefined : { leader: l.leader, epoch: l.epoch });
  }

  private lookup(id: string, field: string | (() => string) = "session_id"): SessionRunner {
    if (id === "") throw RpcError.invalidField(typeof field === "string" ? field : field(), "is required");
    const r = this.registry.get(id);
    const l = r === undefined ? this.registry.leadership?.(id) : undefined;
    if (l !== undefined && !l.leader) {
      throw new RpcError(
        Code.UNAVAILABLE,
        ErrorReason.NOT_LEADER,
        `session ${id} is on standby on this connector (${l.identity}); another replica leads it`,
        { metadata: { session_id: id, epoch: String(l.epoch), identity: l.identity } },
      );
    }
    if (r === undefined) {
      throw new RpcError(Code.NOT_FOUND, ErrorReason.SESSION_NOT_FOUND, `no session ${id} on this connector`, {
        metadata: { session_id: id },
      });
    }
    return r;
  }

  /**
   * One Send, unary (`item` -1) or the `item`-th of a stream frame (error field paths then start with
   * `sends[<item>].send.`; built only for an error, not for every request).
   * Everything up to `runner.send` runs synchronously, so a stream's messages get MsgSeqNums in request order.
   * `traceparent` (valid or ""): the caller's trace, continued by the send's spans and events (send-tracing.ts).
   */
  private async send(
    req: SendRequest,
    item: number,
    call: CallState,
    traceparent: string,
    method: "Send" | "SendStream",
  ): Promise<SendResponse> {
    const prefix = () => (item < 0 ? "" : `sends[${item}].send.`);
    if (req.sessionId === "") throw RpcError.invalidField(`${prefix()}session_id`, "is required");
    const problem = msgTypeProblem(req.msgType);
    if (problem !== null) throw RpcError.invalidField(`${prefix()}msg_type`, problem);
    const body = toFieldList(req.fields, item < 0 ? "fields" : () => `${prefix()}fields`, false);
    const header =
      req.headerFields.length > 0 ? toFieldList(req.headerFields, `${prefix()}header_fields`, true) : undefined;
    const key = req.idempotencyKey;
    if (key.length > MAX_KEY_LENGTH) {
      throw RpcError.invalidField(`${prefix()}idempotency_key`, `is longer than ${MAX_KEY_LENGTH} characters`);
    }
    let r = this.lookup(req.sessionId, item < 0 ? "session_id" : () => `${prefix()}session_id`);
    // With the Redis store, the keys earlier leaders recorded are loaded before this term's first Send (sends
    // that arrive meanwhile wait behind it in arrival order, so a stream's MsgSeqNums keep the request order).
    const ready = this.keysReady(r, key !== "");
    if (ready !== undefined) {
      await ready;
      r = this.lookup(req.sessionId, item < 0 ? "session_id" : () => `${prefix()}session_id`);
    }
    const traced = traceparent === "" ? undefined : this.tracing.start(r, traceparent, req, method);
    try {
      let fingerprint: string | undefined;
      if (key !== "") {
        // A retry is the same request whatever trace it comes from: the trace context is not compared.
        fingerprint = sendFingerprint(req);
        let first = this.keys.get(r.id, key);
        if (first?.uncertain === true) first = await this.settleUncertain(r, key);
        if (first !== undefined) {
          if (first.fingerprint !== fingerprint) {
            throw new RpcError(
              Code.INVALID_ARGUMENT,
              ErrorReason.IDEMPOTENCY_KEY_REUSED,
              `${prefix()}idempotency_key: already used with a different request`,
              { metadata: { session_id: r.id, field: `${prefix()}idempotency_key` } },
            );
          }
          const dup = create(SendResponseSchema, { msgSeqNum: await first.seq, duplicate: true });
          traced?.end(undefined, dup);
          return dup;
        }
      }
      this.checkCanSend(r, call);
      const durableKey = fingerprint === undefined ? undefined : { key, fingerprint };
      const seq = r.send(req.msgType, body, header, traced, durableKey).catch((err: unknown) => {
        throw sendError(err, r);
      });
      if (fingerprint !== undefined) this.keys.set(r.id, key, { fingerprint, seq });
      // Messages written as literals on this path (create() walks the schema for every one): all their fields set.
      const res: SendResponse = { $typeName: "fixmesh.v1.SendResponse", msgSeqNum: await seq, duplicate: false };
      traced?.end(undefined, res);
      return res;
    } catch (err) {
      traced?.end(err);
      throw err;
    }
  }

  /**
   * Undefined once the idempotency keys earlier leaders recorded for this runner's session are loaded (or the store
   * keeps none, or none is needed yet); else the load, started once per runner by its first keyed send — a new
   * leadership term gets a new runner.
   */
  private keysReady(r: SessionRunner, keyed: boolean): Promise<void> | undefined {
    const state = this.keysLoaded.get(r);
    if (state === true) return undefined;
    // A load under way: every send waits behind it, keyed or not, so that none overtakes an earlier one.
    if (state !== undefined) return state;
    // A send without a key needs no keys: the load starts with the term's first keyed send.
    if (!keyed) return undefined;
    const durable: DurableKeys | undefined = this.durableKeys?.(r.id);
    if (durable === undefined) {
      this.keysLoaded.set(r, true);
      return undefined;
    }
    const load = durable.read().then(
      (records) => {
        this.keysLoaded.set(r, true);
        const added = this.keys.load(r.id, records);
        this.log?.info({ session: r.id, keys: records.length, added }, "idempotency keys recorded in the store loaded");
      },
      (err: unknown) => {
        this.keysLoaded.delete(r);
        throw new RpcError(
          Code.UNAVAILABLE,
          ErrorReason.PERSIST_FAILED,
          `session ${r.id}: the idempotency keys in the store could not be read: ${String(err)}`,
          { metadata: { session_id: r.id }, cause: err },
        );
      },
    );
    this.keysLoaded.set(r, load);
    return load;
  }

  /**
   * A key whose first send failed with its outcome unknown (the store did not answer the commit): what the store
   * recorded decides — stored, the retry gets the first MsgSeqNum (the message goes out as the resend the
   * counterparty asks for); not stored, the retry sends. While the store cannot be read, the retry is refused as the
   * first send was.
   */
  private async settleUncertain(r: SessionRunner, key: string) {
    const durable = this.durableKeys?.(r.id);
    if (durable === undefined) return this.keys.settle(r.id, key, undefined);
    let records: Awaited<ReturnType<DurableKeys["read"]>>;
    try {
      records = await durable.read();
    } catch (err) {
      throw new RpcError(
        Code.UNAVAILABLE,
        ErrorReason.PERSIST_FAILED,
        `session ${r.id}: whether the first send with this idempotency key was stored is not known yet (its commit got no answer, and the store cannot be read: ${String(err)})`,
        { metadata: { session_id: r.id }, cause: err },
      );
    }
    this.log?.info(
      { session: r.id, key },
      "idempotency key of a send whose commit got no answer: settled from the store",
    );
    return this.keys.settle(
      r.id,
      key,
      records.find((x) => x.key === key),
    );
  }

  /** Refusals known before the message is handed over: cheaper and with a precise reason. */
  private checkCanSend(r: SessionRunner, call: CallState): void {
    if (call.cancelled) {
      // The deadline passed (or the client gave up) while the request waited: send nothing.
      throw new RpcError(Code.DEADLINE_EXCEEDED, ErrorReason.CALL_ENDED_BEFORE_SEND, "the call ended before the send", {
        metadata: { session_id: r.id },
      });
    }
    if (r.fenced !== null) throw sendError(r.fenced, r);
    if (r.isAborted) throw sendError(new SessionAbortedError(`session ${r.id}: this replica no longer leads it`), r);
    const st = r.state;
    if (st.safeReason !== null || st.status !== Status.LoggedOn) throw sendError(new SendRefusedError("refused"), r);
  }

  private sendStream(call: Parameters<Impl["sendStream"]>[0]): void {
    interface Slot {
      result: SendResult | undefined;
    }
    let queue: Slot[] = [];
    let head = 0;
    let inFlight = 0;
    let paused = false;
    let inputEnded = false;
    let done = false;
    let flushQueued = false;

    const finish = (err?: RpcError): void => {
      if (done) return;
      done = true;
      this.streams.delete(closer);
      if (err !== undefined) call.emit("error", err.toServiceError());
      else call.end();
    };
    const closer: Closer = () => {
      flush();
      finish(new RpcError(Code.UNAVAILABLE, ErrorReason.SHUTTING_DOWN, "the connector is shutting down"));
    };
    this.streams.add(closer);

    // Results go out in request order, all those ready in one turn of the event loop in one frame.
    const flush = (): void => {
      flushQueued = false;
      if (done) return;
      const results: SendResult[] = [];
      while (head < queue.length) {
        const r = queue[head].result;
        if (r === undefined) break;
        results.push(r);
        head++;
      }
      if (head > 1024 && head * 2 > queue.length) {
        queue = queue.slice(head);
        head = 0;
      }
      if (results.length > 0) {
        const frame: SendStreamResponse = { $typeName: "fixmesh.v1.SendStreamResponse", results };
        call.write(frame);
      }
      if (paused && inFlight <= this.maxInFlight / 2) {
        paused = false;
        call.resume();
      }
      if (inputEnded && head === queue.length) finish();
    };
    const settle = (slot: Slot, result: SendResult): void => {
      slot.result = result;
      inFlight--;
      if (!flushQueued) {
        flushQueued = true;
        setImmediate(flush);
      }
    };

    call.on("data", (frame: SendStreamRequest) => {
      if (done) return;
      for (let i = 0; i < frame.sends.length; i++) {
        const item = frame.sends[i];
        const correlationId = item.correlationId;
        const slot: Slot = { result: undefined };
        queue.push(slot);
        inFlight++;
        const sent =
          item.send === undefined
            ? Promise.reject(RpcError.invalidField(`sends[${i}].send`, "is required"))
            : this.send(item.send, i, call, callTraceparent(item.send, undefined), "SendStream");
        sent.then(
          (ok) =>
            settle(slot, { $typeName: "fixmesh.v1.SendResult", correlationId, result: { case: "ok", value: ok } }),
          (err: unknown) => {
            if (!(err instanceof RpcError)) this.log?.error({ err }, "SendStream: unexpected failure");
            settle(
              slot,
              create(SendResultSchema, {
                correlationId,
                result: { case: "error", value: RpcError.from(err).toStatus() },
              }),
            );
          },
        );
      }
      if (!paused && inFlight >= this.maxInFlight) {
        // Stop reading until results drain: HTTP/2 flow control then slows the client down.
        paused = true;
        call.pause();
      }
    });
    call.on("end", () => {
      inputEnded = true;
      if (!flushQueued) {
        flushQueued = true;
        setImmediate(flush);
      }
    });
    call.on("cancelled", () => {
      done = true;
      this.streams.delete(closer);
    });
    call.on("error", () => {
      done = true;
      this.streams.delete(closer);
    });
  }

  private streamMessages(call: ServerWritableStream<Parameters<Impl["streamMessages"]>[0]["request"], unknown>): void {
    const req = call.request;
    let tap: SessionTap;
    let held: InboundEntry[];
    const types = new Set<string>();
    try {
      req.msgTypes.forEach((t, i) => {
        const problem = msgTypeProblem(t);
        if (problem !== null) throw RpcError.invalidField(`msg_types[${i}]`, problem);
        types.add(t);
      });
      const r = this.lookup(req.sessionId);
      if (this.closing)
        throw new RpcError(Code.UNAVAILABLE, ErrorReason.SHUTTING_DOWN, "the connector is shutting down");
      tap = this.tapOf(r);
      const from = req.fromMsgSeqNum;
      const since = from === 0 ? [] : tap.since(from);
      if (!Array.isArray(since)) {
        throw new RpcError(
          Code.OUT_OF_RANGE,
          ErrorReason.HISTORY_UNAVAILABLE,
          `session ${r.id}: messages before MsgSeqNum ${since.oldest} are not held here`,
          { metadata: { session_id: r.id, oldest_msg_seq_num: String(since.oldest) } },
        );
      }
      held = since;
    } catch (err) {
      call.emit("error", RpcError.from(err).toServiceError());
      return;
    }

    const include = req.includeFields;
    // Each MsgSeqNum goes out once: a message can be both held and in the batch of the turn it arrived in.
    let cycle = tap.cycle;
    let next = req.fromMsgSeqNum;
    let done = false;
    let unlisten = (): void => undefined;
    const closer: Closer = () =>
      stop(new RpcError(Code.UNAVAILABLE, ErrorReason.SHUTTING_DOWN, "the connector is shutting down"));
    const stop = (err?: RpcError): void => {
      if (done) return;
      done = true;
      unlisten();
      this.streams.delete(closer);
      if (err !== undefined) call.emit("error", err.toServiceError());
    };
    const write = (entries: readonly InboundEntry[]): void => {
      if (done) return;
      const messages = [];
      for (const e of entries) {
        if (e.cycle !== cycle) {
          // The numbers were reset: the new cycle is all new.
          cycle = e.cycle;
          next = 0;
        }
        if (e.seq < next) continue;
        next = e.seq + 1;
        if (types.size === 0 || types.has(e.msgType)) messages.push(e.message(include));
      }
      if (messages.length === 0) return;
      call.write(create(StreamMessagesResponseSchema, { messages }));
      if (call.writableLength > this.maxQueuedFrames) {
        stop(
          new RpcError(Code.RESOURCE_EXHAUSTED, ErrorReason.SLOW_CONSUMER, "the reader fell too far behind", {
            metadata: { session_id: tap.runner.id },
          }),
        );
      }
    };
    this.streams.add(closer);
    call.on("cancelled", () => stop());
    call.on("error", () => stop());
    // History, then live, registered in the same turn: nothing missed.
    for (let i = 0; i < held.length && !done; i += REPLAY_FRAME) write(held.slice(i, i + REPLAY_FRAME));
    if (!done) unlisten = tap.listen(write);
  }
}

/** The engine's send failures as gRPC errors. Every one of them means nothing was sent. */
function sendError(err: unknown, r: SessionRunner): RpcError {
  const metadata = { session_id: r.id };
  if (err instanceof StaleEpochError) {
    // The error's message already names the session.
    return new RpcError(Code.UNAVAILABLE, ErrorReason.SESSION_FENCED, err.message, {
      metadata,
      cause: err,
    });
  }
  if (err instanceof SessionAbortedError) {
    // The replica lost the leadership before the message was persisted: nothing was sent; the leader can take it.
    return new RpcError(Code.UNAVAILABLE, ErrorReason.NOT_LEADER, err.message, { metadata, cause: err });
  }
  if (err instanceof PersistFailedError) {
    return new RpcError(Code.UNAVAILABLE, ErrorReason.PERSIST_FAILED, err.message, { metadata, cause: err });
  }
  if (err instanceof SendRefusedError) {
    const st = r.state;
    if (st.safeReason !== null) {
      return new RpcError(
        Code.FAILED_PRECONDITION,
        ErrorReason.SESSION_SAFE,
        `session ${r.id} is SAFE: ${st.safeReason}`,
        {
          metadata,
          cause: err,
        },
      );
    }
    if (st.status !== Status.LoggedOn) {
      return new RpcError(
        Code.FAILED_PRECONDITION,
        ErrorReason.SESSION_NOT_LOGGED_ON,
        `session ${r.id} is not logged on (${st.status})`,
        { metadata: { ...metadata, status: st.status }, cause: err },
      );
    }
    return new RpcError(Code.FAILED_PRECONDITION, ErrorReason.SEND_REFUSED, err.message, { metadata, cause: err });
  }
  if (err instanceof RpcError) return err;
  return new RpcError(Code.INTERNAL, ErrorReason.INTERNAL, `session ${r.id}: send failed: ${String(err)}`, {
    metadata,
    cause: err,
  });
}
