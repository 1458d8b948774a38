import { connect, createServer, type Server, type Socket } from "node:net";
import { Framer, Tag } from "@fixmesh/fix";

/** One message seen on the wire, from the side that wrote it. */
export interface WireRecord {
  from: string;
  to: string;
  msgType: string;
  seq: number;
  text: string;
  /** Written by `from` but never delivered to `to` (the tap was holding that direction back). */
  dropped: boolean;
  /** When the tap read it (performance.now(): ms since the test process started). */
  at: number;
}

/**
 * A loopback TCP proxy between the two engines that records every message both ways (the capture a failing
 * interop test prints), can swallow what the client writes (bytes that left the client but never reached the
 * server: a network that loses them), and can cut every connection.
 */
export class WireTap {
  readonly records: WireRecord[] = [];
  /** Swallow what the client writes (recorded with `dropped: true`). */
  holdClient = false;
  port = 0;
  private server: Server | null = null;
  private readonly pairs = new Set<[Socket, Socket]>();

  constructor(
    private readonly targetPort: number,
    private readonly names: { client: string; server: string },
  ) {}

  async listen(): Promise<number> {
    const server = createServer((client) => this.onClient(client));
    this.server = server;
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const a = server.address();
    this.port = typeof a === "object" && a !== null ? a.port : 0;
    return this.port;
  }

  /** Destroys every connection through the tap, both sides at once (a network failure, no FIN exchange). */
  cut(): void {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.cut();
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  /** Messages `from` wrote, optionally of one MsgType. */
  sentBy(from: string, msgType?: string): WireRecord[] {
    return this.records.filter((r) => r.from === from && (msgType === undefined || r.msgType === msgType));
  }

  /** The capture, one message a line: `client → server  8=FIX.4.4|9=…|`. */
  transcript(): string {
    return this.records
      .map((r) => `${r.at.toFixed(1).padStart(8)} ms  ${r.from} → ${r.to}${r.dropped ? " (DROPPED)" : ""}  ${r.text}`)
      .join("\n");
  }

  private onClient(client: Socket): void {
    const upstream = connect({ host: "127.0.0.1", port: this.targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    // Without this, Nagle on the tap (against delayed ACKs) holds small messages back ~40 ms.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const fromClient = new Framer();
    const fromServer = new Framer();
    const { client: c, server: s } = this.names;
    client.on("data", (d: Buffer) => {
      const held = this.holdClient;
      this.record(fromClient, d, c, s, held);
      if (!held) upstream.write(d);
    });
    upstream.on("data", (d: Buffer) => {
      this.record(fromServer, d, s, c, false);
      client.write(d);
    });
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const sock of pair) {
      sock.on("close", close);
      sock.on("error", close);
    }
  }

  private record(framer: Framer, chunk: Buffer, from: string, to: string, dropped: boolean): void {
    const at = performance.now();
    framer.push(
      chunk,
      (m) =>
        this.records.push({
          from,
          to,
          msgType: m.msgType,
          seq: m.getInt(Tag.MsgSeqNum) ?? 0,
          text: m.raw.toString("latin1").replaceAll("\x01", "|"),
          dropped,
          at,
        }),
      (g) =>
        this.records.push({
          from,
          to,
          msgType: "?",
          seq: 0,
          text: `GARBLED (${g.reason}) ${g.bytes.toString("latin1").replaceAll("\x01", "|")}`,
          dropped,
          at,
        }),
    );
  }
}
