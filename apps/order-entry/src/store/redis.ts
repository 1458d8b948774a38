/**
 * The Redis store: every order-entry instance shares it. A commit is one Lua call that checks and writes together
 * — the order's revision (a concurrent writer makes us re-read and re-apply), the (session, ExecID) dedupe set
 * (a PossDup, PossResend or unflagged copy is refused here, atomically with the write, whichever instance consumed
 * it), CumQty never lower unless a trade bust or correction lowered it, the ClOrdID index (one owner per ClOrdID
 * per session) — then writes the order, its indexes, the open-order set, and appends the update to the log (a
 * Redis stream whose ids are the positions StreamOrderUpdates serves, so positions are strictly increasing across
 * instances). Status precedence is the state machine's (libs/orders, applied to the whole evidence of the order),
 * and the revision check makes its result the only one committed.
 *
 * Keys, under `<prefix>:` — order:<id> {rev,json}; cl:<session> ClOrdID→id; vid:<session> OrderID→id;
 * dedupe:<session>; idem:<key>; clseq:<session>; seq; list/open (zsets by listing seq); log (stream), pos;
 * unpub (zset of unpublished positions by commit time); unmatched:<session> (list); counters (hash).
 */
import { RecentMap } from "@fixmesh/session";
import { Redis, type RedisOptions } from "ioredis";
import type { OrderRecord } from "../model/record.js";
import { BaseRepository, type CommitRequest, type CommitResult } from "./base.js";
import { clOrdIdOf, tradeDate } from "./ids.js";
import { idsOf, matches } from "./memory.js";
import {
  emptyCounters,
  type IdempotencyRecord,
  type ListFilter,
  type LogEntry,
  type ReportInput,
  type StoreCounters,
} from "./types.js";
import { guardUnreachable } from "./unreachable.js";

export interface RedisStoreOptions {
  url: string;
  /** Key prefix (default `fixmesh:oe`). */
  prefix?: string;
  /** Log entries kept for StreamOrderUpdates resumes (approximate, default 1,000,000). */
  logLimit?: number;
  /** Give up connecting at start after this long (default 5 s). */
  connectTimeoutMs?: number;
  /** ACL user, password and TLS of the link (`redisClientOptions` of @fixmesh/security). */
  clientOptions?: RedisOptions;
}

// ARGV: 1 order id, 2 expected rev, 3 new rev, 4 record JSON, 5 dedupe members (JSON array, '' none), 6/7 CumQty
// before/after, 8 CumQty may go down, 9/10 new ClOrdIDs/OrderIDs (JSON arrays), 11 listing seq, 12 open, 13 counter
// increment, 14 commit time, 15 log limit, 16 counter ('' none), 17… the events, each a log entry at consecutive
// positions (INCRBY inside the script: no other writer's entry comes between them).
const COMMIT = `
local cur = tonumber(redis.call('HGET', KEYS[1], 'rev') or '0')
if cur ~= tonumber(ARGV[2]) then return {'conflict', redis.call('HGET', KEYS[1], 'json') or ''} end
local dd = {}
if ARGV[5] ~= '' then dd = cjson.decode(ARGV[5]) end
for _, m in ipairs(dd) do
  if redis.call('SISMEMBER', KEYS[4], m) == 1 then return {'duplicate'} end
end
if ARGV[8] ~= '1' and tonumber(ARGV[7]) < tonumber(ARGV[6]) then return {'cumQtyBackwards'} end
local cl = cjson.decode(ARGV[9])
for _, id in ipairs(cl) do
  local owner = redis.call('HGET', KEYS[2], id)
  if owner and owner ~= ARGV[1] then return {'clOrdIdTaken'} end
end
for _, m in ipairs(dd) do redis.call('SADD', KEYS[4], m) end
redis.call('HSET', KEYS[1], 'rev', ARGV[3], 'json', ARGV[4])
for _, id in ipairs(cl) do redis.call('HSET', KEYS[2], id, ARGV[1]) end
for _, id in ipairs(cjson.decode(ARGV[10])) do redis.call('HSETNX', KEYS[3], id, ARGV[1]) end
if cur == 0 then redis.call('ZADD', KEYS[5], ARGV[11], ARGV[1]) end
if ARGV[12] == '1' then redis.call('ZADD', KEYS[6], ARGV[11], ARGV[1]) else redis.call('ZREM', KEYS[6], ARGV[1]) end
if ARGV[16] ~= '' then redis.call('HINCRBY', KEYS[10], ARGV[16], ARGV[13]) end
local kept = redis.call('LLEN', KEYS[11])
local n = #ARGV - 16
if n == 0 then return {'ok', '', kept} end
local first = redis.call('INCRBY', KEYS[8], n) - n + 1
for i = 1, n do
  redis.call('XADD', KEYS[7], 'MAXLEN', '~', ARGV[15], (first + i - 1) .. '-1', 'e', ARGV[16 + i])
  redis.call('ZADD', KEYS[9], ARGV[14], first + i - 1)
end
return {'ok', first, kept}
`;

