import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { ChaosProxy } from "@fixmesh/chaos";
import { type Connector, loggerFor, parseConfig, startConnector } from "@fixmesh/connector";
import type { SessionRunner } from "@fixmesh/engine";
import { type FixMessage, MsgType, Tag } from "@fixmesh/fix";
import { apply, OrderStore } from "@fixmesh/orders";
import type { SessionNotice } from "@fixmesh/session";
import { parseVenueSimConfig, startVenueSim } from "@fixmesh/venue-sim";

export type DemoChaos = "none" | "gap" | "dup" | "cut";

export interface DemoOptions {
  dataDir: string;
  orders: number;
  /** `gap`: drop one ExecutionReport on the wire; `dup`: the venue repeats executions; `cut`: cut the link mid-flow. */
  chaos: DemoChaos;
  print: (line: string) => void;
}

export interface DemoResult {
  orders: number;
  fills: number;
  recovered: boolean;
  duplicatesDropped: number;
  converged: boolean;
}

const SYMBOLS = ["IBM", "MSFT", "AAPL", "VOD.L", "SAP.DE"];
const SESSION = "FIX.4.4:CLIENT->VENUE";

/**
 * `fixmesh demo`: the venue simulator and a connector in one process, on embedded defaults (file stores, the
 * in-process bus), talking FIX 4.4 over loopback through the chaos proxy. The connector's session sends orders and
 * follows them through their ExecutionReports with the order state machine; a fault can be switched on to watch a
 * recovery. At the end our view of every order is compared with the venue's.
 */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const dir = resolve(o.dataDir);
  mkdirSync(dir, { recursive: true });
  const p = o.print;
  const t0 = Date.now();
  const stamp = () => `${String(Date.now() - t0).padStart(5, " ")} ms`;

  const venue = await startVenueSim(
    parseVenueSimConfig({
      listen: { host: "127.0.0.1", port: 0 },
      store: { kind: "file", dir: join(dir, "venue"), fsync: "never" },
      sessions: [{ BeginString: "FIX.4.4", SenderCompID: "VENUE", TargetCompID: "CLIENT" }],
      policy: { fill: "partial(2)", latency: 1 },
    }),
  );
  const proxy = new ChaosProxy({ target: { host: "127.0.0.1", port: venue.port } });
  const { port: proxyPort } = await proxy.start();
  p(
    `${stamp()}  venue      simulator on 127.0.0.1:${venue.port} (FIX 4.4, fills in 2 parts); chaos proxy on :${proxyPort}`,
  );

  const yaml = `
connector: { id: demo, dataDir: ${JSON.stringify(join(dir, "connector"))} }
store: { kind: file, fsync: always }
grpc: { plaintext: true, host: 127.0.0.1, port: 0 }
metrics: { host: 127.0.0.1, port: 0 }
log: { level: info }
sessions:
  - BeginString: FIX.4.4
    SenderCompID: CLIENT
    TargetCompID: VENUE
    ConnectionType: initiator
    HeartBtInt: 5
    ReconnectInterval: 0.2
    initiator: { hosts: [{ host: 127.0.0.1, port: ${proxyPort} }] }
`;
  const cfg = parseConfig(yaml, { env: {}, source: "fixmesh demo", cwd: dir, baseDir: dir });
  const { createWriteStream } = await import("node:fs");
  const logFile = createWriteStream(join(dir, "connector.log"), { flags: "a" });
  const connector: Connector = await startConnector(cfg, {
    logger: loggerFor(cfg, { write: (s) => logFile.write(s) }),
  });
  const runner = connector.get(SESSION) as SessionRunner;
  p(`${stamp()}  connector  gRPC on :${connector.grpcPort}; logs in ${join(dir, "connector.log")}`);

  const book = new OrderStore();
  let fills = 0;
  let recovered = false;
  const filled = new Map<string, () => void>();
  runner.onMessage((msg: FixMessage) => {
    if (msg.msgType !== MsgType.ExecutionReport) return;
    const possDup = msg.flag(Tag.PossDupFlag);
    const r = apply(book, { type: "fixMessage", session: SESSION, message: msg }, Date.now());
    const id = msg.get(Tag.ClOrdID) ?? "";
    if (r.outcome === "duplicate") {
      p(
        `${stamp()}  client     <- ExecutionReport seq ${msg.get(Tag.MsgSeqNum)} ${id} ExecID ${msg.get(Tag.ExecID)}: duplicate, dropped`,
      );
      return;
    }
    const ord = r.order;
    const what =
      msg.get(Tag.ExecType) === "F" ? `fill ${msg.get(Tag.LastQty)} @ ${msg.get(Tag.LastPx)}` : "acknowledged";
    p(
      `${stamp()}  client     <- ExecutionReport seq ${msg.get(Tag.MsgSeqNum)} ${id} ${what} -> ${statusName(ord?.status)} ${ord?.cumQty}/${ord?.orderQty}${possDup ? "  (PossDupFlag=Y: recovered by resend)" : ""}`,
    );
    if (possDup) recovered = true;
    if (msg.get(Tag.ExecType) === "F") fills++;
    if (ord?.status === "2") filled.get(id)?.();
  });
  const notices = (n: SessionNotice) => {
    const line = describe(n);
    if (line) p(`${stamp()}  session    ${line}`);
    if (n.kind === "gapFilled" || (n.kind === "logon" && o.chaos === "cut" && proxy.stats().connections.accepted > 1)) {
      recovered = true;
    }
  };
  runner.onNotice(notices);
  await waitFor(() => runner.state.health === "LIVE", 10_000, "logon");
  p(
    `${stamp()}  session    LIVE: next outbound seq ${runner.state.nextSenderSeq}, next inbound seq ${runner.state.nextTargetSeq} (persisted in ${join(dir, "connector")}: run again and they carry on)`,
  );

  const runId = Date.now().toString(36);
  for (let i = 1; i <= o.orders; i++) {
    const clOrdId = `${runId}-${i}`;
    const symbol = SYMBOLS[(i - 1) % SYMBOLS.length];
    const qty = 100 * i;
    if (i === 2) armChaos(o.chaos, proxy, venue, p, stamp);
    const done = new Promise<void>((r) => filled.set(clOrdId, r));
    apply(
      book,
      {
        type: "newOrder",
        id: clOrdId,
        session: SESSION,
        clOrdID: clOrdId,
        symbol,
        side: "1",
        ordType: "2",
        price: "101.25",
        orderQty: String(qty),
      },
      Date.now(),
    );
    const seq = await runner.send(MsgType.NewOrderSingle, [
      Tag.ClOrdID,
      clOrdId,
      Tag.HandlInst,
      "1",
      Tag.OrderQty,
      qty,
      Tag.OrdType,
      "2",
      Tag.Price,
      "101.25",
      Tag.Side,
      "1",
      Tag.Symbol,
      symbol,
      Tag.TransactTime,
      new Date().toISOString().replace(/-/g, "").replace("T", "-").slice(0, 21),
    ]);
    p(
      `${stamp()}  client     -> NewOrderSingle seq ${seq} ${clOrdId} BUY ${qty} ${symbol} @ 101.25 (persisted before send)`,
    );
    await withTimeout(done, 20_000, `fill of ${clOrdId}`);
  }
  await new Promise((r) => setTimeout(r, 100));

  // Convergence: our view of every order equals the venue's.
  let converged = true;
  for (const ord of [...book.all()]) {
    const v = venue.order(ord.clOrdID, "CLIENT");
    const same = v !== undefined && Number(ord.cumQty) === v.cumQty && Number(ord.leavesQty) === v.leavesQty;
    if (!same) converged = false;
  }
  const dups = book.counters.duplicatesPossDup + book.counters.duplicatesPossResend + book.counters.duplicatesUnflagged;
  p(
    `${stamp()}  done       ${o.orders} orders, ${fills} fills, duplicates dropped ${dups}, ours == venue's: ${converged ? "yes" : "NO"}${o.chaos === "gap" || o.chaos === "cut" ? `, ${o.chaos} ${recovered ? "recovered" : "NOT recovered"}` : ""}`,
  );
  await connector.stop();
  await proxy.stop();
  await venue.stop(0);
  logFile.end();
  return { orders: o.orders, fills: fillsToOrders(book), recovered, duplicatesDropped: dups, converged };
}

