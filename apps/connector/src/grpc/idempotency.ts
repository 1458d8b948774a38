import { createHash } from "node:crypto";
import type { IdempotencyRecord } from "@fixmesh/session";

/** Where a session's keys outlive this process (the Redis store records them in its commits). */
export interface DurableKeys {
  /** The keys recorded and not yet expired, with the ms each was recorded. */
  read(): Promise<Array<IdempotencyRecord & { at: number }>>;
}

export interface IdempotencyOptions {
  /**
   * A session whose store keeps keys across processes: its keys are loaded once per leadership term (per
   * runner), before that term's first Send, so a retry after a failover returns the first answer.
   */
  durable?: (session: string) => DurableKeys | undefined;
  /** Keys held at most (oldest dropped first). Default 100,000. */
  maxKeys?: number;
  /** How long a key is remembered, in ms. Default 10 minutes. */
  ttlMs?: number;
  now?: () => number;
}

/** The first call made with a key: what it asked for and what it got (or is still getting). */
export interface IdempotentSend {
  /** Digest of the request (`fingerprintOf`), to tell a genuine retry from a different request reusing the key. */
  fingerprint: string;
  /** Resolves with the MsgSeqNum once persisted. */
  seq: Promise<number>;
  /**
   * The send failed with its outcome unknown — the store did not answer its commit, which may have landed (then the
   * message goes out as a PossDupFlag=Y resend when the counterparty asks for the gap) — on a session whose store
   * records keys: a retry asks the store (`settle`) instead of sending a second copy.
   */
  uncertain?: boolean;
}

interface Entry extends IdempotentSend {
  at: number;
}

/** The digest a key is stored with: SHA-256 of the request's bytes, hex. */
export function fingerprintOf(request: Uint8Array): string {
  return createHash("sha256").update(request).digest("hex");
}

/**
 * Idempotency keys of Send, per session, in process memory: bounded in number and in age, oldest first out.
 *
 * With the memory or file store this is only as durable as the process. With the Redis store each key is also
 * recorded in the commit that persists its message (same Lua script, same hash tag), and a new leader loads the
 * recorded keys (`load`) before its first Send: a retry that lands on it after a failover finds the key exactly
 * when the old leader persisted the message — never a second copy, never a lost one.
 */
export class IdempotencyKeys {
  private readonly entries = new Map<string, Entry>();
  /**
   * Every key as it was noted, oldest first (parallel arrays, read from `head`): what `evict` forgets, in order. A
   * slot whose key was noted again since, or forgotten, is passed over. Not the Map's own order: forgetting its
   * oldest entries one by one leaves deleted slots at its front, which every new iteration walks again — at the
   * bound that cost ~40 µs per Send.
   */
  private ageKeys: string[] = [];
  private ageAt: number[] = [];
  private head = 0;
  private readonly maxKeys: number;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly durable: IdempotencyOptions["durable"];

  constructor(opts: IdempotencyOptions = {}) {
    this.durable = opts.durable;
    this.maxKeys = opts.maxKeys ?? 100_000;
    this.ttlMs = opts.ttlMs ?? 10 * 60_000;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Adds keys a previous process recorded (the store's), unless this process already knows them: what it holds
   * is at least as recent. Expired ones are skipped.
   */
  load(session: string, records: ReadonlyArray<IdempotencyRecord & { at: number }>): number {
    const now = this.now();
    let added = 0;
    for (const r of records) {
      const k = scoped(session, r.key);
      if (this.entries.has(k) || now - r.at >= this.ttlMs) continue;
      this.evict(now);
      this.note(k, { fingerprint: r.fingerprint, seq: Promise.resolve(r.seq), at: r.at });
      added++;
    }
    return added;
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
   * reports (refused, persist failed, fenced) means nothing was sent — and nothing stored, except when the store did
   * not answer the commit (StoreUnavailableError): on a session whose store records keys, that key stays, marked
   * `uncertain`, for a retry to `settle` with what the store holds.
   */
  set(session: string, key: string, send: IdempotentSend): void {
    const k = scoped(session, key);
    const now = this.now();
    this.evict(now);
    const entry: Entry = { ...send, at: now };
    this.note(k, entry);
    send.seq.catch((err: unknown) => {
      if (this.entries.get(k) !== entry) return;
      if (outcomeUnknown(err) && this.durable?.(session) !== undefined) entry.uncertain = true;
      else this.entries.delete(k);
    });
  }

  /**
   * Settles an `uncertain` key with the record the store holds for it: the first send was stored (its MsgSeqNum is
   * the answer) or it was not (the key is forgotten, and the retry sends). Returns what the key now stands for.
   */
  settle(session: string, key: string, stored: IdempotencyRecord | undefined): IdempotentSend | undefined {
    const k = scoped(session, key);
    const e = this.entries.get(k);
    if (e === undefined || e.uncertain !== true) return e;
    if (stored === undefined) {
      this.entries.delete(k);
      return undefined;
    }
    const settled: Entry = { fingerprint: stored.fingerprint, seq: Promise.resolve(stored.seq), at: e.at };
    this.entries.set(k, settled);
    return settled;
  }

  private note(k: string, entry: Entry): void {
    this.entries.set(k, entry);
    this.ageKeys.push(k);
    this.ageAt.push(entry.at);
  }

  private evict(now: number): void {
    // Oldest first: expired keys, and the oldest when full. A slot is live while its key still holds that age
    // (`settle` keeps the age, a key noted again gets a new slot).
    while (this.head < this.ageKeys.length) {
      const k = this.ageKeys[this.head];
      const at = this.ageAt[this.head];
      const live = this.entries.get(k)?.at === at;
      if (live && now - at < this.ttlMs && this.entries.size < this.maxKeys) break;
      if (live) this.entries.delete(k);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.ageKeys.length) {
      this.ageKeys = this.ageKeys.slice(this.head);
      this.ageAt = this.ageAt.slice(this.head);
      this.head = 0;
    }
  }
}

function scoped(session: string, key: string): string {
  return `${session}\u0000${key}`;
}

/** A failure whose cause chain holds a StoreUnavailableError: the store did not confirm, the write may have landed. */
function outcomeUnknown(err: unknown): boolean {
  for (let e = err as { name?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.name === "StoreUnavailableError") return true;
    e = e.cause as typeof e;
  }
  return false;
}
