import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type PubAck,
} from "@nats-io/jetstream";
import {
  connect,
  type NatsConnection,
  type NodeConnectionOptions,
  headers as natsHeaders,
} from "@nats-io/transport-node";
import type { Delivered, EventBus, Subscription } from "./bus.js";
import { type DurableConsumer, type DurableConsumerOptions, JetStreamDurableConsumer } from "./durable.js";
import type { BusEvent } from "./events.js";

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
}

/**
 * Events on NATS JetStream: the stream is created (or its subjects added) at start; `publish` sends a batch
 * pipelined — all messages out, then all acknowledgements awaited — with `Nats-Msg-Id` set to the event id, so
 * a republish after a crash is dropped by the stream's duplicate window.
 */
export class JetStreamBus implements EventBus {
  readonly kind = "jetstream";
  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly stream: string,
    private readonly timeoutMs: number,
  ) {}

  static async connect(opts: JetStreamBusOptions): Promise<JetStreamBus> {
    const nc = await connect({
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
      const stream = opts.stream ?? "FIX";
      const subjects = opts.subjects ?? ["fix.>"];
      const duplicateWindowNs = (opts.duplicateWindowMs ?? 120_000) * 1_000_000;
      try {
        const info = await jsm.streams.info(stream);
        const missing = subjects.filter((s) => !info.config.subjects?.includes(s));
        if (missing.length > 0) {
          await jsm.streams.update(stream, { subjects: [...(info.config.subjects ?? []), ...missing] });
        }
      } catch (err) {
        if (!isNotFound(err)) throw err;
        await jsm.streams.add({ name: stream, subjects, duplicate_window: duplicateWindowNs });
      }
      return new JetStreamBus(nc, jetstream(nc), jsm, stream, opts.timeoutMs ?? 5000);
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
  }

  async publish(events: readonly BusEvent[]): Promise<{ accepted: number; duplicates: number }> {
    const acks: Array<Promise<PubAck>> = [];
    for (const e of events) {
      const h = natsHeaders();
      if (e.headers) for (const [k, v] of Object.entries(e.headers)) h.set(k, v);
      acks.push(this.js.publish(e.subject, e.payload, { msgID: e.id, headers: h, timeout: this.timeoutMs }));
    }
    const results = await Promise.allSettled(acks);
    let accepted = 0;
    let duplicates = 0;
    for (const r of results) {
      if (r.status === "rejected") throw r.reason;
      if (r.value.duplicate) duplicates++;
      else accepted++;
    }
    return { accepted, duplicates };
  }

  async subscribe(
    filter: string,
    handler: (e: Delivered) => unknown,
    opts: { fromSeq?: number } = {},
  ): Promise<Subscription> {
    // An ephemeral pull consumer with a single filter subject (NATS 2.9 has no filter_subjects).
    const info = await this.jsm.consumers.add(this.stream, {
      ack_policy: AckPolicy.None,
      filter_subject: filter,
      inactive_threshold: 30_000_000_000,
      ...(opts.fromSeq !== undefined
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: opts.fromSeq }
        : { deliver_policy: DeliverPolicy.New }),
    });
    const consumer = await this.js.consumers.get(this.stream, info.name);
    const messages = await consumer.consume();
    void (async () => {
      for await (const m of messages) {
        const headers: Record<string, string> = {};
        if (m.headers) for (const [k, v] of m.headers) headers[k] = v.join(",");
        const r = handler({
          id: m.headers?.get("Nats-Msg-Id") ?? "",
          subject: m.subject,
          payload: m.data,
          headers,
          seq: m.seq,
        });
        // Back-pressure: the iterator pulls more only once its buffer (100 events) is read.
        if (r instanceof Promise) await r.catch(() => undefined);
      }
    })();
    return {
      unsubscribe: async () => {
        await messages.close();
        await this.jsm.consumers.delete(this.stream, info.name).catch(() => undefined);
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
    });
  }

  /** Deletes a durable consumer of this stream (tests, and `fixmesh` admin tools). */
  async deleteDurable(name: string): Promise<void> {
    await this.jsm.consumers.delete(this.stream, name);
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
  }

  async close(): Promise<void> {
    await this.nc.drain().catch(() => this.nc.close());
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
