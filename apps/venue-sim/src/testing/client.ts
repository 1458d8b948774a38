/**
 * A FIX client for the simulator's tests: an initiator `SessionRunner` over loopback with a memory store that
 * validates what it receives against the dictionary (a malformed report would be rejected, not delivered).
 */
import { type SessionRunner as Runner, SessionRunner, tcpConnector } from "@fixmesh/engine";
import {
  type FieldList,
  type FixMessage,
  formatUtcTimestamp,
  loadDictionary,
  MsgType,
  Tag,
  validate,
} from "@fixmesh/fix";
import { Health, MemoryStore, resolveSettings, type SessionNotice, type SessionSettings } from "@fixmesh/session";

export interface Received {
  msg: FixMessage;
  possDup: boolean;
  at: number;
}

export interface TestClient {
  readonly runner: Runner;
  readonly beginString: string;
  readonly received: Received[];
  readonly notices: SessionNotice[];
  send(msgType: string, body: FieldList): Promise<number>;
  /** Application messages about `clOrdId` (as ClOrdID or OrigClOrdID). */
  about(clOrdId: string): FixMessage[];
  waitFor(check: () => boolean, what: string, ms?: number): Promise<void>;
  waitLive(): Promise<void>;
  stop(): Promise<void>;
}

export async function startClient(
  port: number,
  o: { beginString: string; sender: string; target?: string; over?: Partial<SessionSettings> },
): Promise<TestClient> {
  const received: Received[] = [];
  const notices: SessionNotice[] = [];
  const dict = loadDictionary(o.beginString);
  const runner = await SessionRunner.start({
    settings: resolveSettings({
      BeginString: o.beginString,
      SenderCompID: o.sender,
      TargetCompID: o.target ?? "VENUE",
      ConnectionType: "initiator",
      HeartBtInt: 30,
      ReconnectInterval: 0.05,
      ReconnectMaxInterval: 0.2,
      ...o.over,
    }),
    store: new MemoryStore(),
    validate: (m) => validate(m, dict),
    app: {
      onMessage: (msg, _s, possDup) => received.push({ msg, possDup, at: Date.now() }),
      onNotice: (n) => notices.push(n),
    },
    connect: tcpConnector([{ host: "127.0.0.1", port }]),
    schedule: null,
  });
  const c: TestClient = {
    runner,
    beginString: o.beginString,
    received,
    notices,
    send: (msgType, body) => runner.send(msgType, body),
    about: (id) => received.map((r) => r.msg).filter((m) => m.get(Tag.ClOrdID) === id || m.get(Tag.OrigClOrdID) === id),
    waitFor: (check, what, ms = 3000) => waitFor(check, ms, what),
    waitLive: () => waitFor(() => runner.state.health === Health.Live, 3000, `${o.sender} logged on`),
    stop: () => runner.stop(300),
  };
  return c;
}

export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const now = () => formatUtcTimestamp(Date.now(), 3);

/** A NewOrderSingle body with what both versions require (HandlInst for 4.2, TransactTime for both). */
export function newOrder(o: {
  clOrdId: string;
  symbol: string;
  side?: "1" | "2";
  qty: number | string;
  price?: number;
  ordType?: string;
  tif?: string;
}): FieldList {
  const body: FieldList = [Tag.ClOrdID, o.clOrdId, Tag.HandlInst, "1", Tag.OrderQty, o.qty];
  body.push(Tag.OrdType, o.ordType ?? (o.price === undefined ? "1" : "2"));
  if (o.price !== undefined) body.push(Tag.Price, o.price);
  body.push(Tag.Side, o.side ?? "1", Tag.Symbol, o.symbol);
  if (o.tif !== undefined) body.push(Tag.TimeInForce, o.tif);
  body.push(Tag.TransactTime, now());
  return body;
}

export function cancelRequest(o: {
  clOrdId: string;
  origClOrdId: string;
  symbol: string;
  side?: string;
  qty?: number;
}): FieldList {
  return [
    Tag.ClOrdID,
    o.clOrdId,
    Tag.OrderQty,
    o.qty ?? 100,
    Tag.OrigClOrdID,
    o.origClOrdId,
    Tag.Side,
    o.side ?? "1",
    Tag.Symbol,
    o.symbol,
    Tag.TransactTime,
    now(),
  ];
}

export function replaceRequest(o: {
  clOrdId: string;
  origClOrdId: string;
  symbol: string;
  side?: string;
  qty: number;
  price?: number;
}): FieldList {
  const body: FieldList = [Tag.ClOrdID, o.clOrdId, Tag.HandlInst, "1", Tag.OrderQty, o.qty];
  body.push(Tag.OrdType, o.price === undefined ? "1" : "2", Tag.OrigClOrdID, o.origClOrdId);
  if (o.price !== undefined) body.push(Tag.Price, o.price);
  body.push(Tag.Side, o.side ?? "1", Tag.Symbol, o.symbol, Tag.TransactTime, now());
  return body;
}

export function statusRequest(o: { clOrdId: string; symbol: string; side?: string; reqId?: string }): FieldList {
  const body: FieldList = [Tag.ClOrdID, o.clOrdId, Tag.Side, o.side ?? "1", Tag.Symbol, o.symbol];
  if (o.reqId !== undefined) body.push(Tag.OrdStatusReqID, o.reqId);
  return body;
}

export { MsgType, Tag };
