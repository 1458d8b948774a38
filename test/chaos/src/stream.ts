import type { Delivered, JetStreamBus } from "@fixmesh/bus";
import { type FixMessage, MsgType, Parser, Tag } from "@fixmesh/fix";
import { apply, OrderStore, Outcome } from "@fixmesh/orders";
import { waitFor } from "./wait.js";

/** A FIX message event as the engine records it (`@fixmesh/engine` fix-events.ts), read back off the stream. */
export interface MessageEvent {
  id: string;
  subject: string;
  session: string;
  cycle: string;
  dir: "in" | "out";
  seq: number;
  msgType: string;
  possDup: boolean;
  clOrdId?: string;
  execId?: string;
  raw: Buffer;
}

/** Every event on the stream under `filter`, from its first message to its last (the stream only grows). */
export async function readStream(bus: JetStreamBus, filter: string): Promise<Delivered[]> {
  const last = await bus.lastSeq();
  const got: Delivered[] = [];
  const sub = await bus.subscribe(filter, (d) => got.push(d), { fromSeq: 1 });
  try {
    await waitFor(() => got.length > 0 && got[got.length - 1].seq >= last, 10_000, `stream read to ${last}`);
  } finally {
    await sub.unsubscribe();
  }
  return got;
}

/** The message events among `delivered` (state events are left out). */
export function messageEvents(delivered: Delivered[]): MessageEvent[] {
  const out: MessageEvent[] = [];
  for (const d of delivered) {
    const body = JSON.parse(Buffer.from(d.payload).toString()) as Omit<MessageEvent, "raw" | "id" | "subject"> & {
      raw?: string;
    };
    if (body.raw === undefined) continue;
    out.push({ ...body, id: d.id, subject: d.subject, raw: Buffer.from(body.raw, "base64") });
  }
  return out;
}

/**
 * Our order state as a service rebuilds it after a restart (ARCHITECTURE.md: "A service that restarts rebuilds its
 * state by replaying the stream"): every NewOrderSingle we sent, then every ExecutionReport we received, through
 * the order state machine. Returns the store and how often each ExecID moved an order.
 */
export function rebuildOrders(events: MessageEvent[]): { store: OrderStore; applied: Map<string, number> } {
  const parser = new Parser();
  const store = new OrderStore();
  const applied = new Map<string, number>();
  let n = 0;
  const parse = (raw: Buffer): FixMessage => {
    const m = parser.parse(raw);
    if (typeof m === "string") throw new Error(`unreadable event payload: ${m}`);
    return m;
  };
  for (const e of events) {
    if (e.dir !== "out" || e.msgType !== MsgType.NewOrderSingle) continue;
    const m = parse(e.raw);
    const price = m.get(Tag.Price);
    apply(
      store,
      {
        type: "newOrder",
        id: `s${++n}`,
        session: e.session,
        clOrdID: m.get(Tag.ClOrdID) ?? "",
        symbol: m.get(Tag.Symbol) ?? "",
        side: m.get(Tag.Side) ?? "",
        ordType: m.get(Tag.OrdType) ?? "",
        orderQty: m.get(Tag.OrderQty) ?? "",
        ...(price !== undefined && { price }),
      },
      0,
    );
  }
  for (const e of events) {
    if (e.dir !== "in" || e.msgType !== MsgType.ExecutionReport) continue;
    const r = apply(store, { type: "fixMessage", session: e.session, message: parse(e.raw) }, 0);
    if (r.outcome === Outcome.Applied && e.execId !== undefined)
      applied.set(e.execId, (applied.get(e.execId) ?? 0) + 1);
  }
  return { store, applied };
}
