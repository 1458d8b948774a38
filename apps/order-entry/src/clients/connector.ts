/**
 * The connector's SessionService as order-entry uses it. Sends go over one SendStream per connector: every send
 * made in one event-loop turn travels in one frame, each with a correlation id, and carries an idempotency key
 * (the request's ClOrdID) so that a resend after a broken stream or a crashed instance is answered with the
 * first MsgSeqNum and puts nothing on the wire twice. Session health comes from the connector's state events
 * (`noteHealth`, fed from `fix.<session>.state`: a session going SAFE or DISCONNECTED is seen within the event's
 * latency), with GetSession read once at start and then polled slowly as a fallback for an event missed (the bus
 * down, a connector that died without a word). Without state events the poll is all there is, at 500 ms.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  createGrpcClient,
  type FieldSchema,
  type GrpcClientOf,
  RpcError,
  type SendResponse,
  type SendStreamResponse,
  SessionHealth,
  SessionService,
} from "@fixmesh/contracts";
import * as grpc from "@grpc/grpc-js";

export type FieldInit = MessageInitShape<typeof FieldSchema>;

export interface OutboundMessage {
  sessionId: string;
  msgType: string;
  fields: FieldInit[];
  idempotencyKey: string;
  /** The W3C trace context of the caller's span: the connector's send and outbound event continue the trace. */
  traceparent?: string;
}

/** The stream broke before the connector answered: the message may or may not have been persisted and sent. */
export class SendOutcomeUnknownError extends Error {
  override readonly name = "SendOutcomeUnknownError";
}

interface Pending {
  msg: OutboundMessage;
  resolve(r: SendResponse): void;
  reject(e: Error): void;
  /** Resent once on a new stream after the first one broke (same idempotency key: never sent twice). */
  retried: boolean;
}

export interface ConnectorClientOptions {
  address: string;
  credentials?: grpc.ChannelCredentials;
  /** Channel options that go with the credentials (mTLS: the server-name override). */
  channelOptions?: grpc.ChannelOptions;
  /**
   * How often session health is read with GetSession (default 500 ms). With the state events followed
   * (`noteHealth`) this is only the fallback for a missed event, and can be slow.
   */
  healthPollMs?: number;
  sessions: readonly string[];
  onHealth?(sessionId: string, health: SessionHealth, reason: string): void;
}

export class ConnectorClient {
  private readonly conn: grpc.Client;
  readonly rpc: GrpcClientOf<typeof SessionService>;
  private stream: ReturnType<GrpcClientOf<typeof SessionService>["sendStream"]> | null = null;
  private readonly pending = new Map<bigint, Pending>();
  private queue: Array<{ id: bigint; msg: OutboundMessage }> = [];
  private flushScheduled = false;
  private next = 0n;
  private closed = false;
  private readonly health = new Map<string, SessionHealth>();
  /** Per session, bumped by every state event: a GetSession answer older than an event must not undo it. */
  private readonly healthGen = new Map<string, number>();
  private poller: NodeJS.Timeout | null = null;

  constructor(private readonly opts: ConnectorClientOptions) {
    this.conn = new grpc.Client(
      opts.address,
      opts.credentials ?? grpc.credentials.createInsecure(),
      opts.channelOptions,
    );
    this.rpc = createGrpcClient(SessionService, this.conn);
  }

  /** Starts polling session health; resolves after the first round. */
  async start(): Promise<void> {
    await this.pollHealth();
    const every = this.opts.healthPollMs ?? 500;
    this.poller = setInterval(() => void this.pollHealth(), every);
    this.poller.unref();
  }

  healthOf(sessionId: string): SessionHealth {
    return this.health.get(sessionId) ?? SessionHealth.UNSPECIFIED;
  }

  /**
   * A health change the connector published (`fix.<session>.state`). Wins over any GetSession answer still in
   * flight: that answer was read before this event was, so may be older.
   */
  noteHealth(sessionId: string, health: SessionHealth, reason: string): void {
    if (!this.opts.sessions.includes(sessionId)) return;
    this.healthGen.set(sessionId, (this.healthGen.get(sessionId) ?? 0) + 1);
    this.setHealth(sessionId, health, reason);
  }

