import { rm } from "node:fs/promises";
import { join } from "node:path";
import { type RunnerLogger, SendRefusedError, SessionRunner } from "@fixmesh/engine";
import {
  type FieldList,
  type FixMessage,
  formatUtcTimestamp,
  loadDictionary,
  MsgType,
  Parser,
  Tag,
  validate,
} from "@fixmesh/fix";
import {
  FileStore,
  Health,
  MemoryBacking,
  MemoryStore,
  type MessageStore,
  type SessionNotice,
  type SessionSettings,
  Status,
  sessionDirName,
} from "@fixmesh/session";
import { type SessionConfig, type StoreConfig, sessionSettings } from "./config.js";
import { tapOutbound } from "./wire-tap.js";

/** A trading session (orders in, reports out), or the drop copy (a copy of every ExecutionReport out). */
export type SessionRole = "trading" | "dropCopy";

/** One ExecutionReport sent again by a fault knob. */
export interface ResentExecution {
  execId: string;
  /** MsgSeqNum of the original. */
  origSeq: number;
  /** MsgSeqNum of the copy (a new one). */
  seq: number;
  /** OrigSendingTime(122) of a PossDup copy: the original's SendingTime(52). */
  origSendingTime?: string;
}

export interface VenueSessionOptions {
  config: SessionConfig;
  role: SessionRole;
  /** The store of sessions that do not name their own. */
  defaultStore: StoreConfig;
  logger?: RunnerLogger;
  /** An application message arrived, in sequence. */
  onMessage(session: VenueSession, msg: FixMessage, possDup: boolean): void;
  /** Hands a (new) runner to the acceptor. */
  register(runner: SessionRunner): void;
}

interface Outgoing {
  n: number;
  msgType: string;
  body: FieldList;
  header: FieldList | undefined;
  /** An ExecutionReport: remembered for the duplicate knobs once sent. */
  execution: boolean;
}

interface SentExecution {
  seq: number;
  body: FieldList;
  header: FieldList | undefined;
  sentAt: number;
}

/** ExecutionReports remembered per session for the duplicate knobs. */
const HISTORY = 10_000;

/**
 * One acceptor session of the venue: its runner and store, the latency queue of its requests, the outbox of its
 * reports, and the venue-side fault knobs. The runner is replaced (same settings, reset or wiped store) by
 * `resetOnNextLogon` and by the venue's `restartWithWipedStore`; this handle stays.
 */
export class VenueSession {
  readonly id: string;
  readonly role: SessionRole;
  readonly settings: SessionSettings;
  readonly beginString: string;
  /** The counterparty's CompID. */
  readonly targetCompId: string;
  /** Heartbeats kept off the wire by `skipHeartbeats`, in all. */
  heartbeatsSkipped = 0;

  private current!: SessionRunner;
  private store!: MessageStore;
  private readonly stores: StoreSlot;
  private readonly opts: VenueSessionOptions;
  private readonly validator: ((m: FixMessage) => ReturnType<typeof validate>) | null;
  private readonly outbox: Outgoing[] = [];
  private outN = 0;
  private readonly history: SentExecution[] = [];
  private skipHeartbeatsUntil = 0;
  private resetWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private lifecycle: Promise<void> = Promise.resolve();
  private closed = false;
  // The latency queue: requests run in arrival order, each no earlier than its due time.
  private readonly due: Array<{ at: number; fn: () => void }> = [];
  private dueTimer: NodeJS.Timeout | null = null;
  private lastDueAt = 0;

  private constructor(opts: VenueSessionOptions) {
    this.opts = opts;
    this.role = opts.role;
    this.settings = sessionSettings(opts.config);
    this.id = `${this.settings.BeginString}:${this.settings.SenderCompID}->${this.settings.TargetCompID}`;
    this.beginString = this.settings.BeginString;
    this.targetCompId = this.settings.TargetCompID;
    this.stores = storeSlot(
      opts.config.store ?? opts.defaultStore,
      `${this.settings.BeginString}-${this.settings.SenderCompID}-${this.settings.TargetCompID}`,
    );
    const s = this.settings;
    if (opts.config.UseDataDictionary) {
      const dict = loadDictionary(s.BeginString);
      const vo = {
        validateFieldsOutOfOrder: s.ValidateFieldsOutOfOrder,
        validateFieldsHaveValues: s.ValidateFieldsHaveValues,
        validateUserDefinedFields: s.ValidateUserDefinedFields,
        allowUnknownMsgFields: s.AllowUnknownMsgFields,
      };
      this.validator = (m) => validate(m, dict, vo);
    } else {
      this.validator = null;
    }
  }

