/**
 * The fills of one order: every trade, trade correct and trade cancel applied to it, kept as a set keyed by ExecID.
 * CumQty and AvgPx are computed from the whole set each time rather than accumulated report by report, so they do
 * not depend on the order in which the reports arrived — the convergence guarantee rests on this.
 *
 * A correct or cancel names the execution it amends in ExecRefID. Venues differ on whether a second correction
 * names the trade or the previous correction, so both are followed: the amendments of a trade form a tree under it.
 * - The trade counts with the values of the newest leaf of its tree (newest by TransactTime, then ExecID).
 * - A cancel anywhere in the tree busts the trade: it counts for nothing.
 * - An amendment whose ExecRefID we have not seen stands in for the missing execution until it arrives.
 */
import { Decimal } from "./decimal.js";

export const ExecutionKind = {
  Trade: "trade",
  Correct: "correct",
  Bust: "bust",
} as const;
export type ExecutionKind = (typeof ExecutionKind)[keyof typeof ExecutionKind];

export interface Execution {
  execID: string;
  kind: ExecutionKind;
  /** ExecRefID: the execution a correct or bust amends. */
  refID?: string;
  /** LastQty: the quantity of the trade, or its corrected quantity. */
  qty?: string;
  /** LastPx. */
  px?: string;
  /** TransactTime (epoch ms), which orders competing corrections. */
  at?: number;
}

export interface FillTotals {
  /** Sum of the quantities that count. */
  cumQty: Decimal;
  /** Sum of quantity × price of the same, exact. */
  notional: Decimal;
  /**
   * The least CumQty the venue can have reported at any point after all these executions happened: each trade at
   * its smallest version (original or any correction), 0 when busted. A report that claims less than this — a
   * Canceled at CumQty 50 when we hold 80 of trades nobody busted — cannot be right given what we hold.
   */
  floor: Decimal;
}

/** Digits of AvgPx as we report it; the exact value is notional / cumQty and checks use that. */
export const AVG_PX_DIGITS = 10;

function newer(a: Execution, b: Execution): boolean {
  const ta = a.at ?? Number.NEGATIVE_INFINITY;
  const tb = b.at ?? Number.NEGATIVE_INFINITY;
  return ta !== tb ? ta > tb : a.execID > b.execID;
}

export function fillTotals(executions: readonly Execution[]): FillTotals {
  const byId = new Map<string, Execution>();
  const amendments = new Map<string, Execution[]>();
  const busted = new Set<string>();
  for (const e of executions) {
    if (e.kind === ExecutionKind.Bust) {
      if (e.refID !== undefined) busted.add(e.refID);
      continue;
    }
    byId.set(e.execID, e);
    if (e.kind === ExecutionKind.Correct && e.refID !== undefined) {
      const list = amendments.get(e.refID);
      if (list) list.push(e);
      else amendments.set(e.refID, [e]);
    }
  }
  let cumQty = Decimal.ZERO;
  let notional = Decimal.ZERO;
  let floor = Decimal.ZERO;
  for (const e of byId.values()) {
    const isRoot = e.kind === ExecutionKind.Trade || e.refID === undefined || !byId.has(e.refID);
    if (!isRoot) continue;
    // Walk the whole tree under this root: smallest quantity, any bust, and the newest leaf down the newest branch.
    let min = Decimal.of(e.qty ?? "0");
    let bust = busted.has(e.execID);
    const stack = [e.execID];
    const seen = new Set<string>(stack);
    while (stack.length > 0) {
      const id = stack.pop()!;
      for (const c of amendments.get(id) ?? []) {
        if (seen.has(c.execID)) continue; // a cycle of ExecRefIDs is a venue bug; do not loop on it
        seen.add(c.execID);
        stack.push(c.execID);
        const q = Decimal.of(c.qty ?? "0");
        if (q.lt(min)) min = q;
        if (busted.has(c.execID)) bust = true;
      }
    }
    if (bust) continue;
    let leaf = e;
    const walked = new Set<string>([e.execID]);
    for (;;) {
      const children = (amendments.get(leaf.execID) ?? []).filter((c) => !walked.has(c.execID));
      if (children.length === 0) break;
      let pick = children[0];
      for (const c of children) if (newer(c, pick)) pick = c;
      walked.add(pick.execID);
      leaf = pick;
    }
    const qty = Decimal.of(leaf.qty ?? "0");
    cumQty = cumQty.add(qty);
    notional = notional.add(qty.mul(Decimal.of(leaf.px ?? "0")));
    floor = floor.add(min);
  }
  return { cumQty, notional, floor };
}

/** AvgPx from totals, rounded half-even to `AVG_PX_DIGITS`; 0 when nothing is filled (as FIX reports it). */
export function avgPxOf(t: FillTotals): Decimal {
  return t.cumQty.isZero() ? Decimal.ZERO : t.notional.div(t.cumQty, AVG_PX_DIGITS);
}

/**
 * True when `reported` is the AvgPx of these fills: the exact average, notional / cumQty, lies within `tolerance`, or
 * within half a unit of the last digit the venue wrote (a venue that rounds to 4 places is not wrong).
 */
export function avgPxMatches(t: FillTotals, reported: Decimal, tolerance: Decimal): boolean {
  if (t.cumQty.isZero()) return true;
  const allowed = tolerance.gt(reported.halfUlp()) ? tolerance : reported.halfUlp();
  // |notional / cum − reported| ≤ allowed  ⇔  |notional − reported × cum| ≤ allowed × cum (cum > 0), exactly.
  return t.notional.sub(reported.mul(t.cumQty)).abs().cmp(allowed.mul(t.cumQty.abs())) <= 0;
}
