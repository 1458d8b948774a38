import {
  type CommitBatch,
  checkBatch,
  checkNow,
  checkPosition,
  checkSeq,
  type IdempotencyRecord,
  MAX_SEQ,
  type MessageStore,
  newCycleId,
  type OutboxEntry,
  StaleEpochError,
  StoreConflictError,
  StoreCorruptError,
  type StoredMessage,
  type StoreState,
} from "@fixmesh/session";
import type { Cluster, Redis, RedisOptions } from "ioredis";
import { createRedisClient, REDIS_CLIENT_DEFAULTS, whenReady } from "./client.js";
import { StoreUnavailableError } from "./errors.js";
import { type SessionKeys, sessionKeys } from "./keys.js";
import { eventBodyLength, readEventMember, writeEventBody } from "./outbox.js";
import { memberLength, readMember, writeMember } from "./record.js";
import { type StateReply, type StoreCommands, withScripts } from "./scripts.js";

export interface RedisStoreOptions {
  /**
   * The Redis to use: an ioredis client (`Redis`, or `Cluster`) that the caller owns and `close()` leaves open —
   * give it a `commandTimeout` and no offline queue, see REDIS_CLIENT_DEFAULTS — or a `redis://`/`rediss://` URL
   * for a client the store creates with those defaults and quits on `close()`. One client can serve many sessions.
   */
  redis: Redis | Cluster | string;
  /** The session id; its keys carry it as their hash tag. */
  session: string;
  /** First part of every key. Default `"fixmesh"`. */
  prefix?: string;
  /**
   * Most outbound messages kept in the log; each commit drops the oldest beyond it (the seqs stay). Default:
   * no limit within a cycle (a reset empties the log).
   */
  retention?: number;
  /**
   * Client idempotency keys recorded by commits (CommitBatch.idempotency): how long one is kept, in ms, and how
   * many at most (the oldest go first). Defaults: 10 minutes, 100,000.
   */
  idempotencyTtlMs?: number;
  idempotencyMaxKeys?: number;
  /** Only with a URL: ms a command may wait for its reply. Default 2,000 (REDIS_CLIENT_DEFAULTS). */
  commandTimeout?: number;
  /** Only with a URL: more ioredis options (TLS, username/password, db), applied over REDIS_CLIENT_DEFAULTS. */
  clientOptions?: RedisOptions;
}

/** Messages per ZRANGEBYSCORE of getRange: a long range goes in slices, so one reply never blocks Redis long. */
const RANGE_CHUNK = 4_096;

const META_FIELDS = ["nextSenderSeq", "nextTargetSeq", "cycle", "creationTime", "epoch"] as const;

const noop = () => {};

/**
 * The message store for clustered deployments: a session's sequence numbers and outbound log in Redis, every
 * write one fenced Lua script (one round trip), keys under the session's hash tag so it runs on Redis Cluster.
 *
 * Operations reach Redis in call order even when callers do not await, and without waiting for each other's
 * replies (one connection keeps order), except that `open`, `fence` and `reset` — which change what the
 * instance writes with (epoch, cycle) — hold back later operations until they complete.
 */
export class RedisStore implements MessageStore {
  readonly kind = "redis";
  readonly session: string;
  readonly keys: SessionKeys;
  /** The client the store writes through (its own when created from a URL). */
  readonly redis: Redis | Cluster;
  private readonly client: (Redis | Cluster) & StoreCommands;
  private readonly owned: boolean;
  /** The retention as a ZREMRANGEBYRANK stop index ('-1001' keeps 1,000), '' for none. */
  private readonly retentionStop: string;
  /** This writer's epoch: the session's at open, or the one it fenced with. */
  private epoch = 0;
  /** The cycle this writer writes to; undefined until open (and after close). */
  private cycle: string | undefined;
  /** Settles when the last open/fence/reset has; every operation is sent after it. */
  private gate: Promise<void> = Promise.resolve();
  private readonly idemTtl: string;
  private readonly idemMax: string;
  /** The owned client's last connection error, named in StoreUnavailableError (ioredis reports it as an event). */
  private lastConnectionError: Error | undefined;