  static async start(opts: VenueSessionOptions): Promise<VenueSession> {
    const s = new VenueSession(opts);
    await s.startRunner();
    return s;
  }

  /** The engine's runner of this session now (replaced by a restart). */
  get runner(): SessionRunner {
    return this.current;
  }

  get health(): Health {
    return this.current.state.health;
  }

  get connected(): boolean {
    return this.current.connected;
  }

  get loggedOn(): boolean {
    return this.current.state.status === Status.LoggedOn;
  }

  get nextSenderSeq(): number {
    return this.current.state.nextSenderSeq;
  }

  get nextTargetSeq(): number {
    return this.current.state.nextTargetSeq;
  }

  // --- latency --------------------------------------------------------------------------------------------------

  /** Runs `fn` after `delayMs`, and never before anything enqueued earlier (one session's answers keep order). */
  enqueue(delayMs: number, fn: () => void): void {
    if (this.closed) return;
    if (delayMs <= 0 && this.due.length === 0) {
      fn();
      return;
    }
    const at = Math.max(Date.now() + delayMs, this.lastDueAt);
    this.lastDueAt = at;
    this.due.push({ at, fn });
    this.armDue();
  }

  private armDue(): void {
    if (this.dueTimer !== null || this.due.length === 0 || this.closed) return;
    this.dueTimer = setTimeout(
      () => {
        this.dueTimer = null;
        const now = Date.now();
        while (this.due.length > 0 && this.due[0].at <= now) {
          const d = this.due.shift() as { fn: () => void };
          try {
            d.fn();
          } catch (err) {
            this.opts.logger?.error({ session: this.id, err }, "venue failed on a request");
          }
        }
        this.armDue();
      },
      Math.max(0, this.due[0].at - Date.now()),
    );
  }

  // --- sending --------------------------------------------------------------------------------------------------

  /**
   * Sends a report. While the session is not logged on (or SAFE), reports wait in an outbox and go out, in order
   * and with new sequence numbers, after the next Logon — as a venue keeps executions that happen while a client
   * is away; the engine itself refuses application sends when not logged on.
   */
  sendReport(msgType: string, body: FieldList, header?: FieldList): void {
    this.outbox.push({ n: ++this.outN, msgType, body, header, execution: msgType === MsgType.ExecutionReport });
    this.flush();
  }

  private canSend(): boolean {
    const st = this.current.state;
    return !this.closed && st.status === Status.LoggedOn && st.safeReason === null;
  }

  private flush(): void {
    if (this.outbox.length === 0 || !this.canSend()) return;
    const runner = this.current;
    for (const item of this.outbox.splice(0)) {
      const sentAt = Date.now();
      runner.send(item.msgType, item.body, item.header).then(
        (seq) => {
          if (item.execution) this.remember({ seq, body: item.body, header: item.header, sentAt });
        },
        (err: unknown) => {
          if (!(err instanceof SendRefusedError)) {
            this.opts.logger?.warn({ session: this.id, err: String(err) }, "report not sent; kept for the next logon");
          }
          // Back in the outbox at its place: reports of one session never overtake each other.
          let i = this.outbox.length;
          while (i > 0 && this.outbox[i - 1].n > item.n) i--;
          this.outbox.splice(i, 0, item);
        },
      );
    }
  }

  private remember(e: SentExecution): void {
    this.history.push(e);
    // In steps: one entry spliced off the front of a full history moved all the others, every execution.
    if (this.history.length > HISTORY + (HISTORY >> 3)) this.history.splice(0, this.history.length - HISTORY);
  }

  /** Reports waiting for the next logon. */
  get pendingReports(): number {
    return this.outbox.length;
  }

  // --- fault knobs ----------------------------------------------------------------------------------------------

