import { randomBytes } from "node:crypto";

const CYCLE_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-[0-9a-f]+$/;

/** Throws a RangeError unless `now` is epoch milliseconds a cycle id can carry. */
export function checkNow(now: number): void {
  if (!Number.isFinite(now) || now < 0 || now >= 253402300800000) {
    throw new RangeError(`now must be epoch milliseconds between 1970 and 9999, got ${now}`);
  }
}

/**
 * A new cycle id: `20261127T045729123Z-1a2b3c4d` (UTC time to the millisecond, then 32 random bits).
 *
 * Ids sort in creation order even when the clock steps back or two resets share a millisecond: the time part
 * is bumped past `previous`'s. The file store relies on that to tell an older cycle's leftover log from a
 * newer one.
 */
export function newCycleId(now: number, previous?: string): string {
  checkNow(now);
  let t = Math.floor(now);
  const prev = previous === undefined ? Number.NaN : cycleTime(previous);
  if (t <= prev) t = prev + 1;
  const stamp = new Date(t).toISOString().replace(/[-:.]/g, "");
  return `${stamp}-${randomBytes(4).toString("hex")}`;
}

/** The time part of a cycle id made by `newCycleId`, in epoch ms; NaN for any other string. */
export function cycleTime(cycle: string): number {
  const m = CYCLE_RE.exec(cycle);
  if (m === null) return Number.NaN;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], +m[7]);
}
