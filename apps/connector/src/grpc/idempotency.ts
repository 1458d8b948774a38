import * as crypto from "node:crypto";
import { toBinary } from "@bufbuild/protobuf";
import { type Field, type SendRequest, SendRequestSchema } from "@fixmesh/contracts";
import { AgeQueue, type IdempotencyRecord } from "@fixmesh/session";

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
  /** Resolves with the MsgSeqNum once persisted; the number itself once known (no Promise kept per key). */
  seq: Promise<number> | number;
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

/** One-shot `crypto.hash` where Node has it (≥ 20.12): a quarter of createHash's cost, no Hash object per Send. */
const sha256Hex: (data: Uint8Array) => string =
  typeof crypto.hash === "function"
    ? (data) => crypto.hash("sha256", data, "hex")
    : (data) => crypto.createHash("sha256").update(data).digest("hex");

/** The digest a key is stored with: SHA-256 of the request's bytes, hex. */
export function fingerprintOf(request: Uint8Array): string {
  return sha256Hex(request);
}

/**
 * The fingerprint of a Send: `fingerprintOf` the request's protobuf encoding with its traceparent left out (a retry
 * is the same request whatever trace it comes from) — exactly the bytes `toBinary(SendRequestSchema, …)` gives, so
 * keys recorded by any version compare alike, written here directly: protobuf-es's reflective encoder took ~9 µs
 * of the ~12 a keyed Send spent on its fingerprint. A request carrying unknown fields (which protobuf-es writes
 * back) is left to it. `encodeForFingerprint` is exported for the test that holds the two byte for byte.
 */
export function sendFingerprint(req: SendRequest): string {
  const bytes = encodeForFingerprint(req);
  return fingerprintOf(
    bytes ?? toBinary(SendRequestSchema, req.traceparent === "" ? req : { ...req, traceparent: "" }),
  );
}

/** SendRequest's protobuf encoding without field 6 (traceparent), or null when it carries unknown fields. */
export function encodeForFingerprint(req: SendRequest): Uint8Array | null {
  if (hasUnknown(req)) return null;
  for (const f of req.fields) if (hasUnknown(f)) return null;
  for (const f of req.headerFields) if (hasUnknown(f)) return null;
  // Sized first, written second; every length the writing needs (each string's bytes, each Field's body) is
  // measured once, in the order it is written, and read back in that order.
  const lens: number[] = [];
  let size = strSize(req.sessionId, lens) + strSize(req.msgType, lens);
  for (const f of req.fields) size += fieldSize(f, lens);
  for (const f of req.headerFields) size += fieldSize(f, lens);
  size += strSize(req.idempotencyKey, lens);
  const w = new Writer(size, lens);
  w.str(1, req.sessionId);
  w.str(2, req.msgType);
  for (const f of req.fields) w.field(3, f);
  for (const f of req.headerFields) w.field(4, f);
  w.str(5, req.idempotencyKey);
  return w.buf;
}

function hasUnknown(m: object): boolean {
  const u = (m as { $unknown?: unknown[] }).$unknown;
  return u !== undefined && u.length > 0;
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** A proto3 string field (absent when empty): its size; its byte length goes to `lens`. */
function strSize(s: string, lens: number[]): number {
  if (s === "") return 0;
  const n = Buffer.byteLength(s, "utf8");
  lens.push(n);
  return 1 + varintSize(n) + n;
}

/**
 * A Field as a length-delimited member: its size. Its body — tag (absent when 0), then the oneof member that is set
 * (written even when empty) — goes to `lens` ahead of its string's byte length.
 */
function fieldSize(f: Field, lens: number[]): number {
  const at = lens.push(0) - 1;
  let n = f.tag === 0 ? 0 : 1 + varintSize(f.tag);
  const v = f.value;
  if (v.case === "stringValue") {
    const len = Buffer.byteLength(v.value, "utf8");
    lens.push(len);
    n += 1 + varintSize(len) + len;
  } else if (v.case === "bytesValue") n += 1 + varintSize(v.value.length) + v.value.length;
  lens[at] = n;
  return 1 + varintSize(n) + n;
}

class Writer {
  readonly buf: Buffer;
  private p = 0;
  private next = 0;
  constructor(
    size: number,
    private readonly lens: readonly number[],
  ) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private varint(n: number): void {
    while (n >= 0x80) {
      this.buf[this.p++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.p++] = n;
  }

  private bytesOf(key: number, s: string): void {
    this.buf[this.p++] = key;
    this.varint(this.lens[this.next++] as number);
    this.p += this.buf.write(s, this.p, "utf8");
  }

  str(no: number, s: string): void {
    if (s !== "") this.bytesOf((no << 3) | 2, s);
  }

  field(no: number, f: Field): void {
    this.buf[this.p++] = (no << 3) | 2;
    this.varint(this.lens[this.next++] as number);
    if (f.tag !== 0) {
      this.buf[this.p++] = 1 << 3;
      this.varint(f.tag);
    }
    const v = f.value;
    if (v.case === "stringValue") this.bytesOf((2 << 3) | 2, v.value);
    else if (v.case === "bytesValue") {
      this.buf[this.p++] = (3 << 3) | 2;
      this.varint(v.value.length);
      this.buf.set(v.value, this.p);
      this.p += v.value.length;
    }
  }
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
   * Every key as it was noted, oldest first: what `evict` forgets, in order. A slot whose key was noted again
   * since, or forgotten, is passed over.
   */
  private readonly ages = new AgeQueue<string>();
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
      this.note(k, { fingerprint: r.fingerprint, seq: r.seq, at: r.at });
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
    const entry: Entry = { fingerprint: send.fingerprint, seq: send.seq, at: now };
    this.note(k, entry);
    if (typeof send.seq === "number") return;
    send.seq.then(
      (seq) => {
        entry.seq = seq;
      },
      (err: unknown) => {
        if (this.entries.get(k) !== entry) return;
        if (outcomeUnknown(err) && this.durable?.(session) !== undefined) entry.uncertain = true;
        else this.entries.delete(k);
      },
    );
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
    const settled: Entry = { fingerprint: stored.fingerprint, seq: stored.seq, at: e.at };
    this.entries.set(k, settled);
    return settled;
  }

  private note(k: string, entry: Entry): void {
    this.entries.set(k, entry);
    this.ages.push(k, entry.at);
  }

  private evict(now: number): void {
    // Oldest first: expired keys, and the oldest when full. A slot is live while its key still holds that age
    // (`settle` keeps the age, a key noted again gets a new slot).
    while (this.ages.length > 0) {
      const k = this.ages.oldestKey as string;
      const at = this.ages.oldestAt;
      const live = this.entries.get(k)?.at === at;
      if (live && now - at < this.ttlMs && this.entries.size < this.maxKeys) break;
      if (live) this.entries.delete(k);
      this.ages.shift();
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