  /**
   * For the next `intervals` × HeartBtInt, no Heartbeat (35=0) of this session reaches the wire — neither the
   * periodic ones nor the answers to TestRequest. The engine still numbers and stores them, so the counterparty
   * sees a gap at the next message that gets through and recovers it (the venue gap-fills admin messages);
   * two silent intervals are enough for it to send a TestRequest and then drop the link.
   */
  skipHeartbeats(intervals: number): { until: number } {
    const hb = this.current.state.heartBtIntMs || this.settings.HeartBtInt * 1000;
    this.skipHeartbeatsUntil = Date.now() + intervals * hb;
    return { until: this.skipHeartbeatsUntil };
  }

  /**
   * Makes the venue's next message skip `n` sequence numbers (a gap burst). Nothing is stored under the skipped
   * numbers, so when the counterparty asks for them the venue answers with one SequenceReset-GapFill over the
   * range. Returns the MsgSeqNum the next message will carry.
   */
  jumpOutboundSeq(n: number): number {
    const next = this.current.state.nextSenderSeq + n;
    this.current.setSequences(next, undefined, `venue-sim: outbound sequence jumped by ${n}`);
    return next;
  }

  /**
   * Sends the last `k` ExecutionReports of this session again as possible duplicates: the same body (same ExecID,
   * ClOrdID, quantities, TransactTime), header PossDupFlag(43)=Y and OrigSendingTime(122) = the original's
   * SendingTime(52) — and, with `possResend`, PossResend(97)=Y — under NEW sequence numbers from the session (as a
   * venue re-sends an application message outside a ResendRequest). The receiver must drop them by ExecID.
   */
  async resendExecutionsAsPossDup(k: number, opts: { possResend?: boolean } = {}): Promise<ResentExecution[]> {
    const picks = this.history.slice(-k);
    const times = await this.sendingTimes(picks);
    return Promise.all(
      picks.map((h, i) => {
        const extra: Array<[number, string]> = [
          [Tag.PossDupFlag, "Y"],
          [Tag.OrigSendingTime, times[i]],
        ];
        if (opts.possResend) extra.push([Tag.PossResend, "Y"]);
        return this.current
          .send(MsgType.ExecutionReport, h.body, mergeHeader(h.header, extra))
          .then((seq) => ({ execId: execIdOf(h.body), origSeq: h.seq, seq, origSendingTime: times[i] }));
      }),
    );
  }

  /**
   * Sends the last `k` ExecutionReports again exactly as they were (same body, same ExecID) under new sequence
   * numbers, without PossDupFlag: duplicates the receiver cannot tell from new reports except by ExecID.
   */
  duplicateExecutionsWithoutPossDup(k: number): Promise<ResentExecution[]> {
    const picks = this.history.slice(-k);
    return Promise.all(
      picks.map((h) =>
        this.current
          .send(MsgType.ExecutionReport, h.body, h.header)
          .then((seq) => ({ execId: execIdOf(h.body), origSeq: h.seq, seq })),
      ),
    );
  }

  /**
   * Arms a daily-reset mismatch: the next Logon is answered from a store reset to 1/1 (a new cycle), without
   * ResetSeqNumFlag(141)=Y — as a venue that reset for the day while the counterparty did not. The counterparty's
   * Logon then looks too high to the venue (it sends a ResendRequest) and the venue's Logon answer, MsgSeqNum 1,
   * too low to the counterparty. If the session is connected, the reset happens when the connection ends; the
   * promise resolves once the reset store is in place.
   */
  resetOnNextLogon(): Promise<void> {
    if (!this.current.connected) return this.restart("reset");
    return new Promise<void>((resolve, reject) => this.resetWaiters.push({ resolve, reject }));
  }

  /** Stops the runner, resets or deletes the store, and starts a new runner (registered with the acceptor). */
  restart(store: "reset" | "wipe"): Promise<void> {
    const next = this.lifecycle.then(async () => {
      if (this.closed) return;
      await this.current.stop(0);
      if (store === "wipe") await this.stores.wipe();
      else await this.stores.reset(Date.now());
      await this.startRunner();
    });
    this.lifecycle = next.catch(() => undefined);
    return next;
  }

  /** Logs out (waiting up to `graceMs` for the answer) and closes the store. */
  async stop(graceMs = 500): Promise<void> {
    await this.lifecycle;
    this.closed = true;
    if (this.dueTimer !== null) clearTimeout(this.dueTimer);
    this.dueTimer = null;
    this.due.length = 0;
    await this.current.stop(graceMs);
    for (const w of this.resetWaiters.splice(0)) w.reject(new Error(`session ${this.id} stopped`));
  }

