/**
 * The embedded default store: one append-only log per cycle plus a small metadata file. Format, guarantees
 * and crash behaviour are described in README.md beside this file.
 */
import { createHash, randomBytes } from "node:crypto";
import { constants, fstatSync, writeSync } from "node:fs";
import { type FileHandle, mkdir, open, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ConfigError, StaleEpochError, StoreConflictError, StoreCorruptError } from "../errors.js";
import { checkBatch, checkPosition, checkSeq } from "./batch.js";
import { newCycleId } from "./cycle.js";
import { withDirLock } from "./dir-lock.js";
import { type LogState, readHeader, scanUnits, type UnitSeen } from "./log-scan.js";
import { OutboxIndex } from "./outbox-index.js";
import {
  ACK_LENGTH,
  CHECKPOINT_LENGTH,
  CheckpointFlag,
  DISCARD_LENGTH,
  type EncodedEvent,
  encodeEvent,
  encodeHeader,
  eventRecordLength,
  type HeaderInfo,
  intactRecordAt,
  MAX_RECORD,
  messageRecordLength,
  RecordType,
  readEvent,
  readU48,
  TRIM_LENGTH,
  WRITER_ID_BYTES,
  writeAck,
  writeCheckpoint,
  writeDiscard,
  writeEvent,
  writeMessage,
  writeTrim,
} from "./record.js";
import { SeqIndex } from "./seq-index.js";
import type { CommitBatch, MessageStore, OutboxEntry, OutboxEvent, StoredMessage, StoreState } from "./store.js";

export const FsyncPolicy = {
  /** fdatasync before every commit resolves: a resolved commit survives power loss. */
  Always: "always",
  /** fdatasync every `fsyncIntervalMs` when something was written: power loss may lose that last interval. */
  Interval: "interval",
  /** Leave flushing to the OS: survives a process crash, not a power loss. */
  Never: "never",
} as const;
export type FsyncPolicy = (typeof FsyncPolicy)[keyof typeof FsyncPolicy];

export interface FileStoreOptions {
  /** Parent directory; the session's files go in `<dir>/<session, made filesystem-safe>/`. */
  dir: string;
  /** Session id, e.g. `FIX.4.4-ISLD-TW44`. */
  session: string;
  /** Default `"always"`. */
  fsync?: FsyncPolicy;
  /** Flush period for `fsync: "interval"`, in ms. Default 100. */
  fsyncIntervalMs?: number;
}

/** `meta.json`: which log is current, and what a reader needs before opening it. */
interface Meta {
  format: 1;
  session: string;
  cycle: string;
  creationTime: number;
  /** Highest epoch that fenced the session. */
  epoch: number;
  /** File name of the current cycle's log. */
  log: string;
  /** Why the session is SAFE, when it is (StoreState.safeReason); carried over by a reset. */
  safe?: string;
}

interface Log {
  fh: FileHandle;
  name: string;
  path: string;
}

/**
 * What one append writes: a commit, a sequence change, a trim, an outbox ack, or a bare checkpoint (fence,
 * seal). Its records are encoded when the operation is called — so the caller may reuse its buffers at once,
 * even while the operation waits its turn — with room left for a Discard in front, and for the Ack and the
 * Checkpoint behind, which depend on the log's state when the turn comes.
 */
interface Unit {
  /** [Discard room][Message records][Event records][Trim record][Ack room][Checkpoint room] */
  buf: Buffer;
  /** Seq and record length of each Message record, in order, from offset DISCARD_LENGTH. */
  seqs: number[];
  lengths: number[];
  /** Record length of each Event record, in order, after the Message records. */
  events: number[];
  trimBelow: number | undefined;
  /** The position asked to be acknowledged up to. */
  ackUpTo: number | undefined;
  /** Undefined: the unit leaves the sequence numbers as they are. */
  next: { nextSenderSeq: number; nextTargetSeq: number } | undefined;
  seal: boolean;
}

