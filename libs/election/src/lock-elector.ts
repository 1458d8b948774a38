/**
 * The campaign every lock-based backend runs (client-go's `LeaderElector` loop), over a `LeaderLock`:
 *
 * - standby: try to acquire every retryPeriod × [1, 1.2) (jitter, so standbys do not move in step), and at once
 *   when the lock says it was released;
 * - leader: renew every retryPeriod; every renewal is timed from the moment it was *sent*, which is no later than
 *   the moment the backend restarted the lock's time to live. A leader without a successful renewal for
 *   renewDeadline steps down on its own (a timer, and a check before every attempt, so a process that wakes up
 *   from a pause steps down before it renews). Since renewDeadline < leaseDuration, it has stepped down before the
 *   lock can expire anywhere else, so before any other replica can win;
 * - an answer that arrives after the state moved on (deposed, stopped, a newer attempt) is ignored;
 * - one call at a time: each attempt is abandoned at its deadline even when the backend does not answer.
 *
 * A process that was paused (SIGSTOP, a long GC) past its lease cannot step down while paused: that case is the
 * store's fencing, which refuses its next write because the new leader fenced a higher epoch.
 */
import { type Clock, systemClock, type TimerHandle } from "./clock.js";
import {
  DeposeCode,
  type DeposedReason,
  type ElectionLogger,
  type ElectionTiming,
  type Elector,
  type ElectorEvents,
  JITTER_FACTOR,
  resolveTiming,
} from "./elector.js";
import { AttemptTimeoutError, type LeaderLock, untilAborted } from "./lock.js";

export interface LockElectorOptions {
  timing?: Partial<ElectionTiming>;
  logger?: ElectionLogger;
  /** Default: the monotonic system clock. */
  clock?: Clock;
  /** For the jitter; default Math.random. */
  random?: () => number;
  /** Extra fields on every log line (e.g. `{ session }`). */
  logContext?: Record<string, unknown>;
}

type State = "idle" | "standby" | "leader" | "stopped";

export class LockElector implements Elector {
  readonly kind: LeaderLock["kind"];
  readonly identity: string;
  readonly name: string;
  readonly timing: Readonly<ElectionTiming>;
  private state: State = "idle";
  /** Moves at every transition; an attempt started in an older term has its answer ignored. */
  private term = 0;
  private epochValue = 0;
  /** When the last successful renewal (or the acquisition) was sent. */
  private renewedSentAt = 0;
  private tickTimer: TimerHandle | null = null;
  private deadlineTimer: TimerHandle | null = null;
  private inFlight: AbortController | null = null;
  /** Calls and releases under way, which `stop` waits for. */
  private readonly pending = new Set<Promise<unknown>>();
  private failing = false;
  private unwatch: (() => void) | null = null;
  private stopping: Promise<void> | null = null;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly log: ElectionLogger | undefined;
  private readonly ctx: Record<string, unknown>;
  private readonly listeners: { [E in keyof ElectorEvents]: Set<ElectorEvents[E]> } = {
    elected: new Set(),
    deposed: new Set(),
  };

  constructor(
    private readonly lock: LeaderLock,
    opts: LockElectorOptions = {},
  ) {
    this.kind = lock.kind;
    this.identity = lock.identity;
    this.name = lock.name;
    this.timing = resolveTiming(opts.timing);
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.log = opts.logger;
    this.ctx = { election: lock.kind, lock: lock.name, identity: lock.identity, ...opts.logContext };
  }

  get isLeader(): boolean {
    return this.state === "leader";
  }

  get epoch(): number {
    return this.epochValue;
  }

  on<E extends keyof ElectorEvents>(event: E, fn: ElectorEvents[E]): () => void {
    const set = this.listeners[event] as Set<ElectorEvents[E]>;
    set.add(fn);
    return () => set.delete(fn);
  }

  start(): void {
    if (this.state !== "idle") return;
    this.state = "standby";
    this.unwatch =
      this.lock.watch?.(() => {
        // A released lock: try now rather than at the next retry.
        if (this.state === "standby" && this.inFlight === null) this.schedule(0);
      }) ?? null;
    this.log?.info({ ...this.ctx, ...this.timing }, "campaigning for leadership");
    this.schedule(0);
  }

