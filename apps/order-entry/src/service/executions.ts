/**
 * The venue's answers: ExecutionReports (35=8) and OrderCancelRejects (35=9) as the connector publishes them on
 * the FIX stream (`<prefix>.<session>.in.<MsgType>`), read by a durable JetStream consumer — shared by every
 * order-entry instance (each event goes to one of them; a redelivery may go to another) and acknowledged only
 * after the store committed. Each is applied once per (session, ExecID) by the store, whoever consumes it.
 * Within a batch, reports of one venue order are applied in order and different orders in parallel.
 */
import { type Delivered, type DurableBus, type DurableConsumer, sessionToken } from "@fixmesh/bus";
import { Parser } from "@fixmesh/fix";
import { cancelRejectFrom, executionReportFrom, MalformedMessageError } from "@fixmesh/orders";
import type { Logger } from "pino";
import type { LogEntry, OrderRepository, ReportInput, ReportOutcome } from "../store/types.js";
import { type OpenSpan, openSpan } from "./tracing.js";

/** The parts of the connector's FixMessageEvent payload read here (@fixmesh/engine `FixMessageEvent`). */
interface FixMessageEventBody {
  session: string;
  dir: "in" | "out";
  seq: number;
  msgType: string;
  possDup: boolean;
  clOrdId?: string;
  origClOrdId?: string;
  orderId?: string;
  raw: string;
}

export interface ExecutionConsumerOptions {
  bus: DurableBus;
  repo: OrderRepository;
  sessions: ReadonlySet<string>;
  /** FIX stream subject prefix (default `fix`). */
  subjectPrefix?: string;
  /**
   * Durable name (default `order-entry`): every instance of a deployment uses the same one to share the work.
   * Deployments serving different sessions on one stream need different names unless each serves one session.
   */
  durableName?: string;
  /**
   * Pullers of that durable in this process (default 1). One puller handles one batch at a time and pays a few bus
   * round trips per batch; at a steady trickle batches hold one or two reports, so one puller caps the rate at a few
   * hundred reports a second. Several pullers share the durable like several instances do — the store applies each
   * report once whichever applies it, and the state machine converges whatever the order.
   */
  parallel?: number;
  logger: Logger;
  onCommitted(entries: readonly LogEntry[]): void;
  now?: () => number;
}

export interface ExecutionCounters {
  events: number;
  applied: number;
  duplicates: number;
  unknownOrder: number;
  rejected: number;
  malformed: number;
}

export class ExecutionConsumer {
  private consumers: DurableConsumer[] = [];
  private readonly parser = new Parser();
  readonly counters: ExecutionCounters = {
    events: 0,
    applied: 0,
    duplicates: 0,
    unknownOrder: 0,
    rejected: 0,
    malformed: 0,
  };

  constructor(private readonly opts: ExecutionConsumerOptions) {}

  async start(): Promise<void> {
    const prefix = this.opts.subjectPrefix ?? "fix";
    // One session: only its subjects, so that deployments serving other sessions on the same stream (with the same
    // durable name) never see — and acknowledge — each other's reports.
    const only = this.opts.sessions.size === 1 ? [...this.opts.sessions][0] : undefined;
    const filter = only === undefined ? `${prefix}.*.in.*` : `${prefix}.${sessionToken(only)}.in.*`;
    for (let i = 0; i < (this.opts.parallel ?? 1); i++) {
      const c = await this.opts.bus.durable({
        name: this.opts.durableName ?? "order-entry",
        filter,
        batch: 200,
        ackWaitMs: 10_000,
      });
      this.consumers.push(c);
      c.start((batch) => this.handle(batch));
    }
  }

  lag(): Promise<number> {
    return this.consumers[0]?.lag() ?? Promise.resolve(0);
  }

  /**
   * Applies a batch; throws (nothing acknowledged, redelivered) if the store failed. The reports of one order go to
   * the store together, in the order they came (one commit where the store can); different orders in parallel.
   */
  async handle(batch: readonly Delivered[]): Promise<void> {
    const groups = new Map<string, Array<{ input: ReportInput; session: string; traceparent?: string }>>();
    for (const d of batch) {
      const parsed = this.read(d);
      if (!parsed) continue;
      const key = `${parsed.session}\u0001${parsed.group}`;
      const list = groups.get(key) ?? [];
      list.push(parsed);
      groups.set(key, list);
    }
    await Promise.all([...groups.values()].map((list) => this.apply(list)));
  }

