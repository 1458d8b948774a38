import type { FixMessage } from "@fixmesh/fix";
import { Tag } from "@fixmesh/fix";
import { ControlCommandError } from "./errors.js";
import type { DirectionName } from "./events.js";
import type { HoldReplayOptions } from "./replay.js";
import type { DuplicateOptions, RuleOptions } from "./rule.js";

/** One line of the control protocol, parsed. `directions` is the directions it applies to (both when not named). */
export type ControlCommand =
  | { op: "cut"; reset: boolean }
  | { op: "stall"; directions: DirectionName[]; discard: boolean }
  | { op: "resume"; directions: DirectionName[] }
  | { op: "latency"; directions: DirectionName[]; min: number; max: number }
  | { op: "drop"; directions: DirectionName[]; rule: RuleOptions }
  | { op: "duplicate"; directions: DirectionName[]; rule: DuplicateOptions }
  | { op: "holdReplay"; directions: DirectionName[]; options: HoldReplayOptions | null }
  | { op: "partition"; ms: number }
  | { op: "heal" }
  | { op: "refuse"; on: boolean }
  /** `directions` null: the whole proxy (also heals and accepts connections again). */
  | { op: "clear"; directions: DirectionName[] | null }
  | { op: "stats" }
  | { op: "connections" }
  | { op: "help" }
  | { op: "quit" };

export const CONTROL_HELP = `commands (one per line; DIR is toServer, toClient or both, default both):
  cut [reset]                          destroy every connection now (reset: with RST)
  stall [DIR] [discard]                stop forwarding without closing; hold what arrives (or discard it)
  resume [DIR]                         end a stall; held bytes flow in order
  latency [DIR] MS | MIN-MAX           delay each message (0 removes the delay)
  drop [DIR] SELECTOR... [next N | always]
  duplicate [DIR] SELECTOR... [next N | always] [copies K]
      SELECTOR: 35=8 (MsgType; 35=8,9 for either), 34=12 or 34=10-20 (MsgSeqNum), 43=Y|N (PossDupFlag),
      TAG=VALUE (any other field equal to VALUE); no selector: any message. Default: next 1.
  holdreplay [DIR] CHUNK reverse|shuffle [AFTER_MS]   hold PossDupFlag=Y messages in chunks, release out of order
  holdreplay [DIR] off                 stop holding replays (releases what is held)
  partition MS                         stall both directions for MS, then heal
  heal                                 end a partition now
  refuse on|off                        reset new connections (existing ones stay)
  clear [DIR]                          remove every fault (of DIR, or of the whole proxy)
  stats | connections | help | quit`;

/**
 * Parses one line of the control protocol. Returns null for a blank line or a comment (`#`); throws
 * ControlCommandError for anything it cannot read. Words are case-insensitive except field values.
 */
