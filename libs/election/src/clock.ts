/**
 * Time as the electors see it: a monotonic clock for every duration (a wall clock that steps must not shorten
 * or stretch a lease) and timers, both injectable so the campaign's rules are tested on a fake clock.
 */
export interface Clock {
  /** Monotonic milliseconds (`performance.now()`). */
  now(): number;
  setTimer(fn: () => void, ms: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

export type TimerHandle = { readonly id: unknown };

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    // Unref'd: an elector alone does not keep a process alive (the connector's servers do).
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return { id: t };
  },
  clearTimer(handle) {
    clearTimeout(handle.id as NodeJS.Timeout);
  },
};