  private read(d: Delivered): { input: ReportInput; session: string; group: string; traceparent?: string } | undefined {
    let ev: FixMessageEventBody;
    try {
      ev = JSON.parse(Buffer.from(d.payload).toString("utf8")) as FixMessageEventBody;
    } catch {
      this.counters.malformed++;
      this.opts.logger.warn({ subject: d.subject, seq: d.seq }, "FIX event is not JSON: skipped");
      return undefined;
    }
    if (ev.dir !== "in" || (ev.msgType !== "8" && ev.msgType !== "9")) return undefined;
    if (!this.opts.sessions.has(ev.session)) return undefined;
    this.counters.events++;
    const msg = this.parser.parse(Buffer.from(ev.raw, "base64"));
    if (typeof msg === "string") {
      this.counters.malformed++;
      this.opts.logger.warn(
        { session: ev.session, seq: ev.seq, reason: msg },
        "garbled FIX message on the bus: skipped",
      );
      return undefined;
    }
    try {
      const input: ReportInput =
        ev.msgType === "8"
          ? { type: "report", report: executionReportFrom(msg, ev.session), msgSeqNum: ev.seq }
          : { type: "cancelReject", reject: cancelRejectFrom(msg, ev.session) };
      const group =
        ev.orderId && ev.orderId !== "NONE" ? `v:${ev.orderId}` : `c:${ev.origClOrdId ?? ev.clOrdId ?? d.seq}`;
      const traceparent = d.headers?.traceparent;
      return traceparent ? { input, session: ev.session, group, traceparent } : { input, session: ev.session, group };
    } catch (err) {
      if (!(err instanceof MalformedMessageError)) throw err;
      this.counters.malformed++;
      this.opts.logger.warn({ session: ev.session, seq: ev.seq, err: err.message }, "malformed report: skipped");
      return undefined;
    }
  }

  /** Reports of one order on one session, each with its own span continuing its bus event's trace. */
  private async apply(list: ReadonlyArray<{ input: ReportInput; session: string; traceparent?: string }>) {
    const session = (list[0] as { session: string }).session;
    // The update a report makes continues the order's trace from its span (report applied → order update → client
    // stream, issue 6).
    const spans = list.map((x) =>
      openSpan("order-entry.execution-applied", { "fixmesh.session": session }, x.traceparent),
    );
    let outcomes: ReportOutcome[];
    try {
      outcomes = await this.opts.repo.applyReports(
        session,
        list.map((x, i) => {
          const tp = (spans[i] as OpenSpan).traceparent;
          return tp === undefined ? x.input : { ...x.input, traceparent: tp };
        }),
        (this.opts.now ?? Date.now)(),
      );
    } catch (err) {
      for (const s of spans) s.end(err);
      throw err;
    }
    const entries: LogEntry[] = [];
    outcomes.forEach((out, i) => {
      const x = list[i] as { input: ReportInput };
      (spans[i] as OpenSpan).end(undefined, { "fixmesh.outcome": out.outcome });
      this.count(session, x.input, out);
      if (out.entry) entries.push(out.entry);
      if (out.released) entries.push(...out.released);
    });
    if (entries.length > 0) this.opts.onCommitted(entries);
  }

  private count(session: string, input: ReportInput, out: ReportOutcome): void {
    switch (out.outcome) {
      case "applied":
        this.counters.applied++;
        break;
      case "duplicate":
        this.counters.duplicates++;
        break;
      case "unknownOrder":
        this.counters.unknownOrder++;
        this.opts.logger.warn(
          { session, report: input.type === "report" ? input.report.execID : input.reject.clOrdID },
          "report for an unknown order: kept for reconciliation",
        );
        break;
      default:
        this.counters.rejected++;
        this.opts.logger.warn(
          { session, rejection: out.apply?.rejection },
          "report refused by the order state machine",
        );
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.stop()));
    this.consumers = [];
  }
}