function prepareUnit(
  outbound: readonly StoredMessage[],
  opts: {
    next?: Unit["next"];
    events?: readonly OutboxEvent[];
    trimBelow?: number;
    ackUpTo?: number;
    seal?: boolean;
  } = {},
): Unit {
  const { trimBelow, ackUpTo } = opts;
  let total =
    DISCARD_LENGTH +
    (trimBelow !== undefined ? TRIM_LENGTH : 0) +
    (ackUpTo !== undefined ? ACK_LENGTH : 0) +
    CHECKPOINT_LENGTH;
  const seqs: number[] = [];
  const lengths: number[] = [];
  for (const m of outbound) {
    const length = messageRecordLength(m.msgType.length, m.bytes.length);
    if (length > MAX_RECORD) throw new RangeError(`seq ${m.seq}: message of ${m.bytes.length} bytes is too large`);
    seqs.push(m.seq);
    lengths.push(length);
    total += length;
  }
  const encoded: EncodedEvent[] = [];
  const events: number[] = [];
  for (const e of opts.events ?? []) {
    const enc = encodeEvent(e);
    const length = eventRecordLength(enc);
    if (length > MAX_RECORD) throw new RangeError(`event ${e.id}: payload of ${e.payload.length} bytes is too large`);
    encoded.push(enc);
    events.push(length);
    total += length;
  }
  const buf = Buffer.allocUnsafe(total);
  let at = DISCARD_LENGTH;
  for (const m of outbound) at = writeMessage(buf, at, m.seq, m.msgType, m.bytes);
  for (const e of encoded) at = writeEvent(buf, at, e);
  if (trimBelow !== undefined) writeTrim(buf, at, trimBelow);
  return { buf, seqs, lengths, events, trimBelow, ackUpTo, next: opts.next, seal: opts.seal ?? false };
}

const META = "meta.json";
const TMP_MAX_AGE_MS = 60_000;
/** getRange reads neighbouring records in one read when the gap between them is at most this. */
const READ_GAP = 64 * 1024;
const READ_MAX = 1024 * 1024;
/** A reset copies the unacknowledged outbox events into the new log in units of at most this many events… */
const CARRY_UNIT_EVENTS = 4096;
/** …and this many bytes (a single larger event goes alone). */
const CARRY_UNIT_BYTES = 4 * 1024 * 1024;

/**
 * Crash-safe file store for one session. One instance writes at a time; see README.md for what happens when
 * two do.
 */
export class FileStore implements MessageStore {
  readonly kind = "file";
  readonly session: string;
  /** The session's directory. */
  readonly path: string;
  private readonly policy: FsyncPolicy;
  private readonly intervalMs: number;
  /** Names this instance's checkpoints, so it can tell its appends from another writer's. */
  private readonly writer = randomBytes(WRITER_ID_BYTES);
  private queue: Promise<unknown> = Promise.resolve();
  private log: Log | undefined;
  private meta: Meta | undefined;
  private state: LogState | undefined;
  /** This writer's epoch. */
  private epoch = 0;
  /** Set when another writer took over: every later write fails with it. */
  private deposed: Error | undefined;
  /** Set when a write or fsync failed: what is on disk is no longer known, so this instance stops writing. */
  private failed: Error | undefined;
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  private syncing: Promise<void> | undefined;

  constructor(opts: FileStoreOptions) {
    if (typeof opts.dir !== "string" || opts.dir === "") throw new ConfigError("dir", "must be a directory path");
    if (typeof opts.session !== "string" || opts.session === "") {
      throw new ConfigError("session", "must be a non-empty session id");
    }
    const policy = opts.fsync ?? FsyncPolicy.Always;
    if (!Object.values(FsyncPolicy).includes(policy)) {
      throw new ConfigError("fsync", `must be "always", "interval" or "never", got ${JSON.stringify(policy)}`);
    }
    const interval = opts.fsyncIntervalMs ?? 100;
    if (!Number.isInteger(interval) || interval < 1) {
      throw new ConfigError("fsyncIntervalMs", `must be a positive integer, got ${interval}`);
    }
    this.session = opts.session;
    this.path = join(opts.dir, sessionDirName(opts.session));
    this.policy = policy;
    this.intervalMs = interval;
  }

  /** The current cycle's log file (undefined until opened). */
  get logPath(): string | undefined {
    return this.log?.path;
  }

