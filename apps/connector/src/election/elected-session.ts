/**
 * One FIX session under election. The standby is warm — configuration loaded, dictionary built, store connected
 * and opened — but has no session runner: it neither connects nor listens. Each leadership term runs its own
 * `SessionRunner`:
 *
 * - elected(epoch): fence the store with the epoch, load the sequence state (after the fence: see FencedStore),
 *   then start the runner (an initiator connects; an acceptor session is registered on its port, which listens
 *   while it leads a session). Transitions run one after the other.
 * - deposed, or the store refuses a write with a stale epoch: the runner is aborted at once — socket dropped, no
 *   Logout, nothing more committed or written — and the session is a standby again, ready for a new term with a
 *   new runner. A refusal from the store also gives the leadership up (the elector may not know yet).
 * - stop (SIGTERM, a rolling update): the runner logs out (sends handed over before finish first), the term's
 *   events are published, and only then is the lock released, so the next leader never logs on while we are.
 */
import type { DeposeCode, Elector } from "@fixmesh/election";
import type { RunnerLogger, SessionRunner } from "@fixmesh/engine";
import type { MessageStore, StaleEpochError } from "@fixmesh/session";
import { FencedStore } from "./fenced-store.js";

/** How a session's leadership changed; metrics, events and the health service follow these. */
export interface LeadershipTransition {
  session: string;
  leader: boolean;
  epoch: number;
  identity: string;
  /** Why a term ended: the elector's `DeposeCode`, `fenced` (the store refused a write) or `failed` (takeover). */
  reason?: DeposeCode | "fenced" | "failed";
  detail?: string;
}

/** What a session's leadership looks like from outside (gRPC, metrics). */
export interface Leadership {
  session: string;
  kind: Elector["kind"];
  leader: boolean;
  /** The epoch of the current term, or of the last one (0 before any). */
  epoch: number;
  identity: string;
}

export interface ElectedSessionOptions {
  id: string;
  /** The session's store, opened once by `warm` and kept open across terms. */
  store: MessageStore;
  elector: Elector;
  logger: RunnerLogger;
  /** Seconds the graceful stop waits for the counterparty's Logout. */
  logoutTimeoutMs: number;
  /** Builds and starts the term's runner on `store` (SessionRunner.start opens it). */
  startRunner(store: MessageStore): Promise<SessionRunner>;
  /**
   * Called once the runner leads (register it on its acceptor, start publishing its outbox…). Returns what ends
   * that: `graceful` after a Logout (drain what is left), not after an abort.
   */
  onLead(runner: SessionRunner, store: MessageStore): Promise<(graceful: boolean) => Promise<void>>;
  onTransition(t: LeadershipTransition): void;
}

interface Term {
  epoch: number;
  store: FencedStore;
  runner: SessionRunner | null;
  ended: boolean;
  end: ((graceful: boolean) => Promise<void>) | null;
}

export class ElectedSession {
  readonly id: string;
  private term: Term | null = null;
  private chain: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | null = null;
  private readonly log: RunnerLogger;
  /** Election `none`: no fencing, and a failed start is the connector's failure (as before elections). */
  private readonly single: boolean;
  /** While `start` waits for election `none`'s first term: where that term's failure goes. */
  private failed: ((err: unknown) => void) | null = null;

  constructor(private readonly opts: ElectedSessionOptions) {
    this.id = opts.id;
    this.log = opts.logger;
    this.single = opts.elector.kind === "none";
  }

  /** The runner of the current term; null on standby. */
  get runner(): SessionRunner | null {
    const t = this.term;
    return t !== null && !t.ended ? t.runner : null;
  }

  get leadership(): Leadership {
    const e = this.opts.elector;
    return {
      session: this.id,
      kind: e.kind,
      leader: this.runner !== null,
      // Without election the store is never fenced: there is no epoch to show.
      epoch: this.single ? 0 : (this.term?.epoch ?? e.epoch),
      identity: e.identity,
    };
  }

  /** The warm standby: the store connected and the session's state present before any election. */
  async warm(): Promise<void> {
    await this.opts.store.open(Date.now());
  }

  /**
   * Starts campaigning. With election `none` the session leads at once, and this resolves once it runs (or
   * rejects as `SessionRunner.start` would).
   */
  async start(): Promise<void> {
    const e = this.opts.elector;
    e.on("elected", (epoch) => this.enqueue(() => this.lead(epoch)));
    e.on("deposed", (r) => this.endTerm(`deposed (${r.code}): ${r.message}`, r.code));
    let failure: unknown;
    const failed = (err: unknown) => {
      failure = err;
    };
    this.failed = this.single ? failed : null;
    e.start();
    await this.chain;
    this.failed = null;
    if (failure !== undefined) throw failure;
  }

