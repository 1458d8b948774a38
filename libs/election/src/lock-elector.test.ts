/**
 * The campaign's rules on a fake clock, over an in-memory lock with the Redis backend's semantics: when it
 * acquires, renews and steps down, and that a leader that cannot renew has stepped down before the lock can
 * expire (so before anyone else can win).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DeposeCode, type DeposedReason, resolveTiming } from "./elector.js";
import { LockElector } from "./lock-elector.js";
import { FakeClock, MemoryLock, MemoryLockTable } from "./testing/index.js";

const TIMING = { leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 100 };

interface Probe {
  elector: LockElector;
  elected: Array<{ epoch: number; at: number }>;
  deposed: Array<DeposedReason & { at: number }>;
}

function setup(identities: string[]) {
  const clock = new FakeClock();
  const table = new MemoryLockTable(clock);
  const probes = identities.map((id): Probe => {
    const elector = new LockElector(new MemoryLock(table, id, TIMING.leaseDurationMs), {
      timing: TIMING,
      clock,
      random: () => 0,
    });
    const p: Probe = { elector, elected: [], deposed: [] };
    elector.on("elected", (epoch) => p.elected.push({ epoch, at: clock.now() }));
    elector.on("deposed", (r) => p.deposed.push({ ...r, at: clock.now() }));
    return p;
  });
  return { clock, table, probes };
}

describe("LockElector (fake clock)", () => {
  it("is elected at once when the lock is free, with epoch 1", async () => {
    const { clock, probes } = setup(["a"]);
    const [a] = probes;
    a.elector.start();
    await clock.advance(0);
    assert.equal(a.elector.isLeader, true);
    assert.equal(a.elector.epoch, 1);
    assert.deepEqual(
      a.elected.map((e) => e.epoch),
      [1],
    );
  });

  it("renews every retry period and leads for many lease durations", async () => {
    const { clock, table, probes } = setup(["a", "b"]);
    const [a, b] = probes;
    a.elector.start();
    await clock.advance(0);
    b.elector.start();
    await clock.advance(10 * TIMING.leaseDurationMs);
    assert.equal(a.elector.isLeader, true);
    assert.equal(b.elector.isLeader, false);
    assert.equal(a.deposed.length, 0);
    assert.equal(b.elected.length, 0);
    assert.ok(table.calls > 100, `calls ${table.calls}`);
  });

  it("steps down at renewDeadline when renewals fail, before the lock expires for anyone else", async () => {
    const { clock, table, probes } = setup(["a", "b"]);
    const [a, b] = probes;
    a.elector.start();
    await clock.advance(0);
    b.elector.start();
    await clock.advance(250);
    const lastRenewal = table.holder?.expiresAt ?? 0;
    table.down = true;
    await clock.advance(1000);
    assert.equal(a.deposed.length, 1);
    const d = a.deposed[0];
    assert.equal(d.code, DeposeCode.RenewDeadline);
    assert.equal(d.epoch, 1);
    // Stepped down while the lock was still valid: nobody could have won yet.
    assert.ok(d.at < lastRenewal, `deposed at ${d.at}, lock valid until ${lastRenewal}`);
    table.down = false;
    await clock.advance(2 * TIMING.leaseDurationMs);
    // One of them (the old leader is a standby like the other now) leads with the next epoch, after the expiry.
    const winners = probes.filter((p) => p.elector.isLeader);
    assert.equal(winners.length, 1);
    assert.equal(winners[0].elector.epoch, 2);
    assert.ok(winners[0].elected.at(-1)!.at >= lastRenewal);
  });

  it("abandons a renewal that does not answer and steps down at the deadline (a stalled link)", async () => {
    const { clock, table, probes } = setup(["a"]);
    const [a] = probes;
    a.elector.start();
    await clock.advance(0);
    const acquiredAt = clock.now();
    table.block();
    await clock.advance(TIMING.renewDeadlineMs + 50);
    assert.equal(a.elector.isLeader, false);
    assert.equal(a.deposed[0].code, DeposeCode.RenewDeadline);
    assert.ok(a.deposed[0].at <= acquiredAt + TIMING.renewDeadlineMs + TIMING.retryPeriodMs);
    table.unblock();
  });

  it("a leader that wakes up past its deadline (SIGSTOP, GC) steps down before it renews", async () => {
    const { clock, table, probes } = setup(["a"]);
    const [a] = probes;
    a.elector.start();
    await clock.advance(0);
    const calls = table.calls;
    clock.jump(5 * TIMING.leaseDurationMs);
    await clock.advance(0);
    assert.equal(a.deposed.length, 1);
    assert.equal(a.deposed[0].code, DeposeCode.RenewDeadline);
    // The only call after waking is the release (which the lock refuses: it expired); no renewal.
    assert.ok(table.calls <= calls + 1, `calls after waking: ${table.calls - calls}`);
  });

  it("a standby takes over a lock whose holder died, after it expired, with epoch + 1", async () => {
    const { clock, table, probes } = setup(["b"]);
    const [b] = probes;
    // A holder that acquired and then died: it never renews nor releases.
    const dead = new MemoryLock(table, "dead", TIMING.leaseDurationMs);
    const r = await dead.acquire();
    assert.ok(r.acquired);
    const diedAt = clock.now();
    b.elector.start();
    await clock.advance(TIMING.leaseDurationMs + 2 * TIMING.retryPeriodMs);
    assert.equal(b.elector.isLeader, true);
    assert.equal(b.elector.epoch, r.epoch + 1);
    assert.ok(b.elected[0].at >= diedAt + TIMING.leaseDurationMs);
  });

  it("learns it lost the lock from a renewal and says so (lost)", async () => {
    const { clock, table, probes } = setup(["a"]);
    const [a] = probes;
    a.elector.start();
    await clock.advance(0);
    table.holder = { identity: "usurper", epoch: 9, expiresAt: clock.now() + 10_000 };
    await clock.advance(TIMING.retryPeriodMs + 1);
    assert.equal(a.deposed.length, 1);
    assert.equal(a.deposed[0].code, DeposeCode.Lost);
  });

  it("stop releases the lock, and a standby takes it over at its next attempt", async () => {
    const { clock, table, probes } = setup(["a", "b"]);
    const [a, b] = probes;
    a.elector.start();
    await clock.advance(0);
    b.elector.start();
    await clock.advance(300);
    const stopped = a.elector.stop();
    await clock.advance(0);
    await stopped;
    assert.equal(a.deposed[0].code, DeposeCode.Stopped);
    assert.equal(table.holder, null);
    await clock.advance(TIMING.retryPeriodMs * 1.2);
    assert.equal(b.elector.isLeader, true);
    assert.equal(b.elector.epoch, 2);
  });

  it("resign gives the lock up and campaigns again", async () => {
    const { clock, table, probes } = setup(["a"]);
    const [a] = probes;
    a.elector.start();
    await clock.advance(0);
    const resigned = a.elector.resign("store refused a write");
    await clock.advance(0);
    await resigned;
    assert.equal(a.deposed[0].code, DeposeCode.Resigned);
    assert.equal(table.holder, null);
    await clock.advance(TIMING.retryPeriodMs * 1.2);
    assert.equal(a.elector.isLeader, true);
    assert.equal(a.elector.epoch, 2);
  });

  it("checks the timing as client-go does", () => {
    assert.throws(() => resolveTiming({ leaseDurationMs: 1000, renewDeadlineMs: 1000 }), /leaseDuration/);
    assert.throws(() => resolveTiming({ renewDeadlineMs: 110, retryPeriodMs: 100, leaseDurationMs: 500 }), /× 1.2/);
    assert.throws(() => resolveTiming({ retryPeriodMs: 0 }), /positive/);
    assert.deepEqual(resolveTiming(TIMING), TIMING);
  });
});
