import assert from "node:assert/strict";
import type { Order } from "@fixmesh/orders";
import { Health } from "@fixmesh/session";
import type { OrderSnapshot } from "@fixmesh/venue-sim";
import type { OurSide } from "./our-side.js";
import type { Rig } from "./rig.js";
import { waitFor } from "./wait.js";

/** OrdStatus(39) of a venue order's final state. */
const ORD_STATUS: Record<OrderSnapshot["state"], string> = {
  new: "0",
  partiallyFilled: "1",
  filled: "2",
  canceled: "4",
  rejected: "8",
};

export interface Converged {
  orders: number;
  executions: number;
  /** Reports our order store dropped as already seen (session + ExecID; ClOrdID for an OrderCancelReject). */
  duplicatesDropped: number;
  /** Resent copies our session dropped itself (PossDupFlag=Y under a MsgSeqNum already processed). */
  duplicatesIgnoredBySession: number;
  gapsRecovered: number;
}

/** Differences between our view of an order and the venue's (empty when they agree). */
export function orderDifferences(ours: Order, theirs: OrderSnapshot | undefined): string[] {
  if (theirs === undefined) return [`${ours.chain[0]}: unknown at the venue (ours: ${ours.status} ${ours.cumQty})`];
  const out: string[] = [];
  const id = ours.chain[0];
  if (ours.status !== ORD_STATUS[theirs.state])
    out.push(`${id}: OrdStatus ours ${ours.status}, venue ${ORD_STATUS[theirs.state]} (${theirs.state})`);
  if (!same(ours.cumQty, theirs.cumQty)) out.push(`${id}: CumQty ours ${ours.cumQty}, venue ${theirs.cumQty}`);
  if (!same(ours.leavesQty, theirs.leavesQty))
    out.push(`${id}: LeavesQty ours ${ours.leavesQty}, venue ${theirs.leavesQty}`);
  if (!same(ours.avgPx, theirs.avgPx)) out.push(`${id}: AvgPx ours ${ours.avgPx}, venue ${theirs.avgPx}`);
  if (ours.clOrdID !== theirs.clOrdId) out.push(`${id}: ClOrdID ours ${ours.clOrdID}, venue ${theirs.clOrdId}`);
  if (ours.pendingCancel !== undefined || ours.pendingReplace !== undefined)
    out.push(`${id}: a request still pending on our side (${ours.pendingCancel ?? ours.pendingReplace})`);
  return out;
}

/** Decimal text against the venue's number; AvgPx may differ in the last binary digit of a float average. */
function same(ours: string, theirs: number): boolean {
  const a = Number(ours);
  return Math.abs(a - theirs) <= 1e-9 * Math.max(1, Math.abs(theirs));
}

/** True once every order matches, every venue execution is applied and the numbers agree both ways. */
function settled(rig: Rig): boolean {
  const { us, vs } = rig;
  const st = us.state;
  if (st.health !== Health.Live || !vs.loggedOn || vs.pendingReports > 0) return false;
  if (st.nextTargetSeq !== vs.nextSenderSeq || st.nextSenderSeq !== vs.nextTargetSeq) return false;
  if (us.applied.size < rig.venueExecIds.length) return false;
  for (const id of rig.venueExecIds) if (!us.applied.has(id)) return false;
  for (const o of us.orders.all())
    if (orderDifferences(o, rig.venue.order(o.chain[0], "CLIENT")).length > 0) return false;
  return true;
}

/**
 * Waits until the system is quiet, then asserts the four guarantees as a user would check them:
 * - convergence: every order's status, CumQty, LeavesQty and AvgPx on our side equal the venue's, and the venue knows
 *   no order of our session that we do not;
 * - exactly once: every ExecID the venue sent was applied once — none lost, none twice; the copies were dropped;
 * - ordering: our next expected MsgSeqNum is the venue's next outgoing one and the other way round, and the
 *   application messages were delivered in strictly increasing MsgSeqNum (none twice, none out of order);
 * - health: the session is LIVE, and it became LIVE only at moments with no gap open, nothing queued and no SAFE.
 */
