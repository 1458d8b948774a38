import type { Consumer, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import type { BusLog, Delivered, EventBus } from "./bus.js";

export interface DurableConsumerOptions {
  /** Durable name: survives restarts; two processes with the same name share the work (JetStream). */
  name: string;
  /** Subject filter, e.g. "fix.*.in.8" or "orders.>". */
  filter: string;
  /** Max events per batch (default 500). */
  batch?: number;
  /** How long the bus waits before redelivering an unacknowledged event (default 30 s). */
  ackWaitMs?: number;
  /** Where a new durable starts: "all" (default) or "new". */
  deliver?: "all" | "new";
  /**
   * Remove the durable after it has had no reader for this long (JetStream `inactive_threshold`). For durables
   * named per process (risk's, named after its pod): when the pod is gone for good nobody will ever read it again,
   * and without a threshold the server keeps it, and its pending count, forever. Default: none — a durable shared
   * by a deployment must outlive all of its members being down. The in-process bus ignores it (its durables live
   * as long as the bus). Changing it on an existing durable updates the durable.
   */
  inactiveThresholdMs?: number;
  /**
   * How many batches the handler may be working on at once (default 1; at most 3). With 2, the next batch is
   * handed over while the handler still commits the one before: a consumer whose store round trips dominate keeps
   * both the store and itself busy. Acknowledgements stay in stream order — a batch is acknowledged only once it
   * and every batch before it were handled — and memory stays bounded (these batches plus one fetched ahead). The
   * handler must then cope with being called again before its previous call resolved. The in-process bus hands
   * over one batch at a time whatever this says.
   */
  pipeline?: number;
}

export interface DurableConsumer {
  /**
   * Pull batches and hand them to `handler` one at a time (never two at once); when the handler resolves every
   * event of the batch is acknowledged; when it throws nothing is acknowledged and the batch is redelivered after
   * a back-off. The pull is paced by the handler: a slow handler means no more is fetched (bounded memory).
   */
  start(handler: (batch: readonly Delivered[]) => Promise<void>): void;
  /** Events in the stream not yet acknowledged by this durable (for lag metrics and scaling). */
  lag(): Promise<number>;
  stop(): Promise<void>;
}

/** A bus that offers durable consumers (JetStreamBus, InProcessBus). */
export interface DurableBus extends EventBus {
  durable(opts: DurableConsumerOptions): Promise<DurableConsumer>;
}

/** The durable name or filter is not usable (or a durable of that name exists with another filter). */
export class DurableConfigError extends Error {
  override readonly name = "DurableConfigError";
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`durable consumer ${field}: ${reason}`);
  }
}

const DEFAULT_BATCH = 500;
/** How long a fetch waits for events at most: a reader's pull is renewed this often. */
const FETCH_EXPIRES_MS = 1000;
/**
 * How long a batch taken from a backlog waits for the rest of its fetch (the server reported more pending): those
 * are in flight, a fraction of this; if another reader of the durable took them, nothing comes and the batch goes.
 */
const TOP_UP_WAIT_MS = 5;

/** The smallest inactive threshold accepted: the reader's long poll renews its activity every second. */
const MIN_INACTIVE_THRESHOLD_MS = 1_000;
const DEFAULT_ACK_WAIT_MS = 30_000;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