  /** Logs out (when leading), then releases the lock. */
  stop(): Promise<void> {
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  private async stopNow(): Promise<void> {
    // A takeover in progress finishes first, so it is logged out like any other term.
    await this.chain;
    const t = this.term;
    if (t !== null && !t.ended && t.runner !== null) {
      // Sends already handed to the runner are committed and written before its Logout (they are ahead of it).
      await t.runner.stop(this.opts.logoutTimeoutMs);
      if (!t.ended) {
        // Published before the lock goes: our epoch still owns the outbox.
        await this.finish(t, true);
        this.term = null;
        this.transition({ leader: false, epoch: t.epoch, reason: "stopped", detail: "stopped (logged out)" });
      }
    }
    await this.opts.elector.stop();
  }

  private enqueue(task: () => Promise<void>): void {
    this.chain = this.chain.then(task).catch((err: unknown) => {
      if (this.failed !== null) this.failed(err);
      else this.log.error({ session: this.id, err }, "leadership transition failed");
    });
  }

  private async lead(epoch: number): Promise<void> {
    const e = this.opts.elector;
    // A late event: deposed (or elected again) since.
    if (this.stopping !== null || !e.isLeader || e.epoch !== epoch) return;
    const term: Term = { epoch, store: null as unknown as FencedStore, runner: null, ended: false, end: null };
    term.store = new FencedStore(this.opts.store, this.id, this.single ? null : epoch, (err) =>
      this.onStale(term, err),
    );
    this.term = term;
    let runner: SessionRunner;
    try {
      runner = await this.opts.startRunner(term.store);
    } catch (err) {
      // Already ended by the store's refusal (a newer epoch fenced between our fence and our read): said and done.
      const reported = term.ended;
      term.ended = true;
      term.store.retire();
      if (this.term === term) this.term = null;
      if (this.single) throw err;
      if (reported) return;
      this.log.error({ session: this.id, epoch, err }, "could not take the session over; giving the leadership up");
      this.transition({ leader: false, epoch, reason: "failed", detail: String(err) });
      await e.resign(`taking the session over failed: ${String(err)}`);
      return;
    }
    if (term.ended) {
      // Deposed while the runner started: it has not connected yet, and now never will.
      await runner.abort("deposed while taking the session over");
      return;
    }
    term.runner = runner;
    try {
      term.end = await this.opts.onLead(runner, term.store);
    } catch (err) {
      if (this.single) throw err;
      this.log.error({ session: this.id, epoch, err }, "could not start serving the session; giving the leadership up");
      this.endTerm(`serving failed: ${String(err)}`, "failed");
      await e.resign(`serving the session failed: ${String(err)}`);
      return;
    }
    if (term.ended) {
      // Deposed during onLead: undo it (the abort already dropped the socket).
      await this.finish(term, false);
      return;
    }
    this.log.info(
      {
        session: this.id,
        leader: true,
        epoch,
        identity: e.identity,
        nextSenderSeq: runner.state.nextSenderSeq,
        nextTargetSeq: runner.state.nextTargetSeq,
      },
      "leading the session",
    );
    this.transition({ leader: true, epoch });
  }

  /** The store refused a write: a newer leader fenced the session. */
  private onStale(term: Term, err: StaleEpochError): void {
    if (term !== this.term || term.ended) return;
    // Without election nobody takes over: the runner, fenced for good, drops its socket itself and stays to answer
    // SESSION_FENCED (as before elections existed).
    if (this.single) return;
    this.endTerm(`the store refused a write: ${err.message}`, "fenced");
    void this.opts.elector.resign(`the store was fenced by epoch ${err.currentEpoch}`);
  }

  /** Synchronous: the socket is gone when this returns; the rest (waiting for the abort) is queued. */
  private endTerm(why: string, reason: NonNullable<LeadershipTransition["reason"]>): void {
    const t = this.term;
    if (t === null || t.ended) return;
    t.ended = true;
    t.store.retire();
    this.term = null;
    const r = t.runner;
    if (r === null) {
      // The takeover is still starting; `lead` aborts what it started.
      this.log.warn(
        { session: this.id, leader: false, epoch: t.epoch, reason: why },
        "standing by (takeover cancelled)",
      );
      this.transition({ leader: false, epoch: t.epoch, reason, detail: why });
      return;
    }
    const aborted = r.abort(why);
    this.log.warn(
      { session: this.id, leader: false, epoch: t.epoch, reason: why },
      "standing by: socket dropped without a Logout",
    );
    this.transition({ leader: false, epoch: t.epoch, reason, detail: why });
    this.enqueue(async () => {
      await aborted;
      await this.finish(t, false);
    });
  }

  private async finish(t: Term, graceful: boolean): Promise<void> {
    const end = t.end;
    t.end = null;
    t.ended = true;
    t.store.retire();
    await end?.(graceful);
  }

  private transition(t: Omit<LeadershipTransition, "session" | "identity">): void {
    try {
      this.opts.onTransition({ session: this.id, identity: this.opts.elector.identity, ...t });
    } catch (err) {
      this.log.error({ session: this.id, err }, "a leadership listener failed");
    }
  }
}
