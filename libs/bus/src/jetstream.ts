import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import {
  createInbox,
  type Msg,
  type NatsConnection,
  type NodeConnectionOptions,
  headers as natsHeaders,
} from "@nats-io/transport-node";
import type { BusLog, Delivered, EventBus, Subscription } from "./bus.js";
import { connectCoalescing } from "./coalescing-transport.js";
import {
  type DurableConsumer,
  type DurableConsumerOptions,
  deleteConsumer,
  JetStreamDurableConsumer,
  retryDelay,
  toDelivered,
} from "./durable.js";
import type { BusEvent } from "./events.js";

/** How long one pull of a subscription waits on the server (its heartbeat is half that). */
const SUBSCRIPTION_PULL_EXPIRES_MS = 5_000;

export interface JetStreamBusOptions {
  /** e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** Stream name (default `FIX`). */
  stream?: string;
  /** Subjects the stream captures (default `fix.>`). */
  subjects?: string[];
  /** Duplicate window for message ids (default 2 minutes). */
  duplicateWindowMs?: number;
  /** Publish acknowledgement timeout (default 5 s). */
  timeoutMs?: number;
  /** Give up connecting at start after this long (default 5 s); reconnects after that are unlimited. */
  connectTimeoutMs?: number;
  name?: string;
  user?: string;
  pass?: string;
  /**
   * More nats.js connection options: a token, an nkey or creds `authenticator`, `tls` (what @fixmesh/security's
   * `natsConnectOptions` builds).
   */
  connectOptions?: Partial<NodeConnectionOptions>;
  /**
   * How long the server keeps a subscription's consumer without its reader (default 30 s, at least 1 s): a
   * subscription cut off longer finds it gone and makes it again (`subscribe`).
   */
  subscriptionInactiveMs?: number;
  /**
   * Where the bus reports what it mends by itself: a stream or a consumer the server lost, made again. A pino logger
   * fits; without one the mending is silent.
   */
  log?: BusLog;
}

/** JetStream did not acknowledge a publish: it answered with an error, or not within the timeout. */
export class PublishError extends Error {
  override readonly name = "PublishError";
}

interface PendingAck {
  resolve(duplicate: boolean): void;
  reject(err: Error): void;
}

/**
 * Events on NATS JetStream: the stream is created (or its subjects added) at start; `publish` sends a batch
 * pipelined — all messages out, then all acknowledgements awaited — with `Nats-Msg-Id` set to the event id, so
 * a republish after a crash is dropped by the stream's duplicate window.
 *
 * The acknowledgements come back on one wildcard subscription of this connection (`<inbox>.<n>`), not as one
 * request each: nats.js's `js.publish` made a request per event — a timer, a mux entry and an Error built to
 * cancel it, for every event. One timer per batch bounds the wait instead.
 */
