import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ControlCommand, parseControlCommand } from "./control.js";
import { ControlCommandError } from "./errors.js";

const both = ["toServer", "toClient"];

/** The command without functions (a `where` predicate is checked separately). */
function plain(line: string): unknown {
  const c = parseControlCommand(line);
  return JSON.parse(JSON.stringify(c));
}

describe("parseControlCommand", () => {
  it("reads the link commands, with both directions when none is named", () => {
    assert.deepEqual(plain("cut"), { op: "cut", reset: false });
    assert.deepEqual(plain("cut reset"), { op: "cut", reset: true });
    assert.deepEqual(plain("stall toClient"), { op: "stall", directions: ["toClient"], discard: false });
    assert.deepEqual(plain("stall discard"), { op: "stall", directions: both, discard: true });
    assert.deepEqual(plain("resume"), { op: "resume", directions: both });
    assert.deepEqual(plain("latency 50"), { op: "latency", directions: both, min: 50, max: 50 });
    assert.deepEqual(plain("latency toServer 10-40"), { op: "latency", directions: ["toServer"], min: 10, max: 40 });
    assert.deepEqual(plain("partition 5000"), { op: "partition", ms: 5000 });
    assert.deepEqual(plain("refuse on"), { op: "refuse", on: true });
    assert.deepEqual(plain("clear"), { op: "clear", directions: null });
    assert.deepEqual(plain("clear toClient"), { op: "clear", directions: ["toClient"] });
    assert.deepEqual(plain("  STATS  # comment"), { op: "stats" });
  });

  it("reads drop and duplicate rules: MsgType, MsgSeqNum, PossDupFlag, count and persistence", () => {
    assert.deepEqual(plain("drop toClient 35=8 next 1"), {
      op: "drop",
      directions: ["toClient"],
      rule: { msgType: ["8"], count: 1 },
    });
    assert.deepEqual(plain("duplicate toClient 35=8 next 3"), {
      op: "duplicate",
      directions: ["toClient"],
      rule: { msgType: ["8"], count: 3 },
    });
    assert.deepEqual(plain("drop 34=10-20 43=N always"), {
      op: "drop",
      directions: both,
      rule: { seq: { from: 10, to: 20 }, possDup: false, persistent: true },
    });
    assert.deepEqual(plain("duplicate toServer 34=7 copies 2"), {
      op: "duplicate",
      directions: ["toServer"],
      rule: { seq: 7, copies: 2 },
    });
  });

  it("turns any other TAG=VALUE into a field match", () => {
    const c = parseControlCommand("drop toClient 35=8 11=ORD-7") as Extract<ControlCommand, { op: "drop" }>;
    assert.equal(typeof c.rule.where, "function");
  });

  it("reads holdreplay on and off", () => {
    assert.deepEqual(plain("holdreplay toClient 10 reverse 200"), {
      op: "holdReplay",
      directions: ["toClient"],
      options: { chunk: 10, order: "reverse", releaseAfterMs: 200 },
    });
    assert.deepEqual(plain("holdreplay 5 shuffle"), {
      op: "holdReplay",
      directions: both,
      options: { chunk: 5, order: "shuffle" },
    });
    assert.deepEqual(plain("holdreplay off"), { op: "holdReplay", directions: both, options: null });
  });

  it("ignores blank lines and comments", () => {
    assert.equal(parseControlCommand(""), null);
    assert.equal(parseControlCommand("   # nothing"), null);
  });

  it("rejects what it cannot read, quoting the line", () => {
    for (const bad of [
      "explode",
      "stall sideways",
      "latency",
      "latency 40-10",
      "drop 35",
      "drop next 0",
      "drop next 2 always",
      "drop 43=maybe",
      "holdreplay 3 sideways",
      "partition soon",
      "refuse maybe",
      "cut now",
    ]) {
      assert.throws(
        () => parseControlCommand(bad),
        (e: unknown) => e instanceof ControlCommandError && e.line === bad,
        bad,
      );
    }
  });
});
