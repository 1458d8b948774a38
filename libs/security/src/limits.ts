/** Per-principal limits; a principal's entry in the policy file may override them. */
export interface AbuseLimits {
  /** Calls (unary calls and stream openings) per second per principal. 0: no limit. */
  requestsPerSecond: number;
  /** Calls allowed in a burst. Default: twice requestsPerSecond. */
  burst?: number;
  /** Streams one principal may hold open at once. 0: no limit. */
  maxStreams: number;
}

interface Bucket {
  tokens: number;
  at: number;
  rate: number;
  burst: number;
}

/**
 * Token buckets by principal: `take` answers whether one more call fits. Buckets are created on first use and
 * dropped once full again (an idle principal costs nothing), so the map holds only recently active callers.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly now: () => number = Date.now) {}

  take(principal: string, rate: number, burst: number): boolean {
    if (rate <= 0) return true;
    const now = this.now();
    let b = this.buckets.get(principal);
    if (b === undefined || b.rate !== rate || b.burst !== burst) {
      b = { tokens: burst, at: now, rate, burst };
      this.buckets.set(principal, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    if (this.buckets.size > 10_000) this.sweep(now);
    return true;
  }

  private sweep(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * b.rate >= b.burst) this.buckets.delete(k);
    }
  }
}

/** Open streams by principal. `open` returns a release function, or null when the principal is at its limit. */
export class StreamCounter {
  private readonly open = new Map<string, number>();

  acquire(principal: string, max: number): (() => void) | null {
    const n = this.open.get(principal) ?? 0;
    if (max > 0 && n >= max) return null;
    this.open.set(principal, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const m = (this.open.get(principal) ?? 1) - 1;
      if (m <= 0) this.open.delete(principal);
      else this.open.set(principal, m);
    };
  }

  count(principal: string): number {
    return this.open.get(principal) ?? 0;
  }
}