export class JetStreamBus implements EventBus {
  readonly kind = "jetstream";
  private ackInbox: string | null = null;
  private readonly acks = new Map<string, PendingAck>();
  private nextAck = 0;
  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly spec: StreamSpec,
    private readonly timeoutMs: number,
    private readonly subscriptionInactiveMs: number,
    private readonly log: BusLog | undefined,
  ) {}

  get stream(): string {
    return this.spec.name;
  }
  /** When the stream was last made again after a publish found no stream (at most once a second). */
  private restoredAt = 0;

  /**
   * A publish that no stream took (503): the stream was deleted, or the server lost its storage. It is made again as
   * at connect (what the failed publish carried is the caller's to publish again: the outbox does).
   */
  private restoreStream(): void {
    const now = Date.now();
    if (now - this.restoredAt < 1000) return;
    this.restoredAt = now;
    ensureStream(this.jsm, this.spec)
      .then((made) => {
        if (made) {
          this.log?.warn(
            { stream: this.spec.name, subjects: this.spec.subjects },
            "JetStream stream was missing (a publish found no stream); made it again",
          );
        }
      })
      .catch(() => undefined);
  }

  static async connect(opts: JetStreamBusOptions): Promise<JetStreamBus> {
    const nc = await connectCoalescing({
      servers: opts.servers,
      name: opts.name ?? "fixmesh",
      timeout: opts.connectTimeoutMs ?? 5000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // nats.js otherwise builds Errors (with their stack traces) for every request, in case it fails: every
      // acknowledged publish and every pull of a durable is one. That was ~5 % of order-entry's CPU per order and
      // ~13 % of persistence's during ingest. What is lost: the caller's frames in a failed request's stack.
      noAsyncTraces: true,
      ...(opts.user !== undefined && { user: opts.user }),
      ...(opts.pass !== undefined && { pass: opts.pass }),
      ...opts.connectOptions,
    });
    try {
      const jsm = await jetstreamManager(nc);
      const stream: StreamSpec = {
        name: opts.stream ?? "FIX",
        subjects: opts.subjects ?? ["fix.>"],
        duplicateWindowNs: (opts.duplicateWindowMs ?? 120_000) * 1_000_000,
      };
      await ensureStream(jsm, stream);
      return new JetStreamBus(
        nc,
        jetstream(nc),
        jsm,
        stream,
        opts.timeoutMs ?? 5000,
        Math.max(1000, opts.subscriptionInactiveMs ?? 30_000),
        opts.log,
      );
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
  }

  async publish(events: readonly BusEvent[]): Promise<{ accepted: number; duplicates: number }> {
    if (events.length === 0) return { accepted: 0, duplicates: 0 };
    const inbox = this.ensureAckInbox();
    const tokens: string[] = [];
    const acks: Array<Promise<boolean>> = [];
    try {
      for (const e of events) {
        const h = natsHeaders();
        h.set("Nats-Msg-Id", e.id);
        if (e.headers) for (const [k, v] of Object.entries(e.headers)) h.set(k, v);
        const token = String(++this.nextAck);
        acks.push(new Promise<boolean>((resolve, reject) => this.acks.set(token, { resolve, reject })));
        tokens.push(token);
        this.nc.publish(e.subject, e.payload, { reply: `${inbox}.${token}`, headers: h });
      }
    } catch (err) {
      // The connection is closed (or the subject invalid): nothing more goes out; what went out may still be acked.
      this.failAcks(tokens, err instanceof Error ? err : new PublishError(String(err)));
    }
    const timer = setTimeout(
      () => this.failAcks(tokens, new PublishError(`no acknowledgement from JetStream within ${this.timeoutMs} ms`)),
      this.timeoutMs,
    );
    try {
      const results = await Promise.allSettled(acks);
      let accepted = 0;
      let duplicates = 0;
      for (const r of results) {
        if (r.status === "rejected") throw r.reason;
        if (r.value) duplicates++;
        else accepted++;
      }
      return { accepted, duplicates };
    } finally {
      clearTimeout(timer);
    }
  }

  private failAcks(tokens: readonly string[], err: Error): void {
    for (const t of tokens) {
      const p = this.acks.get(t);
      if (p === undefined) continue;
      this.acks.delete(t);
      p.reject(err);
    }
  }

  private ensureAckInbox(): string {
    if (this.ackInbox !== null) return this.ackInbox;
    const inbox = createInbox();
    // Lives as long as the connection (and is renewed by its reconnects).
    this.nc.subscribe(`${inbox}.*`, { callback: (_err, msg) => this.onAck(inbox, msg) });
    this.ackInbox = inbox;
    return inbox;
  }

  /** A stream's answer to one publish: `{"stream":…,"seq":…,"duplicate"?:true}` or `{"error":{…}}`, or a status. */
  private onAck(inbox: string, msg: Msg): void {
    const token = msg.subject.slice(inbox.length + 1);
    const p = this.acks.get(token);
    if (p === undefined) return; // timed out already
    this.acks.delete(token);
    const h = msg.headers;
    if (h?.hasError) {
      // 503: no stream listens on the subject (or JetStream is not enabled).
      if (h.code === 503) this.restoreStream();
      p.reject(new PublishError(`JetStream publish failed: ${h.code} ${h.description || "no responders"}`));
      return;
    }
    let ack: { duplicate?: boolean; error?: { code?: number; err_code?: number; description?: string } };
    try {
      ack = JSON.parse(Buffer.from(msg.data).toString("utf8")) as typeof ack;
    } catch {
      p.reject(new PublishError("JetStream publish: unreadable acknowledgement"));
      return;
    }
    if (ack.error) {
      p.reject(
        new PublishError(
          `JetStream publish failed: ${ack.error.description ?? "error"} (${ack.error.code ?? "?"}/${ack.error.err_code ?? "?"})`,
        ),
      );
      return;
    }
    p.resolve(ack.duplicate === true);
  }

  /**
   * Every event matching `filter` from `fromSeq` (default: those published from now on), in stream order, on an
   * ephemeral pull consumer. A consumer the server loses — deleted, or dropped after 30 s without its reader
   * (`inactive_threshold`, `subscriptionInactiveMs`: the link to the server cut that long) — is made again from the
   * event after the last one handed over, so the subscription neither stops nor skips — from the start of the stream
   * if the stream itself was made again meanwhile (its numbers started over); while the server is unreachable it
   * retries with a back-off. A handler that returns a promise gets the next event once it settles.
   */
  async subscribe(
    filter: string,
    handler: (e: Delivered) => unknown,
    opts: { fromSeq?: number } = {},
  ): Promise<Subscription> {
    let next = opts.fromSeq;
    let closed = false;
    let current: { messages: ConsumerMessages; name: string } | null = null;
    let streamCreated: string | undefined;
    const open = async (): Promise<void> => {
      // Made again on a stream made again (deleted, or lost with the server's storage): its numbers started over,
      // so it is read from its start.
      const created = (await this.jsm.streams.info(this.stream)).created;
      if (streamCreated !== undefined && created !== streamCreated) next = 1;
      streamCreated = created;
      // An ephemeral pull consumer with a single filter subject (NATS 2.9 has no filter_subjects).
      const info = await this.jsm.consumers.add(this.stream, {
        ack_policy: AckPolicy.None,
        filter_subject: filter,
        inactive_threshold: this.subscriptionInactiveMs * 1_000_000,
        ...(next !== undefined
          ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: next }
          : { deliver_policy: DeliverPolicy.New }),
      });
      // "From now on": from the event after the stream's last at creation, should the consumer be made again.
      next ??= info.delivered.stream_seq + 1;
      // Pulls of 5 s (heartbeat 2.5 s) instead of 30 s: should the server's "consumer deleted" be missed (it answers
      // only a pull it holds), the loss shows as missed heartbeats and "stream/consumer not found" within ~8 s, not
      // ~45 s. An idle subscription costs one small request per 5 s.
      const messages = await (await this.js.consumers.get(this.stream, info.name)).consume({
        expires: SUBSCRIPTION_PULL_EXPIRES_MS,
      });
      current = { messages, name: info.name };
      if (closed) {
        await messages.close();
        return;
      }
      // nats.js keeps pulling from a consumer the server no longer has (deleted, or gone with its stream): end this
      // one, and make it again.
      void (async () => {
        for await (const s of messages.status()) {
          if (s.type === "consumer_deleted" || s.type === "consumer_not_found" || s.type === "stream_not_found") {
            this.log?.warn(
              { stream: this.spec.name, filter, consumer: info.name, status: s.type, fromSeq: next },
              "JetStream subscription lost its consumer; making it again",
            );
            await messages.close();
            break;
          }
        }
      })().catch(() => undefined);
      void (async () => {
        try {
          for await (const m of messages) {
            next = m.seq + 1;
            const r = handler(toDelivered(m));
            // Back-pressure: the iterator pulls more only once its buffer (100 events) is read.
            if (r instanceof Promise) await r.catch(() => undefined);
          }
        } catch {
          // ended by an error: made again below, like a lost consumer
        }
        await deleteConsumer(this.jsm, this.stream, info.name).catch(() => undefined);
        // A pause first, then a back-off: a consumer lost again at once never makes this a busy loop.
        for (let attempt = 0; !closed && !this.nc.isClosed(); attempt++) {
          await new Promise((r) => setTimeout(r, retryDelay(attempt)));
          if (closed || this.nc.isClosed()) return;
          try {
            await open();
            return;
          } catch {
            // the server unreachable, or the stream gone: again after the next pause
          }
        }
      })();
    };
    await open();
    return {
      unsubscribe: async () => {
        closed = true;
        const c = current as { messages: ConsumerMessages; name: string } | null;
        if (c === null) return;
        await c.messages.close();
        await deleteConsumer(this.jsm, this.stream, c.name).catch(() => undefined);
      },
    };
  }

  /**
   * A durable pull consumer on this bus's stream (explicit acks; created if missing, shared by every process
   * that opens the same name). See `DurableConsumer` for the delivery rules.
   */
  async durable(opts: DurableConsumerOptions): Promise<DurableConsumer> {
    return JetStreamDurableConsumer.create(this.js, this.jsm, this.stream, opts, {
      flush: () => this.nc.flush(),
      isClosed: () => this.nc.isClosed(),
      ...(this.log !== undefined && { log: this.log }),
    });
  }

  /** Deletes a durable consumer of this stream (tests, and `fixmesh` admin tools); one already gone is no error. */
  async deleteDurable(name: string): Promise<void> {
    await deleteConsumer(this.jsm, this.stream, name);
  }

  /** A durable's counts: events not yet delivered, and delivered but not acknowledged. */
  async durableInfo(name: string): Promise<{ pending: number; ackPending: number; redelivered: number }> {
    const info = await this.jsm.consumers.info(this.stream, name);
    return { pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
  }

  /** The stream's last sequence (for tests and lag metrics). */
  async lastSeq(): Promise<number> {
    return (await this.jsm.streams.info(this.stream)).state.last_seq;
  }

  async deleteStream(): Promise<void> {
    await this.jsm.streams.delete(this.stream);
  }

  /** Closes the connection at once, without draining (what a crash looks like to the server). */
  async closeNow(): Promise<void> {
    await this.nc.close();
    this.failAcks([...this.acks.keys()], new PublishError("the NATS connection was closed"));
  }

  async close(): Promise<void> {
    // Draining lets acknowledgements on their way in still arrive.
    await this.nc.drain().catch(() => this.nc.close());
    this.failAcks([...this.acks.keys()], new PublishError("the NATS connection was closed"));
  }
}

interface StreamSpec {
  name: string;
  subjects: string[];
  duplicateWindowNs: number;
}

/**
 * The stream, made if missing (then true); subjects it lacks added (another deployment may share it with its own).
 */
async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<boolean> {
  try {
    const info = await jsm.streams.info(spec.name);
    const missing = spec.subjects.filter((s) => !info.config.subjects?.includes(s));
    if (missing.length > 0) {
      await jsm.streams.update(spec.name, { subjects: [...(info.config.subjects ?? []), ...missing] });
    }
    return false;
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.streams.add({ name: spec.name, subjects: spec.subjects, duplicate_window: spec.duplicateWindowNs });
    return true;
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; code?: number | string; api_error?: { err_code?: number }; message?: string };
  return (
    e?.name === "StreamNotFoundError" ||
    e?.api_error?.err_code === 10059 ||
    /stream not found/i.test(String(e?.message ?? ""))
  );
}
