import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { type FixMessage, Framer, type FramerOptions, Tag } from "@fixmesh/fix";
import type { DirectionCore } from "./direction.js";
import type { MessageInfo } from "./events.js";
import { type ReplayOrder, releaseOrder } from "./replay.js";

/** A message (with what events say about it) or a garbled stretch (`info` null), on its way to the far side. */
interface Item {
  bytes: Buffer;
  info: MessageInfo | null;
  /** Monotonic ms before which it must not be written. */
  releaseAt: number;
  /** An extra copy from a duplicate rule (counted in `duplicated`, not in `forwarded`). */
  copy: boolean;
  /** Already counted in `held` (a message held by holdReplay and then by a stall counts once). */
  held: boolean;
}

/** Replayed messages held together and released in one go, in `order`. */
interface ReplayChunk {
  items: Item[];
  order: ReplayOrder;
  /** Released at the latest after this many ms from its first message; cleared when the flow closes. */
  timer: NodeJS.Timeout;
}

/**
 * One direction of one connection: reads the source's bytes, frames them into whole messages, applies the
 * direction's faults and writes what survives to the sink, in order. Bytes pass through a FIFO so latency, stalls and
 * partitions never reorder anything; only holdReplay reorders, and only the replayed messages it holds.
 */
export class Flow {
  /** Messages (not garbled stretches) waiting in the queue. */
  queuedMessages = 0;
  private readonly framer: Framer;
  private readonly unframed = new Unframed();
  private readonly queue = new Fifo<Item>();
  private readonly chunks: ReplayChunk[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** The source sent FIN: pass it on once everything before it is written. */
  private ended = false;
  private endSent = false;
  private closed = false;
  /** Discarded during the current read (a stall with `discard`), reported as one event. */
  private discardedMessages = 0;
  private discardedBytes = 0;

  constructor(
    private readonly dir: DirectionCore,
    readonly connection: number,
    private readonly sink: Socket,
    framerOptions: FramerOptions,
  ) {
    this.framer = new Framer(framerOptions);
    dir.flows.add(this);
  }

  /** Passed on the source's FIN (or closed): nothing more will be written. */
  get finished(): boolean {
    return this.closed || this.endSent;
  }

  onData(chunk: Buffer): void {
    if (this.closed) return;
    const now = performance.now();
    this.unframed.add(chunk);
    this.framer.push(
      chunk,
      (m) => this.onMessage(m, now),
      // Garbled bytes are passed on untouched (the receiver's own framer must see them); the view is copied because
      // it may point into the framer's buffer.
      (g) => this.enqueue({ bytes: Buffer.from(g.bytes), info: null, copy: false, releaseAt: 0, held: false }, now),
    );
    this.unframed.keepLast(this.framer.buffered);
    this.reportDiscarded();
    this.pump();
  }

  /** The source half-closed: forward any partial message as it is, then the FIN after everything queued. */
  onEnd(): void {
    if (this.closed || this.ended) return;
    this.ended = true;
    const rest = this.unframed.take(this.framer.buffered);
    this.framer.reset();
    if (rest.length > 0)
      this.enqueue({ bytes: rest, info: null, copy: false, releaseAt: 0, held: false }, performance.now());
    this.reportDiscarded();
    this.pump();
  }

  /** Writes every item whose time has come, unless the direction is blocked; schedules the next. */
  pump(): void {
    if (this.closed) return;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.dir.blocked) return;
    const now = performance.now();
    let corked = false;
    while (!this.queue.empty) {
      const head = this.queue.peek();
      if (head.releaseAt > now) {
        this.timer = setTimeout(
          () => {
            this.timer = null;
            this.pump();
          },
          Math.ceil(head.releaseAt - now),
        );
        break;
      }
      this.queue.shift();
      if (!corked) {
        // One socket write per pump, however many messages are due.
        this.sink.cork();
        corked = true;
      }
      this.write(head);
    }
    if (corked) this.sink.uncork();
    if (this.ended && !this.endSent && this.queue.empty && this.chunks.length === 0) {
      this.endSent = true;
      this.sink.end();
    }
  }

  /** Releases every held replay chunk now (holdReplay turned off). */
  releaseReplay(): void {
    for (const c of [...this.chunks]) this.releaseChunk(c);
  }

