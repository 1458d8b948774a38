import { Status } from "@fixmesh/session";
import type { OurSide } from "./our-side.js";
import { sleep } from "./wait.js";

export interface LoadResult {
  submitted: number;
  seconds: number;
  /** Orders persisted and on their way per second, over the whole run. */
  rate: number;
  /** Orders submitted in each second of the run. */
  perSecond: number[];
  /** Orders not submitted because the session was not taking order flow (not logged on, or SAFE). */
  heldBack: number;
}

/**
 * Submits orders at `rate` per second for `seconds`, paced every 10 ms: four in five fill at once (IBM), one in five
 * goes to a price-time book (BOOK) where buys and sells at the same price trade with each other. `during` runs at
 * the start of each second with its index (a soak injects faults from it).
 */
export async function sustain(
  us: OurSide,
  o: { prefix: string; rate: number; seconds: number; during?: (second: number) => void },
): Promise<LoadResult> {
  const t0 = Date.now();
  const end = t0 + o.seconds * 1000;
  const perSecond: number[] = [];
  const sends: Array<Promise<number>> = [];
  let n = 0;
  let heldBack = 0;
  let second = -1;
  for (let now = Date.now(); now < end; now = Date.now()) {
    const s = Math.floor((now - t0) / 1000);
    while (second < s) {
      second++;
      perSecond.push(0);
      o.during?.(second);
    }
    const due = Math.floor(((now - t0) / 1000) * o.rate);
    // Order flow only while the session takes it (its state is a risk input). A send is decided synchronously, so
    // a session logged on and not SAFE now accepts it.
    const open = us.state.status === Status.LoggedOn && us.state.safeReason === null;
    while (n + heldBack < due) {
      if (!open) {
        heldBack++;
        continue;
      }
      n++;
      const book = n % 5 === 0;
      sends.push(
        us.submit({
          clOrdId: `${o.prefix}-${n}`,
          symbol: book ? "BOOK" : "IBM",
          side: (book ? n / 5 : n) % 2 === 1 ? "1" : "2",
          qty: 100,
          price: 100,
        }),
      );
      perSecond[perSecond.length - 1]++;
    }
    await sleep(10);
  }
  await Promise.all(sends);
  const seconds = (Date.now() - t0) / 1000;
  return { submitted: n, seconds, rate: n / seconds, perSecond, heldBack };
}

/** The p-th percentile (0–100) of `xs`, by nearest rank; 0 for none. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