/** The options with their defaults (`inactiveThresholdMs` 0: none). */
export function validateDurableOptions(opts: DurableConsumerOptions): Required<DurableConsumerOptions> {
  // NATS consumer names cannot hold subject separators or wildcards.
  if (!/^[A-Za-z0-9_-]+$/.test(opts.name)) {
    throw new DurableConfigError("name", `"${opts.name}" must be letters, digits, '_' or '-'`);
  }
  if (opts.filter === "" || /\s/.test(opts.filter) || opts.filter.split(".").some((t) => t === "")) {
    throw new DurableConfigError("filter", `"${opts.filter}" is not a subject filter`);
  }
  const batch = opts.batch ?? DEFAULT_BATCH;
  if (!Number.isInteger(batch) || batch < 1 || batch > 10_000) {
    throw new DurableConfigError("batch", `${batch} must be an integer in 1..10000`);
  }
  const ackWaitMs = opts.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
  if (!Number.isFinite(ackWaitMs) || ackWaitMs < 100) {
    throw new DurableConfigError("ackWaitMs", `${ackWaitMs} must be at least 100`);
  }
  const deliver = opts.deliver ?? "all";
  if (deliver !== "all" && deliver !== "new") {
    throw new DurableConfigError("deliver", `"${String(deliver)}" must be "all" or "new"`);
  }
  const inactiveThresholdMs = opts.inactiveThresholdMs ?? 0;
  if (
    !Number.isInteger(inactiveThresholdMs) ||
    (inactiveThresholdMs !== 0 && inactiveThresholdMs < MIN_INACTIVE_THRESHOLD_MS)
  ) {
    throw new DurableConfigError(
      "inactiveThresholdMs",
      `${inactiveThresholdMs} must be a whole number of milliseconds, at least ${MIN_INACTIVE_THRESHOLD_MS} (or 0: none)`,
    );
  }
  const pipeline = opts.pipeline ?? 1;
  if (!Number.isInteger(pipeline) || pipeline < 1 || pipeline > 3) {
    throw new DurableConfigError("pipeline", `${pipeline} must be 1, 2 or 3`);
  }
  return { name: opts.name, filter: opts.filter, batch, ackWaitMs, deliver, inactiveThresholdMs, pipeline };
}

/** Back-off between attempts of a failing batch: 100 ms doubling to 5 s. */
export function retryDelay(attempt: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(attempt, 10));
}

/** Sleeps that `wake()` cuts short (so `stop()` does not wait out a back-off, and a publish wakes a reader). */
class Sleeper {
  private readonly waiters = new Set<() => void>();
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }
  wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// JetStream

/** A JetStream message as bus subscribers and durables see it. */
export function toDelivered(m: JsMsg): Delivered {
  const headers: Record<string, string> = {};
  if (m.headers) for (const [k, v] of m.headers) headers[k] = v.join(",");
  return { id: m.headers?.get("Nats-Msg-Id") ?? "", subject: m.subject, payload: m.data, headers, seq: m.seq };
}

function isConsumerNotFound(err: unknown): boolean {
  const e = err as { name?: string; api_error?: { err_code?: number }; message?: string };
  return (
    e?.name === "ConsumerNotFoundError" ||
    e?.api_error?.err_code === 10014 ||
    /consumer not found/i.test(String(e?.message ?? ""))
  );
}

/**
 * Deletes a consumer; one already gone counts as deleted. nats-server 2.9 may refuse a delete that races the
 * consumer's own write of its state ("unlinkat …/obs/<name>: directory not empty", err 10051, seen in 2 of 12 runs
 * of a test deleting a durable just after its acknowledgement): such a failure is tried again (5 tries in ~0.8 s),
 * then thrown.
 */
export async function deleteConsumer(jsm: JetStreamManager, stream: string, name: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await jsm.consumers.delete(stream, name);
      return;
    } catch (err) {
      if (isConsumerNotFound(err)) return;
      if (attempt >= 4) throw err;
      await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    }
  }
}

/** The connection a JetStream durable needs beyond the JetStream APIs. */
export interface NatsLink {
  flush(): Promise<void>;
  isClosed(): boolean;
  /** Told when the durable finds itself missing on the server and is made again. */
  log?: BusLog;
}

/**
 * A durable pull consumer with explicit acks. NATS 2.9 allows one `filter_subject` per consumer.
 *
 * Pulling: one open fetch of up to a batch, read as the server fills it (see `pull`): an idle consumer answers the
 * first event at once, and the events after it ride the same request. One batch is fetched ahead while the handler
 * runs; nothing more — memory stays bounded by one batch besides those in the handler. A batch whose handler throws
 * is retried in this process after a back-off, with `working()` keeping the server from redelivering it (or the
 * batch fetched ahead) meanwhile, so events reach the handler in stream order; if the process dies the server
 * redelivers after `ackWaitMs`.
 */
export class JetStreamDurableConsumer implements DurableConsumer {
  private running = false;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private readonly sleeper = new Sleeper();
  private consumer: Consumer | null = null;

