/**
 * ExecutionReports without a bus: for the embedded stack, where the connector keeps its events in its own
 * in-process bus, order-entry reads the inbound 8s and 9s over SessionService.StreamMessages and hands them, as
 * the same FIX message events the connector publishes, to a bus of its own — so the one consumer (executions.ts)
 * serves both. A broken stream is reopened from the last MsgSeqNum seen + 1 (the connector serves what it still
 * holds), and a re-served message is dropped by its event id.
 */
import type { EventBus } from "@fixmesh/bus";
import type { GrpcClientOf, InboundMessage, SessionService, StreamMessagesResponse } from "@fixmesh/contracts";
import { Parser, Tag } from "@fixmesh/fix";
import type { Logger } from "pino";

export interface MessageFeedOptions {
  rpc: GrpcClientOf<typeof SessionService>;
  sessions: readonly string[];
  bus: EventBus;
  subjectPrefix: string;
  logger: Logger;
}

function token(s: string): string {
  return s.replace(/[^A-Za-z0-9]+/g, "_");
}

export class MessageFeed {
  private readonly parser = new Parser();
  private readonly calls = new Set<{ cancel(): void }>();
  private stopped = false;
  private readonly next = new Map<string, number>();

  constructor(private readonly opts: MessageFeedOptions) {}

  start(): void {
    for (const s of this.opts.sessions) this.open(s);
  }

  private open(sessionId: string): void {
    if (this.stopped) return;
    const call = this.opts.rpc.streamMessages({
      sessionId,
      fromMsgSeqNum: this.next.get(sessionId) ?? 0,
      msgTypes: ["8", "9"],
    });
    this.calls.add(call);
    call.on("data", (r: StreamMessagesResponse) => {
      void this.opts.bus
        .publish(r.messages.map((m) => this.eventOf(m)))
        .catch((err: unknown) => this.opts.logger.error({ err }, "message feed publish failed"));
      const last = r.messages.at(-1);
      if (last) this.next.set(sessionId, last.msgSeqNum + 1);
    });
    const again = () => {
      this.calls.delete(call);
      if (!this.stopped) setTimeout(() => this.open(sessionId), 250).unref();
    };
    call.on("error", again);
    call.on("end", again);
  }

  private eventOf(m: InboundMessage) {
    const raw = Buffer.from(m.raw);
    const msg = this.parser.parse(raw);
    const pick = (tag: number) => (typeof msg === "string" ? undefined : msg.get(tag) || undefined);
    const body = {
      session: m.sessionId,
      cycle: "feed",
      dir: "in" as const,
      seq: m.msgSeqNum,
      msgType: m.msgType,
      possDup: m.possDup,
      at: Date.now(),
      clOrdId: pick(Tag.ClOrdID),
      origClOrdId: pick(Tag.OrigClOrdID),
      orderId: pick(Tag.OrderID),
      execId: pick(Tag.ExecID),
      raw: raw.toString("base64"),
    };
    return {
      id: `${m.sessionId}:feed:in:${m.msgSeqNum}:${body.execId ?? body.clOrdId ?? ""}`,
      subject: `${this.opts.subjectPrefix}.${token(m.sessionId)}.in.${m.msgType}`,
      payload: Buffer.from(JSON.stringify(body)),
    };
  }

  stop(): void {
    this.stopped = true;
    for (const c of this.calls) c.cancel();
    this.calls.clear();
  }
}