  /** Reads the session's state. Never writes to the log: opening beside a live writer does not disturb it. */
  async open(now: number): Promise<StoreState> {
    return this.serial(async () => {
      await this.detach();
      await mkdir(this.path, { recursive: true });
      for (let attempt = 1; ; attempt++) {
        let meta = await this.readMeta();
        if (meta === undefined) {
          meta = await withDirLock(this.path, "create", async () => (await this.readMeta()) ?? this.create(now));
        }
        const attached = await this.attach(meta, attempt < 3);
        if (attached) break;
      }
      this.epoch = Math.max(this.meta!.epoch, this.state!.epoch);
      this.deposed = undefined;
      this.failed = undefined;
      if (this.policy === FsyncPolicy.Interval) {
        this.timer = setInterval(() => this.flushInBackground(), this.intervalMs);
        this.timer.unref();
      }
      await this.cleanup();
      return this.snapshot();
    });
  }

  async fence(epoch: number): Promise<void> {
    checkSeq("epoch", epoch, 0);
    return this.serial(async () => {
      this.opened();
      if (this.failed !== undefined) throw this.failedError();
      await withDirLock(this.path, "fence", async () => {
        let meta = await this.requireMeta();
        if (meta.log !== this.log!.name) {
          // Another instance reset the cycle since we opened: take over from its log.
          if (!(await this.attach(meta, false)))
            throw new StoreCorruptError(this.metaPath, `log ${meta.log} is missing`);
        }
        const current = Math.max(meta.epoch, this.state!.epoch);
        if (epoch < current) throw new StaleEpochError(this.session, epoch, current);
        if (epoch > meta.epoch) {
          meta = { ...meta, epoch };
          await this.writeMeta(meta);
        }
        this.meta = meta;
        this.epoch = epoch;
        this.deposed = undefined;
        // The fence unit carries no seqs: units the old leader appended before it stay the truth.
        await this.append(prepareUnit([]), true);
      });
    });
  }

  /** Resolves with nothing: the outbox publisher reads the events from the log (it does not know their positions). */
  async commit(batch: CommitBatch): Promise<undefined> {
    checkBatch(batch);
    const { nextSenderSeq, nextTargetSeq } = batch;
    const unit = prepareUnit(batch.outbound, { next: { nextSenderSeq, nextTargetSeq }, events: batch.events });
    await this.serial(() => this.append(unit, false));
    return undefined;
  }

  async getRange(begin: number, end: number): Promise<StoredMessage[]> {
    return this.serial(async () => {
      const { fh, path } = this.opened();
      return readRecords(fh, this.state!.index.range(begin, end), (buf, at, e) => {
        if (
          intactRecordAt(buf, at, buf.length) !== e.length ||
          buf[at + 4] !== RecordType.Message ||
          readU48(buf, at) !== e.seq
        ) {
          throw new StoreCorruptError(path, `offset ${e.offset}: record of seq ${e.seq} is damaged`);
        }
        const typeLength = buf[at + 11];
        return {
          seq: e.seq,
          msgType: buf.toString("latin1", at + 12, at + 12 + typeLength),
          bytes: buf.subarray(at + 12 + typeLength, at + e.length - 4),
        };
      });
    });
  }

  /** Reads the events from the log, where the index says they are; only their offsets are kept in memory. */
  async readOutbox(limit: number): Promise<OutboxEntry[]> {
    return this.serial(async () => {
      const { fh, path } = this.opened();
      return readRecords(fh, this.state!.outbox.entries(Math.floor(limit)), (buf, at, e) => {
        let event: OutboxEvent;
        try {
          if (intactRecordAt(buf, at, buf.length) !== e.length || buf[at + 4] !== RecordType.Event) {
            throw new Error("not the intact event record the index names");
          }
          event = readEvent(buf, at, e.length);
        } catch (cause) {
          throw new StoreCorruptError(path, `offset ${e.offset}: record of outbox event ${e.pos} is damaged`, {
            cause,
          });
        }
        return { ...event, pos: e.pos };
      });
    });
  }

  /** Appends an Ack record (its own unit, fenced like every write). */
  async ackOutbox(upToPos: number): Promise<void> {
    checkPosition("upToPos", upToPos);
    const unit = prepareUnit([], { ackUpTo: upToPos });
    return this.serial(() => this.append(unit, false));
  }

