import type { FixMessage } from "@fixmesh/fix";
import { InvalidOptionError } from "./errors.js";
import type { DirectionName, FaultEvent } from "./events.js";
import type { Flow } from "./flow.js";
import { type HoldReplayOptions, replayOptions } from "./replay.js";
import { type DuplicateOptions, Rule, type RuleAction, type RuleOptions } from "./rule.js";

/** What one direction did, summed over every connection. Messages are whole FIX messages as framed. */
export interface DirectionStats {
  /** Messages written to the far side (a duplicate's extra copies are counted in `duplicated` instead). */
  forwarded: number;
  /** Messages removed by a drop rule. */
  dropped: number;
  /** Extra copies written by duplicate rules. */
  duplicated: number;
  /** Messages held back by a stall, a partition or holdReplay (each counted once). */
  held: number;
  /** Replayed messages that holdReplay released in a position other than the one they arrived in. */
  reordered: number;
  /** Messages thrown away: arrived while stalled with `discard`, or still held when their connection closed. */
  discarded: number;
  /** Stretches of bytes that were not a valid FIX message, forwarded as they were. */
  garbled: number;
  /** Bytes written to the far side. */
  bytes: number;
}

export function zeroStats(): DirectionStats {
  return { forwarded: 0, dropped: 0, duplicated: 0, held: 0, reordered: 0, discarded: 0, garbled: 0, bytes: 0 };
}

/** What a direction needs from its proxy. */
export interface ProxyHost {
  partitioned(): boolean;
  emit(e: FaultEvent): void;
  random(): number;
  nextRuleId(): number;
}

/** One direction's fault state and counters, shared by that direction's flow on every connection. Internal. */
export class DirectionCore {
  stall: { discard: boolean } | null = null;
  latency: { min: number; max: number } | null = null;
  replay: Required<HoldReplayOptions> | null = null;
  readonly rules: Rule[] = [];
  readonly counters: DirectionStats = zeroStats();
  readonly flows = new Set<Flow>();

  constructor(
    readonly name: DirectionName,
    readonly host: ProxyHost,
  ) {}

  /** Nothing is written while stalled or partitioned. */
  get blocked(): boolean {
    return this.stall !== null || this.host.partitioned();
  }

  /** Arrivals are thrown away (rather than held) while stalled with `discard`. */
  get discarding(): boolean {
    return this.stall?.discard === true;
  }

  /** The delay for the next message, in ms (0 without latency). */
  sampleLatency(): number {
    const l = this.latency;
    if (l === null) return 0;
    return l.min === l.max ? l.min : l.min + this.host.random() * (l.max - l.min);
  }

  /**
   * The first live rule of `action` that selects `m`, counted as having acted on it (and removed once spent), or
   * null. Rules are tried in the order they were installed.
   */
  take(action: RuleAction, m: FixMessage): Rule | null {
    for (let i = 0; i < this.rules.length; i++) {
      const r = this.rules[i];
      if (r.action !== action || !r.matches(m)) continue;
      if (r.hit()) this.rules.splice(i, 1);
      return r;
    }
    return null;
  }

  /** Messages waiting in this direction's queues that a resume would let through. */
  queuedMessages(): number {
    let n = 0;
    for (const f of this.flows) n += f.queuedMessages;
    return n;
  }

  pumpAll(): void {
    for (const f of this.flows) f.pump();
  }
}

/**
 * The faults of one direction (`proxy.toServer`, `proxy.toClient`). Every setting applies to that direction of
 * every connection, current and future.
 */
export class DirectionFaults {
  constructor(private readonly core: DirectionCore) {}

  get name(): DirectionName {
    return this.core.name;
  }

  /** True while stalled (by `stall()`, not by a partition). */
  get stalled(): boolean {
    return this.core.stall !== null;
  }

  /** The drop and duplicate rules still live, in the order they are tried. */
  get rules(): readonly Rule[] {
    return this.core.rules.filter((r) => !r.spent);
  }

  /**
   * Stops forwarding without closing anything: a half-open link. The connections stay up and the proxy keeps reading,
   * but nothing (not even a FIN) reaches the far side until `resume()`. What arrives meanwhile is held, in order, or
   * thrown away with `discard: true` (a link that loses everything while it is down).
   */
  stall(opts: { discard?: boolean } = {}): void {
    const discard = opts.discard === true;
    this.core.stall = { discard };
    this.core.host.emit({ kind: "stall", direction: this.core.name, discard });
  }

  /** Ends a stall: what was held is written in the order it arrived (subject to latency). No-op when not stalled. */
  resume(): void {
    const c = this.core;
    if (c.stall === null) return;
    c.stall = null;
    const released = c.host.partitioned() ? 0 : c.queuedMessages();
    c.host.emit({ kind: "resume", direction: c.name, released });
    c.pumpAll();
  }

  /**
   * Delays each message by `ms`, or by a random delay in [min, max] (jitter). Order is kept, as TCP keeps it: a
   * message never overtakes the one before it. `latency(0)` removes the delay for what arrives from now on.
   */
  latency(ms: number | { min: number; max: number }): void {
    const { min, max } = typeof ms === "number" ? { min: ms, max: ms } : ms;
    if (!(Number.isFinite(min) && Number.isFinite(max) && min >= 0 && max >= min)) {
      throw new InvalidOptionError("latency", `must be ms ≥ 0, or {min, max} with 0 ≤ min ≤ max; got ${min}..${max}`);
    }
    this.core.latency = max === 0 ? null : { min, max };
    this.core.host.emit({ kind: "latency", direction: this.core.name, min, max });
  }

  /** Removes the messages a rule selects (see `RuleOptions`: one-shot for the next `count`, or persistent). */
  drop(rule: RuleOptions): Rule {
    return this.install("drop", rule);
  }

  /** Writes exact copies (same bytes, same MsgSeqNum, no PossDupFlag added) right after each selected message. */
  duplicate(rule: DuplicateOptions): Rule {
    return this.install("duplicate", rule);
  }

  /**
   * Holds messages with PossDupFlag(43)=Y (a resend) in chunks and releases each chunk `releaseAfterMs` after its
   * first message arrived, in `reverse` or `shuffle` order; other messages keep flowing past the held ones.
   * `holdReplay(null)` stops holding and releases what is held now (still in the chunk's order).
   */
  holdReplay(opts: HoldReplayOptions | null): void {
    const c = this.core;
    if (opts === null) {
      if (c.replay === null) return;
      c.replay = null;
      c.host.emit({ kind: "holdReplayOff", direction: c.name });
      for (const f of c.flows) f.releaseReplay();
      return;
    }
    c.replay = replayOptions(opts);
    c.host.emit({ kind: "holdReplay", direction: c.name, ...c.replay });
  }

  /** Back to a clean link: resumes, removes latency, cancels every rule and stops holding replays. */
  clear(): void {
    const c = this.core;
    for (const r of [...c.rules]) r.cancel();
    this.holdReplay(null);
    if (c.latency !== null) this.latency(0);
    this.resume();
  }

  stats(): DirectionStats {
    return { ...this.core.counters };
  }

  private install(action: RuleAction, options: DuplicateOptions): Rule {
    const c = this.core;
    const rule = new Rule(c.host.nextRuleId(), action, { ...options }, (r) => {
      const i = c.rules.indexOf(r);
      if (i >= 0) c.rules.splice(i, 1);
    });
    c.rules.push(rule);
    return rule;
  }
}
