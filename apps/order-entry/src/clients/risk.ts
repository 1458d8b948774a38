/**
 * RiskService.CheckOrderStream as order-entry uses it: one long-lived stream per instance carrying every check,
 * each tagged with a correlation id (a unary call per order costs about ten times a stream message in grpc-js).
 * The checks asked for in one event-loop turn go out as one frame (`batch`, answered by one frame of `results`):
 * grpc-js moves about one message per stream per turn when the loop is busy, so one check per frame would queue.
 * Fail closed: a check that gets no answer within its deadline, or whose stream breaks, is a RiskUnavailableError
 * — the caller refuses the order and sends nothing.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type CheckOrderRequestSchema,
  type CheckOrderResponse,
  type CheckOrderStreamRequestSchema,
  type CheckOrderStreamResponse,
  createGrpcClient,
  type GrpcClientOf,
  RiskService,
} from "@fixmesh/contracts";
import * as grpc from "@grpc/grpc-js";

export type CheckInit = MessageInitShape<typeof CheckOrderRequestSchema>;
type StreamItem = MessageInitShape<typeof CheckOrderStreamRequestSchema>;

export class RiskUnavailableError extends Error {
  override readonly name = "RiskUnavailableError";
}

interface Pending {
  resolve(r: CheckOrderResponse): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export interface RiskClientOptions {
  address: string;
  /** How long a check may take before the order is refused (default 250 ms). */
  deadlineMs?: number;
  /** mTLS to a secured risk service (`clientTls` of @fixmesh/security); default plaintext (embedded, loopback). */
  credentials?: grpc.ChannelCredentials;
  /** Channel options that go with the credentials (the server-name override). */
  channelOptions?: grpc.ChannelOptions;
}

export class RiskClient {
  private readonly conn: grpc.Client;
  private readonly rpc: GrpcClientOf<typeof RiskService>;
  private stream: ReturnType<GrpcClientOf<typeof RiskService>["checkOrderStream"]> | null = null;
  private readonly pending = new Map<string, Pending>();
  /** Checks asked for in this event-loop turn, sent together by `flush` (setImmediate). */
  private queued: StreamItem[] = [];
  private flushing: NodeJS.Immediate | null = null;
  /** Batch frames sent on the current stream and not answered yet, oldest first (a server answers in order). */
  private sentBatches: StreamItem[][] = [];
  /** False once the current stream's server showed it does not know `batch` (a risk older than batching). */
  private batching = true;
  private next = 0;
  private closed = false;
  readonly deadlineMs: number;

  constructor(opts: RiskClientOptions) {
    this.conn = new grpc.Client(
      opts.address,
      opts.credentials ?? grpc.credentials.createInsecure(),
      opts.channelOptions ?? {},
    );
    this.rpc = createGrpcClient(RiskService, this.conn);
    this.deadlineMs = opts.deadlineMs ?? 250;
  }

  /** The risk engine's answer, or RiskUnavailableError when there is none within the deadline. */
  /** `traceparent`: the order's trace context, so risk's span for the check joins the order's trace. */
  check(req: CheckInit, deadlineMs = this.deadlineMs, traceparent?: string): Promise<CheckOrderResponse> {
    if (this.closed) return Promise.reject(new RiskUnavailableError("risk client closed"));
    const id = String(++this.next);
    return new Promise<CheckOrderResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RiskUnavailableError(`risk did not answer within ${deadlineMs} ms`));
      }, deadlineMs);
      this.pending.set(id, { resolve, reject, timer });
      this.queued.push({ correlationId: id, check: req, traceparent: traceparent ?? "" });
      this.flushing ??= setImmediate(() => this.flush());
    });
  }

  /** Sends the queued checks: one alone as a plain frame, several as one batch frame. */
  private flush(): void {
    this.flushing = null;
    const items = this.queued;
    this.queued = [];
    // A check whose deadline already passed is refused: not worth sending.
    const live = items.filter((i) => this.pending.has(i.correlationId ?? ""));
    if (live.length === 0) return;
    try {
      const s = this.open();
      if (live.length === 1 || !this.batching) for (const i of live) s.write(i);
      else {
        s.write({ batch: live });
        this.sentBatches.push(live);
      }
    } catch (err) {
      for (const i of live) this.fail(i.correlationId ?? "", `risk stream: ${(err as Error).message}`);
    }
  }

  private fail(id: string, why: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.reject(new RiskUnavailableError(why));
  }

  private answer(f: CheckOrderStreamResponse): void {
    const p = this.pending.get(f.correlationId);
    if (!p) return; // answered after its deadline: the order is already refused
    this.pending.delete(f.correlationId);
    clearTimeout(p.timer);
    if (f.result) p.resolve(f.result);
    else p.reject(new RiskUnavailableError(`risk could not check: ${f.error?.message ?? "answered without a result"}`));
  }

  private open() {
    if (this.stream) return this.stream;
    const s = this.rpc.checkOrderStream();
    this.stream = s;
    this.sentBatches = [];
    this.batching = true;
    s.on("data", (f: CheckOrderStreamResponse) => {
      if (f.results.length > 0) {
        this.sentBatches.shift();
        for (const r of f.results) this.answer(r);
      } else if (f.correlationId === "") {
        // Every check we send has an id, and a server that knows `batch` answers a batch with `results`: this is a
        // server older than batching answering a batch frame as one check without any. Send that batch's checks
        // (still within their deadlines) one by one, and everything after it on this stream too.
        const b = this.sentBatches.shift();
        this.batching = false;
        if (this.stream === s) for (const i of b ?? []) if (this.pending.has(i.correlationId ?? "")) s.write(i);
      } else this.answer(f);
    });
    const broken = (why: string) => {
      if (this.stream !== s) return;
      this.stream = null;
      // Every check on this stream is unanswerable now: refuse them all (fail closed), the next check reopens.
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new RiskUnavailableError(`risk stream ended: ${why}`));
        this.pending.delete(id);
      }
    };
    s.on("error", (e: Error) => broken(e.message));
    s.on("end", () => broken("closed by the server"));
    return s;
  }

  /** The kill switches as risk holds them (unary: a slow poll, not the order path). */
  async killSwitches(deadlineMs = 1000) {
    return (await this.rpc.getKillSwitches({}, { deadline: Date.now() + deadlineMs })).killSwitches;
  }

  close(): void {
    this.closed = true;
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = null;
    this.queued = [];
    this.stream?.cancel();
    this.stream = null;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new RiskUnavailableError("risk client closed"));
    }
    this.pending.clear();
    this.conn.close();
  }
}