  async reset(now: number, next?: { nextSenderSeq?: number; nextTargetSeq?: number }): Promise<StoreState> {
    const nextSenderSeq = next?.nextSenderSeq ?? 1;
    const nextTargetSeq = next?.nextTargetSeq ?? 1;
    checkSeq("nextSenderSeq", nextSenderSeq);
    checkSeq("nextTargetSeq", nextTargetSeq);
    return this.serial(async () => {
      await this.writable();
      const meta = await withDirLock(this.path, "reset", async () => {
        const current = await this.requireMeta();
        if (current.epoch > this.epoch) throw this.depose(new StaleEpochError(this.session, this.epoch, current.epoch));
        if (current.log !== this.log!.name) {
          throw this.depose(new StoreConflictError(this.path, `cycle ${current.cycle} was started by another writer`));
        }
        const cycle = newCycleId(now, current.cycle);
        const epoch = Math.max(this.epoch, current.epoch);
        // The unacknowledged outbox events move to the new log, keeping their positions (the header says where
        // its numbering resumes). Until metadata is switched they count in the old log only; after, in the new
        // one only: a crash at any point leaves each of them in the current log exactly once.
        const outbox = this.state!.outbox;
        const log = await this.createLog(
          {
            format: 2,
            session: this.session,
            cycle,
            creationTime: now,
            epoch,
            nextSenderSeq,
            nextTargetSeq,
            outboxPos: outbox.firstPos - 1,
          },
          (target) => this.carryOutbox(target, outbox, { nextSenderSeq, nextTargetSeq, epoch }),
        );
        // Seal the old log: a writer still appending to it finds this unit and stops. Until metadata is
        // switched a crash leaves the old cycle current (the seal is void once a unit follows it).
        await this.append(prepareUnit([], { seal: true }), false);
        const switched: Meta = { format: 1, session: this.session, cycle, creationTime: now, epoch, log };
        if (current.safe !== undefined) switched.safe = current.safe;
        await this.writeMeta(switched);
        return switched;
      });
      if (!(await this.attach(meta, false))) throw new StoreCorruptError(this.metaPath, `log ${meta.log} vanished`);
      // The old cycle's log is deleted, not archived: outbound messages are archived by the persistence service.
      await this.cleanup();
      return this.snapshot();
    });
  }

  /** SAFE lives in meta.json (rewritten atomically, under the directory lock, fenced like a reset). */
  async setSafe(reason: string | null): Promise<void> {
    return this.serial(async () => {
      await this.writable();
      await withDirLock(this.path, "safe", async () => {
        const current = await this.requireMeta();
        if (current.epoch > this.epoch) throw this.depose(new StaleEpochError(this.session, this.epoch, current.epoch));
        if (current.log !== this.log!.name) {
          throw this.depose(new StoreConflictError(this.path, `cycle ${current.cycle} was started by another writer`));
        }
        const { safe: _, ...rest } = current;
        const next: Meta = reason === null ? rest : { ...rest, safe: reason };
        await this.writeMeta(next);
        this.meta = next;
      });
    });
  }

  async setSequences(nextSenderSeq: number, nextTargetSeq: number): Promise<void> {
    checkSeq("nextSenderSeq", nextSenderSeq);
    checkSeq("nextTargetSeq", nextTargetSeq);
    const unit = prepareUnit([], { next: { nextSenderSeq, nextTargetSeq } });
    return this.serial(() => this.append(unit, false));
  }

  /** Drops messages below `belowSeq` from the index (and, durably, from every later open). The bytes stay in
   * the log until the cycle's next reset. */
  async trim(belowSeq: number): Promise<void> {
    checkSeq("belowSeq", belowSeq, 0);
    const unit = prepareUnit([], { trimBelow: belowSeq });
    return this.serial(() => this.append(unit, false));
  }

  async close(): Promise<void> {
    return this.serial(() => this.detach());
  }

  // --- writing ---------------------------------------------------------------------------------------------

