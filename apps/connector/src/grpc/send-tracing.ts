/**
 * One trace per order through the connector (issue 6). A Send that carries a W3C traceparent (the request's
 * `traceparent` field, or the `traceparent` gRPC metadata of a unary call) gets:
 * - a SERVER span `fixmesh.v1.SessionService/Send` (or `/SendStream`), child of the caller's span, from the request
 *   to its answer;
 * - a PRODUCER span `FIX out <MsgType>` when the message's bytes are handed to the socket (after the store has
 *   them), child of the Send span;
 * - the message's outbound event carries the Send span's traceparent in its NATS headers.
 * The session then remembers ClOrdID → the `FIX out` span's context for its recent orders (a bounded LRU), so an
 * ExecutionReport or OrderCancelReject that answers one (by ClOrdID, else OrigClOrdID) gets a CONSUMER span
 * `FIX in <MsgType>`, child of the order's `FIX out` span, whose traceparent its inbound event carries.
 *
 * Only @opentelemetry/api is used here: the process that runs the connector sets the SDK up (initTelemetry from
 * @fixmesh/telemetry, see apps/cli). Without an SDK (or with this trace not sampled) no span is recorded, and the
 * caller's traceparent is handed on unchanged, so order-entry still sees one trace.
 *
 * Cost: a request without a traceparent takes none of this. A session that never saw a traced send has no
 * tracing hook; once it has, each inbound ExecutionReport/OrderCancelReject costs a ClOrdID read and a Map lookup.
 */