  // --- internals ------------------------------------------------------------------------------------------------

  private async startRunner(): Promise<void> {
    const store = this.stores.create();
    let runner: SessionRunner | undefined;
    runner = await SessionRunner.start({
      settings: this.settings,
      store,
      validate: this.validator,
      logger: this.opts.logger,
      app: {
        onMessage: (msg, _handle, possDup) => this.opts.onMessage(this, msg, possDup),
        // Notices raised while the runner starts (before `runner` is set) concern no connection yet.
        onNotice: (n) => {
          if (runner !== undefined) this.onNotice(runner, n);
        },
      },
    });
    tapOutbound(runner, {
      active: () => this.skipHeartbeatsUntil > Date.now(),
      drop: (msgType) => {
        if (msgType !== MsgType.Heartbeat || Date.now() >= this.skipHeartbeatsUntil) return false;
        this.heartbeatsSkipped++;
        return true;
      },
    });
    this.store = store;
    this.current = runner;
    this.opts.register(runner);
  }

  private onNotice(runner: SessionRunner, n: SessionNotice): void {
    if (runner !== this.current) return;
    if (n.kind === "logon") {
      // Sent from here, the reports queue behind the Logon exchange that raised the notice.
      this.flush();
    } else if (n.kind === "health" && n.to === Health.Disconnected && this.resetWaiters.length > 0) {
      const waiters = this.resetWaiters.splice(0);
      // Not from inside the runner's event handling: the restart stops this very runner.
      setImmediate(() => {
        this.restart("reset").then(
          () => {
            for (const w of waiters) w.resolve();
          },
          (err) => {
            for (const w of waiters) w.reject(err);
          },
        );
      });
    }
  }

  /** SendingTime(52) of each remembered report, read back from the store (exact), else from when it was sent. */
  private async sendingTimes(picks: SentExecution[]): Promise<string[]> {
    const bySeq = new Map<number, string>();
    if (picks.length > 0) {
      const seqs = picks.map((p) => p.seq);
      const stored = await this.store.getRange(Math.min(...seqs), Math.max(...seqs));
      const parser = new Parser();
      for (const m of stored) {
        const parsed = parser.parse(m.bytes);
        const t = typeof parsed === "string" ? undefined : parsed.get(Tag.SendingTime);
        if (t !== undefined) bySeq.set(m.seq, t);
      }
    }
    return picks.map((p) => bySeq.get(p.seq) ?? formatUtcTimestamp(p.sentAt, this.settings.TimestampPrecision));
  }
}

function execIdOf(body: FieldList): string {
  for (let i = 0; i < body.length; i += 2) if (body[i] === Tag.ExecID) return String(body[i + 1]);
  return "";
}

/** Header fields in ascending tag order, as the encoder wants them. */
function mergeHeader(base: FieldList | undefined, extra: Array<[number, string]>): FieldList {
  const all: Array<[number, string]> = [...extra];
  if (base !== undefined) for (let i = 0; i < base.length; i += 2) all.push([base[i] as number, String(base[i + 1])]);
  all.sort((a, b) => a[0] - b[0]);
  return all.flat();
}

/** Makes, resets and wipes the store of one session. */
interface StoreSlot {
  create(): MessageStore;
  /** A new cycle at 1/1 with an empty log (what a daily reset does). */
  reset(now: number): Promise<void>;
  /** The store gone, as if its disk were lost. */
  wipe(): Promise<void>;
}

function storeSlot(cfg: StoreConfig, session: string): StoreSlot {
  if (cfg.kind === "memory") {
    let backing = new MemoryBacking();
    return {
      create: () => new MemoryStore({ session, backing }),
      async reset(now) {
        const s = new MemoryStore({ session, backing });
        await s.open(now);
        await s.reset(now);
        await s.close();
      },
      async wipe() {
        backing = new MemoryBacking();
      },
    };
  }
  const make = () => new FileStore({ dir: cfg.dir, session, fsync: cfg.fsync });
  return {
    create: make,
    async reset(now) {
      const s = make();
      await s.open(now);
      await s.reset(now);
      await s.close();
    },
    async wipe() {
      await rm(join(cfg.dir, sessionDirName(session)), { recursive: true, force: true });
    },
  };
}