  /**
   * Appends one unit in one write (with a Discard in front when a torn tail precedes it), then checks that
   * the file grew by exactly that much: if not, another writer appended too, and the log is read again to
   * see whose units count. `fence` allows units of others before ours (the old leader's last commits).
   */
  private async append(unit: Unit, fence: boolean): Promise<void> {
    await this.writable();
    const s = this.state!;
    const { fh } = this.log!;
    const { buf, seqs, lengths, events } = unit;
    // An ack beyond the last position handed out acknowledges what exists now, not events still to come.
    const ackUpTo = unit.ackUpTo === undefined ? undefined : Math.min(unit.ackUpTo, s.outbox.lastPos);
    if (ackUpTo !== undefined) writeAck(buf, buf.length - CHECKPOINT_LENGTH - ACK_LENGTH, ackUpTo);
    writeCheckpoint(buf, buf.length - CHECKPOINT_LENGTH, {
      nextSenderSeq: unit.next?.nextSenderSeq ?? s.nextSenderSeq,
      nextTargetSeq: unit.next?.nextTargetSeq ?? s.nextTargetSeq,
      count: seqs.length + events.length + (unit.trimBelow !== undefined ? 1 : 0) + (ackUpTo !== undefined ? 1 : 0),
      epoch: this.epoch,
      flags: (unit.next !== undefined ? CheckpointFlag.Seqs : 0) | (unit.seal ? CheckpointFlag.Seal : 0),
      writer: this.writer,
    });
    // A torn tail before us: void it in the same write.
    const from = s.end > s.goodEnd ? 0 : DISCARD_LENGTH;
    if (from === 0) writeDiscard(buf, 0, s.goodEnd);

    const base = s.end;
    let size: number;
    try {
      // Synchronous: a page-cache write is a few microseconds, far less than a thread-pool round trip.
      // O_APPEND puts the whole buffer at the end of the file even if another process appends too.
      for (let at = from; at < buf.length; ) at += writeSync(fh.fd, buf, at, buf.length - at);
      size = fstatSync(fh.fd).size;
    } catch (err) {
      // Part of the unit may be on disk; a reopen reads it as a torn tail.
      this.failed = err as Error;
      throw err;
    }

    if (size === base + buf.length - from) {
      let offset = base + DISCARD_LENGTH - from;
      for (let i = 0; i < seqs.length; i++) {
        s.index.set(seqs[i], offset, lengths[i]);
        offset += lengths[i];
      }
      for (const length of events) {
        s.outbox.push(offset, length);
        offset += length;
      }
      if (unit.trimBelow !== undefined) s.index.deleteBelow(unit.trimBelow);
      if (ackUpTo !== undefined) s.outbox.dropUpTo(ackUpTo);
      if (unit.next !== undefined) {
        s.nextSenderSeq = unit.next.nextSenderSeq;
        s.nextTargetSeq = unit.next.nextTargetSeq;
      }
      s.epoch = this.epoch;
      s.sealed = unit.seal;
      s.goodEnd = s.end = size;
    } else {
      await this.reconcile(size, fence);
    }
    await this.durable();
  }

  /** Someone else appended: reads what they wrote the way a reopen would, then decides whether we still lead. */
  private async reconcile(size: number, fence: boolean): Promise<void> {
    const s = this.state!;
    const log = this.log!;
    if (size < s.end) {
      throw this.depose(
        new StoreConflictError(log.path, `log shrank from ${s.end} to ${size} bytes under this writer`),
      );
    }
    const seen: UnitSeen[] = [];
    try {
      await scanUnits(log.fh, log.path, s, size, (u) => seen.push(u));
    } catch (err) {
      this.failed = err as Error;
      throw err;
    }
    const mine = seen.findLastIndex((u) => u.writer.equals(this.writer));
    if (mine < 0) throw this.depose(new StoreConflictError(log.path, "this writer's append is missing from the log"));
    for (let i = 0; i < seen.length; i++) {
      const u = seen[i];
      if (!u.accepted || u.writer.equals(this.writer) || (fence && i < mine)) continue;
      throw this.depose(
        u.epoch > this.epoch
          ? new StaleEpochError(this.session, this.epoch, u.epoch)
          : new StoreConflictError(log.path, `another writer with epoch ${u.epoch} is appending to the log`),
      );
    }
    if (!seen[mine].accepted) throw this.depose(new StaleEpochError(this.session, this.epoch, s.epoch));
  }

