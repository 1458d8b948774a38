import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { Acceptor, type SessionHandle, SessionRunner, tcpConnector } from "@fixmesh/engine";
import { type FixMessage, MsgType, Tag } from "@fixmesh/fix";
import { FileStore, resolveSettings, type SessionNotice } from "@fixmesh/session";
import { DropProxy } from "./proxy.js";

export interface DemoOptions {
  dataDir: string;
  orders: number;
  /** `gap`: drop one ExecutionReport on the wire so the client must recover it. */
  chaos: "none" | "gap";
  print: (line: string) => void;
}

const SYMBOLS = ["IBM", "MSFT", "AAPL", "VOD.L", "SAP.DE"];

/**
 * The embedded demo: a venue (acceptor) and a client (initiator) in one process, each with its own file store,
 * talking FIX 4.4 over loopback through a proxy that can drop a message. The client logs on, sends orders,
 * and follows their executions; with `chaos: gap` one execution vanishes on the wire and the session recovers
 * it with a ResendRequest.
 */
export async function runDemo(o: DemoOptions): Promise<{ orders: number; fills: number; recovered: boolean }> {
  const dir = resolve(o.dataDir);
  mkdirSync(dir, { recursive: true });
  const p = o.print;
  const t0 = Date.now();
  const stamp = () => `${String(Date.now() - t0).padStart(5, " ")} ms`;

  // --- venue: acks every order, then fills it
  let execSeq = 0;
  const venueApp = {
    onMessage(msg: FixMessage, s: SessionHandle) {
      if (msg.msgType !== MsgType.NewOrderSingle) return;
      const clOrdId = msg.get(Tag.ClOrdID) ?? "";
      const qty = msg.get(Tag.OrderQty) ?? "0";
      const px = msg.get(Tag.Price) ?? "0";
      const common = [Tag.ClOrdID, clOrdId, Tag.Symbol, msg.get(Tag.Symbol) ?? "", Tag.Side, msg.get(Tag.Side) ?? "1"];
      const orderId = `V${clOrdId}`;
      void s.send(MsgType.ExecutionReport, [
        Tag.AvgPx,
        0,
        ...common.slice(0, 2),
        Tag.CumQty,
        0,
        Tag.ExecID,
        `E${++execSeq}`,
        Tag.OrderID,
        orderId,
        Tag.OrderQty,
        qty,
        Tag.OrdStatus,
        "0",
        Tag.Side,
        msg.get(Tag.Side) ?? "1",
        Tag.Symbol,
        msg.get(Tag.Symbol) ?? "",
        Tag.ExecType,
        "0",
        Tag.LeavesQty,
        qty,
      ]);
      void s.send(MsgType.ExecutionReport, [
        Tag.AvgPx,
        px,
        ...common.slice(0, 2),
        Tag.CumQty,
        qty,
        Tag.ExecID,
        `E${++execSeq}`,
        Tag.LastPx,
        px,
        Tag.LastQty,
        qty,
        Tag.OrderID,
        orderId,
        Tag.OrderQty,
        qty,
        Tag.OrdStatus,
        "2",
        Tag.Side,
        msg.get(Tag.Side) ?? "1",
        Tag.Symbol,
        msg.get(Tag.Symbol) ?? "",
        Tag.ExecType,
        "F",
        Tag.LeavesQty,
        0,
      ]);
    },
  };
  const venueSettings = resolveSettings({
    BeginString: "FIX.4.4",
    SenderCompID: "VENUE",
    TargetCompID: "CLIENT",
    ConnectionType: "acceptor",
  });
  const venue = await SessionRunner.start({
    settings: venueSettings,
    store: new FileStore({ dir: join(dir, "venue"), session: "FIX.4.4-VENUE-CLIENT" }),
    app: venueApp,
  });
  const acceptor = new Acceptor({ port: 0 });
  acceptor.register(venue);
  const venuePort = await acceptor.listen();
  const proxy = new DropProxy(venuePort);
  const proxyPort = await proxy.listen();
  p(`${stamp()}  venue    listening on 127.0.0.1:${venuePort} (FIX.4.4 VENUE), proxy on :${proxyPort}`);

  // --- client: sends orders, follows executions
  let fills = 0;
  let recovered = false;
  const done = new Map<string, () => void>();
  const clientSettings = resolveSettings({
    BeginString: "FIX.4.4",
    SenderCompID: "CLIENT",
    TargetCompID: "VENUE",
    ConnectionType: "initiator",
    HeartBtInt: 5,
  });
  const loggedOn = new Promise<void>((resolveLogon) => {
    const clientApp = {
      onMessage(msg: FixMessage, _s: SessionHandle, possDup: boolean) {
        if (msg.msgType !== MsgType.ExecutionReport) return;
        const seq = msg.getInt(Tag.MsgSeqNum);
        const status = msg.get(Tag.OrdStatus) === "2" ? "FILLED" : "NEW";
        const clOrdId = msg.get(Tag.ClOrdID) ?? "";
        p(
          `${stamp()}  client   <- ExecutionReport seq ${seq} ${clOrdId} ${status}${status === "FILLED" ? ` ${msg.get(Tag.LastQty)} @ ${msg.get(Tag.LastPx)}` : ""}${possDup ? "  (PossDupFlag=Y: recovered by resend)" : ""}`,
        );
        if (possDup) recovered = true;
        if (status === "FILLED") {
          fills++;
          done.get(clOrdId)?.();
        }
      },
      onNotice(n: SessionNotice) {
        const line = describe(n);
        if (line) p(`${stamp()}  client   ${line}`);
        if (n.kind === "logon") resolveLogon();
      },
    };
    void SessionRunner.start({
      settings: clientSettings,
      store: new FileStore({ dir: join(dir, "client"), session: "FIX.4.4-CLIENT-VENUE" }),
      app: clientApp,
      connect: tcpConnector([{ host: "127.0.0.1", port: proxyPort }]),
    }).then((r) => {
      client = r;
    });
  });
  let client: SessionRunner | null = null;
  await withTimeout(loggedOn, 10_000, "client logon");
  const c = client as unknown as SessionRunner;
  p(
    `${stamp()}  client   logged on: next outbound seq ${c.state.nextSenderSeq}, next inbound seq ${c.state.nextTargetSeq} (numbers survive restarts: data in ${dir})`,
  );

  if (o.chaos === "gap") {
    let armed = true;
    proxy.dropIf = (type) => {
      if (armed && type === MsgType.ExecutionReport && fills >= 1) {
        armed = false;
        return true;
      }
      return false;
    };
    proxy.onDrop = (type, seq) =>
      p(`${stamp()}  chaos    proxy dropped ${type === "8" ? "ExecutionReport" : type} seq ${seq} on the wire`);
  }

  const runId = Date.now().toString(36);
  for (let i = 1; i <= o.orders; i++) {
    const clOrdId = `${runId}-${i}`;
    const symbol = SYMBOLS[(i - 1) % SYMBOLS.length];
    const filled = new Promise<void>((r) => done.set(clOrdId, r));
    const seq = await c.send(MsgType.NewOrderSingle, [
      Tag.ClOrdID,
      clOrdId,
      Tag.HandlInst,
      "1",
      Tag.OrderQty,
      100 * i,
      Tag.OrdType,
      "2",
      Tag.Price,
      "101.25",
      Tag.Side,
      "1",
      Tag.Symbol,
      symbol,
      Tag.TransactTime,
      new Date().toISOString().replace(/[-]/g, "").replace("T", "-").slice(0, 21),
    ]);
    p(
      `${stamp()}  client   -> NewOrderSingle seq ${seq} ${clOrdId} BUY ${100 * i} ${symbol} @ 101.25 (persisted before send)`,
    );
    // With the gap chaos, the fill after the dropped message reveals the gap; a heartbeat would too.
    await withTimeout(filled, 15_000, `fill of ${clOrdId}`);
  }

  p(`${stamp()}  client   all ${o.orders} orders filled; logging out`);
  await c.stop();
  await venue.stop();
  await proxy.close();
  await acceptor.close();
  p(
    `${stamp()}  done     ${o.orders} orders, ${fills} fills, gap ${o.chaos === "gap" ? (recovered ? "recovered" : "NOT recovered") : "not forced (try --chaos gap)"}`,
  );
  return { orders: o.orders, fills, recovered };
}

function describe(n: SessionNotice): string | null {
  switch (n.kind) {
    case "logon":
      return `logon accepted (HeartBtInt ${n.heartBtInt}s${n.reset ? ", sequence numbers reset" : ""})`;
    case "gap":
      return `gap detected: missing ${n.begin}..${n.end} -> ResendRequest sent`;
    case "gapFilled":
      return `gap ${n.begin}..${n.end} filled`;
    case "health":
      return `health ${n.from} -> ${n.to}${n.reason ? ` (${n.reason})` : ""}`;
    case "logout":
      return `logout (${n.initiatedBy}): ${n.reason}`;
    case "reject":
      return `reject sent: ${n.text}`;
    default:
      return null;
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}
