/**
 * Test fixtures for the chaos proxy's own tests: FIX bytes made by hand, and plain TCP peers on loopback that record
 * what they receive. Not exported from the package.
 */
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { Framer, Tag } from "@fixmesh/fix";

/**
 * A valid FIX 4.4 message: `35=<msgType>|34=<seq>|49=VENUE|56=CLIENT|52=…|[43=Y|]<fields>` with BodyLength and
 * CheckSum computed here. `fields` uses `|` for SOH and ends with one.
 */
export function fixMessage(msgType: string, seq: number, opts: { possDup?: boolean; fields?: string } = {}): Buffer {
  const body = `35=${msgType}|34=${seq}|49=VENUE|56=CLIENT|52=20240105-14:30:15.123|${opts.possDup ? "43=Y|122=20240105-14:30:15.000|" : ""}${opts.fields ?? ""}`;
  const bodyBytes = Buffer.from(body.replaceAll("|", "\x01"), "latin1");
  const head = Buffer.from(`8=FIX.4.4\x019=${bodyBytes.length}\x01`, "latin1");
  const before = Buffer.concat([head, bodyBytes]);
  let sum = 0;
  for (const b of before) sum += b;
  return Buffer.concat([before, Buffer.from(`10=${String(sum % 256).padStart(3, "0")}\x01`, "latin1")]);
}

/** What a peer received, framed: one entry per whole message. */
export interface Received {
  msgType: string;
  seq: number | undefined;
  possDup: boolean;
  raw: Buffer;
}

/** One end of a TCP connection that records every byte it receives. */
export class Peer {
  private readonly chunks: Buffer[] = [];
  /** Resolves when the socket closes (either way). */
  readonly closed: Promise<void>;
  isClosed = false;
  /** The other side sent FIN. */
  gotEnd = false;
  /** Times (performance.now()) at which each chunk arrived. */
  readonly arrivals: number[] = [];

  constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on("data", (d: Buffer) => {
      this.chunks.push(d);
      this.arrivals.push(performance.now());
    });
    socket.on("end", () => {
      this.gotEnd = true;
    });
    // Tests cut and reset connections on purpose; the error a peer sees then is what they assert through `closed`.
    socket.on("error", () => undefined);
    this.closed = once(socket, "close").then(() => {
      this.isClosed = true;
    });
  }

  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** The received bytes framed into messages (anything garbled is left out). */
  messages(): Received[] {
    const out: Received[] = [];
    new Framer().push(
      this.bytes,
      (m) => {
        const seq = m.getInt(Tag.MsgSeqNum);
        out.push({ msgType: m.msgType, seq, possDup: m.flag(Tag.PossDupFlag), raw: Buffer.from(m.raw) });
      },
      () => undefined,
    );
    return out;
  }

  /** MsgSeqNums received, in order. */
  seqs(): Array<number | undefined> {
    return this.messages().map((m) => m.seq);
  }

  write(b: Buffer | string): void {
    this.socket.write(b);
  }

  /** Writes one byte per event-loop turn, so each byte leaves as its own TCP segment. */
  async writeBytewise(b: Buffer): Promise<void> {
    for (let i = 0; i < b.length; i++) {
      this.socket.write(b.subarray(i, i + 1));
      await new Promise((r) => setImmediate(r));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A loopback TCP server standing in for the FIX acceptor: records every connection it accepts. */
export class Target {
  readonly peers: Peer[] = [];
  private waiting: Array<(p: Peer) => void> = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {
    server.on("connection", (s) => {
      const p = new Peer(s);
      this.peers.push(p);
      const w = this.waiting.shift();
      if (w) w(p);
    });
  }

  static async start(): Promise<Target> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const a = server.address();
    if (a === null || typeof a === "string") throw new Error("no address");
    return new Target(server, a.port);
  }

  /** The `n`-th accepted connection (0-based), waiting up to `ms` for it. */
  async peer(n = 0, ms = 2000): Promise<Peer> {
    await waitFor(() => this.peers.length > n, ms, `connection ${n} at the target`);
    return this.peers[n];
  }

  async close(): Promise<void> {
    for (const p of this.peers) p.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** Connects a client peer to `port` on 127.0.0.1. */
export async function dial(port: number): Promise<Peer> {
  const s = connect({ host: "127.0.0.1", port });
  const p = new Peer(s);
  await once(s, "connect");
  return p;
}

/** Resolves when `check` returns true (polled every 5 ms), or rejects after `ms`. */
export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(5);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