  private async durable(): Promise<void> {
    if (this.policy === FsyncPolicy.Always) {
      try {
        await this.log!.fh.datasync();
      } catch (err) {
        // After a failed fsync the kernel may have dropped the dirty pages: nothing since the last good
        // fsync is known to be on disk, so this instance must not acknowledge anything more.
        this.failed = err as Error;
        throw err;
      }
    } else if (this.policy === FsyncPolicy.Interval) {
      this.dirty = true;
    }
  }

  private flushInBackground(): void {
    if (!this.dirty || this.syncing !== undefined || this.log === undefined) return;
    this.dirty = false;
    this.syncing = this.log.fh.datasync().then(
      () => {
        this.syncing = undefined;
      },
      (err: Error) => {
        // Reported by the next write (see `failed`).
        this.failed = err;
        this.syncing = undefined;
      },
    );
  }

  private async writable(): Promise<void> {
    const s = this.state;
    this.opened();
    if (this.failed !== undefined) throw this.failedError();
    if (this.deposed !== undefined) throw this.deposed;
    if (this.epoch < s!.epoch) throw this.depose(new StaleEpochError(this.session, this.epoch, s!.epoch));
    if (s!.sealed) {
      // Our log ends with a seal: either another writer reset the cycle (we must stop), or a reset crashed
      // before switching metadata (the old cycle is still current and the seal is void).
      const meta = await this.requireMeta();
      if (meta.log !== this.log!.name) {
        throw this.depose(
          meta.epoch > this.epoch
            ? new StaleEpochError(this.session, this.epoch, meta.epoch)
            : new StoreConflictError(this.path, `cycle ${meta.cycle} was started by another writer`),
        );
      }
    }
  }

  private depose(err: Error): Error {
    this.deposed = err;
    return err;
  }

  private failedError(): Error {
    return new Error(`file store ${this.path} stopped after a failed write or fsync; reopen it`, {
      cause: this.failed,
    });
  }

  private opened(): Log {
    if (this.log === undefined) throw new Error(`file store ${this.path} is not open`);
    return this.log;
  }

  // --- files -----------------------------------------------------------------------------------------------

  /**
   * Opens and reads `meta.log`. Returns false when the log is gone, or is sealed while metadata has moved on
   * (a reset by another instance raced us), if `retry`; the caller then reads metadata again.
   */
  private async attach(meta: Meta, retry: boolean): Promise<boolean> {
    const path = join(this.path, meta.log);
    let fh: FileHandle;
    try {
      // No O_CREAT: a log that metadata names must exist.
      fh = await open(path, constants.O_RDWR | constants.O_APPEND);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      if (retry) return false;
      throw new StoreCorruptError(this.metaPath, `names log ${meta.log}, which does not exist`, { cause: err });
    }
    let state: LogState;
    try {
      const size = (await fh.stat()).size;
      const { header, end } = await readHeader(fh, path, size);
      if (header.cycle !== meta.cycle || header.session !== this.session) {
        throw new StoreCorruptError(
          path,
          `header is for ${header.session} cycle ${header.cycle}, metadata says ${meta.cycle}`,
        );
      }
      state = {
        nextSenderSeq: header.nextSenderSeq,
        nextTargetSeq: header.nextTargetSeq,
        epoch: header.epoch,
        index: new SeqIndex(),
        outbox: new OutboxIndex(header.outboxPos ?? 0),
        goodEnd: end,
        end,
        sealed: false,
      };
      await scanUnits(fh, path, state, size);
      if (state.sealed && retry) {
        const now = await this.readMeta();
        if (now !== undefined && now.log !== meta.log) {
          await fh.close();
          return false;
        }
      }
    } catch (err) {
      await fh.close();
      throw err;
    }
    await this.closeLog();
    this.log = { fh, name: meta.log, path };
    this.meta = meta;
    this.state = state;
    return true;
  }

  /** Stops the flush timer and closes the log. */
  private async detach(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.closeLog();
  }

  /** Closes the current log, flushing it first under the interval policy. */
  private async closeLog(): Promise<void> {
    await this.syncing;
    const log = this.log;
    if (log === undefined) return;
    this.log = undefined;
    this.state = undefined;
    try {
      if (this.dirty && this.failed === undefined) await log.fh.datasync();
    } finally {
      this.dirty = false;
      await log.fh.close();
    }
  }

