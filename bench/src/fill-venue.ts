/**
 * The counterparty of the connector benchmark (`connector.ts`), run by it as a child process: a minimal FIX 4.4
 * acceptor on 127.0.0.1 written on @fixmesh/fix's Framer and Encoder alone, with no session engine, so that it
 * costs a few microseconds a message and is never what limits the figures. It is not a benchmark by itself.
 *
 * Per connection it:
 * - answers the initiator's Logon with a Logon (the initiator's HeartBtInt), a TestRequest with a Heartbeat, a
 *   Logout with a Logout; sends a Heartbeat when it has sent nothing for HeartBtInt;
 * - answers every NewOrderSingle with one ExecutionReport (a full fill, ClOrdID echoed), all the answers to one
 *   socket read in one write;
 * - checks the initiator's MsgSeqNums: live messages must come in sequence, anything below the expected number
 *   must be a PossDupFlag=Y copy (or a gap fill) of the replay it asked for. A gap, a Reject, a ResendRequest, a
 *   Logout or a garbled message is reported to the parent, which fails the run: the figures are only worth
 *   something if every order and every answer arrived once, in order.
 *
 * On the parent's `replay` command it sends a ResendRequest for [begin, end] and, until the last message of
 * that range is back (a resent copy or the end of a gap fill), a TestRequest every `testRequestEveryMs`; it then
 * reports how long the replay took, the Heartbeats it received meanwhile and how long each TestRequest waited.
 *
 * IPC (`process.send`): to the parent `{type:"listening",port}`, `{type:"replayDone",…}`, `{type:"cpu",…}`,
 * `{type:"error",text}`; from the parent `{cmd:"replay",target,begin,end,testRequestEveryMs}`, `{cmd:"cpu"}`.
 */
import { createServer, type Socket } from "node:net";
import { Encoder, type FieldList, type FixMessage, Framer, formatUtcTimestamp, MsgType, Tag } from "@fixmesh/fix";

const BEGIN_STRING = "FIX.4.4";

export type VenueCommand =
  | { cmd: "replay"; target: string; begin: number; end: number; testRequestEveryMs: number }
  | { cmd: "cpu" };

export type VenueReport =
  | { type: "listening"; port: number }
  | { type: "error"; text: string }
  | { type: "cpu"; userMs: number; systemMs: number }
  | {
      type: "replayDone";
      target: string;
      /** From the ResendRequest's write to the last replayed message's arrival. */
      ms: number;
      /** Heartbeats received while the replay ran: answers to our TestRequests and the connector's own. */
      heartbeats: number;
      testRequestsSent: number;
      /** TestRequests whose Heartbeat came back before the replay's last message. */
      testRequestsAnsweredDuring: number;
      /** The longest a TestRequest sent during the replay waited for its Heartbeat (answered after it, too). */
      maxAnswerMs: number;
      resent: number;
      gapFilled: number;
    };

function report(r: VenueReport): void {
  process.send?.(r);
}

/** SendingTime, formatted once per millisecond. */
let stampMs = -1;
let stamp = "";
function sendingTime(): string {
  const now = Date.now();
  if (now !== stampMs) {
    stampMs = now;
    stamp = formatUtcTimestamp(now);
  }
  return stamp;
}

interface Replay {
  begin: number;
  end: number;
  /** The next MsgSeqNum of the range we are waiting for. */
  cursor: number;
  t0: number;
  heartbeats: number;
  resent: number;
  gapFilled: number;
  /** TestReqID → when it was sent. */
  outstanding: Map<string, number>;
  sent: number;
  answered: number;
  maxAnswerMs: number;
  timer: NodeJS.Timeout;
  /** When the last message of the range arrived (0 while it runs); the TestRequests may still be waiting. */
  doneAt: number;
}

let nextExecId = 1;

class Connection {
  /** The initiator's SenderCompID, once its Logon arrived. */
  peer = "";
  private encoder: Encoder | null = null;
  private readonly framer = new Framer();
  private nextOut = 1;
  private expectedIn = 1;
  private heartBtMs = 30_000;
  private lastSent = 0;
  private out: Buffer[] = [];
  private heartbeat: NodeJS.Timeout | null = null;
  private replay: Replay | null = null;
  private testReqSeq = 0;
  private failed = false;

  constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      this.framer.push(
        chunk,
        (m) => this.onMessage(m),
        (g) => this.fail(`garbled message from the connector: ${g.reason}`),
      );
      this.flush();
    });
    socket.on("error", () => {});
    socket.on("close", () => this.close());
  }

  startReplay(begin: number, end: number, everyMs: number): void {
    if (this.replay !== null) {
      this.fail("a replay is already running");
      return;
    }
    const r: Replay = {
      begin,
      end,
      cursor: begin,
      t0: 0,
      heartbeats: 0,
      resent: 0,
      gapFilled: 0,
      outstanding: new Map(),
      sent: 0,
      answered: 0,
      maxAnswerMs: 0,
      doneAt: 0,
      timer: setInterval(() => {
        const id = `T${++this.testReqSeq}`;
        r.outstanding.set(id, performance.now());
        r.sent++;
        this.send(MsgType.TestRequest, [Tag.TestReqID, id]);
        this.flush();
      }, everyMs),
    };
    this.replay = r;
    this.send(MsgType.ResendRequest, [Tag.BeginSeqNo, begin, Tag.EndSeqNo, end]);
    r.t0 = performance.now();
    this.flush();
  }

  private onMessage(m: FixMessage): void {
    if (this.failed) return;
    const seq = m.getInt(Tag.MsgSeqNum) ?? 0;
    if (m.msgType === MsgType.Logon) {
      this.peer = m.get(Tag.SenderCompID) ?? "";
      this.encoder = new Encoder(BEGIN_STRING, m.get(Tag.TargetCompID) ?? "", this.peer);
      this.heartBtMs = (m.getInt(Tag.HeartBtInt) ?? 30) * 1000;
      if (seq !== 1) this.fail(`Logon with MsgSeqNum ${seq}: the benchmark starts every session at 1`);
      this.expectedIn = seq + 1;
      this.send(MsgType.Logon, [Tag.EncryptMethod, 0, Tag.HeartBtInt, this.heartBtMs / 1000]);
      this.heartbeat = setInterval(() => {
        if (performance.now() - this.lastSent >= this.heartBtMs * 0.9) {
          this.send(MsgType.Heartbeat, null);
          this.flush();
        }
      }, this.heartBtMs / 4);
      return;
    }
    if (seq < this.expectedIn) {
      this.onReplayed(m, seq);
      return;
    }
    if (seq > this.expectedIn) {
      this.fail(`gap: MsgSeqNum ${seq} when ${this.expectedIn} was expected (${m.msgType})`);
      return;
    }
    this.expectedIn++;
    switch (m.msgType) {
      case MsgType.NewOrderSingle:
        this.fill(m);
        return;
      case MsgType.Heartbeat:
        this.onHeartbeat(m);
        return;
      case MsgType.TestRequest:
        this.send(MsgType.Heartbeat, [Tag.TestReqID, m.get(Tag.TestReqID) ?? ""]);
        return;
      case MsgType.Logout:
        this.send(MsgType.Logout, null);
        this.flush();
        this.socket.end();
        return;
      default:
        this.fail(`unexpected message from the connector: ${m.toString()}`);
    }
  }

  /** A message below the expected MsgSeqNum: must be part of the replay we asked for, in order. */
  private onReplayed(m: FixMessage, seq: number): void {
    const r = this.replay;
    if (r === null || seq !== r.cursor || !m.flag(Tag.PossDupFlag)) {
      this.fail(`MsgSeqNum ${seq} (${m.msgType}) is below ${this.expectedIn} and not the next of a replay`);
      return;
    }
    if (m.msgType === MsgType.SequenceReset && m.flag(Tag.GapFillFlag)) {
      r.gapFilled++;
      r.cursor = m.getInt(Tag.NewSeqNo) ?? r.cursor + 1;
    } else {
      r.resent++;
      r.cursor = seq + 1;
    }
    if (r.cursor > r.end) {
      r.doneAt = performance.now();
      clearInterval(r.timer);
      this.answeredDuring = r.answered;
      if (r.outstanding.size === 0) this.endReplay(r);
      // Otherwise the replay ends when the last TestRequest's Heartbeat is in (see onHeartbeat), or after 5 s.
      else setTimeout(() => this.endReplay(r), 5000).unref();
    }
  }

  /** TestRequests answered before the last replayed message arrived. */
  private answeredDuring = 0;

  private endReplay(r: Replay): void {
    if (this.replay !== r) return;
    this.replay = null;
    let maxAnswerMs = r.maxAnswerMs;
    for (const at of r.outstanding.values()) maxAnswerMs = Math.max(maxAnswerMs, performance.now() - at);
    report({
      type: "replayDone",
      target: this.peer,
      ms: r.doneAt - r.t0,
      heartbeats: r.heartbeats,
      testRequestsSent: r.sent,
      testRequestsAnsweredDuring: this.answeredDuring,
      maxAnswerMs,
      resent: r.resent,
      gapFilled: r.gapFilled,
    });
  }

  private onHeartbeat(m: FixMessage): void {
    const r = this.replay;
    if (r === null) return;
    if (r.doneAt === 0) r.heartbeats++;
    const id = m.get(Tag.TestReqID);
    const at = id === undefined ? undefined : r.outstanding.get(id);
    if (id !== undefined && at !== undefined) {
      r.outstanding.delete(id);
      r.answered++;
      r.maxAnswerMs = Math.max(r.maxAnswerMs, performance.now() - at);
      if (r.doneAt !== 0 && r.outstanding.size === 0) this.endReplay(r);
    }
  }

  private fill(m: FixMessage): void {
    const n = nextExecId++;
    const qty = m.get(Tag.OrderQty) ?? "0";
    const px = m.get(Tag.Price) ?? "100";
    // biome-ignore format: one tag, value pair per line
    const body: FieldList = [
      Tag.OrderID, `V${n}`,
      Tag.ClOrdID, m.get(Tag.ClOrdID) ?? "",
      Tag.ExecID, `E${n}`,
      Tag.ExecType, "F",
      Tag.OrdStatus, "2",
      Tag.Symbol, m.get(Tag.Symbol) ?? "",
      Tag.Side, m.get(Tag.Side) ?? "1",
      Tag.OrderQty, qty,
      Tag.LastQty, qty,
      Tag.LastPx, px,
      Tag.LeavesQty, 0,
      Tag.CumQty, qty,
      Tag.AvgPx, px,
      Tag.TransactTime, sendingTime(),
    ];
    this.send(MsgType.ExecutionReport, body);
  }

  private send(msgType: string, body: FieldList | null): void {
    if (this.encoder === null) return;
    this.out.push(this.encoder.encode(msgType, this.nextOut++, sendingTime(), body));
  }

  private flush(): void {
    if (this.out.length === 0 || this.socket.destroyed) return;
    this.socket.write(this.out.length === 1 ? this.out[0] : Buffer.concat(this.out));
    this.out = [];
    this.lastSent = performance.now();
  }

  private fail(text: string): void {
    if (this.failed) return;
    this.failed = true;
    report({ type: "error", text: `venue, session with ${this.peer || "?"}: ${text}` });
  }

  private close(): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    if (this.replay !== null) clearInterval(this.replay.timer);
    connections.delete(this);
  }
}

const connections = new Set<Connection>();

const server = createServer((socket) => {
  connections.add(new Connection(socket));
});

process.on("message", (c: VenueCommand) => {
  if (c.cmd === "cpu") {
    const u = process.cpuUsage();
    report({ type: "cpu", userMs: u.user / 1000, systemMs: u.system / 1000 });
    return;
  }
  const conn = [...connections].find((x) => x.peer === c.target);
  if (conn === undefined) report({ type: "error", text: `venue: no session with ${c.target}` });
  else conn.startReplay(c.begin, c.end, c.testRequestEveryMs);
});
// The parent went away (or closed the channel): nothing left to serve.
process.on("disconnect", () => process.exit(0));

server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("venue: no TCP address");
  report({ type: "listening", port: address.port });
});
