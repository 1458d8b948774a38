import { StaleEpochError } from "../errors.js";
import { checkBatch, checkPosition, checkSeq } from "./batch.js";
import { newCycleId } from "./cycle.js";
import type { CommitBatch, MessageStore, OutboxEntry, OutboxEvent, StoredMessage, StoreState } from "./store.js";

/**
 * What a memory store keeps, outside any one `MemoryStore` instance: hand the same backing to a new
 * instance to "reopen" the session (a restart inside one process, a second writer in a test).
 */
export class MemoryBacking {
  /** @internal undefined until the first open. */
  state: Omit<StoreState, "epoch"> | undefined;
  /** @internal */
  epoch = 0;
  /** @internal seq → message, owned copies. */
  readonly messages = new Map<number, StoredMessage>();
  /** @internal outbox events not yet acknowledged, ascending pos; survives resets. */
  outbox: OutboxEntry[] = [];
  /** @internal last outbox position handed out. */
  outboxPos = 0;
}

export interface MemoryStoreOptions {
  /** Named in errors. Default `"memory"`. */
  session?: string;
  /** Shared state; default a fresh one (nothing survives the instance). */
  backing?: MemoryBacking;
}

/**
 * Transient store: everything lives in the process's memory and is lost when it exits.
 *
 * Commits are atomic trivially (one synchronous update). Fencing holds between instances sharing a backing:
 * a write by an instance whose epoch is lower than the backing's fails with StaleEpochError. Two instances
 * with the same epoch are not told apart.
 */
export class MemoryStore implements MessageStore {
  readonly kind = "memory";
  readonly backing: MemoryBacking;
  private readonly session: string;
  private epoch = 0;
  private opened = false;

  constructor(opts: MemoryStoreOptions = {}) {
    this.session = opts.session ?? "memory";
    this.backing = opts.backing ?? new MemoryBacking();
  }

  async open(now: number): Promise<StoreState> {
    const b = this.backing;
    if (b.state === undefined) {
      b.state = { nextSenderSeq: 1, nextTargetSeq: 1, cycle: newCycleId(now), creationTime: now };
    }
    this.epoch = b.epoch;
    this.opened = true;
    return { ...b.state, epoch: b.epoch };
  }

  async fence(epoch: number): Promise<void> {
    this.state();
    checkSeq("epoch", epoch, 0);
    if (epoch < this.backing.epoch) throw new StaleEpochError(this.session, epoch, this.backing.epoch);
    this.backing.epoch = epoch;
    this.epoch = epoch;
  }

  async commit(batch: CommitBatch): Promise<readonly OutboxEntry[] | undefined> {
    const s = this.writable();
    checkBatch(batch);
    const messages = this.backing.messages;
    // Copies: the engine encodes into reusable buffers.
    for (const m of batch.outbound)
      messages.set(m.seq, { seq: m.seq, msgType: m.msgType, bytes: Buffer.from(m.bytes) });
    s.nextSenderSeq = batch.nextSenderSeq;
    s.nextTargetSeq = batch.nextTargetSeq;
    const b = this.backing;
    const events = batch.events ?? [];
    if (events.length === 0) return;
    // The outbox's own entries, handed back as they are (the caller is not to change them; readOutbox copies).
    const added = events.map((e) => ({ ...copyEvent(e), pos: ++b.outboxPos }));
    for (const e of added) b.outbox.push(e);
    return added;
  }

  async readOutbox(limit: number): Promise<OutboxEntry[]> {
    this.state();
    // Copies: a caller that changes what it read must not change what a later read returns.
    return this.backing.outbox.slice(0, Math.max(0, limit)).map((e) => ({ ...copyEvent(e), pos: e.pos }));
  }

  async ackOutbox(upToPos: number): Promise<void> {
    checkPosition("upToPos", upToPos);
    this.writable();
    const o = this.backing.outbox;
    let i = 0;
    while (i < o.length && o[i].pos <= upToPos) i++;
    if (i > 0) o.splice(0, i);
  }

  async getRange(begin: number, end: number): Promise<StoredMessage[]> {
    this.state();
    const messages = this.backing.messages;
    const out: StoredMessage[] = [];
    const lo = Math.max(1, Math.ceil(begin));
    if (!(end >= lo) || messages.size === 0) return out;
    if (end - lo < messages.size) {
      for (let seq = lo; seq <= end; seq++) {
        const m = messages.get(seq);
        if (m !== undefined) out.push(copy(m));
      }
    } else {
      for (const m of messages.values()) if (m.seq >= lo && m.seq <= end) out.push(copy(m));
      out.sort((a, b) => a.seq - b.seq);
    }
    return out;
  }

  async reset(now: number, next?: { nextSenderSeq?: number; nextTargetSeq?: number }): Promise<StoreState> {
    const s = this.writable();
    const nextSenderSeq = next?.nextSenderSeq ?? 1;
    const nextTargetSeq = next?.nextTargetSeq ?? 1;
    checkSeq("nextSenderSeq", nextSenderSeq);
    checkSeq("nextTargetSeq", nextTargetSeq);
    const state: Omit<StoreState, "epoch"> = {
      nextSenderSeq,
      nextTargetSeq,
      cycle: newCycleId(now, s.cycle),
      creationTime: now,
    };
    if (s.safeReason !== undefined) state.safeReason = s.safeReason;
    this.backing.state = state;
    this.backing.messages.clear();
    return { ...state, epoch: this.backing.epoch };
  }

  async setSequences(nextSenderSeq: number, nextTargetSeq: number): Promise<void> {
    const s = this.writable();
    checkSeq("nextSenderSeq", nextSenderSeq);
    checkSeq("nextTargetSeq", nextTargetSeq);
    s.nextSenderSeq = nextSenderSeq;
    s.nextTargetSeq = nextTargetSeq;
  }

  async setSafe(reason: string | null): Promise<void> {
    const s = this.writable();
    if (reason === null) delete s.safeReason;
    else s.safeReason = reason;
  }

  async trim(belowSeq: number): Promise<void> {
    this.writable();
    for (const seq of this.backing.messages.keys()) if (seq < belowSeq) this.backing.messages.delete(seq);
  }

  async close(): Promise<void> {
    this.opened = false;
  }

  private state(): Omit<StoreState, "epoch"> {
    if (!this.opened || this.backing.state === undefined) throw new Error(`memory store ${this.session} is not open`);
    return this.backing.state;
  }

  private writable(): Omit<StoreState, "epoch"> {
    const s = this.state();
    if (this.epoch < this.backing.epoch) throw new StaleEpochError(this.session, this.epoch, this.backing.epoch);
    return s;
  }
}

function copyEvent(e: OutboxEvent): OutboxEvent {
  const out: OutboxEvent = { id: e.id, subject: e.subject, payload: Buffer.from(e.payload) };
  if (e.headers !== undefined) out.headers = { ...e.headers };
  return out;
}

function copy(m: StoredMessage): StoredMessage {
  return { seq: m.seq, msgType: m.msgType, bytes: Buffer.from(m.bytes) };
}