  private constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly opts: Required<DurableConsumerOptions>,
    private readonly conn: NatsLink,
  ) {}

  private flush(): Promise<void> {
    return this.conn.flush();
  }

  static async create(
    js: JetStreamClient,
    jsm: JetStreamManager,
    stream: string,
    options: DurableConsumerOptions,
    conn: NatsLink,
  ): Promise<JetStreamDurableConsumer> {
    const opts = validateDurableOptions(options);
    const c = new JetStreamDurableConsumer(js, jsm, stream, opts, conn);
    await c.ensure();
    return c;
  }

  /**
   * Creates the durable, or checks that the existing one has the same filter (ack wait and inactive threshold are
   * updated).
   */
  private async ensure(): Promise<void> {
    const ackWaitNs = this.opts.ackWaitMs * 1_000_000;
    const inactiveNs = this.opts.inactiveThresholdMs * 1_000_000;
    let existing = null;
    try {
      existing = await this.jsm.consumers.info(this.stream, this.opts.name);
    } catch (err) {
      if (!isConsumerNotFound(err)) throw err;
    }
    if (existing) {
      const filter = existing.config.filter_subject ?? "";
      if (filter !== this.opts.filter) {
        throw new DurableConfigError(
          "filter",
          `durable "${this.opts.name}" on stream ${this.stream} already exists with filter "${filter}", not "${this.opts.filter}"`,
        );
      }
      const change: { ack_wait?: number; inactive_threshold?: number } = {};
      if (existing.config.ack_wait !== ackWaitNs) change.ack_wait = ackWaitNs;
      if ((existing.config.inactive_threshold ?? 0) !== inactiveNs) change.inactive_threshold = inactiveNs;
      if (Object.keys(change).length > 0) await this.jsm.consumers.update(this.stream, this.opts.name, change);
    } else {
      if (this.consumer !== null) {
        // It existed (this reader read from it): the server lost it, or someone deleted it.
        this.conn.log?.warn(
          { stream: this.stream, durable: this.opts.name, deliver: this.opts.deliver ?? "all" },
          "JetStream durable consumer was missing; made it again",
        );
      }
      await this.jsm.consumers.add(this.stream, {
        durable_name: this.opts.name,
        ack_policy: AckPolicy.Explicit,
        ack_wait: ackWaitNs,
        filter_subject: this.opts.filter,
        deliver_policy: this.opts.deliver === "new" ? DeliverPolicy.New : DeliverPolicy.All,
        // The server hands out at most this many unacknowledged events: our two batches, plus slack for a
        // second process sharing the durable.
        max_ack_pending: Math.max(1000, this.opts.batch * 4),
        ...(inactiveNs > 0 && { inactive_threshold: inactiveNs }),
      });
    }
    this.consumer = await this.js.consumers.get(this.stream, this.opts.name);
  }

  start(handler: (batch: readonly Delivered[]) => Promise<void>): void {
    if (this.running) throw new Error(`durable ${this.opts.name} already started`);
    this.running = true;
    this.loop = this.run(handler, this.opts.pipeline);
  }

  /** Events the open fetch delivered and no pull has taken yet (covered by the keep-alive like the batches). */
  private arrived: JsMsg[] = [];
  /** The open fetch, while it runs. */
  private open: Promise<void> | null = null;
  /** Why the last fetch failed, for the next pull to throw. */
  private failure: unknown = null;
  /** Wakes the waiting pull: an event arrived, or the fetch ended. */
  private signal: (() => void) | null = null;
  /** How many more events the open fetch may bring. */
  private fetchRoom = 0;

  /**
   * Opens a fetch of up to a batch, read as the server fills it: each event goes to `arrived` as it comes, for as
   * long as the fetch lasts (a second, or a full batch).
   */
  private openFetch(consumer: Consumer): void {
    this.fetchRoom = this.opts.batch;
    this.open = (async () => {
      const it = await consumer.fetch({ max_messages: this.opts.batch, expires: FETCH_EXPIRES_MS });
      for await (const m of it) {
        this.fetchRoom--;
        this.arrived.push(m);
        this.signal?.();
      }
    })()
      .catch((err: unknown) => {
        this.failure = err;
      })
      .finally(() => {
        this.open = null;
        this.signal?.();
      });
  }

  /**
   * The next batch: what has arrived, or the first event to arrive within a second and those that came with it
   * (events published together are read off the socket together, before a setImmediate) — and, when the server
   * reported more pending and the fetch has room, the rest of its fill, which is on its way (a backlog is handed
   * over in full batches). One open fetch serves many batches — an idle consumer answers the first event at once,
   * and the events after it need no request of their own (a long poll for one event, then a fetch of the rest, cost
   * a round trip to the server per batch).
   * A new fetch opens only when nothing waits and none is open: what is out of the stream besides the batches in the
   * handler (the batch fetched ahead, and what arrived after it) is at most one fetch, one batch. `[]` when a fetch
   * ended with nothing.
   */
  private async pull(): Promise<JsMsg[]> {
    const consumer = this.consumer;
    if (!consumer) throw new Error("consumer not ready");
    if (this.arrived.length === 0) {
      if (this.open === null) {
        // A fetch that failed after handing events over: its error comes once they are taken.
        this.throwFailure();
        this.openFetch(consumer);
      }
      await this.nextArrival();
      if (this.arrived.length === 0) {
        this.throwFailure();
        return [];
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
      // From a backlog the server sends the open fetch its fill; what did not make the same read is on its way.
      while (this.arrived.length < this.opts.batch && this.open !== null && this.fetchRoom > 0) {
        const last = this.arrived[this.arrived.length - 1] as JsMsg;
        if (last.info.pending === 0) break;
        if (!(await this.nextArrival(TOP_UP_WAIT_MS))) break;
      }
    }
    return this.arrived.splice(0, this.opts.batch);
  }

  /** True when an event arrived (or the fetch ended), false when `ms` passed first (no `ms`: waits for it). */
  private nextArrival(ms?: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer =
        ms === undefined
          ? undefined
          : setTimeout(() => {
              this.signal = null;
              resolve(false);
            }, ms);
      this.signal = () => {
        clearTimeout(timer);
        this.signal = null;
        resolve(true);
      };
    });
  }

  private throwFailure(): void {
    const err = this.failure;
    this.failure = null;
    if (err !== null) throw err;
  }

  private async pullWithRetry(): Promise<JsMsg[] | null> {
    let attempt = 0;
    while (!this.stopped) {
      try {
        return await this.pull();
      } catch {
        // The bus was closed under us: nothing more will come (the server redelivers after ackWait).
        if (this.stopped || this.conn.isClosed()) return null;
        // The server may have lost the consumer (restarted without state, or someone deleted it): the pull then
        // fails with "consumer deleted", "heartbeats missed" or "consumer not found" — whichever, make sure it
        // exists (creates it if not, a lookup if so; nothing to do while the server is unreachable).
        await this.ensure().catch(() => undefined);
        await this.sleeper.sleep(retryDelay(attempt++));
      }
    }
    return null;
  }

  /** Hands `msgs` to the handler until it resolves (true), retrying after a back-off; false once stopped. */
  private async handleUntilDone(
    handler: (batch: readonly Delivered[]) => Promise<void>,
    msgs: readonly JsMsg[],
  ): Promise<boolean> {
    const batch = msgs.map(toDelivered);
    let attempt = 0;
    for (;;) {
      try {
        await handler(batch);
        return true;
      } catch {
        if (!this.stopped) await this.sleeper.sleep(retryDelay(attempt++));
        if (this.stopped) return false;
      }
    }
  }

  /**
   * Hands batches to the handler, up to `depth` at once (see `pipeline`), fetching one batch ahead. Each batch is
   * acknowledged once it and every batch before it are handled; after a batch that was not (the consumer stopped
   * while it was failing), the later ones are given back too, so the next reader sees them again in order.
   */
  private async run(handler: (batch: readonly Delivered[]) => Promise<void>, depth: number): Promise<void> {
    let next: Promise<JsMsg[] | null> = this.pullWithRetry();
    const held = new Set<readonly JsMsg[]>();
    const inflight: Array<Promise<void>> = [];
    const unacked: JsMsg[] = [];
    let tail: Promise<void> = Promise.resolve();
    let broken = false;
    // Batches in the handler, waiting for an earlier one, or fetched ahead are kept from being redelivered: a slow
    // handler, or one retrying while the database is down, would otherwise see them again (or another member would).
    const keepAlive = setInterval(
      () => {
        for (const msgs of held) for (const m of msgs) m.working();
        for (const m of this.arrived) m.working();
      },
      Math.max(50, Math.floor(this.opts.ackWaitMs / 3)),
    );
    keepAlive.unref();
    try {
      while (!this.stopped) {
        if (inflight.length >= depth) {
          await inflight.shift();
          continue;
        }
        const msgs = await next;
        if (msgs === null) break;
        next = this.pullWithRetry();
        // Held from the moment it arrives (this reaction runs before the loop's own await of it).
        void next.then((ahead) => {
          if (ahead !== null && ahead.length > 0) held.add(ahead);
        });
        if (msgs.length === 0) continue;
        held.add(msgs);
        const handled = this.handleUntilDone(handler, msgs);
        const acked = tail.then(async () => {
          const ok = await handled;
          held.delete(msgs);
          // Acks go out with the connection's next write (flushed on stop), in stream order.
          if (ok && !broken) for (const m of msgs) m.ack();
          else {
            broken = true;
            unacked.push(...msgs);
          }
        });
        tail = acked;
        inflight.push(acked);
      }
      await Promise.all(inflight);
    } finally {
      clearInterval(keepAlive);
    }
    // Whatever was fetched and not handled goes back to the stream now rather than after ackWait — only once
    // the pull ahead has ended, or the server would hand the first event straight back to that pull, and the
    // next consumer would see it after the rest.
    const left = await next.catch(() => null);
    await this.open;
    for (const m of unacked) m.nak();
    if (left) for (const m of left) m.nak();
    for (const m of this.arrived.splice(0)) m.nak();
    await this.flush().catch(() => undefined);
  }

  async lag(): Promise<number> {
    const info = await this.jsm.consumers.info(this.stream, this.opts.name);
    return info.num_pending + info.num_ack_pending;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.sleeper.wake();
    await this.loop;
    this.loop = null;
    this.running = false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// In process

/** What an in-process bus exposes to its durables. */
export interface DurableLog {
  /** Events with seq ≥ `fromSeq` matching `filter`, at most `max`; also returns where the scan stopped. */
  readFrom(fromSeq: number, filter: string, max: number): { events: Delivered[]; nextSeq: number };
  lastSeq(): number;
  countFrom(fromSeq: number, filter: string): number;
  onPublish(listener: () => void): () => void;
}

/** The state of one durable name on an in-process bus; members started with the same name share it. */
export interface InProcessDurableState {
  filter: string;
  nextSeq: number;
  /** Batches handed out and not acknowledged yet, by first seq. */
  inflight: Map<number, number>;
  /** Batches given back by a member that stopped before they were acknowledged; handed out first. */
  returned: Delivered[][];
}

/** The durable consumer of `InProcessBus`: same semantics as the JetStream one, in memory. */
export class InProcessDurableConsumer implements DurableConsumer {
  private running = false;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private readonly sleeper = new Sleeper();

  constructor(
    private readonly log: DurableLog,
    private readonly state: InProcessDurableState,
    private readonly opts: Required<DurableConsumerOptions>,
  ) {}

  start(handler: (batch: readonly Delivered[]) => Promise<void>): void {
    if (this.running) throw new Error(`durable ${this.opts.name} already started`);
    this.running = true;
    this.loop = this.run(handler);
  }

  private take(): Delivered[] {
    const back = this.state.returned.shift();
    if (back) return back;
    const { events, nextSeq } = this.log.readFrom(this.state.nextSeq, this.state.filter, this.opts.batch);
    this.state.nextSeq = nextSeq;
    return events;
  }

  private async run(handler: (batch: readonly Delivered[]) => Promise<void>): Promise<void> {
    const unlisten = this.log.onPublish(() => this.sleeper.wake());
    try {
      while (!this.stopped) {
        const batch = this.take();
        if (batch.length === 0) {
          await this.sleeper.sleep(1000);
          continue;
        }
        const key = batch[0].seq;
        this.state.inflight.set(key, batch.length);
        let attempt = 0;
        let acked = false;
        for (;;) {
          try {
            await handler(batch);
            acked = true;
            break;
          } catch {
            if (this.stopped) break;
            await this.sleeper.sleep(retryDelay(attempt++));
            if (this.stopped) break;
          }
        }
        this.state.inflight.delete(key);
        // Not acknowledged: the next member of this durable gets it first (as JetStream would redeliver it).
        if (!acked) this.state.returned.unshift(batch);
      }
    } finally {
      unlisten();
    }
  }

  async lag(): Promise<number> {
    let n = this.log.countFrom(this.state.nextSeq, this.state.filter);
    for (const b of this.state.returned) n += b.length;
    for (const count of this.state.inflight.values()) n += count;
    return n;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.sleeper.wake();
    await this.loop;
    this.loop = null;
    this.running = false;
  }
}
