/**
 * Identifiers. An internal order id needs no coordination: time (ms, base 36) and 64 random bits, unique across
 * instances, restarts and days. A ClOrdID must also be short (venues cap it, often at 20 characters) and unique per
 * session for good (FIX asks for a day; multi-day orders and replays make that too little): the trading date plus
 * a per-session counter that never resets (Redis INCR, shared by every instance), or — in memory, where a counter
 * dies with the process — plus this process's start token.
 */
import { randomBytes } from "node:crypto";

export function newOrderId(now: number): string {
  return `o-${now.toString(36)}-${randomBytes(8).toString("hex")}`;
}

/** `YYYYMMDD` of `now`, UTC. */
export function tradeDate(now: number): string {
  return new Date(now).toISOString().slice(0, 10).replaceAll("-", "");
}

/** A ClOrdID from the date and a counter that never repeats within the session: `20261127-1z`. */
export function clOrdIdOf(now: number, counter: number, token?: string): string {
  return token === undefined
    ? `${tradeDate(now)}-${counter.toString(36)}`
    : `${tradeDate(now)}-${token}-${counter.toString(36)}`;
}
