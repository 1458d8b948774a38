/**
 * Identifiers. An internal order id needs no coordination: time (ms, base 36) and 64 random bits, unique across
 * instances, restarts and days. A ClOrdID must also be short (venues cap it, often at 20 characters) and unique per
 * session for good (FIX asks for a day; multi-day orders and replays make that too little): the trading date plus
 * a per-session counter that never resets (Redis INCR, shared by every instance), or — in memory, where a counter
 * dies with the process — plus this process's start token.
 */
import { randomFillSync } from "node:crypto";

/** Random bytes drawn 4 KiB at a time from the same CSPRNG: a randomBytes(8) call per order cost more than the id. */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

export function newOrderId(now: number): string {
  if (poolAt + 8 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const random = pool.toString("hex", poolAt, poolAt + 8);
  poolAt += 8;
  return `o-${now.toString(36)}-${random}`;
}

const DAY_MS = 86_400_000;
let dayStart = Number.NaN;
let dayText = "";

/** `YYYYMMDD` of `now`, UTC (the last day asked for is kept: ids of one day ask for the same one). */
export function tradeDate(now: number): string {
  if (!(now >= dayStart && now < dayStart + DAY_MS)) {
    dayStart = now - (((now % DAY_MS) + DAY_MS) % DAY_MS);
    dayText = new Date(now).toISOString().slice(0, 10).replaceAll("-", "");
  }
  return dayText;
}

/** A ClOrdID from the date and a counter that never repeats within the session: `20261127-1z`. */
export function clOrdIdOf(now: number, counter: number, token?: string): string {
  return token === undefined
    ? `${tradeDate(now)}-${counter.toString(36)}`
    : `${tradeDate(now)}-${token}-${counter.toString(36)}`;
}
