import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type FixMessage, Framer, MsgType } from "@fixmesh/fix";
import { InvalidOptionError } from "./errors.js";
import { releaseOrder } from "./replay.js";
import { Rule, type RuleOptions } from "./rule.js";
import { fixMessage } from "./testing.js";

function parsed(bytes: Buffer): FixMessage {
  let out: FixMessage | undefined;
  new Framer().push(
    bytes,
    (m) => {
      out = m;
    },
    () => assert.fail("garbled fixture"),
  );
  return out!;
}

const er = (seq: number, possDup = false) => parsed(fixMessage(MsgType.ExecutionReport, seq, { possDup }));
const hb = (seq: number) => parsed(fixMessage(MsgType.Heartbeat, seq));
const rule = (o: RuleOptions) => new Rule(1, "drop", o, () => undefined);

describe("Rule", () => {
  it("selects by MsgType, one or several", () => {
    assert.equal(rule({ msgType: "8" }).matches(er(1)), true);
    assert.equal(rule({ msgType: "8" }).matches(hb(1)), false);
    assert.equal(rule({ msgType: ["0", "8"] }).matches(hb(1)), true);
  });

  it("selects by MsgSeqNum exactly, by inclusive range and by predicate", () => {
    assert.equal(rule({ seq: 5 }).matches(er(5)), true);
    assert.equal(rule({ seq: 5 }).matches(er(6)), false);
    const r = rule({ seq: { from: 3, to: 4 } });
    assert.deepEqual(
      [2, 3, 4, 5].map((n) => r.matches(er(n))),
      [false, true, true, false],
    );
    assert.equal(rule({ seq: (n) => n % 2 === 0 }).matches(er(8)), true);
  });

  it("selects originals or resent copies by PossDupFlag, and by any field through where", () => {
    assert.equal(rule({ possDup: true }).matches(er(1, true)), true);
    assert.equal(rule({ possDup: true }).matches(er(1)), false);
    assert.equal(rule({ possDup: false }).matches(er(1)), true);
    assert.equal(rule({ where: (m) => m.get(49) === "VENUE" }).matches(er(1)), true);
  });

  it("is one-shot by default, spent after count hits, and persistent when asked", () => {
    const once = rule({});
    assert.equal(once.hit(), true);
    assert.equal(once.matches(er(1)), false);
    const three = rule({ count: 3 });
    assert.deepEqual([three.hit(), three.hit(), three.hit()], [false, false, true]);
    const always = rule({ persistent: true });
    for (let i = 0; i < 100; i++) always.hit();
    assert.equal(always.spent, false);
  });

  it("cancel removes the rule through its owner once", () => {
    let removed = 0;
    const r = new Rule(7, "duplicate", { persistent: true }, () => removed++);
    r.cancel();
    r.cancel();
    assert.equal(removed, 1);
    assert.equal(r.matches(er(1)), false);
  });

  it("rejects counts, ranges and copies that make no sense", () => {
    assert.throws(() => rule({ count: 0 }), InvalidOptionError);
    assert.throws(() => rule({ count: 2, persistent: true }), InvalidOptionError);
    assert.throws(() => rule({ seq: { from: 5, to: 4 } }), InvalidOptionError);
    assert.throws(() => rule({ seq: 0 }), InvalidOptionError);
    assert.throws(() => new Rule(1, "duplicate", { copies: 0 }, () => undefined), InvalidOptionError);
  });
});

describe("releaseOrder", () => {
  it("reverses a chunk", () => {
    assert.deepEqual(releaseOrder(4, "reverse", Math.random), [3, 2, 1, 0]);
  });

  it("shuffles into a permutation that is never the arrival order", () => {
    for (const draw of [0, 0.5, 0.999]) {
      for (let n = 2; n <= 6; n++) {
        const order = releaseOrder(n, "shuffle", () => draw);
        assert.deepEqual(
          [...order].sort((a, b) => a - b),
          Array.from({ length: n }, (_, i) => i),
        );
        assert.ok(
          order.some((v, i) => v !== i),
          `n=${n}, draw=${draw}: ${order}`,
        );
      }
    }
    assert.deepEqual(releaseOrder(1, "shuffle", Math.random), [0]);
  });
});