  constructor(opts: RedisStoreOptions) {
    this.session = opts.session;
    this.keys = sessionKeys(opts.prefix ?? "fixmesh", opts.session);
    if (opts.retention !== undefined) checkSeq("retention", opts.retention);
    this.retentionStop = opts.retention === undefined ? "" : String(-(opts.retention + 1));
    const ttl = opts.idempotencyTtlMs ?? 10 * 60_000;
    const max = opts.idempotencyMaxKeys ?? 100_000;
    if (!Number.isSafeInteger(ttl) || ttl < 1) throw new RangeError(`idempotencyTtlMs must be ≥ 1, got ${ttl}`);
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`idempotencyMaxKeys must be ≥ 1, got ${max}`);
    this.idemTtl = String(ttl);
    this.idemMax = String(max);
    if (typeof opts.redis === "string") {
      const client = createRedisClient(opts.redis, {
        ...opts.clientOptions,
        ...(opts.commandTimeout !== undefined && { commandTimeout: opts.commandTimeout }),
      });
      client.on("error", (err: Error) => {
        this.lastConnectionError = err;
      });
      client.on("ready", () => {
        this.lastConnectionError = undefined;
      });
      this.redis = client;
      this.owned = true;
    } else {
      this.redis = opts.redis;
      this.owned = false;
    }
    this.client = withScripts(this.redis);
  }

  async open(now: number): Promise<StoreState> {
    const cycle = newCycleId(now);
    return this.barrier(async () => {
      try {
        const opts = this.redis.options as { connectTimeout?: number };
        await whenReady(this.redis, opts.connectTimeout ?? REDIS_CLIENT_DEFAULTS.connectTimeout);
      } catch (err) {
        throw this.failure("open", err);
      }
      const reply = await this.call("open", 0, () => this.client.fixmeshStoreOpen(this.keys.meta, cycle, String(now)));
      const state = this.parseState(reply);
      this.epoch = state.epoch;
      this.cycle = state.cycle;
      return state;
    });
  }

  async fence(epoch: number): Promise<void> {
    checkSeq("epoch", epoch, 0);
    return this.barrier(async () => {
      this.openCycle();
      const reply = await this.call("fence", epoch, () => this.client.fixmeshStoreFence(this.keys.meta, String(epoch)));
      // The new leader takes over the session as it is now, including a reset the old leader made after our open.
      this.cycle = this.parseState(reply).cycle;
      this.epoch = epoch;
    });
  }

  async commit(batch: CommitBatch): Promise<readonly OutboxEntry[] | undefined> {
    checkBatch(batch);
    // Encoded now, into one buffer: the store's own copy, since the engine reuses its encode buffers as soon as
    // this call returns. Events and messages each go as one argument (see group-commit.lua).
    const outbound = batch.outbound;
    const events = batch.events ?? [];
    const headers: Array<string | undefined> = new Array(events.length);
    let eventsSize = 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      const h = e.headers === undefined ? undefined : JSON.stringify(e.headers);
      headers[i] = h;
      eventsSize += 4 + eventBodyLength(e, h);
    }
    let size = eventsSize;
    for (const m of outbound) size += 4 + memberLength(m);
    const buf = Buffer.allocUnsafe(size);
    let at = 0;
    // Where each event's payload landed in `buf`: the entries handed back point there (our bytes, not the engine's).
    const payloadEnds: number[] = new Array(events.length);
    for (let i = 0; i < events.length; i++) {
      const end = writeEventBody(buf, at + 4, events[i], headers[i]);
      buf.writeUInt32BE(end - at - 4, at);
      payloadEnds[i] = end;
      at = end;
    }
    for (const m of outbound) {
      const end = writeMember(buf, at + 4, m);
      buf.writeUInt32BE(end - at - 4, at);
      at = end;
    }
    const args: (string | Buffer)[] = [
      String(batch.nextSenderSeq),
      String(batch.nextTargetSeq),
      this.retentionStop,
      String(events.length),
      buf.subarray(0, eventsSize),
      buf.subarray(eventsSize),
    ];
    const keys = batch.idempotency ?? [];
    args.push(String(keys.length));
    if (keys.length > 0) {
      args.push(String(Date.now()), this.idemTtl, this.idemMax);
      for (const k of keys) args.push(k.key, `${k.seq}:${k.fingerprint}`);
    }
    return this.later(async () => {
      const cycle = this.openCycle();
      const epoch = this.epoch;
      const firstPos = await this.call("commit", epoch, () =>
        this.client.fixmeshStoreGroupCommit(
          this.keys.meta,
          this.keys.out(cycle),
          this.keys.outbox,
          this.keys.idem,
          this.keys.idemAt,
          String(epoch),
          cycle,
          ...args,
        ),
      );
      if (events.length === 0) return;
      const first = Number(firstPos);
      if (!Number.isSafeInteger(first) || first < 1) return;
      const entries: OutboxEntry[] = new Array(events.length);
      for (let i = 0; i < events.length; i++) {
        const e = events[i];
        const end = payloadEnds[i] as number;
        const entry: OutboxEntry = {
          id: e.id,
          subject: e.subject,
          payload: buf.subarray(end - e.payload.length, end),
          pos: first + i,
        };
        if (e.headers !== undefined) entry.headers = e.headers;
        entries[i] = entry;
      }
      return entries;
    });
  }

  /**
   * The client idempotency keys recorded by commits and not yet expired (a read: not fenced), oldest first with
   * the ms each was recorded: what a new leader loads so that a retry of a send the previous one persisted gets
   * the first answer instead of a second message.
   */
  async readIdempotency(): Promise<Array<IdempotencyRecord & { at: number }>> {
    return this.later(async () => {
      const since = Date.now() - Number(this.idemTtl);
      const [scored, values] = await this.call("readIdempotency", this.epoch, async () => {
        const reply = await this.redis
          .multi()
          .zrangebyscore(this.keys.idemAt, since, "+inf", "WITHSCORES")
          .hgetall(this.keys.idem)
          .exec();
        if (reply === null) throw new Error("readIdempotency: transaction aborted");
        for (const [err] of reply) if (err) throw err;
        return [reply[0][1] as string[], reply[1][1] as Record<string, string>];
      });
      const out: Array<IdempotencyRecord & { at: number }> = [];
      for (let i = 0; i + 1 < scored.length; i += 2) {
        const key = scored[i];
        const v = values[key];
        const colon = v === undefined ? -1 : v.indexOf(":");
        if (v === undefined || colon < 1) continue;
        out.push({ key, seq: Number(v.slice(0, colon)), fingerprint: v.slice(colon + 1), at: Number(scored[i + 1]) });
      }
      return out;
    });
  }

  /** One ZRANGE of the outbox (a read: not fenced). */
  async readOutbox(limit: number): Promise<OutboxEntry[]> {
    return this.later(async () => {
      this.openCycle();
      const n = Math.floor(limit);
      if (!(n > 0)) return [];
      const key = this.keys.outbox;
      const stop = Number.isSafeInteger(n) ? String(n - 1) : "-1";
      const members = await this.call("readOutbox", this.epoch, () => this.redis.zrangeBuffer(key, 0, stop));
      return members.map((member) => readEventMember(member, key));
    });
  }

  async ackOutbox(upToPos: number): Promise<void> {
    checkPosition("upToPos", upToPos);
    return this.later(async () => {
      const cycle = this.openCycle();
      const epoch = this.epoch;
      await this.call("ackOutbox", epoch, () =>
        this.client.fixmeshStoreAckOutbox(this.keys.meta, this.keys.outbox, String(epoch), cycle, String(upToPos)),
      );
    });
  }

  async getRange(begin: number, end: number): Promise<StoredMessage[]> {
    return this.later(async () => {
      const key = this.keys.out(this.openCycle());
      const out: StoredMessage[] = [];
      const lo = Math.max(1, Math.ceil(begin));
      if (!(end >= lo)) return out;
      const hi = end >= MAX_SEQ ? "+inf" : String(Math.floor(end));
      let from = String(lo);
      for (;;) {
        const chunk = await this.call("getRange", this.epoch, () =>
          this.redis.zrangebyscoreBuffer(key, from, hi, "LIMIT", 0, RANGE_CHUNK),
        );
        for (const member of chunk) out.push(readMember(member, key));
        if (chunk.length < RANGE_CHUNK) return out;
        from = `(${out[out.length - 1].seq}`;
      }
    });
  }

  async reset(now: number, next?: { nextSenderSeq?: number; nextTargetSeq?: number }): Promise<StoreState> {
    checkNow(now);
    const nextSenderSeq = next?.nextSenderSeq ?? 1;
    const nextTargetSeq = next?.nextTargetSeq ?? 1;
    checkSeq("nextSenderSeq", nextSenderSeq);
    checkSeq("nextTargetSeq", nextTargetSeq);
    return this.barrier(async () => {
      const old = this.openCycle();
      const epoch = this.epoch;
      // After `old`, which the script proves is still the session's cycle: cycle ids sort in creation order.
      const cycle = newCycleId(now, old);
      const reply = await this.call("reset", epoch, () =>
        this.client.fixmeshStoreReset(
          this.keys.meta,
          this.keys.out(old),
          this.keys.out(cycle),
          String(epoch),
          old,
          cycle,
          String(now),
          String(nextSenderSeq),
          String(nextTargetSeq),
        ),
      );
      const state = this.parseState(reply);
      this.cycle = state.cycle;
      return state;
    });
  }

  async setSafe(reason: string | null): Promise<void> {
    return this.later(async () => {
      const cycle = this.openCycle();
      const epoch = this.epoch;
      await this.call("setSafe", epoch, () =>
        this.client.fixmeshStoreSetSafe(
          this.keys.meta,
          String(epoch),
          cycle,
          reason === null ? "0" : "1",
          reason ?? "",
        ),
      );
    });
  }

  /** The highest epoch that fenced the session (0 when none did, or when it has no state yet): a read. */
  async currentEpoch(): Promise<number> {
    return this.later(async () => {
      const v = await this.call("currentEpoch", this.epoch, () => this.redis.hget(this.keys.meta, "epoch"));
      return v === null ? 0 : Number(v);
    });
  }

  async setSequences(nextSenderSeq: number, nextTargetSeq: number): Promise<void> {
    checkSeq("nextSenderSeq", nextSenderSeq);
    checkSeq("nextTargetSeq", nextTargetSeq);
    return this.later(async () => {
      const cycle = this.openCycle();
      const epoch = this.epoch;
      await this.call("setSequences", epoch, () =>
        this.client.fixmeshStoreSetSequences(
          this.keys.meta,
          String(epoch),
          cycle,
          String(nextSenderSeq),
          String(nextTargetSeq),
        ),
      );
    });
  }

  async trim(belowSeq: number): Promise<void> {
    if (Number.isNaN(belowSeq)) throw new RangeError("trim: belowSeq must be a number, got NaN");
    const below = Number.isFinite(belowSeq) ? String(belowSeq) : belowSeq > 0 ? "+inf" : "-inf";
    return this.later(async () => {
      const cycle = this.openCycle();
      const epoch = this.epoch;
      await this.call("trim", epoch, () =>
        this.client.fixmeshStoreTrim(this.keys.meta, this.keys.out(cycle), String(epoch), cycle, below),
      );
    });
  }

  /** Ends this instance's use of the session; quits the client only if the store created it from a URL. */
  async close(): Promise<void> {
    return this.barrier(async () => {
      this.cycle = undefined;
      if (!this.owned || this.redis.status === "end") return;
      const redis = this.redis;
      if (redis.status === "ready") {
        const ended = new Promise((resolve) => redis.once("end", resolve));
        let quit = false;
        try {
          await redis.quit();
          quit = true;
        } catch {
          // QUIT failed (the link dropped meanwhile): nothing left to say goodbye to; disconnect below.
        }
        if (quit) {
          await ended; // resolves once the socket is closed, so close() leaves no handle behind
          return;
        }
      }
      // Not connected (connecting, or waiting to reconnect): stops the reconnect timer.
      redis.disconnect();
    });
  }

  /** Sends `op` after the last open/fence/reset completed, in call order with every other operation. */
  private later<T>(op: () => Promise<T>): Promise<T> {
    return this.gate.then(op);
  }

  /** Like `later`, and holds back every later operation until this one completes. */
  private barrier<T>(op: () => Promise<T>): Promise<T> {
    const p = this.gate.then(op);
    this.gate = p.then(noop, noop);
    return p;
  }

  private openCycle(): string {
    if (this.cycle === undefined) throw new Error(`redis store ${this.session} is not open`);
    return this.cycle;
  }

  /** Runs one Redis call, turning what it throws into the store's typed errors. */
  private async call<T>(op: string, epoch: number, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw this.failure(op, err, epoch);
    }
  }

  /** The one place a Redis failure becomes a store error. */
  private failure(op: string, err: unknown, epoch = this.epoch): Error {
    if (err instanceof Error && err.name === "ReplyError") {
      const m = /^FIXMESH_(STALE|CYCLE|GONE)(?: (.*))?$/.exec(err.message);
      if (m !== null) {
        switch (m[1]) {
          case "STALE":
            return new StaleEpochError(this.session, epoch, Number(m[2]));
          case "CYCLE":
            return new StoreConflictError(
              this.keys.meta,
              `${op}: the session was reset to cycle ${m[2]} by another writer with the same epoch; this writer's cycle ${this.cycle} is gone (reopen)`,
            );
          default:
            return new StoreConflictError(this.keys.meta, `${op}: the session's metadata is missing (deleted?)`);
        }
      }
    }
    const message = err instanceof Error ? err.message : String(err);
    const last = this.lastConnectionError;
    const detail =
      last !== undefined && last.message !== message ? `${message} (last connection error: ${last.message})` : message;
    return new StoreUnavailableError(this.session, op, detail, { cause: err });
  }

  private parseState(reply: StateReply): StoreState {
    const values = META_FIELDS.map((field, i) => {
      const v = reply[i];
      if (typeof v !== "string" || v === "" || (field !== "cycle" && !Number.isFinite(Number(v)))) {
        throw new StoreCorruptError(this.keys.meta, `field ${field} is ${JSON.stringify(v ?? null)}`);
      }
      return v;
    });
    return {
      nextSenderSeq: Number(values[0]),
      nextTargetSeq: Number(values[1]),
      cycle: values[2],
      creationTime: Number(values[3]),
      epoch: Number(values[4]),
      ...(typeof reply[5] === "string" && { safeReason: reply[5] }),
    };
  }
}