  /** A first cycle (1/1, epoch 0): its log, then metadata naming it. Called under the lock. */
  private async create(now: number): Promise<Meta> {
    const cycle = newCycleId(now);
    const log = await this.createLog({
      format: 2,
      session: this.session,
      cycle,
      creationTime: now,
      epoch: 0,
      nextSenderSeq: 1,
      nextTargetSeq: 1,
      outboxPos: 0,
    });
    const meta: Meta = { format: 1, session: this.session, cycle, creationTime: now, epoch: 0, log };
    await this.writeMeta(meta);
    await syncDir(dirname(this.path)); // the session directory itself may be new
    return meta;
  }

  /**
   * Writes a new log — its header, then whatever `body` writes — flushed, and returns its file name. On failure
   * the file is removed (it is not current yet: metadata names it only after this returns).
   */
  private async createLog(header: HeaderInfo, body?: (fh: FileHandle) => Promise<void>): Promise<string> {
    const name = `${header.cycle}.log`;
    const path = join(this.path, name);
    const fh = await open(path, "wx");
    try {
      await writeFully(fh, encodeHeader(header));
      if (body !== undefined) await body(fh);
      await fh.datasync();
    } catch (err) {
      await fh.close();
      // Best effort: a leftover newer log is harmless (removed once a later cycle is current), the error is not.
      await unlink(path).catch(() => undefined);
      throw err;
    }
    await fh.close();
    return name;
  }

  /**
   * Copies the Event records of `outbox` from the current log into `target` verbatim, in units of their own
   * (bounded, so that reading the new log back never holds a huge unit's records at once).
   */
  private async carryOutbox(
    target: FileHandle,
    outbox: OutboxIndex,
    c: { nextSenderSeq: number; nextTargetSeq: number; epoch: number },
  ): Promise<void> {
    const { fh, path } = this.log!;
    for (let done = 0; done < outbox.size; ) {
      const slice = outbox.entries(CARRY_UNIT_EVENTS, done);
      let bytes = 0;
      let n = 0;
      while (n < slice.length && (n === 0 || bytes + slice[n].length <= CARRY_UNIT_BYTES)) bytes += slice[n++].length;
      slice.length = n;
      const unit = Buffer.allocUnsafe(bytes + CHECKPOINT_LENGTH);
      let at = 0;
      await readRecords(fh, slice, (buf, from, e) => {
        if (intactRecordAt(buf, from, buf.length) !== e.length || buf[from + 4] !== RecordType.Event) {
          throw new StoreCorruptError(path, `offset ${e.offset}: record of outbox event ${e.pos} is damaged`);
        }
        at += buf.copy(unit, at, from, from + e.length);
      });
      writeCheckpoint(unit, at, {
        nextSenderSeq: c.nextSenderSeq,
        nextTargetSeq: c.nextTargetSeq,
        count: n,
        epoch: c.epoch,
        flags: 0,
        writer: this.writer,
      });
      await writeFully(target, unit);
      done += n;
    }
  }

  private get metaPath(): string {
    return join(this.path, META);
  }