function fillsToOrders(book: OrderStore): number {
  return [...book.all()].filter((x) => x.status === "2").length;
}

function armChaos(
  chaos: DemoChaos,
  proxy: ChaosProxy,
  venue: Awaited<ReturnType<typeof startVenueSim>>,
  p: (l: string) => void,
  stamp: () => string,
): void {
  if (chaos === "gap") {
    proxy.toClient.drop({ msgType: MsgType.ExecutionReport });
    proxy.once("fault", (f) => {
      if (f.kind === "drop") p(`${stamp()}  chaos      proxy dropped ExecutionReport seq ${f.seq} on the wire`);
    });
  } else if (chaos === "dup") {
    setTimeout(() => {
      void venue
        .session("CLIENT")
        .resendExecutionsAsPossDup(1)
        .then(() => venue.session("CLIENT").duplicateExecutionsWithoutPossDup(1))
        .then(() =>
          p(`${stamp()}  chaos      venue sent its last execution again, once with PossDupFlag=Y, once without`),
        );
    }, 50);
  } else if (chaos === "cut") {
    setTimeout(() => {
      p(`${stamp()}  chaos      proxy cuts the connection`);
      proxy.cut();
    }, 5);
  }
}

function statusName(s: string | undefined): string {
  return (
    (
      {
        "0": "New",
        "1": "PartiallyFilled",
        "2": "Filled",
        "4": "Canceled",
        "8": "Rejected",
        A: "PendingNew",
      } as Record<string, string>
    )[s ?? ""] ?? String(s)
  );
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
    case "duplicateIgnored":
      return `duplicate MsgSeqNum ${n.seq} (PossDup) ignored by the session layer`;
    default:
      return null;
  }
}

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
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
