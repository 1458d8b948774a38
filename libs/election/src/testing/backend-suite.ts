/**
 * The behaviours every lock backend must show, in real time against a real backend (Redis, or the in-test Lease
 * API server): each elector reaches the backend through its own ChaosProxy, so a test can stall one replica's
 * link while the others keep theirs. Run by `redis/redis-lock.test.ts` and `lease/lease-lock.test.ts`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ChaosProxy } from "@fixmesh/chaos";
import { DeposeCode, type DeposedReason, type ElectionTiming, type Elector } from "../elector.js";

export const SUITE_TIMING: ElectionTiming = { leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 100 };

export interface BackendHarness {
  /** A fresh lock (new key or Lease name) for one test; what `elector` and `deadHolder` contend for. */
  fresh(): Promise<BackendLock>;
  /** The backend's address, behind which each elector gets its proxy. */
  target: { host: string; port: number };
}

export interface BackendLock {
  /** An elector on this lock reaching the backend at `port` (its own proxy). */
  elector(identity: string, port: number): Elector;
  /** Takes the lock as a holder that then dies: never renews nor releases. Returns its epoch. */
  deadHolder(): Promise<number>;
  cleanup(): Promise<void>;
}

interface Replica {
  elector: Elector;
  link: ChaosProxy;
  elected: Array<{ epoch: number; at: number }>;
  deposed: Array<DeposedReason & { at: number }>;
}

/** Fails the test when two replicas lead at the same moment. */
class LeaderWatch {
  readonly replicas: Replica[] = [];
  violations = 0;

  check(): void {
    if (this.replicas.filter((r) => r.elector.isLeader).length > 1) this.violations++;
  }
}

async function replica(lock: BackendLock, harness: BackendHarness, identity: string, w: LeaderWatch) {
  const link = new ChaosProxy({ target: harness.target });
  const { port } = await link.start();
  const elector = lock.elector(identity, port);
  const r: Replica = { elector, link, elected: [], deposed: [] };
  elector.on("elected", (epoch) => {
    r.elected.push({ epoch, at: performance.now() });
    w.check();
  });
  elector.on("deposed", (d) => r.deposed.push({ ...d, at: performance.now() }));
  w.replicas.push(r);
  return r;
}

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function teardown(w: LeaderWatch, lock: BackendLock): Promise<void> {
  for (const r of w.replicas) {
    r.link.reset();
    await r.elector.stop();
    await r.link.stop();
  }
  await lock.cleanup();
}

export function backendSuite(name: string, harness: () => BackendHarness): void {
  const T = SUITE_TIMING;
  describe(`${name}: the election rules every backend keeps`, () => {
    it("acquires a free lock with epoch 1 and keeps it for several lease durations while another waits", async () => {
      const h = harness();
      const lock = await h.fresh();
      const w = new LeaderWatch();
      try {
        const a = await replica(lock, h, "replica-a", w);
        a.elector.start();
        await waitFor(() => a.elector.isLeader, 2000, "a to lead");
        const b = await replica(lock, h, "replica-b", w);
        b.elector.start();
        await new Promise((r) => setTimeout(r, 2.5 * T.leaseDurationMs));
        assert.equal(a.elector.isLeader, true);
        assert.equal(a.elector.epoch, 1);
        assert.equal(b.elector.isLeader, false);
        assert.equal(a.deposed.length, 0);
        assert.equal(w.violations, 0);
      } finally {
        await teardown(w, lock);
      }
    });

    it("a leader whose link stalls steps down by itself before the standby wins, which leads with epoch + 1", async () => {
      const h = harness();
      const lock = await h.fresh();
      const w = new LeaderWatch();
      try {
        const a = await replica(lock, h, "replica-a", w);
        a.elector.start();
        await waitFor(() => a.elector.isLeader, 2000, "a to lead");
        const b = await replica(lock, h, "replica-b", w);
        b.elector.start();
        await new Promise((r) => setTimeout(r, 300));
        const stalledAt = performance.now();
        a.link.stall();
        await waitFor(() => b.elector.isLeader, 4 * T.leaseDurationMs, "b to take over");
        assert.equal(a.deposed.length, 1);
        const d = a.deposed[0];
        assert.equal(d.code, DeposeCode.RenewDeadline);
        const wonAt = b.elected[0].at;
        assert.ok(d.at < wonAt, `a stepped down at +${d.at - stalledAt} ms, b won at +${wonAt - stalledAt} ms`);
        // At most renewDeadline after the last renewal sent before the stall; timers run late on a loaded machine.
        assert.ok(d.at - stalledAt <= T.renewDeadlineMs + 250, `stepped down ${d.at - stalledAt} ms after the stall`);
        assert.equal(b.elector.epoch, a.elector.epoch + 1);
        assert.equal(w.violations, 0);
      } finally {
        await teardown(w, lock);
      }
    });

    it("takes over from a holder that died after the lock expired, with its epoch + 1", async () => {
      const h = harness();
      const lock = await h.fresh();
      const w = new LeaderWatch();
      try {
        const dead = await lock.deadHolder();
        const diedAt = performance.now();
        const b = await replica(lock, h, "replica-b", w);
        b.elector.start();
        await waitFor(() => b.elector.isLeader, 4 * T.leaseDurationMs, "b to take over");
        assert.equal(b.elector.epoch, dead + 1);
        const after = b.elected[0].at - diedAt;
        assert.ok(after >= T.leaseDurationMs - 20, `took over ${after} ms after the holder died`);
        assert.ok(after <= T.leaseDurationMs + 4 * T.retryPeriodMs + 200, `took over ${after} ms after`);
      } finally {
        await teardown(w, lock);
      }
    });

    it("stop releases the lock, and the standby takes over without waiting for it to expire", async () => {
      const h = harness();
      const lock = await h.fresh();
      const w = new LeaderWatch();
      try {
        const a = await replica(lock, h, "replica-a", w);
        a.elector.start();
        await waitFor(() => a.elector.isLeader, 2000, "a to lead");
        const b = await replica(lock, h, "replica-b", w);
        b.elector.start();
        await new Promise((r) => setTimeout(r, 250));
        const t0 = performance.now();
        await a.elector.stop();
        assert.equal(a.deposed[0]?.code, DeposeCode.Stopped);
        await waitFor(() => b.elector.isLeader, 2000, "b to take over");
        const ms = b.elected[0].at - t0;
        assert.ok(ms < T.leaseDurationMs / 2, `hand-over took ${ms} ms`);
        assert.equal(b.elector.epoch, a.elector.epoch + 1);
      } finally {
        await teardown(w, lock);
      }
    });

    it("of three replicas started together exactly one leads, and never two at once", async () => {
      const h = harness();
      const lock = await h.fresh();
      const w = new LeaderWatch();
      try {
        const rs = await Promise.all(["r1", "r2", "r3"].map((id) => replica(lock, h, id, w)));
        for (const r of rs) r.elector.start();
        await waitFor(() => rs.some((r) => r.elector.isLeader), 2000, "a leader");
        const end = performance.now() + 1.5 * T.leaseDurationMs;
        while (performance.now() < end) {
          w.check();
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.equal(rs.filter((r) => r.elector.isLeader).length, 1);
        assert.equal(
          rs.reduce((n, r) => n + r.elected.length, 0),
          1,
        );
        assert.equal(w.violations, 0);
      } finally {
        await teardown(w, lock);
      }
    });
  });
}