  private async readMeta(): Promise<Meta | undefined> {
    let text: string;
    try {
      text = await readFile(this.metaPath, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    let m: Partial<Meta>;
    try {
      m = JSON.parse(text) as Partial<Meta>;
    } catch (cause) {
      throw new StoreCorruptError(this.metaPath, "not JSON", { cause });
    }
    if (
      m.format !== 1 ||
      typeof m.cycle !== "string" ||
      typeof m.log !== "string" ||
      !/^[A-Za-z0-9._-]+\.log$/.test(m.log) ||
      !Number.isSafeInteger(m.creationTime) ||
      !Number.isSafeInteger(m.epoch) ||
      (m.safe !== undefined && typeof m.safe !== "string")
    ) {
      throw new StoreCorruptError(this.metaPath, `unknown format: ${text.slice(0, 200)}`);
    }
    if (m.session !== this.session) {
      throw new StoreCorruptError(this.metaPath, `belongs to session ${JSON.stringify(m.session)}`);
    }
    return m as Meta;
  }

  private async requireMeta(): Promise<Meta> {
    const meta = await this.readMeta();
    if (meta === undefined) throw new StoreCorruptError(this.metaPath, "missing");
    return meta;
  }

  /** Replaces meta.json atomically and durably: temp file, fsync, rename, fsync the directory. */
  private async writeMeta(meta: Meta): Promise<void> {
    const tmp = `${this.metaPath}.tmp-${randomBytes(4).toString("hex")}`;
    const fh = await open(tmp, "wx");
    try {
      await fh.writeFile(`${JSON.stringify(meta)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.metaPath);
    await syncDir(this.path);
  }

  /**
   * Removes logs of older cycles (left by a reset that crashed before deleting them, or by a reset just
   * done) and temp files a crash left behind. Logs of newer cycles may belong to a reset in progress.
   */
  private async cleanup(): Promise<void> {
    const current = this.log!.name;
    for (const name of await readdir(this.path)) {
      const p = join(this.path, name);
      try {
        if (name.endsWith(".log") && name < current) await unlink(p);
        else if (name.startsWith(`${META}.tmp-`) && Date.now() - (await stat(p)).mtimeMs > TMP_MAX_AGE_MS) {
          await unlink(p);
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
        // The store works regardless; the file is retried at the next open.
        process.emitWarning(`file store: could not remove ${p}: ${(err as Error).message}`);
      }
    }
  }

  private snapshot(): StoreState {
    const s = this.state!;
    const m = this.meta!;
    return {
      nextSenderSeq: s.nextSenderSeq,
      nextTargetSeq: s.nextTargetSeq,
      cycle: m.cycle,
      creationTime: m.creationTime,
      epoch: Math.max(m.epoch, s.epoch, this.epoch),
      ...(m.safe !== undefined && { safeReason: m.safe }),
    };
  }

  /** Runs operations one at a time, in call order, even when callers do not await each other. */
  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op, op);
    // The queue only orders operations; each caller gets its own outcome from `run`.
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/**
 * A directory name for a session id: letters, digits, `.`, `-` and `_` kept, every other byte as `%XX`, so
 * distinct ids never share a directory. A leading `.` is escaped too (no `.`/`..`/hidden names); very long
 * ids are cut and suffixed with a hash of the whole id.
 */
export function sessionDirName(session: string): string {
  let out = "";
  for (const byte of Buffer.from(session, "utf8")) {
    const c = String.fromCharCode(byte);
    const plain = /[A-Za-z0-9._-]/.test(c) && !(c === "." && out === "");
    out += plain ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  if (out.length > 200) out = `${out.slice(0, 160)}~${createHash("sha256").update(session).digest("hex").slice(0, 32)}`;
  return out;
}

/**
 * Reads the records `entries` name (ascending offsets) and decodes each with `decode(buf, at, entry)`, where
 * `buf` holds the record at `at`: one read per run of neighbouring records (a resend reads consecutive seqs,
 * written consecutively; outbox events follow each other through the log the same way).
 */
async function readRecords<E extends { offset: number; length: number }, T>(
  fh: FileHandle,
  entries: readonly E[],
  decode: (buf: Buffer, at: number, e: E) => T,
): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < entries.length; ) {
    const start = entries[i].offset;
    let stop = start + entries[i].length;
    let j = i + 1;
    while (
      j < entries.length &&
      entries[j].offset >= stop &&
      entries[j].offset - stop <= READ_GAP &&
      entries[j].offset + entries[j].length - start <= READ_MAX
    ) {
      stop = entries[j].offset + entries[j].length;
      j++;
    }
    const buf = Buffer.allocUnsafe(stop - start);
    await readFully(fh, buf, start);
    for (; i < j; i++) out.push(decode(buf, entries[i].offset - start, entries[i]));
  }
  return out;
}

async function writeFully(fh: FileHandle, buf: Buffer): Promise<void> {
  for (let at = 0; at < buf.length; ) at += (await fh.write(buf, at, buf.length - at)).bytesWritten;
}

async function readFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  for (let got = 0; got < buf.length; ) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got);
    if (bytesRead === 0) throw new Error(`unexpected end of file at offset ${position + got}`);
    got += bytesRead;
  }
}

async function syncDir(path: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS journals the rename itself.
  if (process.platform === "win32") return;
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
