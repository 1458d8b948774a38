import type { Socket } from "node:net";
import type { Connector } from "@fixmesh/engine";
import { Framer, MsgType, Tag } from "@fixmesh/fix";
import { stamp } from "./wait.js";

const SESSION_TYPES = new Set<string>([
  MsgType.Logon,
  MsgType.Logout,
  MsgType.ResendRequest,
  MsgType.SequenceReset,
  MsgType.Reject,
]);

/** One FIX message as it crossed our socket: enough to tell what happened on the wire when a scenario fails. */
export interface WireEntry {
  at: number;
  dir: "in" | "out";
  msgType: string;
  seq: number;
  possDup: boolean;
  /** GapFillFlag / NewSeqNo (SequenceReset), BeginSeqNo-EndSeqNo (ResendRequest), ExecID, Text: what matters. */
  detail: string;
}

/**
 * The last messages our session sent and received, read off its own socket (a tap on the connector), so a failed
 * scenario can print the wire as our engine saw it — admin messages included, which the application never sees.
 * A ring: it keeps the newest `capacity` entries and counts the rest.
 */
export class WireLog {
  private readonly ring: WireEntry[] = [];
  /**
   * Every session-level message other than Heartbeat and TestRequest (Logon, Logout, ResendRequest, SequenceReset,
   * Reject), kept in full: few, and what a recovery is judged by.
   */
  readonly session: WireEntry[] = [];
  private next = 0;
  total = 0;

  constructor(private readonly capacity = 400) {}

  /** Wraps a connector so that every socket it opens is tapped in both directions. */
  tap(connect: Connector): Connector {
    return async () => {
      const socket = await connect();
      this.attach(socket);
      return socket;
    };
  }

  entries(): WireEntry[] {
    return this.ring.length < this.capacity
      ? this.ring.slice()
      : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }

  /** The last `n` entries, one line each. */
  format(n = 60): string[] {
    return this.entries()
      .slice(-n)
      .map((e) => `${e.dir === "in" ? "<-" : "->"} ${e.seq} 35=${e.msgType}${e.possDup ? " 43=Y" : ""} ${e.detail}`);
  }

  private attach(socket: Socket): void {
    const inbound = new Framer();
    const outbound = new Framer();
    const record = (dir: "in" | "out") => (m: Parameters<Parameters<Framer["push"]>[1]>[0]) => {
      const pick = (tag: number, name: string) => {
        const v = m.get(tag);
        return v === undefined ? "" : ` ${name}=${v}`;
      };
      this.push({
        at: stamp(),
        dir,
        msgType: m.msgType,
        seq: m.getInt(Tag.MsgSeqNum) ?? 0,
        possDup: m.flag(Tag.PossDupFlag),
        detail: (
          pick(Tag.GapFillFlag, "123") +
          pick(Tag.NewSeqNo, "36") +
          pick(Tag.BeginSeqNo, "7") +
          pick(Tag.EndSeqNo, "16") +
          pick(Tag.ResetSeqNumFlag, "141") +
          pick(Tag.ClOrdID, "11") +
          pick(Tag.ExecID, "17") +
          pick(Tag.Text, "58")
        ).trim(),
      });
    };
    const ignore = () => undefined;
    socket.on("data", (d: Buffer) => inbound.push(d, record("in"), ignore));
    const write = socket.write.bind(socket) as (chunk: unknown, ...rest: unknown[]) => boolean;
    (socket as unknown as { write: typeof write }).write = (chunk, ...rest) => {
      if (Buffer.isBuffer(chunk)) outbound.push(chunk, record("out"), ignore);
      return write(chunk, ...rest);
    };
  }

  private push(e: WireEntry): void {
    this.total++;
    if (SESSION_TYPES.has(e.msgType)) this.session.push(e);
    if (this.ring.length < this.capacity) this.ring.push(e);
    else this.ring[this.next] = e;
    this.next = (this.next + 1) % this.capacity;
  }
}