export async function assertConverged(
  rig: Rig,
  o: { timeoutMs?: number; expectOrders?: number } = {},
): Promise<Converged> {
  const { us, vs, venue } = rig;
  try {
    await waitFor(() => settled(rig), o.timeoutMs ?? 15_000, "convergence");
  } catch {
    // Fall through: the assertions below say what differs.
  }
  const st = us.state;
  assert.equal(st.health, Health.Live, `our session is ${st.health}, not LIVE (${st.safeReason ?? ""})`);
  assert.equal(st.nextTargetSeq, vs.nextSenderSeq, "our next expected MsgSeqNum = the venue's next outgoing one");
  assert.equal(st.nextSenderSeq, vs.nextTargetSeq, "our next outgoing MsgSeqNum = the venue's next expected one");

  const ours = [...us.orders.all()];
  const diffs = ours.flatMap((x) => orderDifferences(x, venue.order(x.chain[0], "CLIENT")));
  assert.deepEqual(diffs.slice(0, 20), [], `${diffs.length} order(s) differ from the venue`);
  const known = new Set(ours.flatMap((x) => x.chain));
  const theirs = venue.orders().filter((v) => v.session === vs.id);
  const unknown = theirs.filter((v) => !v.chain.some((c) => known.has(c))).map((v) => v.clOrdId);
  assert.deepEqual(unknown.slice(0, 20), [], `${unknown.length} venue order(s) we do not know`);
  if (o.expectOrders !== undefined) assert.equal(ours.length, o.expectOrders, "orders on our side");
  assert.equal(theirs.length, ours.length, "one venue order per order of ours (no order lost or doubled)");

  const twice = [...us.applied].filter(([, n]) => n !== 1).map(([id, n]) => `${id}×${n}`);
  assert.deepEqual(twice.slice(0, 20), [], "every execution applied exactly once");
  const missing = rig.venueExecIds.filter((id) => !us.applied.has(id));
  assert.deepEqual(missing.slice(0, 20), [], `${missing.length} venue execution(s) never applied on our side`);
  const sent = new Set(rig.venueExecIds);
  const invented = [...us.applied.keys()].filter((id) => !sent.has(id));
  assert.deepEqual(invented.slice(0, 20), [], "executions applied that the venue never sent");
  assert.deepEqual(us.problems.slice(0, 10), [], "reports our order store could not apply");
  assert.deepEqual([...us.held].slice(0, 10), [], "reports still held");

  assertDeliveredInOrder(us);
  assertLiveOnlyWhenSafe(us);
  return {
    orders: ours.length,
    executions: us.executions,
    duplicatesDropped: us.orders.counters.duplicates,
    duplicatesIgnoredBySession: st.counters.duplicatesIgnored,
    gapsRecovered: us.noticesOf("gapFilled").length,
  };
}

/** Application messages were handed to us in strictly increasing MsgSeqNum within each sequence cycle. */
export function assertDeliveredInOrder(us: OurSide): void {
  for (const [cycle, seqs] of us.delivered.entries()) {
    for (let i = 1; i < seqs.length; i++) {
      if (seqs[i] <= seqs[i - 1]) {
        assert.fail(`cycle ${cycle}: MsgSeqNum ${seqs[i]} delivered after ${seqs[i - 1]} (twice or out of order)`);
      }
    }
  }
}

/** Every move into LIVE happened with no gap open, nothing queued behind one and no SAFE reason. */
export function assertLiveOnlyWhenSafe(us: OurSide): void {
  for (const h of us.health) {
    if (h.to !== Health.Live) continue;
    assert.ok(
      !h.resendOpen && h.queued === 0 && !h.safe,
      `LIVE at ${new Date(h.at).toISOString()} from ${h.from} with resendOpen=${h.resendOpen} queued=${h.queued} safe=${h.safe}`,
    );
  }
}

/** Our session's health since `since` went the way `expected` describes (a regex over `A→B→C`). */
export function assertHealthPath(us: OurSide, since: number, expected: RegExp, what: string): string {
  const path = us.healthPath(since);
  assert.match(path, expected, `health ${what}: ${path}`);
  return path;
}
