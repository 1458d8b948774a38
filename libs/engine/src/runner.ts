import type { Socket } from "node:net";
import { type FieldList, type FixMessage, Framer, type FramerOptions, Tag } from "@fixmesh/fix";
import {
  type CommitBatch,
  createSession,
  type IdempotencyRecord,
  type MessageStore,
  nextDeadline,
  type OutboxEntry,
  type OutboxEvent,
  type SessionAction,
  type SessionEvent,
  type SessionNotice,
  SessionSchedule,
  type SessionSchedulePort,
  type SessionSettings,
  type SessionState,
  StaleEpochError,
  type StoredMessage,
  step,
  type Validator,
} from "@fixmesh/session";
import { messageEvent, stateEvent } from "./events/fix-events.js";

/** What the application sees of a session. */
export interface SessionHandle {
  readonly id: string;
  readonly state: Readonly<SessionState>;
  /** Sends an application message; resolves with its MsgSeqNum once it is persisted (before it is on the wire). */
  send(msgType: string, body: FieldList | Buffer | null, header?: FieldList, trace?: SendTrace): Promise<number>;
}

/**
 * The trace context of one sent message. The engine knows nothing of OpenTelemetry: it carries the W3C
 * `traceparent` string into the message's outbound event (NATS headers) and says when the bytes hit the wire.
 */
export interface SendTrace {
  /** `00-<trace id>-<span id>-<flags>`: the header of the message's outbound event. */
  readonly traceparent: string;
  /** Called once the message's bytes were handed to the socket (after the store has them), with its MsgSeqNum. */
  onWire?(seq: number): void;
}

/**
 * Trace context for inbound messages (set with `SessionRunner.setTracing`): `inbound` is asked, for each message
 * received and in sequence, before the application sees it, for the `traceparent` of its event — e.g. the trace
 * of the order an ExecutionReport answers. Must be cheap: it runs for every inbound message.
 */
export interface SessionTracing {
  inbound(msg: FixMessage): string | undefined;
}

export interface SessionApplication {
  /** An application message, in sequence. Answer synchronously to keep QuickFIX's reply order. */
  onMessage?(msg: FixMessage, session: SessionHandle, possDup: boolean): void;
  /** Session-level happenings (logon, logout, gaps, rejects, health changes). */
  onNotice?(notice: SessionNotice, session: SessionHandle): void;
}

export interface RunnerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Opens the transport for an initiator; resolves with a connected socket. */
export type Connector = () => Promise<Socket>;

export interface SessionRunnerOptions {
  settings: SessionSettings;
  store: MessageStore;
  app?: SessionApplication;
  validate?: Validator | null;
  schedule?: SessionSchedulePort | null;
  framer?: FramerOptions;
  /**
   * Record an event for every message in and out and every state change in the store's outbox, in the same
   * commit as the messages (ARCHITECTURE.md "Events"); an `OutboxPublisher` drains it to the bus.
   */
  events?: boolean;
  /** First subject token of the events (default `fix`). */
  eventSubjectPrefix?: string;
  /** Initiators: how to open a connection (called when the core asks to connect). */
  connect?: Connector;
  logger?: RunnerLogger;
  /** The clock; tests may pass their own. */
  now?: () => number;
}

/** One store commit: how long it took and what it carried. */
export interface CommitInfo {
  ms: number;
  messages: number;
  events: number;
  /**
   * The events as the store now holds them in its outbox, with their positions, when the store says (memory,
   * Redis): what the outbox publisher can publish without reading them back. Not to be changed.
   */
  entries?: readonly OutboxEntry[];
}

/** What a framer produced from the first bytes of an accepted connection. */
export type FramedEvent = { type: "message"; msg: FixMessage } | { type: "garbled"; reason: string };

/** A commit queued behind the one in flight; later flushes join it until it starts. */
interface OpenCommit {
  batch: PendingBatch;
  nextSenderSeq: number;
  nextTargetSeq: number;
  socket: Socket | null;
}

interface PendingBatch {
  outbound: StoredMessage[];
  events: OutboxEvent[];
  wire: Buffer[];
  refs: Array<{ ref: SendRef; seq: number }>;
}