// The submit's claim: the idempotency key if free, with a ClOrdID from the session's counter — one round trip. The
// record's JSON comes in two halves around the ClOrdID (date prefix + counter in base 36, as ids.ts clOrdIdOf).
// A key claimed before: its record, and no counter used up.
const CLAIM_NEW = `
local cur = redis.call('GET', KEYS[1])
if cur then return {0, cur} end
local n = redis.call('INCR', KEYS[2])
local digits = '0123456789abcdefghijklmnopqrstuvwxyz'
local s = ''
repeat
  local r = n % 36
  s = string.sub(digits, r + 1, r + 1) .. s
  n = (n - r) / 36
until n == 0
local cl = ARGV[2] .. s
redis.call('SET', KEYS[1], ARGV[1] .. cl .. ARGV[3], 'PX', ARGV[4])
return {1, cl}
`;

const KEEP = `
if ARGV[1] ~= '' and redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
return 1
`;

const RELEASE = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
if cjson.decode(v).orderId ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`;

// Rewrites a claim still held for the same order, keeping its expiry (KEEPTTL).
const NOTE = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
if cjson.decode(v).orderId ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
`;

type CommitReply = [string, (number | string)?, number?];

/** Marks where the ClOrdID goes in a claim's JSON (never part of a key, fingerprint or order id). */
const CL_MARK = "\u0000clOrdId\u0000";

// The order a report names — by ClOrdID, OrigClOrdID (the session's ClOrdID index), then OrderID — and its record,
// in one round trip.
const LOAD_FOR = `
for i = 1, #ARGV do
  local id
  if i == #ARGV then id = redis.call('HGET', KEYS[2], ARGV[i]) else id = redis.call('HGET', KEYS[1], ARGV[i]) end
  if id then return {id, redis.call('HGET', KEYS[3] .. id, 'json')} end
end
return nil
`;

export class RedisOrderStore extends BaseRepository {
  readonly kind = "redis" as const;
  private readonly p: string;
  private readonly logLimit: number;
  private tail: { redis: Redis; stopped: boolean } | null = null;
  private readonly watchers = new Set<(e: LogEntry) => void>();
  /**
   * Open orders as this process last committed them, by (session, ClOrdID) of their chain — what a report needs
   * (loadFor) without a round trip. Only a hint: every commit checks the revision in Redis.
   */
  private readonly recent = new RecentMap<string, OrderRecord>(RECENT_MAX / 2);