  /** Stops everything; counts and reports what was still held or queued as discarded. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dir.flows.delete(this);
    if (this.timer !== null) clearTimeout(this.timer);
    const lost: Item[] = [];
    for (const c of this.chunks) {
      clearTimeout(c.timer);
      lost.push(...c.items);
    }
    this.chunks.length = 0;
    while (!this.queue.empty) lost.push(this.queue.shift());
    for (const item of lost) this.discard(item);
    this.reportDiscarded("closed");
  }

  private onMessage(m: FixMessage, now: number): void {
    const d = this.dir;
    const seq = m.getInt(Tag.MsgSeqNum);
    const info: MessageInfo = {
      msgType: m.msgType,
      seq: seq === undefined || Number.isNaN(seq) ? undefined : seq,
      possDup: m.flag(Tag.PossDupFlag),
    };
    const drop = d.take("drop", m);
    if (drop !== null) {
      d.counters.dropped++;
      d.host.emit({ kind: "drop", direction: d.name, connection: this.connection, rule: drop.id, ...info });
      return;
    }
    const dup = d.take("duplicate", m);
    const copies = dup === null ? 0 : dup.copies;
    if (dup !== null) {
      d.counters.duplicated += copies;
      d.host.emit({ kind: "duplicate", direction: d.name, connection: this.connection, rule: dup.id, copies, ...info });
    }
    for (let i = 0; i <= copies; i++) {
      const item: Item = { bytes: m.raw, info, copy: i > 0, releaseAt: 0, held: false };
      if (info.possDup && d.replay !== null) this.holdReplayed(item);
      else this.enqueue(item, now);
    }
  }

  private holdReplayed(item: Item): void {
    const d = this.dir;
    const opts = d.replay!;
    let c = this.chunks.at(-1);
    if (c === undefined || c.items.length >= opts.chunk || c.order !== opts.order) {
      const chunk: ReplayChunk = {
        items: [],
        order: opts.order,
        timer: setTimeout(() => this.releaseChunk(chunk), opts.releaseAfterMs),
      };
      this.chunks.push(chunk);
      c = chunk;
    }
    c.items.push(item);
    item.held = true;
    d.counters.held++;
    d.host.emit({ kind: "hold", direction: d.name, connection: this.connection, ...item.info! });
  }

  private releaseChunk(c: ReplayChunk): void {
    const i = this.chunks.indexOf(c);
    if (this.closed || i < 0) return;
    this.chunks.splice(i, 1);
    clearTimeout(c.timer);
    const d = this.dir;
    const order = releaseOrder(c.items.length, c.order, () => d.host.random());
    let displaced = 0;
    order.forEach((from, to) => {
      if (from !== to) displaced++;
    });
    d.counters.reordered += displaced;
    d.host.emit({
      kind: "release",
      direction: d.name,
      connection: this.connection,
      order: c.order,
      seqs: order.map((k) => c.items[k].info!.seq),
    });
    const now = performance.now();
    for (const k of order) this.enqueue(c.items[k], now);
    this.reportDiscarded();
    this.pump();
  }

  private enqueue(item: Item, now: number): void {
    const d = this.dir;
    if (d.blocked) {
      if (d.discarding) {
        this.discard(item);
        return;
      }
      if (item.info !== null && !item.held) {
        item.held = true;
        d.counters.held++;
      }
    }
    item.releaseAt = now + d.sampleLatency();
    this.queue.push(item);
    if (item.info !== null) this.queuedMessages++;
  }

  private write(item: Item): void {
    const c = this.dir.counters;
    if (item.info !== null) {
      this.queuedMessages--;
      if (!item.copy) c.forwarded++;
    } else {
      c.garbled++;
    }
    c.bytes += item.bytes.length;
    this.sink.write(item.bytes);
  }

  private discard(item: Item): void {
    if (item.info !== null) {
      this.discardedMessages++;
      this.dir.counters.discarded++;
    }
    this.discardedBytes += item.bytes.length;
  }

  private reportDiscarded(reason: "stalled" | "closed" = "stalled"): void {
    if (this.discardedBytes === 0) return;
    const d = this.dir;
    d.host.emit({
      kind: "discard",
      direction: d.name,
      connection: this.connection,
      reason,
      messages: this.discardedMessages,
      bytes: this.discardedBytes,
    });
    this.discardedMessages = 0;
    this.discardedBytes = 0;
  }
}

/**
 * The bytes the framer is holding back (a partial message), kept so they can be passed on as they are when the
 * source closes mid-message. The framer holds a suffix of the stream; this keeps the chunks that suffix lies in.
 */
class Unframed {
  private chunks: Buffer[] = [];
  private total = 0;

  add(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** Forgets all but the last `n` bytes (whole chunks only; `take` trims the rest). */
  keepLast(n: number): void {
    if (n === 0) {
      this.chunks = [];
      this.total = 0;
      return;
    }
    while (this.chunks.length > 1 && this.total - this.chunks[0].length >= n) this.total -= this.chunks.shift()!.length;
  }

  /** The last `n` bytes, copied; forgets everything. */
  take(n: number): Buffer {
    const all = Buffer.concat(this.chunks, this.total);
    this.chunks = [];
    this.total = 0;
    return Buffer.from(all.subarray(all.length - n));
  }
}

/** A queue with O(1) shift (an array's shift is O(n), which a 100,000-message replay would feel). */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get empty(): boolean {
    return this.head >= this.items.length;
  }

  push(v: T): void {
    this.items.push(v);
  }

  peek(): T {
    return this.items[this.head];
  }

  shift(): T {
    const v = this.items[this.head++];
    if (this.head >= this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return v;
  }
}
