export interface IdempotencyOptions {
  /** Keys held at most (oldest dropped first). Default 100,000. */
  maxKeys?: number;
  /** How long a key is remembered, in ms. Default 10 minutes. */
  ttlMs?: number;
  now?: () => number;
}

/** The first call made with a key: what it asked for and what it got (or is still getting). */
export interface IdempotentSend {
  /** The request as bytes, to tell a genuine retry from a different request reusing the key. */
  fingerprint: Uint8Array;
  /** Resolves with the MsgSeqNum once persisted. */
  seq: Promise<number>;
}

interface Entry extends IdempotentSend {
  at: number;
}

/**
 * Idempotency keys of Send, per session, in process memory: bounded in number and in age, oldest first out.
 *
 * This is only as durable as the process: after a restart or a failover to the standby a retried key is
 * unknown and would be sent again. Redis-backed keys (SET NX with a TTL, in the session's hash tag, written in
 * the same round trip as the persist) come with the Redis deployment.
 */
export class IdempotencyKeys {
  private readonly entries = new Map<string, Entry>();
  private readonly maxKeys: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(opts: IdempotencyOptions = {}) {
    this.maxKeys = opts.maxKeys ?? 100_000;
    this.ttlMs = opts.ttlMs ?? 10 * 60_000;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The first call with this key, while it is remembered. */
  get(session: string, key: string): IdempotentSend | undefined {
    const k = scoped(session, key);
    const e = this.entries.get(k);
    if (e === undefined) return undefined;
    if (this.now() - e.at >= this.ttlMs) {
      this.entries.delete(k);
      return undefined;
    }
    return e;
  }

  /**
   * Remembers a call. A send that fails is forgotten, so that a retry tries again: every failure the engine
   * reports (refused, persist failed, fenced) means nothing was sent.
   */
  set(session: string, key: string, send: IdempotentSend): void {
    const k = scoped(session, key);
    const now = this.now();
    this.evict(now);
    const entry: Entry = { ...send, at: now };
    // Delete first so that the key moves to the back: insertion order must stay age order.
    this.entries.delete(k);
    this.entries.set(k, entry);
    send.seq.catch(() => {
      if (this.entries.get(k) === entry) this.entries.delete(k);
    });
  }

  private evict(now: number): void {
    // Insertion order is age order: expired keys are at the front, and so is the oldest when full.
    for (const [k, e] of this.entries) {
      if (now - e.at < this.ttlMs && this.entries.size < this.maxKeys) break;
      this.entries.delete(k);
    }
  }
}

function scoped(session: string, key: string): string {
  return `${session}\u0000${key}`;
}
