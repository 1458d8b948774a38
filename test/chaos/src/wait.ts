/** Resolves when `check` returns true (polled every 5 ms), or rejects after `ms` naming what it waited for. */
export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

let lastStamp = 0;

/**
 * The chaos suite's clock for events and the marks scenarios filter them by: wall-clock milliseconds with
 * sub-millisecond resolution, strictly increasing. `Date.now()` gives whole milliseconds, so an event and a mark
 * taken just after it can share one value and a `since` filter (`at >= mark`) counts the event as later — a health
 * change to LIVE at the logon showed up in a path "since" a mark taken after it on a fast machine.
 */
export function stamp(): number {
  let t = performance.timeOrigin + performance.now();
  if (t <= lastStamp) t = lastStamp + 0.001;
  lastStamp = t;
  return t;
}