import type { Field, SendRequest, SendResponse } from "@fixmesh/contracts";
import type { SendTrace, SessionRunner, SessionTracing } from "@fixmesh/engine";
import { type FixMessage, MsgType, Tag } from "@fixmesh/fix";
import { RecentMap } from "@fixmesh/session";
import type { Metadata } from "@grpc/grpc-js";
import {
  type Attributes,
  type Context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";

const SCOPE = "fixmesh.connector";
const TRACEPARENT = "traceparent";
/** Version 00 traceparent; a malformed one is ignored (tracing never refuses a send). */
const TRACEPARENT_RE = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * ClOrdIDs remembered per session by default: recent orders whose reports continue their trace (at least this
 * many of the most recently sent or answered, at most twice as many).
 */
export const DEFAULT_TRACED_ORDERS = 32_768;

/** The traceparent a Send continues: the request's field, else (unary) the call's metadata; "" when none. */
export function callTraceparent(req: SendRequest, metadata: Metadata | undefined): string {
  if (req.traceparent !== "") return TRACEPARENT_RE.test(req.traceparent) ? req.traceparent : "";
  if (metadata === undefined) return "";
  const v = metadata.get(TRACEPARENT);
  if (v.length === 0) return "";
  const s = typeof v[0] === "string" ? v[0] : v[0].toString("latin1");
  return TRACEPARENT_RE.test(s) ? s : "";
}

function remoteContext(traceparent: string): Context {
  return propagation.extract(ROOT_CONTEXT, { [TRACEPARENT]: traceparent });
}

/** The traceparent of a span, via the registered propagator; undefined without one (no SDK in this process). */
function traceparentOfSpan(span: Span): string | undefined {
  if (!isSpanContextValid(span.spanContext())) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  return carrier[TRACEPARENT];
}

function clOrdIdOf(fields: readonly Field[]): string | undefined {
  for (const f of fields) {
    if (f.tag === Tag.ClOrdID && f.value.case === "stringValue") return f.value.value;
  }
  return undefined;
}

/** The trace of one Send: its span, and what the engine carries into the event and calls back on the wire. */
export class TracedSend implements SendTrace {
  /** The outbound event's traceparent: the Send span's, or the caller's when no span is recorded here. */
  readonly traceparent: string;
  private readonly span: Span;
  private readonly clOrdId: string | undefined;
  private readonly msgType: string;

  constructor(
    private readonly orders: OrderTraces,
    incoming: string,
    req: SendRequest,
    method: "Send" | "SendStream",
  ) {
    this.clOrdId = clOrdIdOf(req.fields);
    this.msgType = req.msgType;
    const attributes: Attributes = {
      "rpc.system": "grpc",
      "rpc.service": "fixmesh.v1.SessionService",
      "rpc.method": method,
      "fix.session": req.sessionId,
      "fix.msg_type": req.msgType,
    };
    if (this.clOrdId !== undefined) attributes["fix.cl_ord_id"] = this.clOrdId;
    this.span = trace
      .getTracer(SCOPE)
      .startSpan(`fixmesh.v1.SessionService/${method}`, { kind: SpanKind.SERVER, attributes }, remoteContext(incoming));
    this.traceparent = traceparentOfSpan(this.span) ?? incoming;
    // Remembered now too: a message persisted but not written (socket down) is resent later, and its reports
    // still belong to this order's trace.
    if (this.clOrdId !== undefined) orders.remember(this.clOrdId, this.traceparent);
  }

  onWire(seq: number): void {
    let carried = this.traceparent;
    if (this.span.isRecording()) {
      const attributes: Attributes = {
        "fix.session": this.orders.sessionId,
        "fix.msg_type": this.msgType,
        "fix.msg_seq_num": seq,
      };
      if (this.clOrdId !== undefined) attributes["fix.cl_ord_id"] = this.clOrdId;
      const wire = trace
        .getTracer(SCOPE)
        .startSpan(
          `FIX out ${this.msgType}`,
          { kind: SpanKind.PRODUCER, attributes },
          trace.setSpan(ROOT_CONTEXT, this.span),
        );
      wire.end();
      carried = traceparentOfSpan(wire) ?? carried;
    }
    if (this.clOrdId !== undefined) this.orders.remember(this.clOrdId, carried);
  }

  /** Ends the Send span with the answer (or the error that refused the send). */
  end(err?: unknown, res?: SendResponse): void {
    if (res !== undefined && this.span.isRecording()) {
      this.span.setAttribute("fix.msg_seq_num", res.msgSeqNum);
      if (res.duplicate) this.span.setAttribute("fixmesh.duplicate", true);
    }
    if (err !== undefined) {
      const e = err instanceof Error ? err : new Error(String(err));
      this.span.recordException(e);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
    }
    this.span.end();
  }
}

/**
 * One session's memory of its recent traced orders (ClOrdID → traceparent, least recently used dropped first),
 * and the hook that gives an inbound report its order's trace.
 */
export class OrderTraces implements SessionTracing {
  private readonly byClOrdId: RecentMap<string, string>;

  constructor(
    readonly sessionId: string,
    capacity: number = DEFAULT_TRACED_ORDERS,
  ) {
    this.byClOrdId = new RecentMap(capacity);
  }

  get size(): number {
    return this.byClOrdId.size;
  }

  remember(clOrdId: string, traceparent: string): void {
    this.byClOrdId.set(clOrdId, traceparent);
  }

  /** The order's traceparent, refreshed as recently used; undefined when not remembered. */
  recall(clOrdId: string | undefined): string | undefined {
    return clOrdId === undefined ? undefined : this.byClOrdId.get(clOrdId);
  }

  inbound(msg: FixMessage): string | undefined {
    const t = msg.msgType;
    if (t !== MsgType.ExecutionReport && t !== MsgType.OrderCancelReject) return undefined;
    const clOrdId = msg.get(Tag.ClOrdID);
    let tp = this.recall(clOrdId);
    // A report on a cancel/replace may name the chain's original order only.
    tp ??= this.recall(msg.get(Tag.OrigClOrdID));
    if (tp === undefined) return undefined;
    const parent = remoteContext(tp);
    if (trace.getSpanContext(parent) === undefined) return tp;
    const attributes: Attributes = {
      "fix.session": this.sessionId,
      "fix.msg_type": t,
      "fix.msg_seq_num": msg.getInt(Tag.MsgSeqNum) ?? 0,
    };
    const put = (key: string, tag: number) => {
      const v = msg.get(tag);
      if (v !== undefined) attributes[key] = v;
    };
    put("fix.cl_ord_id", Tag.ClOrdID);
    put("fix.orig_cl_ord_id", Tag.OrigClOrdID);
    put("fix.exec_id", Tag.ExecID);
    put("fix.exec_type", Tag.ExecType);
    put("fix.ord_status", Tag.OrdStatus);
    const span = trace.getTracer(SCOPE).startSpan(`FIX in ${t}`, { kind: SpanKind.CONSUMER, attributes }, parent);
    span.end();
    return traceparentOfSpan(span) ?? tp;
  }
}

/** The OrderTraces of each session runner, attached to the runner on its first traced send. */
export class SendTracing {
  private readonly sessions = new WeakMap<SessionRunner, OrderTraces>();

  constructor(private readonly capacity: number = DEFAULT_TRACED_ORDERS) {}

  /** Starts the trace of one Send on `r`; `incoming` is a valid traceparent. */
  start(r: SessionRunner, incoming: string, req: SendRequest, method: "Send" | "SendStream"): TracedSend {
    let orders = this.sessions.get(r);
    if (orders === undefined) {
      orders = new OrderTraces(r.id, this.capacity);
      this.sessions.set(r, orders);
      r.setTracing(orders);
    }
    return new TracedSend(orders, incoming, req, method);
  }
}