interface SendRef {
  resolve(seq: number): void;
  reject(err: Error): void;
  trace: SendTrace | undefined;
  /** A client idempotency key, stored in the commit that persists the message (see CommitBatch.idempotency). */
  idempotency?: { key: string; fingerprint: string };
}

interface ResetRef {
  resolve(cycle: string): void;
  reject(err: Error): void;
}

/** A send the session refused (not logged on, SAFE, …). */
export class SendRefusedError extends Error {
  override readonly name = "SendRefusedError";
}

/** The store could not persist a batch: nothing of it was sent. */
export class PersistFailedError extends Error {
  override readonly name = "PersistFailedError";
}

/** The runner was aborted (`abort`, e.g. its process lost leadership) before the message was persisted. */
export class SessionAbortedError extends Error {
  override readonly name = "SessionAbortedError";
}

/**
 * Runs one session: feeds the core its events (bytes framed into messages, timers, application sends) and
 * carries out its actions. Persist before send: every batch of outbound messages produced in one turn of the
 * event loop is committed to the store in one call, and only then written to the socket in one write.
 */
export class SessionRunner implements SessionHandle {
  readonly id: string;
  readonly state: SessionState;
  private readonly store: MessageStore;
  private readonly app: SessionApplication;
  private framer: Framer;
  private readonly framerOptions: FramerOptions | undefined;
  private readonly log: RunnerLogger | undefined;
  private readonly now: () => number;
  private readonly connectFn: Connector | undefined;
  private socket: Socket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Number.POSITIVE_INFINITY;
  private pending: PendingBatch = { outbound: [], events: [], wire: [], refs: [] };
  /** The store's current cycle (event ids carry it). */
  private cycle: string;
  private readonly events: boolean;
  private readonly eventPrefix: string;
  private readonly commitListeners = new Set<(c: CommitInfo) => void>();
  private flushQueued = false;
  private io: Promise<void> = Promise.resolve();
  private openCommit: OpenCommit | null = null;
  private committedTarget = 0;
  /** The SAFE reason the store holds (as far as this runner has asked it to). */
  private storedSafe: string | null = null;
  private readonly inbox: SessionEvent[] = [];
  private draining = false;
  private closed = false;
  /** Set by `abort`: nothing more is committed or written, ever. */
  private aborted = false;
  /** Set when a higher epoch fenced the store: this runner must never send again. */
  fenced: StaleEpochError | null = null;
  private readonly listeners = new Set<(n: SessionNotice) => void>();
  private readonly messageListeners = new Set<(msg: FixMessage, possDup: boolean) => void>();
  private tracing: SessionTracing | null = null;
  /** A PasswordTag other than 554 is masked in events too (554 and 925 always are). */
  private readonly secretTags: readonly number[];

  private constructor(opts: SessionRunnerOptions, state: SessionState, cycle: string) {
    this.cycle = cycle;
    this.events = opts.events === true;
    this.eventPrefix = opts.eventSubjectPrefix ?? "fix";
    this.state = state;
    this.id = state.id;
    this.store = opts.store;
    this.app = opts.app ?? {};
    this.framerOptions = opts.framer;
    this.framer = new Framer(opts.framer);
    this.log = opts.logger;
    this.now = opts.now ?? Date.now;
    this.connectFn = opts.connect;
    this.committedTarget = state.nextTargetSeq;
    this.storedSafe = state.safeReason;
    this.secretTags = state.settings.PasswordTag === Tag.Password ? [] : [state.settings.PasswordTag];
  }

  /** Opens the store and builds the session. Initiators start connecting at once. */
  static async start(opts: SessionRunnerOptions): Promise<SessionRunner> {
    const now = (opts.now ?? Date.now)();
    const stored = await opts.store.open(now);
    const schedule = opts.schedule === undefined ? scheduleOf(opts.settings) : opts.schedule;
    const st = createSession(opts.settings, stored, now, { validate: opts.validate, schedule });
    const r = new SessionRunner(opts, st, stored.cycle);
    r.dispatch({ type: "timer" });
    return r;
  }