  async resign(reason: string): Promise<void> {
    if (this.state !== "leader") return;
    const epoch = this.epochValue;
    this.depose(DeposeCode.Resigned, reason, "standby");
    await this.release(epoch);
    // Unless stopped meanwhile (TypeScript narrowed `state` before the await).
    if ((this.state as State) === "standby") this.schedule(this.retryDelay());
  }

  stop(): Promise<void> {
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  private async stopNow(): Promise<void> {
    const wasLeader = this.state === "leader";
    const epoch = this.epochValue;
    if (wasLeader) this.depose(DeposeCode.Stopped, "the elector was stopped", "stopped");
    this.state = "stopped";
    this.term++;
    this.clearTimers();
    this.inFlight?.abort(new AttemptTimeoutError("the elector was stopped"));
    this.unwatch?.();
    this.unwatch = null;
    await Promise.all([...this.pending]);
    if (wasLeader) await this.release(epoch);
    await this.lock.close();
  }

  // --- the loop ---------------------------------------------------------------------------------------------------

  private schedule(ms: number): void {
    if (this.state === "stopped") return;
    if (this.tickTimer !== null) this.clock.clearTimer(this.tickTimer);
    this.tickTimer = this.clock.setTimer(() => {
      this.tickTimer = null;
      this.tick();
    }, ms);
  }

  private retryDelay(): number {
    return this.timing.retryPeriodMs * (1 + (JITTER_FACTOR - 1) * this.random());
  }

  private tick(): void {
    // One call at a time: the call in flight schedules the next tick when it ends.
    if (this.inFlight !== null) return;
    if (this.state === "standby") this.track(this.tryAcquire());
    else if (this.state === "leader") this.track(this.tryRenew());
  }

  private async tryAcquire(): Promise<void> {
    const term = this.term;
    const sentAt = this.clock.now();
    const r = await this.call("acquire", this.timing.renewDeadlineMs, (signal) => this.lock.acquire(signal));
    if (term !== this.term || this.state !== "standby") {
      // Stopped meanwhile: a lock taken by this late answer goes back at once.
      if (r?.acquired) await this.release(r.epoch);
      return;
    }
    if (r?.acquired) {
      if (this.clock.now() - sentAt >= this.timing.renewDeadlineMs) {
        // Won, but the answer took so long that the term may be nearly over elsewhere: not a safe start.
        this.log?.warn({ ...this.ctx, epoch: r.epoch }, "acquired the lock too late to lead; releasing it");
        await this.release(r.epoch);
      } else {
        this.becomeLeader(r.epoch, sentAt);
        return;
      }
    }
    this.schedule(this.retryDelay());
  }

  private async tryRenew(): Promise<void> {
    if (this.pastDeadline()) return;
    const term = this.term;
    const epoch = this.epochValue;
    const sentAt = this.clock.now();
    const remaining = this.renewedSentAt + this.timing.renewDeadlineMs - sentAt;
    const held = await this.call("renew", remaining, (signal) => this.lock.renew(epoch, signal));
    if (term !== this.term || this.state !== "leader") return;
    if (held === false) {
      this.depose(DeposeCode.Lost, `the lock is no longer ours (epoch ${epoch})`, "standby");
      this.schedule(this.retryDelay());
      return;
    }
    if (held === true) {
      this.renewedSentAt = sentAt;
      this.armDeadline();
    }
    if (!this.pastDeadline()) this.schedule(this.timing.retryPeriodMs);
  }

  private becomeLeader(epoch: number, sentAt: number): void {
    this.state = "leader";
    this.term++;
    this.epochValue = epoch;
    this.renewedSentAt = sentAt;
    this.armDeadline();
    this.log?.info({ ...this.ctx, epoch, leader: true }, "elected leader");
    this.emit("elected", epoch);
    this.schedule(this.timing.retryPeriodMs);
  }

  private armDeadline(): void {
    if (this.deadlineTimer !== null) this.clock.clearTimer(this.deadlineTimer);
    const ms = this.renewedSentAt + this.timing.renewDeadlineMs - this.clock.now();
    this.deadlineTimer = this.clock.setTimer(() => {
      this.deadlineTimer = null;
      this.pastDeadline();
    }, ms);
  }

  /** Steps down when no renewal succeeded within renewDeadline; true when it did. */
  private pastDeadline(): boolean {
    if (this.state !== "leader") return false;
    const since = this.clock.now() - this.renewedSentAt;
    if (since < this.timing.renewDeadlineMs) return false;
    const epoch = this.epochValue;
    this.depose(
      DeposeCode.RenewDeadline,
      `no renewal succeeded for ${Math.round(since)} ms (renewDeadline ${this.timing.renewDeadlineMs} ms)`,
      "standby",
    );
    // The lock may still be ours (the renewals were only slow): give it back so a standby need not wait for it.
    this.track(this.release(epoch).then(() => this.schedule(this.retryDelay())));
    return true;
  }

  private depose(code: DeposeCode, message: string, next: "standby" | "stopped"): void {
    const epoch = this.epochValue;
    this.state = next;
    this.term++;
    if (this.deadlineTimer !== null) this.clock.clearTimer(this.deadlineTimer);
    this.deadlineTimer = null;
    if (this.tickTimer !== null) this.clock.clearTimer(this.tickTimer);
    this.tickTimer = null;
    // A renewal in flight no longer matters.
    this.inFlight?.abort(new AttemptTimeoutError("deposed"));
    const reason: DeposedReason = { code, message, epoch };
    if (code === DeposeCode.Stopped) this.log?.info({ ...this.ctx, epoch, leader: false, code }, "leadership ended");
    else this.log?.warn({ ...this.ctx, epoch, leader: false, code, reason: message }, "deposed");
    this.emit("deposed", reason);
  }

  /** Best effort, bounded by a retry period: a lock that cannot be released expires. */
  private async release(epoch: number): Promise<void> {
    await this.call("release", this.timing.renewDeadlineMs, (signal) => this.lock.release(epoch, signal), true);
  }

  /** Runs one backend call with a deadline; undefined when it failed (logged). */
  private async call<T>(
    op: string,
    timeoutMs: number,
    run: (signal: AbortSignal) => Promise<T>,
    always = false,
  ): Promise<T | undefined> {
    if (this.inFlight !== null && !always) return undefined;
    const ac = new AbortController();
    if (!always) this.inFlight = ac;
    const timer = this.clock.setTimer(
      () => ac.abort(new AttemptTimeoutError(`${op}: no answer within ${Math.round(timeoutMs)} ms`)),
      Math.max(0, timeoutMs),
    );
    try {
      const r = await untilAborted(run(ac.signal), ac.signal);
      if (this.failing) {
        this.failing = false;
        this.log?.info({ ...this.ctx, op }, "election backend answers again");
      }
      return r;
    } catch (err) {
      // The first failure of a run is logged; the next ones would only repeat it every retry period.
      if (!this.failing && this.state !== "stopped") {
        this.failing = true;
        this.log?.warn(
          { ...this.ctx, op, err: err instanceof Error ? err.message : String(err) },
          "election call failed",
        );
      }
      return undefined;
    } finally {
      this.clock.clearTimer(timer);
      if (this.inFlight === ac) this.inFlight = null;
    }
  }

  private track(p: Promise<unknown>): void {
    this.pending.add(p);
    const done = () => this.pending.delete(p);
    p.then(done, done);
  }

  private clearTimers(): void {
    if (this.tickTimer !== null) this.clock.clearTimer(this.tickTimer);
    if (this.deadlineTimer !== null) this.clock.clearTimer(this.deadlineTimer);
    this.tickTimer = null;
    this.deadlineTimer = null;
  }

  private emit<E extends keyof ElectorEvents>(event: E, arg: Parameters<ElectorEvents[E]>[0]): void {
    for (const fn of this.listeners[event]) {
      try {
        (fn as (a: typeof arg) => void)(arg);
      } catch (err) {
        this.log?.error({ ...this.ctx, event, err }, "an election listener failed");
      }
    }
  }
}