export function parseControlCommand(line: string): ControlCommand | null {
  const text = line.replace(/#.*$/, "").trim();
  if (text === "") return null;
  const words = text.split(/\s+/);
  const fail = (reason: string): never => {
    throw new ControlCommandError(line, reason);
  };
  const op = words.shift()!.toLowerCase();
  const nextWord = (): string | undefined => words.shift();
  const noMore = (): void => {
    if (words.length > 0) fail(`unexpected "${words.join(" ")}"`);
  };
  /** An optional DIR at the front of the remaining words. */
  const directions = (): DirectionName[] => {
    const d = words[0]?.toLowerCase();
    if (d === "toserver" || d === "toclient" || d === "both") words.shift();
    if (d === "toserver") return ["toServer"];
    if (d === "toclient") return ["toClient"];
    return ["toServer", "toClient"];
  };
  const number = (w: string | undefined, what: string, min = 0): number => {
    if (w === undefined || !/^\d+(\.\d+)?$/.test(w) || Number(w) < min) fail(`${what}: expected a number ≥ ${min}`);
    return Number(w);
  };

  switch (op) {
    case "cut": {
      const reset = words[0]?.toLowerCase() === "reset";
      if (reset) words.shift();
      noMore();
      return { op, reset };
    }
    case "stall": {
      const dirs = directions();
      const discard = words[0]?.toLowerCase() === "discard";
      if (discard) words.shift();
      noMore();
      return { op, directions: dirs, discard };
    }
    case "resume": {
      const dirs = directions();
      noMore();
      return { op, directions: dirs };
    }
    case "latency": {
      const dirs = directions();
      const w = nextWord() ?? fail("latency: expected MS or MIN-MAX");
      const range = /^(\d+)-(\d+)$/.exec(w);
      const [min, max] = range ? [Number(range[1]), Number(range[2])] : [number(w, "latency"), number(w, "latency")];
      if (max < min) fail("latency: MIN must not exceed MAX");
      noMore();
      return { op, directions: dirs, min, max };
    }
    case "drop":
    case "duplicate": {
      const dirs = directions();
      const rule: DuplicateOptions = {};
      const fields: Array<[number, string]> = [];
      while (words.length > 0) {
        const w = words.shift()!;
        const lw = w.toLowerCase();
        if (lw === "next") {
          rule.count = number(nextWord(), "next", 1);
        } else if (lw === "always") {
          rule.persistent = true;
        } else if (lw === "copies" && op === "duplicate") {
          rule.copies = number(nextWord(), "copies", 1);
        } else {
          selector(w, rule, fields, fail);
        }
      }
      if (rule.persistent && rule.count !== undefined) fail(`"next N" and "always" exclude each other`);
      if (fields.length > 0) rule.where = (m: FixMessage) => fields.every(([tag, value]) => m.get(tag) === value);
      return op === "drop" ? { op, directions: dirs, rule } : { op, directions: dirs, rule };
    }
    case "holdreplay": {
      const dirs = directions();
      const first = nextWord() ?? fail("holdreplay: expected CHUNK reverse|shuffle [AFTER_MS], or off");
      if (first.toLowerCase() === "off") {
        noMore();
        return { op: "holdReplay", directions: dirs, options: null };
      }
      const chunk = number(first, "holdreplay CHUNK", 1);
      const order = nextWord()?.toLowerCase();
      if (order !== "reverse" && order !== "shuffle") return fail(`holdreplay: order must be "reverse" or "shuffle"`);
      const after = nextWord();
      noMore();
      const options: HoldReplayOptions = { chunk, order };
      if (after !== undefined) options.releaseAfterMs = number(after, "holdreplay AFTER_MS");
      return { op: "holdReplay", directions: dirs, options };
    }
    case "partition": {
      const ms = number(nextWord(), "partition MS");
      noMore();
      return { op, ms };
    }
    case "refuse": {
      const w = nextWord()?.toLowerCase();
      if (w !== "on" && w !== "off") return fail(`refuse: expected "on" or "off"`);
      noMore();
      return { op, on: w === "on" };
    }
    case "clear": {
      const named = words.length > 0;
      const dirs = directions();
      noMore();
      return { op, directions: named ? dirs : null };
    }
    case "heal":
    case "stats":
    case "connections":
    case "help":
    case "quit":
      noMore();
      return { op };
    case "exit":
      noMore();
      return { op: "quit" };
    default:
      return fail(`unknown command "${op}" (try "help")`);
  }
}

/** Reads one `TAG=VALUE` selector into the rule. */
function selector(w: string, rule: RuleOptions, fields: Array<[number, string]>, fail: (r: string) => never): void {
  const m = /^(\d+)=(.+)$/.exec(w);
  if (!m) {
    fail(`"${w}": expected TAG=VALUE (35=8, 34=12, 34=10-20, 43=Y), "next N", "always" or "copies K"`);
    return;
  }
  const tag = Number(m[1]);
  const value = m[2];
  switch (tag) {
    case Tag.MsgType:
      rule.msgType = value.split(",");
      return;
    case Tag.MsgSeqNum: {
      const range = /^(\d+)-(\d+)$/.exec(value);
      if (range) rule.seq = { from: Number(range[1]), to: Number(range[2]) };
      else if (/^\d+$/.test(value)) rule.seq = Number(value);
      else fail(`34=${value}: expected a MsgSeqNum or a range FROM-TO`);
      return;
    }
    case Tag.PossDupFlag:
      if (value !== "Y" && value !== "N") fail(`43=${value}: PossDupFlag is Y or N`);
      rule.possDup = value === "Y";
      return;
    default:
      fields.push([tag, value]);
  }
}