  /** Notices (health, logon, logout, gaps…) as they happen. */
  onNotice(fn: (n: SessionNotice) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Inbound application messages, in sequence, after the application has seen each. Read the message inside
   * the call: its field index lives in a shared parser buffer (`raw` itself may be kept).
   */
  onMessage(fn: (msg: FixMessage, possDup: boolean) => void): () => void {
    this.messageListeners.add(fn);
    return () => this.messageListeners.delete(fn);
  }

  /** Sets (or with null, removes) the source of trace context for inbound messages' events. */
  setTracing(tracing: SessionTracing | null): void {
    this.tracing = tracing;
  }

  /** Called after every store commit (to wake the outbox publisher, and for the store-latency metric). */
  onCommit(fn: (c: CommitInfo) => void): () => void {
    this.commitListeners.add(fn);
    return () => this.commitListeners.delete(fn);
  }

  /** The store, for the outbox publisher and operators. */
  get messageStore(): MessageStore {
    return this.store;
  }

  get connected(): boolean {
    return this.socket !== null;
  }

  send(
    msgType: string,
    body: FieldList | Buffer | null,
    header?: FieldList,
    trace?: SendTrace,
    idempotency?: { key: string; fingerprint: string },
  ): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      if (this.fenced) {
        reject(this.fenced);
        return;
      }
      if (this.aborted) {
        reject(new SessionAbortedError(`session ${this.id} is aborted`));
        return;
      }
      const ref: SendRef = { resolve, reject, trace };
      if (idempotency !== undefined) ref.idempotency = idempotency;
      this.dispatch({ type: "send", msgType, body, header, ref });
    });
  }

  /** Operator actions. */
  logout(reason?: string): void {
    this.dispatch({ type: "logout", reason });
  }
  logon(): void {
    this.dispatch({ type: "logon" });
  }
  setSequences(nextSenderSeq: number | undefined, nextTargetSeq: number | undefined, reason: string): void {
    this.dispatch({ type: "setSequences", nextSenderSeq, nextTargetSeq, reason });
  }
  /**
   * Operator reset: a new store cycle with these sequence numbers (1 when not given). Resolves with the new cycle
   * id once the store has it; rejects when the store refused it (`StaleEpochError`: a newer leader owns it).
   */
  resetSequences(next: { nextSenderSeq?: number; nextTargetSeq?: number }, reason: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      if (this.fenced) {
        reject(this.fenced);
        return;
      }
      if (this.closed) {
        reject(new SessionAbortedError(`session ${this.id} is stopped`));
        return;
      }
      const ref: ResetRef = { resolve, reject };
      this.dispatch({ type: "resetSequences", ...next, reason, ref });
    });
  }
  clearSafe(reason: string): void {
    this.dispatch({ type: "clearSafe", reason });
  }

  /**
   * Hands an accepted socket to this (acceptor) session, with the framer that read its first bytes and what it
   * framed so far (the Logon that identified the session, and anything after it). Returns false when the
   * session already has a connection (duplicate identity: the first connection stays up).
   *
   * `refuseLogon`: the acceptor refused the Logon (credentials, address); the session answers it with a Logout
   * carrying this text and disconnects, and nothing else the connection sent is looked at.
   */
  attach(socket: Socket, framer: Framer, framed: FramedEvent[], opts: { refuseLogon?: string } = {}): boolean {
    if (this.socket !== null || this.closed || this.fenced) return false;
    this.framer = framer;
    this.bindSocket(socket, false);
    this.dispatch({ type: "connected" });
    const first = framed[0];
    if (opts.refuseLogon !== undefined && first?.type === "message") {
      this.dispatch({ type: "refuseLogon", msg: first.msg, text: opts.refuseLogon });
      return true;
    }
    for (const ev of framed) {
      if (this.socket !== socket) break;
      this.dispatch(ev);
    }
    return true;
  }

  /** Stops the session: logs out when logged on (waiting up to `graceMs`), closes the socket and the store. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.closed) return;
    if (this.socket !== null && this.state.receivedLogon && !this.fenced) {
      const done = new Promise<void>((resolve) => {
        const s = this.socket;
        if (s === null) resolve();
        else s.once("close", () => resolve());
      });
      this.dispatch({ type: "logout", reason: "" });
      await Promise.race([done, new Promise((r) => setTimeout(r, graceMs).unref())]);
    }
    this.closed = true;
    this.dispatch({ type: "logout" });
    this.socket?.destroy();
    this.socket = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.io.catch(() => undefined);
    await this.store.close();
  }

  /**
   * Drops the socket at once, without a Logout, and stops the runner for good: nothing more is committed or
   * written (a deposed leader must not send another byte). Sends not yet persisted fail with
   * `SessionAbortedError`; a commit already on its way to the store may still complete, and its sends then resolve
   * (the messages are persisted: the next leader resends them when the counterparty asks), but their bytes are
   * not written. Resolves once that commit has settled; the store is left open (it is not this runner's to close).
   */
  async abort(reason: string): Promise<void> {
    if (this.aborted) return this.io.catch(() => undefined);
    this.aborted = true;
    this.closed = true;
    const s = this.socket;
    this.socket = null;
    s?.destroy();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const err = new SessionAbortedError(`session ${this.id} aborted: ${reason}`);
    for (const r of this.pending.refs) r.ref.reject(err);
    this.pending = { outbound: [], events: [], wire: [], refs: [] };
    this.log?.warn({ session: this.id, reason }, "aborted: socket dropped without a Logout");
    // The state shows the link gone (DISCONNECTED); whatever the core asks in answer is dropped below.
    if (s !== null) this.dispatch({ type: "disconnected", reason });
    await this.io.catch(() => undefined);
  }

  /** True once `abort` was called. */
  get isAborted(): boolean {
    return this.aborted;
  }

  // -------------------------------------------------------------------------------------------------------------

  /**
   * Feeds one event to the core and carries out what it asks. Events raised while actions are being carried
   * out (an application sending from a callback, a notice handler) wait until the current list is done, so
   * persisted messages always reach the store in MsgSeqNum order.
   */
  dispatch(ev: SessionEvent): void {
    if (this.closed && ev.type !== "logout" && ev.type !== "disconnected") {
      if (ev.type === "send") (ev.ref as SendRef).reject(new SendRefusedError(`session ${this.id} is stopped`));
      return;
    }
    if (this.events && ev.type === "message") {
      this.pending.events.push(
        messageEvent(
          this.id,
          this.cycle,
          "in",
          ev.msg,
          this.now(),
          this.eventPrefix,
          this.secretTags,
          this.tracing?.inbound(ev.msg),
        ),
      );
    }
    this.inbox.push(ev);
    if (this.draining) return;
    this.draining = true;
    let now = this.now();
    try {
      for (let e = this.inbox.shift(); e !== undefined; e = this.inbox.shift()) {
        now = this.now();
        const { actions } = step(this.state, e, now);
        for (const a of actions) this.execute(a, now);
      }
    } finally {
      this.draining = false;
    }
    // The inbound checkpoint: messages received in this turn advance the expected number in the store with the
    // next commit, even when nothing is sent (one commit per event-loop turn, not per message).
    if (this.state.nextTargetSeq !== this.committedTarget && !this.state.storeResetting) this.queueFlush();
    if (this.state.safeReason !== this.storedSafe && !this.aborted) this.persistSafe();
    this.armTimer(now);
  }

  private execute(a: SessionAction, now: number): void {
    switch (a.type) {
      case "send":
        if (a.persist) {
          const stored = { seq: a.seq, msgType: a.msgType, bytes: a.stored ?? a.bytes };
          this.pending.outbound.push(stored);
          if (this.events) {
            const trace = (a.ref as SendRef | undefined)?.trace;
            this.pending.events.push(
              messageEvent(
                this.id,
                this.cycle,
                "out",
                stored,
                now,
                this.eventPrefix,
                this.secretTags,
                trace?.traceparent,
              ),
            );
          }
        }
        this.pending.wire.push(a.bytes);
        if (a.ref !== undefined) this.pending.refs.push({ ref: a.ref as SendRef, seq: a.seq });
        this.queueFlush();
        return;
      case "deliver":
        try {
          this.app.onMessage?.(a.msg, this, a.possDup);
        } catch (err) {
          this.log?.error({ session: this.id, err, seq: a.msg.get(34) }, "application failed on a message");
        }
        for (const l of this.messageListeners) {
          try {
            l(a.msg, a.possDup);
          } catch (err) {
            this.log?.error({ session: this.id, err, seq: a.msg.get(34) }, "message listener failed");
          }
        }
        // Queued behind whatever the application sent from its callback.
        this.dispatch({ type: "resume" });
        return;
      case "sendRefused":
        (a.ref as SendRef | undefined)?.reject(new SendRefusedError(a.reason));
        return;
      case "disconnect": {
        this.flushNow();
        const s = this.socket;
        this.socket = null;
        this.framer.reset();
        this.log?.info({ session: this.id, reason: a.reason }, "disconnecting");
        this.chain(async () => {
          if (s !== null) await endSocket(s);
        });
        return;
      }
      case "connect":
        this.openConnection();
        return;
      case "loadResend":
        this.flushNow();
        this.chain(async () => {
          const messages = await this.store.getRange(a.begin, a.end);
          // Yield to the event loop between chunks so heartbeats and live traffic keep flowing during a replay.
          await new Promise<void>((r) => setImmediate(r));
          this.dispatch({ type: "resendData", begin: a.begin, end: a.end, messages });
        });
        return;
      case "resetStore": {
        const ref = a.ref as ResetRef | undefined;
        this.flushNow();
        if (this.aborted) {
          ref?.reject(new SessionAbortedError(`session ${this.id} is aborted`));
          return;
        }
        this.chain(async () => {
          let fresh: { cycle: string };
          try {
            fresh = await this.store.reset(now, { nextSenderSeq: a.nextSenderSeq, nextTargetSeq: a.nextTargetSeq });
          } catch (err) {
            ref?.reject(err instanceof Error ? err : new PersistFailedError(String(err)));
            // A newer epoch owns the session: the same rule as a refused commit (no byte more, socket dropped).
            if (err instanceof StaleEpochError)
              this.onStoreFailure(err, { outbound: [], events: [], wire: [], refs: [] });
            throw err;
          }
          this.cycle = fresh.cycle;
          this.committedTarget = a.nextTargetSeq;
          this.log?.info(
            { session: this.id, reason: a.reason, cycle: fresh.cycle },
            "sequence numbers reset; new cycle",
          );
          this.dispatch({ type: "storeReset" });
          ref?.resolve(fresh.cycle);
        });
        // An abort skips the task above: the caller still gets an answer (a no-op once the task has settled it).
        if (ref !== undefined) {
          this.io = this.io.then(() => ref.reject(new SessionAbortedError(`session ${this.id} is aborted`)));
        }
        return;
      }
      case "setStoreSequences":
        this.flushNow();
        this.chain(async () => {
          await this.store.setSequences(a.nextSenderSeq, a.nextTargetSeq);
          this.committedTarget = a.nextTargetSeq;
        });
        return;
      case "notice":
        this.emit(a.notice);
        return;
    }
  }

  /**
   * SAFE entered or cleared: recorded in the store (after what was produced before it), so that a restart or the
   * next leader keeps the session SAFE until it is cleared.
   */
  private persistSafe(): void {
    const reason = this.state.safeReason;
    this.storedSafe = reason;
    this.flushNow();
    this.chain(async () => {
      try {
        await this.store.setSafe(reason);
      } catch (err) {
        if (err instanceof StaleEpochError) this.onStoreFailure(err, { outbound: [], events: [], wire: [], refs: [] });
        throw err;
      }
    });
  }

  private emit(n: SessionNotice): void {
    if (this.events) {
      this.pending.events.push(stateEvent(this.id, this.cycle, n, this.now(), this.eventPrefix));
      this.queueFlush();
    }
    if (n.kind === "warning" || n.kind === "garbled") this.log?.warn({ session: this.id, ...n }, n.kind);
    else this.log?.info({ session: this.id, ...n }, n.kind);
    try {
      this.app.onNotice?.(n, this);
    } catch (err) {
      this.log?.error({ session: this.id, err }, "application failed on a notice");
    }
    for (const l of this.listeners) l(n);
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      this.flushNow();
    });
  }

  /** Takes the pending batch now (so later actions stay behind it) and commits then writes it, in order. */
  private flushNow(): void {
    const st = this.state;
    if (this.aborted) {
      const err = new SessionAbortedError(`session ${this.id} is aborted`);
      for (const r of this.pending.refs) r.ref.reject(err);
      this.pending = { outbound: [], events: [], wire: [], refs: [] };
      return;
    }
    if (
      this.pending.wire.length === 0 &&
      this.pending.events.length === 0 &&
      st.nextTargetSeq === this.committedTarget
    ) {
      return;
    }
    const batch = this.pending;
    this.pending = { outbound: [], events: [], wire: [], refs: [] };
    const socket = this.socket;
    this.committedTarget = st.nextTargetSeq;
    // Group commit: while a commit is in flight, every batch flushed meanwhile joins the one commit queued behind
    // it (when nothing else was queued in between), so the store sees one call per round trip, not one per turn.
    const open = this.openCommit;
    if (open !== null && open.socket === socket) {
      open.batch.outbound.push(...batch.outbound);
      open.batch.events.push(...batch.events);
      open.batch.wire.push(...batch.wire);
      open.batch.refs.push(...batch.refs);
      open.nextSenderSeq = st.nextSenderSeq;
      open.nextTargetSeq = st.nextTargetSeq;
      return;
    }
    const commit: OpenCommit = { batch, nextSenderSeq: st.nextSenderSeq, nextTargetSeq: st.nextTargetSeq, socket };
    this.openCommit = commit;
    this.chain(async () => {
      if (this.openCommit === commit) this.openCommit = null;
      const { nextSenderSeq, nextTargetSeq } = commit;
      if (this.fenced) {
        // A batch queued behind the commit that was refused: refused too (its callers must not wait forever).
        for (const r of batch.refs) r.ref.reject(this.fenced);
        return;
      }
      if (this.aborted) {
        const err = new SessionAbortedError(`session ${this.id} is aborted`);
        for (const r of batch.refs) r.ref.reject(err);
        return;
      }
      try {
        if (batch.outbound.length > 0 || batch.events.length > 0 || !st.storeResetting) {
          const t0 = performance.now();
          const commitBatch: CommitBatch = {
            outbound: batch.outbound,
            nextSenderSeq,
            nextTargetSeq,
            events: batch.events,
          };
          const keys: IdempotencyRecord[] = [];
          for (const r of batch.refs) {
            const k = r.ref.idempotency;
            if (k !== undefined) keys.push({ key: k.key, fingerprint: k.fingerprint, seq: r.seq });
          }
          if (keys.length > 0) commitBatch.idempotency = keys;
          const entries = await this.store.commit(commitBatch);
          const info: CommitInfo = {
            ms: performance.now() - t0,
            messages: batch.outbound.length,
            events: batch.events.length,
          };
          if (entries) info.entries = entries;
          for (const l of this.commitListeners) l(info);
        }
      } catch (err) {
        this.onStoreFailure(err, batch);
        return;
      }
      // After an abort the socket is destroyed: a commit that was already on its way writes nothing.
      const written = batch.wire.length > 0 && socket !== null && !socket.destroyed && !this.aborted;
      if (written) socket.write(batch.wire.length === 1 ? batch.wire[0] : Buffer.concat(batch.wire));
      for (const r of batch.refs) {
        if (written && r.ref.trace?.onWire !== undefined) {
          try {
            r.ref.trace.onWire(r.seq);
          } catch (err) {
            this.log?.error({ session: this.id, err, seq: r.seq }, "send trace hook failed");
          }
        }
        r.ref.resolve(r.seq);
      }
    }, true);
  }

  private onStoreFailure(err: unknown, batch: PendingBatch): void {
    const fencedErr = err instanceof StaleEpochError ? err : null;
    if (fencedErr !== null) {
      // A newer leader owns this session: not one more byte from us, and drop the socket at once.
      this.fenced = fencedErr;
      this.log?.error({ session: this.id, err: fencedErr.message }, "fenced by a newer epoch; dropping the socket");
    } else {
      this.log?.error({ session: this.id, err }, "store write failed; nothing of the batch was sent");
    }
    const e =
      fencedErr ?? new PersistFailedError(`session ${this.id}: store write failed: ${String(err)}`, { cause: err });
    for (const r of batch.refs) r.ref.reject(e);
    const s = this.socket;
    if (s !== null) {
      s.destroy();
      this.socket = null;
      this.dispatch({ type: "disconnected", reason: e.message });
    }
    if (fencedErr !== null) {
      this.closed = true;
      if (this.timer) clearTimeout(this.timer);
    }
  }

  /** Runs `task` after every earlier one. After an abort only `always` tasks run (the commit, which checks itself). */
  private chain(task: () => Promise<void>, always = false): void {
    // Any other task closes the open commit: a later flush must not jump ahead of it.
    if (!always) this.openCommit = null;
    // After an abort no further store operation starts (a replay, a reset): the process no longer owns the session.
    this.io = this.io
      .then(() => (this.aborted && !always ? undefined : task()))
      .catch((err) => {
        this.log?.error({ session: this.id, err }, "session I/O failed");
      });
  }

  private armTimer(now: number): void {
    const at = nextDeadline(this.state, now);
    // A timer already armed for the same deadline or an earlier one stays: the deadline moves later with almost
    // every message (heartbeat due HeartBtInt after the last send), and re-arming per message cost a setTimeout
    // each. A timer that fires before anything is due is harmless: the core checks the clock, does nothing, and
    // the timer is armed again for the deadline then.
    if (this.timer !== null && this.timerAt <= at) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = at;
    if (!Number.isFinite(at) || this.closed) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.dispatch({ type: "timer" });
      },
      Math.max(0, at - now),
    );
  }

  private openConnection(): void {
    if (this.connectFn === undefined) {
      this.dispatch({ type: "connectFailed", reason: "no connector configured" });
      return;
    }
    this.connectFn().then(
      (socket) => {
        if (this.closed || this.fenced) {
          socket.destroy();
          return;
        }
        this.bindSocket(socket);
        this.dispatch({ type: "connected" });
      },
      (err: Error) => {
        this.log?.warn({ session: this.id, err: err.message }, "connection failed");
        this.dispatch({ type: "connectFailed", reason: err.message });
      },
    );
  }

  private bindSocket(socket: Socket, resetFramer = true): void {
    this.socket = socket;
    if (resetFramer) this.framer = new Framer(this.framerOptions);
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(socket, chunk));
    socket.on("error", (err) => this.log?.warn({ session: this.id, err: err.message }, "socket error"));
    socket.on("close", () => {
      if (this.socket === socket) {
        this.socket = null;
        this.dispatch({ type: "disconnected", reason: "connection closed by peer" });
      }
    });
  }

  private onData(socket: Socket, chunk: Buffer): void {
    if (this.socket !== socket) return;
    this.framer.push(
      chunk,
      (msg) => {
        if (this.socket === socket) this.dispatch({ type: "message", msg });
      },
      (g) => {
        if (this.socket === socket) this.dispatch({ type: "garbled", reason: g.reason });
      },
    );
  }
}

/** The schedule its settings describe (StartTime/EndTime/StartDay/EndDay/Weekdays/TimeZone/NonStopSession). */
export function scheduleOf(s: SessionSettings): SessionSchedule {
  return new SessionSchedule({
    startTime: s.StartTime,
    endTime: s.EndTime,
    startDay: s.StartDay,
    endDay: s.EndDay,
    weekdays: s.Weekdays,
    timeZone: s.TimeZone,
    nonStop: s.NonStopSession,
  });
}

/** Ends a socket after its queued writes have gone out, and destroys it if the peer does not close in time. */
function endSocket(s: Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    if (s.destroyed) {
      resolve();
      return;
    }
    const t = setTimeout(() => {
      s.destroy();
      resolve();
    }, 1000);
    t.unref();
    s.once("close", () => {
      clearTimeout(t);
      resolve();
    });
    s.end(() => {
      s.destroy();
    });
  });
}