  private constructor(
    private readonly redis: Redis,
    private readonly opts: RedisStoreOptions,
  ) {
    super();
    // EVALSHA (ioredis loads each script once): the script text is not sent with every call.
    redis.defineCommand("oeCommit", { numberOfKeys: 11, lua: COMMIT });
    redis.defineCommand("oeKeep", { numberOfKeys: 2, lua: KEEP });
    redis.defineCommand("oeRelease", { numberOfKeys: 1, lua: RELEASE });
    redis.defineCommand("oeNote", { numberOfKeys: 1, lua: NOTE });
    redis.defineCommand("oeLoadFor", { numberOfKeys: 3, lua: LOAD_FOR });
    redis.defineCommand("oeClaimNew", { numberOfKeys: 2, lua: CLAIM_NEW });
    this.p = opts.prefix ?? "fixmesh:oe";
    this.logLimit = opts.logLimit ?? 1_000_000;
  }

  static async connect(opts: RedisStoreOptions): Promise<RedisOrderStore> {
    const redis = new Redis(opts.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 2,
      connectTimeout: opts.connectTimeoutMs ?? 5000,
      // Every command issued in one event-loop turn — by all the orders and reports in flight — goes out in one
      // write (ioredis keeps their order on the connection; each still runs atomically on its own).
      enableAutoPipelining: true,
      // The link's ACL user, password and TLS (order-entry's `store.redis`, @fixmesh/security).
      ...opts.clientOptions,
    });
    await redis.connect();
    // A Redis outage after this answers UNAVAILABLE / STORE_UNAVAILABLE to the callers, not INTERNAL.
    return guardUnreachable(new RedisOrderStore(redis, opts));
  }

  /** The scripts defined in the constructor. */
  private get scripts(): Record<
    "oeCommit" | "oeKeep" | "oeRelease" | "oeNote" | "oeLoadFor" | "oeClaimNew",
    (...args: Array<string | number>) => Promise<unknown>
  > {
    return this.redis as unknown as Record<
      "oeCommit" | "oeKeep" | "oeRelease" | "oeNote" | "oeLoadFor" | "oeClaimNew",
      (...args: Array<string | number>) => Promise<unknown>
    >;
  }

  private key(...parts: string[]): string {
    return [this.p, ...parts].join(":");
  }

  async nextClOrdId(sessionId: string, now: number): Promise<string> {
    return clOrdIdOf(now, await this.redis.incr(this.key("clseq", sessionId)));
  }

  async claimIdempotency(rec: IdempotencyRecord, ttlMs: number): Promise<IdempotencyRecord | null> {
    const k = this.key("idem", rec.key);
    for (let i = 0; i < 3; i++) {
      const ok = await this.redis.set(k, JSON.stringify(rec), "PX", ttlMs, "NX");
      if (ok === "OK") return null;
      const cur = await this.redis.get(k);
      if (cur !== null) return JSON.parse(cur) as IdempotencyRecord;
    }
    throw new Error(`idempotency key ${rec.key}: cannot claim or read it`);
  }

  override async claimNew(
    sessionId: string,
    claim: Omit<IdempotencyRecord, "clOrdId">,
    ttlMs: number,
  ): Promise<{ clOrdId: string; earlier: null } | { earlier: IdempotencyRecord }> {
    const json = JSON.stringify({ ...claim, clOrdId: CL_MARK } satisfies IdempotencyRecord);
    const at = json.lastIndexOf(JSON.stringify(CL_MARK));
    const head = `${json.slice(0, at)}"`;
    const tail = json.slice(at + JSON.stringify(CL_MARK).length - 1);
    const [fresh, value] = (await this.scripts.oeClaimNew(
      this.key("idem", claim.key),
      this.key("clseq", sessionId),
      head,
      `${tradeDate(claim.at)}-`,
      tail,
      ttlMs,
    )) as [number, string];
    return Number(fresh) === 1
      ? { clOrdId: value, earlier: null }
      : { earlier: JSON.parse(value) as IdempotencyRecord };
  }

  async releaseIdempotency(key: string, orderId: string): Promise<void> {
    await this.scripts.oeRelease(this.key("idem", key), orderId);
  }

  async noteIdempotency(rec: IdempotencyRecord): Promise<void> {
    await this.scripts.oeNote(this.key("idem", rec.key), rec.orderId, JSON.stringify(rec));
  }

  async getIdempotency(key: string): Promise<IdempotencyRecord | null> {
    const cur = await this.redis.get(this.key("idem", key));
    return cur === null ? null : (JSON.parse(cur) as IdempotencyRecord);
  }

  async get(orderId: string): Promise<OrderRecord | undefined> {
    const json = await this.redis.hget(this.key("order", orderId), "json");
    return json === null ? undefined : (JSON.parse(json) as OrderRecord);
  }

  private async getMany(ids: string[]): Promise<OrderRecord[]> {
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hget(this.key("order", id), "json");
    const res = (await pipe.exec()) ?? [];
    const out: OrderRecord[] = [];
    for (const [err, v] of res) {
      if (err) throw err;
      if (typeof v === "string") out.push(JSON.parse(v) as OrderRecord);
    }
    return out;
  }

  async list(filter: ListFilter, pageSize: number, pageToken?: string) {
    const set = this.key(filter.openOnly ? "open" : "list");
    let max = pageToken ? `(${pageToken}` : "+inf";
    const records: OrderRecord[] = [];
    const chunk = Math.max(pageSize * 2, 200);
    for (;;) {
      const batch = await this.redis.zrevrangebyscore(set, max, "-inf", "WITHSCORES", "LIMIT", 0, chunk);
      if (batch.length === 0) return { records };
      const ids: string[] = [];
      for (let i = 0; i < batch.length; i += 2) ids.push(batch[i] as string);
      for (const r of await this.getMany(ids)) {
        if (!matches(r, filter)) continue;
        records.push(r);
        if (records.length === pageSize) {
          const more = await this.redis.zrevrangebyscore(set, `(${r.seq}`, "-inf", "LIMIT", 0, 1);
          return more.length > 0 ? { records, next: String(r.seq) } : { records };
        }
      }
      max = `(${batch[batch.length - 1]}`;
    }
  }

  async readLog(from: number, limit: number): Promise<LogEntry[]> {
    const rows = await this.redis.xrange(this.key("log"), `${Math.max(from, 0)}-0`, "+", "COUNT", limit);
    return rows.map(entryOf);
  }

  async logBounds() {
    const [first, pos] = await Promise.all([
      this.redis.xrange(this.key("log"), "-", "+", "COUNT", 1),
      this.redis.get(this.key("pos")),
    ]);
    return { oldest: first[0] ? entryOf(first[0]).position : 0, newest: Number(pos ?? 0) };
  }

  watchLog(fn: (e: LogEntry) => void): () => void {
    this.watchers.add(fn);
    if (this.tail === null) this.startTail();
    return () => {
      this.watchers.delete(fn);
      if (this.watchers.size === 0 && this.tail) {
        this.tail.stopped = true;
        this.tail.redis.disconnect();
        this.tail = null;
      }
    };
  }

  /** One blocking reader of the log per process, fanned out to every watcher. */
  private startTail(): void {
    const tail = { redis: this.redis.duplicate(), stopped: false };
    this.tail = tail;
    void (async () => {
      // Where the log ends when the tail starts; read in the loop, so that a Redis out of reach at that moment is
      // waited for like any other failure (a rejection here escaped, and ended the process).
      let last: string | undefined;
      while (!tail.stopped) {
        try {
          const from: string = last ?? (await this.redis.get(this.key("pos")).then((v) => `${v ?? 0}-1`));
          last = from;
          const res = await tail.redis.xread("COUNT", 1000, "BLOCK", 1000, "STREAMS", this.key("log"), from);
          if (!res) continue;
          for (const [, rows] of res) {
            for (const row of rows) {
              last = row[0];
              const e = entryOf(row);
              for (const w of this.watchers) w(e);
            }
          }
        } catch (err) {
          if (tail.stopped) return;
          // The connection reconnects by itself; wait a little rather than spin.
          void err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    })();
  }

  async unpublished(olderThanMs: number, now: number, limit: number): Promise<LogEntry[]> {
    const positions = await this.redis.zrangebyscore(this.key("unpub"), "-inf", now - olderThanMs, "LIMIT", 0, limit);
    if (positions.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const p of positions) pipe.xrange(this.key("log"), `${p}-1`, `${p}-1`);
    const out: LogEntry[] = [];
    const gone: string[] = [];
    const res = (await pipe.exec()) ?? [];
    res.forEach(([err, rows], i) => {
      if (err) throw err;
      const r = rows as Array<[string, string[]]>;
      if (r[0]) out.push(entryOf(r[0]));
      else gone.push(positions[i] as string);
    });
    if (gone.length > 0) await this.redis.zrem(this.key("unpub"), ...gone);
    return out;
  }

  async markPublished(positions: readonly number[]): Promise<void> {
    if (positions.length > 0) await this.redis.zrem(this.key("unpub"), ...positions.map(String));
  }

  async unmatched(sessionId: string): Promise<ReportInput[]> {
    const rows = await this.redis.lrange(this.key("unmatched", sessionId), 0, -1);
    return rows.map((r) => JSON.parse(r) as ReportInput);
  }

  async openCount(): Promise<number> {
    return this.redis.zcard(this.key("open"));
  }

  async raiseClOrdIdCounter(sessionId: string, atLeast: number): Promise<void> {
    await this.redis.eval(
      "if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end",
      1,
      this.key("clseq", sessionId),
      atLeast,
    );
  }

  async counters(): Promise<StoreCounters> {
    const h = await this.redis.hgetall(this.key("counters"));
    const c = emptyCounters();
    for (const k of Object.keys(c) as Array<keyof StoreCounters>) c[k] = Number(h[k] ?? 0);
    return c;
  }

  async close(): Promise<void> {
    if (this.tail) {
      this.tail.stopped = true;
      this.tail.redis.disconnect();
      this.tail = null;
    }
    this.watchers.clear();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  protected override async loadFor(sessionId: string, input: ReportInput) {
    const r = input.type === "report" ? input.report : input.reject;
    // The order as this process last committed it, if it did: no lookup. A ClOrdID belongs to one order for good, so
    // the id is right; the record may be stale (another instance wrote since), which the commit's revision check
    // catches — it then hands back the current record and the report is applied again on that.
    const first = r.clOrdID ? r.clOrdID : r.origClOrdID;
    const cached = first ? this.recent.get(recentKey(sessionId, first)) : undefined;
    if (cached !== undefined) return { orderId: cached.order.id, record: cached };
    // ClOrdID, OrigClOrdID (either may be absent: "" never matches), then OrderID last.
    const args = [r.clOrdID ?? "", r.origClOrdID ?? "", r.orderID ?? ""];
    const got = (await this.scripts.oeLoadFor(
      this.key("cl", sessionId),
      this.key("vid", sessionId),
      `${this.key("order")}:`,
      ...args,
    )) as [string, string | null] | null;
    if (!got) return undefined;
    return got[1] === null ? { orderId: got[0] } : { orderId: got[0], record: JSON.parse(got[1]) as OrderRecord };
  }

  protected async lookupClOrdId(sessionId: string, clOrdId: string) {
    return (await this.redis.hget(this.key("cl", sessionId), clOrdId)) ?? undefined;
  }

  protected async lookupVenueOrderId(sessionId: string, orderId: string) {
    return (await this.redis.hget(this.key("vid", sessionId), orderId)) ?? undefined;
  }

  protected async commit(c: CommitRequest): Promise<CommitResult> {
    const s = c.sessionId;
    const reply = (await this.scripts.oeCommit(
      this.key("order", c.orderId),
      this.key("cl", s),
      this.key("vid", s),
      this.key("dedupe", s),
      this.key("list"),
      this.key("open"),
      this.key("log"),
      this.key("pos"),
      this.key("unpub"),
      this.key("counters"),
      this.key("unmatched", s),
      c.orderId,
      c.expectedRev,
      c.record.rev,
      JSON.stringify(c.record),
      c.dedupe === undefined || c.dedupe.length === 0 ? "" : JSON.stringify(c.dedupe),
      c.cumQtyBefore,
      c.record.order.cumQty,
      c.allowCumQtyDown ? "1" : "0",
      JSON.stringify(c.clOrdIds),
      JSON.stringify(c.orderIds),
      c.record.seq,
      c.open ? "1" : "0",
      c.counterBy ?? 1,
      c.at,
      this.logLimit,
      c.counter ?? "",
      ...(c.events ?? []).map((e) => JSON.stringify(e)),
    )) as CommitReply;
    if (reply[0] === "conflict") {
      const json = reply[1];
      return typeof json === "string" && json !== ""
        ? { ok: false, why: "conflict", current: JSON.parse(json) as OrderRecord }
        : { ok: false, why: "conflict" };
    }
    if (reply[0] === "ok") {
      this.remember(c);
      const unmatched = Number(reply[2] ?? 0);
      return reply[1] === undefined || reply[1] === ""
        ? { ok: true, unmatched }
        : { ok: true, position: Number(reply[1]), unmatched };
    }
    return { ok: false, why: reply[0] as "duplicate" | "cumQtyBackwards" | "clOrdIdTaken" };
  }

  private remember(c: CommitRequest): void {
    const chain = c.record.order.chain;
    for (const id of chain) {
      const k = recentKey(c.sessionId, id);
      if (c.open) this.recent.set(k, c.record);
      else this.recent.delete(k);
    }
  }

  protected async keepUnmatched(sessionId: string, dedupe: string | undefined, input: ReportInput): Promise<boolean> {
    const r = await this.scripts.oeKeep(
      this.key("dedupe", sessionId),
      this.key("unmatched", sessionId),
      dedupe ?? "",
      JSON.stringify(input),
    );
    return Number(r) === 1;
  }

  protected async takeUnmatched(sessionId: string, clOrdIds: string[], orderIds: string[]): Promise<ReportInput[]> {
    const k = this.key("unmatched", sessionId);
    const rows = await this.redis.lrange(k, 0, -1);
    const out: ReportInput[] = [];
    for (const row of rows) {
      const input = JSON.parse(row) as ReportInput;
      const ids = idsOf(input);
      if (!ids.some((id) => clOrdIds.includes(id) || orderIds.includes(id))) continue;
      // Two instances may see the same kept report; the one whose LREM removes it applies it.
      if ((await this.redis.lrem(k, 1, row)) === 1) out.push(input);
    }
    return out;
  }

  protected async bump(counter: keyof StoreCounters, by = 1): Promise<void> {
    await this.redis.hincrby(this.key("counters"), counter, by);
  }

  /** Deletes every key of this store (tests). */
  async destroy(): Promise<void> {
    let cursor = "0";
    do {
      const [next, keys] = await this.redis.scan(cursor, "MATCH", `${this.p}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await this.redis.unlink(...keys);
    } while (cursor !== "0");
  }

  get options(): RedisStoreOptions {
    return this.opts;
  }
}

/** Open orders remembered by ClOrdID at most (about 2 KB each); the most recent half of that at least. */
const RECENT_MAX = 20_000;

function recentKey(sessionId: string, clOrdId: string): string {
  return `${sessionId}\x01${clOrdId}`;
}

function entryOf(row: [string, string[]]): LogEntry {
  const [id, fields] = row;
  const i = fields.indexOf("e");
  return { position: Number(id.split("-")[0]), event: JSON.parse(fields[i + 1] as string) };
}
