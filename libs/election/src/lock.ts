/**
 * What a backend provides: one lock with a time to live, taken, renewed and released by one holder at a time,
 * each taking yielding an epoch that only grows. The rules about *when* to call these (retry period, renew
 * deadline, stepping down) are the same for every backend and live in `LockElector`.
 */

export type AcquireResult =
  | { acquired: true; epoch: number }
  /** `holder`: who holds it now, as far as the backend says (for logs; `""` when unknown). */
  | { acquired: false; holder: string };

export interface LeaderLock {
  readonly kind: "redis" | "lease";
  readonly identity: string;
  /** What is locked, for logs. */
  readonly name: string;
  /**
   * One attempt to take the lock. Succeeds only when it is free, or expired by the backend's rules; never for a
   * lock this process's identity holds from an earlier instance (it waits for that to expire like any other).
   */
  acquire(signal: AbortSignal): Promise<AcquireResult>;
  /**
   * Extends the term won with `epoch`. `false` when the lock is definitely no longer this holder's; throws when
   * the backend could not be asked (the caller retries until its renew deadline).
   */
  renew(epoch: number, signal: AbortSignal): Promise<boolean>;
  /** Gives the lock up, only if it is still this holder's term. */
  release(epoch: number, signal: AbortSignal): Promise<void>;
  /** Calls `fn` whenever the lock may have become free (a released lock is taken over without waiting). */
  watch?(fn: () => void): () => void;
  /** Frees what the lock owns (connections it created). */
  close(): Promise<void>;
}

/** An attempt that did not answer within its time. */
export class AttemptTimeoutError extends Error {
  override readonly name = "AttemptTimeoutError";
}

/** `p`, or a rejection as soon as `signal` aborts (the backend may not honour the signal itself). */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
