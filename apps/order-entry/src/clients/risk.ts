/**
 * RiskService.CheckOrderStream as order-entry uses it: one long-lived stream per instance carrying every check,
 * each tagged with a correlation id (a unary call per order costs about ten times a stream message in grpc-js).
 * Fail closed: a check that gets no answer within its deadline, or whose stream breaks, is a RiskUnavailableError
 * — the caller refuses the order and sends nothing.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type CheckOrderRequestSchema,
  type CheckOrderResponse,
  type CheckOrderStreamResponse,
  createGrpcClient,
  type GrpcClientOf,
  RiskService,
} from "@fixmesh/contracts";
import * as grpc from "@grpc/grpc-js";

export type CheckInit = MessageInitShape<typeof CheckOrderRequestSchema>;

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
      try {
        this.open().write({ correlationId: id, check: req, traceparent: traceparent ?? "" });
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new RiskUnavailableError(`risk stream: ${(err as Error).message}`));
      }
    });
  }

  private open() {
    if (this.stream) return this.stream;
    const s = this.rpc.checkOrderStream();
    this.stream = s;
    s.on("data", (f: CheckOrderStreamResponse) => {
      const p = this.pending.get(f.correlationId);
      if (!p) return; // answered after its deadline: the order is already refused
      this.pending.delete(f.correlationId);
      clearTimeout(p.timer);
      if (f.result) p.resolve(f.result);
      else p.reject(new RiskUnavailableError("risk answered without a result"));
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
