import { type FixMessage, Tag } from "@fixmesh/fix";
import { InvalidOptionError } from "./errors.js";

/** An inclusive range of MsgSeqNum values. */
export interface SeqRange {
  from: number;
  to: number;
}

/**
 * Which messages a rule acts on. Every criterion given must hold; a selector with none matches every message. A
 * criterion on MsgSeqNum never matches a message without a readable MsgSeqNum(34).
 */
export interface MessageSelector {
  /** MsgType(35), or any of several. */
  msgType?: string | readonly string[];
  /** MsgSeqNum(34): exactly, in an inclusive range, or by a predicate. */
  seq?: number | SeqRange | ((seq: number) => boolean);
  /** PossDupFlag(43): `true` for resent copies only, `false` for originals only. */
  possDup?: boolean;
  /** Anything else about the message (a field value, a ClOrdID). */
  where?: (m: FixMessage) => boolean;
}

/**
 * A rule: a selector and how long it lasts. A rule is one-shot unless `persistent`: it acts on the next `count`
 * matching messages (default 1: "the next ExecutionReport", `count: 3`: "the next 3"), then it is spent.
 */
export interface RuleOptions extends MessageSelector {
  count?: number;
  /** Act on every matching message until cancelled (`count` is then not allowed). */
  persistent?: boolean;
}

export interface DuplicateOptions extends RuleOptions {
  /** Extra copies written after the original. Default 1. */
  copies?: number;
}

export type RuleAction = "drop" | "duplicate";

/** A drop or duplicate rule installed on one direction. Read `hits` to see what it did; `cancel()` to remove it. */
export class Rule {
  /** Messages this rule has acted on. */
  hits = 0;
  private cancelled = false;
  private readonly limit: number;
  private readonly types: ReadonlySet<string> | null;
  private readonly seqTest: ((seq: number) => boolean) | null;

  constructor(
    /** Unique within the proxy; events name the rule that acted by this id. */
    readonly id: number,
    readonly action: RuleAction,
    readonly options: Readonly<DuplicateOptions>,
    private readonly onCancel: (r: Rule) => void,
  ) {
    const o = options;
    if (o.persistent && o.count !== undefined) {
      throw new InvalidOptionError(`${action}.count`, "a persistent rule has no count; use one or the other");
    }
    if (o.count !== undefined && !(Number.isInteger(o.count) && o.count >= 1)) {
      throw new InvalidOptionError(`${action}.count`, `must be a whole number ≥ 1, got ${o.count}`);
    }
    if (o.copies !== undefined && !(Number.isInteger(o.copies) && o.copies >= 1 && o.copies <= 1000)) {
      throw new InvalidOptionError(`${action}.copies`, `must be a whole number from 1 to 1000, got ${o.copies}`);
    }
    this.limit = o.persistent ? Number.POSITIVE_INFINITY : (o.count ?? 1);
    this.types = o.msgType === undefined ? null : new Set(typeof o.msgType === "string" ? [o.msgType] : o.msgType);
    this.seqTest = seqTest(action, o.seq);
  }

  /** Copies a duplicate rule adds (1 unless set). */
  get copies(): number {
    return this.options.copies ?? 1;
  }

  /** True once the rule has acted `count` times or was cancelled: it will not act again. */
  get spent(): boolean {
    return this.cancelled || this.hits >= this.limit;
  }

  /** Removes the rule; it acts on nothing more. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.onCancel(this);
  }

  /** Whether the rule selects `m` (without counting it). */
  matches(m: FixMessage): boolean {
    if (this.spent) return false;
    if (this.types !== null && !this.types.has(m.msgType)) return false;
    if (this.seqTest !== null) {
      const seq = m.getInt(Tag.MsgSeqNum);
      if (seq === undefined || Number.isNaN(seq) || !this.seqTest(seq)) return false;
    }
    if (this.options.possDup !== undefined && m.flag(Tag.PossDupFlag) !== this.options.possDup) return false;
    return this.options.where === undefined || this.options.where(m);
  }

  /** Counts one message acted on; returns true when that spent the rule. */
  hit(): boolean {
    this.hits++;
    return this.spent;
  }
}

function seqTest(action: RuleAction, seq: RuleOptions["seq"]): ((seq: number) => boolean) | null {
  if (seq === undefined) return null;
  if (typeof seq === "function") return seq;
  if (typeof seq === "number") {
    if (!(Number.isInteger(seq) && seq >= 1)) throw new InvalidOptionError(`${action}.seq`, `must be ≥ 1, got ${seq}`);
    return (n) => n === seq;
  }
  const { from, to } = seq;
  if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 1 && to >= from)) {
    throw new InvalidOptionError(`${action}.seq`, `range must be whole numbers with 1 ≤ from ≤ to, got ${from}..${to}`);
  }
  return (n) => n >= from && n <= to;
}
