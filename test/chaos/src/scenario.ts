import { it, type TestContext } from "node:test";
import type { Converged } from "./convergence.js";
import { type Rig, type RigOptions, startRig } from "./rig.js";
import type { Row, Scoreboard } from "./scoreboard.js";

/** What a scenario's body gets: its table row, a rig factory (stopped for it), and a place for other cleanups. */
export interface ScenarioContext {
  t: TestContext;
  row: Row;
  rig(o?: RigOptions): Promise<Rig>;
  /** Runs after the scenario, last registered first, even when it fails. */
  cleanup(fn: () => Promise<void> | void): void;
  /** Copies what `assertConverged` found into the row and marks it converged. */
  converged(c: Converged, recoverMs?: number | null): void;
}

/**
 * Registers one chaos scenario as a test with a time limit. `title` is the row's name in the closing table, `name`
 * the behaviour the test asserts. When the body fails, what happened is printed as TAP diagnostics: our session's
 * health path and last messages on the wire, the proxy's faults and the venue session's notices.
 */
export function scenario(
  board: Scoreboard,
  title: string,
  name: string,
  opts: { timeout: number },
  body: (s: ScenarioContext) => Promise<void>,
): void {
  it(name, { timeout: opts.timeout }, async (t) => {
    const row = board.row(title);
    const rigs: Rig[] = [];
    const cleanups: Array<() => Promise<void> | void> = [];
    const ctx: ScenarioContext = {
      t,
      row,
      async rig(o) {
        const r = await startRig(o);
        rigs.push(r);
        return r;
      },
      cleanup: (fn) => cleanups.push(fn),
      converged(c, recoverMs) {
        row.orders = c.orders;
        row.executions = c.executions;
        row.duplicatesDropped = c.duplicatesDropped;
        row.sessionDuplicates = c.duplicatesIgnoredBySession;
        row.gapsRecovered = c.gapsRecovered;
        if (recoverMs !== undefined) row.recoverMs = recoverMs;
        row.converged = true;
      },
    };
    try {
      await body(ctx);
    } catch (err) {
      row.converged = false;
      for (const r of rigs) diagnose(t, r);
      throw err;
    } finally {
      for (const fn of cleanups.reverse()) await fn();
      for (const r of rigs) await r.stop();
    }
  });
}

/** What happened, for a failed scenario. */
export function diagnose(t: TestContext, rig: Rig): void {
  const { us, vs } = rig;
  const st = us.state;
  t.diagnostic(
    `ours: health ${st.health}${st.safeReason ? ` (${st.safeReason})` : ""}, next out ${st.nextSenderSeq}, next in ${st.nextTargetSeq}, queued ${st.queue.size}, resend ${JSON.stringify(st.resendRange)}`,
  );
  t.diagnostic(`venue: health ${vs.health}, next out ${vs.nextSenderSeq}, next in ${vs.nextTargetSeq}`);
  t.diagnostic(`our counters ${JSON.stringify(st.counters)}`);
  t.diagnostic(`order store counters ${JSON.stringify(us.orders.counters)}`);
  t.diagnostic(`health: ${us.health.map((h) => `${h.to}(${h.reason})`).join(" → ")}`);
  const notices = us.notices.filter((n) => n.kind !== "health").slice(-20);
  for (const n of notices) t.diagnostic(`our notice ${JSON.stringify(n)}`);
  for (const n of rig.venueNotices.slice(-15)) t.diagnostic(`venue notice ${JSON.stringify(n)}`);
  t.diagnostic(`proxy stats ${JSON.stringify(rig.proxy.stats())}`);
  for (const f of rig.faults.slice(-20)) t.diagnostic(`proxy fault ${JSON.stringify(f)}`);
  t.diagnostic(`our wire, last ${Math.min(60, us.wire.total)} of ${us.wire.total}:`);
  for (const line of us.wire.format(60)) t.diagnostic(`  ${line}`);
}
