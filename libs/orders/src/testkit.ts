/**
 * Test kit for the order state machine: a store, a fake clock, and builders for our requests and the venue's
 * reports with the fields a test does not care about filled in.
 */
import { Encoder, type FieldList, type FixMessage, formatUtcTimestamp, Parser } from "@fixmesh/fix";
import { type ApplyResult, apply, type OrderInput } from "./apply.js";
import type { OrderCancelReject } from "./cancel-reject.js";
import { Decimal } from "./decimal.js";
import type { ExecutionReport } from "./execution-report.js";
import type { Order } from "./order.js";
import type { NewOrderRequest } from "./requests.js";
import { OrderStore, type OrderStoreOptions } from "./store.js";

export const SESSION = "FIX.4.4:CLIENT->VENUE";
export const T0 = Date.UTC(2026, 10, 27, 9, 0, 0);

/** The report fields a test states; the rest default (ExecID numbered, TransactTime ticking, ClOrdID "C1"). */
export type ReportFields = Partial<ExecutionReport> & Pick<ExecutionReport, "execType" | "ordStatus" | "cumQty">;

export class OrdersHarness {
  now = T0;
  readonly store: OrderStore;
  readonly results: ApplyResult[] = [];
  private execSeq = 0;

  constructor(opts: OrderStoreOptions = {}) {
    this.store = new OrderStore(opts);
  }

  /** Applies an input at the current time and moves the clock on by 1 ms. */
  apply(input: OrderInput): ApplyResult {
    const r = apply(this.store, input, this.now++);
    this.results.push(r);
    return r;
  }

  get order(): Order {
    const o = this.store.get("o1");
    if (!o) throw new Error("no order o1");
    return o;
  }

  /** Our NewOrderSingle: order o1, ClOrdID C1, buy 100 @ 10 limit, unless told otherwise. */
  newOrder(over: Partial<NewOrderRequest> = {}): ApplyResult {
    return this.apply({
      type: "newOrder",
      id: "o1",
      session: SESSION,
      clOrdID: "C1",
      account: "ACC",
      symbol: "XYZ",
      side: "1",
      ordType: "2",
      price: "10",
      orderQty: "100",
      timeInForce: "0",
      ...over,
    });
  }

  cancel(clOrdID: string, orderId = "o1"): ApplyResult {
    return this.apply({ type: "cancelRequest", orderId, clOrdID });
  }

  replace(
    clOrdID: string,
    terms: { orderQty?: string; price?: string; origClOrdID?: string },
    orderId = "o1",
  ): ApplyResult {
    return this.apply({ type: "replaceRequest", orderId, clOrdID, ...terms });
  }

  /** A report with defaults filled in (not applied). LeavesQty defaults to 100 − CumQty, or 0 for done statuses. */
  report(f: ReportFields): ExecutionReport {
    const n = ++this.execSeq;
    const done = ["2", "3", "4", "8", "B", "C"].includes(f.ordStatus);
    const leaves = Decimal.of(f.orderQty ?? "100").sub(Decimal.of(f.cumQty));
    return {
      session: SESSION,
      execID: `E${n}`,
      clOrdID: "C1",
      orderID: "V1",
      leavesQty: done ? "0" : leaves.toString(),
      avgPx: "0",
      transactTime: T0 + n * 1000,
      ...f,
    };
  }

  /** Applies a report built by `report`. */
  er(f: ReportFields): ApplyResult {
    return this.apply({ type: "executionReport", report: this.report(f) });
  }

  /** FIX 4.4 New acknowledgement. */
  ack(over: Partial<ExecutionReport> = {}): ApplyResult {
    return this.er({ execType: "0", ordStatus: "0", cumQty: "0", ...over });
  }

  /** FIX 4.4 trade: LastQty `qty` at `px`, with the order's CumQty/AvgPx after it as the venue states them. */
  trade(qty: string, px: string, cumQty: string, avgPx: string, over: Partial<ExecutionReport> = {}): ApplyResult {
    const full = Decimal.of(cumQty).cmp(Decimal.of(over.orderQty ?? "100")) >= 0;
    return this.er({
      execType: "F",
      ordStatus: full ? "2" : "1",
      lastQty: qty,
      lastPx: px,
      cumQty,
      avgPx,
      ...over,
    });
  }

  cancelReject(clOrdID: string, over: Partial<OrderCancelReject> = {}): ApplyResult {
    return this.apply({
      type: "cancelReject",
      reject: { session: SESSION, clOrdID, origClOrdID: "C1", ordStatus: "1", cxlRejResponseTo: "1", ...over },
    });
  }
}

/** Wire messages from the venue, parsed, for tests of the `fixMessage` input. */
export class VenueWire {
  private seq = 1;
  private readonly encoder: Encoder;
  private readonly parser = new Parser();

  constructor(beginString = "FIX.4.4") {
    this.encoder = new Encoder(beginString, "VENUE", "CLIENT");
  }

  msg(msgType: string, body: FieldList, header: FieldList = []): FixMessage {
    const bytes = this.encoder.encode(msgType, this.seq++, formatUtcTimestamp(T0, 3), body, header);
    const m = this.parser.parse(Buffer.from(bytes));
    if (typeof m === "string") throw new Error(`test message garbled: ${m}`);
    return m;
  }
}
