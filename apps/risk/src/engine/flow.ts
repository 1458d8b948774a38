/**
 * The two rules that remember recent orders: the order rate (a sliding one-second window per account) and
 * duplicate detection (same account, symbol, side, quantity and price within a window). Both count only orders
 * that were allowed; both forget as time passes (time is an argument, never read from a clock here).
 */

const SECOND_MS = 1000;

class TimeQueue {
  times: number[] = [];
  head = 0;

  trim(before: number): void {
    while (this.head < this.times.length && this.times[this.head] <= before) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
  }

  get size(): number {
    return this.times.length - this.head;
  }
}

/** Orders per second per account: the allowed orders of the last 1,000 ms. */
export class RateWindow {
  private readonly accounts = new Map<string, TimeQueue>();

  /** How many orders the account sent in the second before `now` (`now` excluded from the trim: (now-1000, now]). */
  count(account: string, now: number): number {
    const q = this.accounts.get(account);
    if (q === undefined) return 0;
    q.trim(now - SECOND_MS);
    return q.size;
  }

  record(account: string, now: number): void {
    let q = this.accounts.get(account);
    if (q === undefined) {
      q = new TimeQueue();
      this.accounts.set(account, q);
    }
    q.trim(now - SECOND_MS);
    q.times.push(now);
  }
}

interface Seen {
  at: number;
  idempotencyKey: string;
}

/** Duplicate orders: the last allowed order per (account, symbol, side, quantity, price). */
export class DuplicateDetector {
  private readonly seen = new Map<string, Seen>();
  private readonly order: Array<{ key: string; at: number }> = [];
  private head = 0;
  /** The longest window asked about: entries older than it can be forgotten. */
  private longest = 0;

  static key(account: string, symbol: string, side: string, qty: string, price: string): string {
    return `${account}\u0000${symbol}\u0000${side}\u0000${qty}\u0000${price}`;
  }

  /**
   * The time of the same order within `windowMs` before `now`, or undefined. The same idempotency key is a retry
   * of the same request (order-entry answers it from its record), not a second order.
   */
  find(key: string, idempotencyKey: string, windowMs: number, now: number): number | undefined {
    if (windowMs > this.longest) this.longest = windowMs;
    const s = this.seen.get(key);
    if (s === undefined || now - s.at >= windowMs) return undefined;
    if (idempotencyKey !== "" && s.idempotencyKey === idempotencyKey) return undefined;
    return s.at;
  }

  record(key: string, idempotencyKey: string, now: number): void {
    this.seen.set(key, { at: now, idempotencyKey });
    this.order.push({ key, at: now });
    // Forget what no window can reach any more, oldest first.
    while (this.head < this.order.length && now - this.order[this.head].at >= this.longest) {
      const old = this.order[this.head++];
      if (this.seen.get(old.key)?.at === old.at) this.seen.delete(old.key);
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }
}