  private setHealth(sessionId: string, health: SessionHealth, reason: string): void {
    if (this.health.get(sessionId) === health) return;
    this.health.set(sessionId, health);
    this.opts.onHealth?.(sessionId, health, reason);
  }

  /** Reads the health of every session now with GetSession. */
  async pollHealth(): Promise<void> {
    await Promise.all(
      this.opts.sessions.map(async (id) => {
        const gen = this.healthGen.get(id) ?? 0;
        let h: SessionHealth;
        let reason = "";
        try {
          const r = await this.rpc.getSession({ sessionId: id }, { deadline: Date.now() + 1000 });
          h = r.session?.health ?? SessionHealth.UNSPECIFIED;
          reason = r.session?.healthReason ?? "";
          // A standby answers for a session it does not lead: order flow must go to the leader.
          if (r.session && !r.session.leader) h = SessionHealth.DISCONNECTED;
        } catch (err) {
          h = SessionHealth.DISCONNECTED;
          reason = `connector unreachable: ${(err as Error).message}`;
        }
        // A state event arrived while this call was out: it is the newer word.
        if ((this.healthGen.get(id) ?? 0) !== gen) return;
        this.setHealth(id, h, reason);
      }),
    );
  }

  /** Persisted (and sent) by the connector: its MsgSeqNum. Rejects with RpcError or SendOutcomeUnknownError. */
  send(msg: OutboundMessage): Promise<SendResponse> {
    if (this.closed) return Promise.reject(new SendOutcomeUnknownError("connector client closed"));
    return new Promise<SendResponse>((resolve, reject) => {
      const id = this.next++;
      this.pending.set(id, { msg, resolve, reject, retried: false });
      this.enqueue(id, msg);
    });
  }

  private enqueue(id: bigint, msg: OutboundMessage): void {
    this.queue.push({ id, msg });
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const s = this.open();
    s.write({
      sends: batch.map(({ id, msg }) => ({
        correlationId: id,
        send: {
          sessionId: msg.sessionId,
          msgType: msg.msgType,
          fields: msg.fields,
          idempotencyKey: msg.idempotencyKey,
          // The connector's spans and events for this message continue the order's trace (issue 6).
          traceparent: msg.traceparent ?? "",
        },
      })),
    });
  }

  private open() {
    if (this.stream) return this.stream;
    const s = this.rpc.sendStream();
    this.stream = s;
    s.on("data", (f: SendStreamResponse) => {
      for (const r of f.results) {
        const p = this.pending.get(r.correlationId);
        if (!p) continue;
        this.pending.delete(r.correlationId);
        if (r.result.case === "ok") p.resolve(r.result.value);
        else if (r.result.case === "error") p.reject(RpcError.fromStatus(r.result.value));
        else p.reject(new RpcError(grpc.status.INTERNAL, "INTERNAL", "connector sent an empty result"));
      }
    });
    const broken = (why: string) => {
      if (this.stream !== s) return;
      this.stream = null;
      const retry: Array<[bigint, Pending]> = [];
      for (const entry of this.pending) {
        const [, p] = entry;
        if (this.queue.some((q) => q.id === entry[0])) continue; // not written to this stream yet
        if (p.retried || this.closed) {
          this.pending.delete(entry[0]);
          p.reject(new SendOutcomeUnknownError(`connector stream ended before answering: ${why}`));
        } else {
          retry.push(entry);
        }
      }
      // Once more on a new stream: the idempotency key makes the connector answer a retry of a message it
      // already persisted with that message's MsgSeqNum instead of sending it again.
      for (const [id, p] of retry) {
        p.retried = true;
        this.enqueue(id, p.msg);
      }
    };
    s.on("error", (e: Error) => broken(e.message));
    s.on("end", () => broken("closed by the server"));
    return s;
  }

  close(): void {
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    this.stream?.cancel();
    this.stream = null;
    for (const p of this.pending.values()) p.reject(new SendOutcomeUnknownError("connector client closed"));
    this.pending.clear();
    this.conn.close();
  }
}
