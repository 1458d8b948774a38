import { connect, createServer, type Server, type Socket } from "node:net";
import { Framer, Tag } from "@fixmesh/fix";

/**
 * A loopback TCP proxy for failure tests: forwards both ways, and can drop chosen messages from the server,
 * stall (stop forwarding without closing: a half-open link), or cut every connection.
 */
export class FaultProxy {
  private server: Server | null = null;
  private readonly pairs = new Set<[Socket, Socket]>();
  dropFromServer: ((msgType: string, seq: number) => boolean) | null = null;
  stalled = false;
  port = 0;

  constructor(private readonly targetPort: number) {}

  async listen(): Promise<number> {
    const server = createServer((client) => this.onClient(client));
    this.server = server;
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const a = server.address();
    this.port = typeof a === "object" && a !== null ? a.port : 0;
    return this.port;
  }

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

  private onClient(client: Socket): void {
    const upstream = connect({ host: "127.0.0.1", port: this.targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const framer = new Framer();
    client.on("data", (d) => {
      if (!this.stalled) upstream.write(d);
    });
    upstream.on("data", (d: Buffer) => {
      if (this.stalled) return;
      framer.push(
        d,
        (m) => {
          if (this.dropFromServer?.(m.msgType, m.getInt(Tag.MsgSeqNum) ?? 0)) return;
          client.write(m.raw);
        },
        (g) => client.write(g.bytes),
      );
    });
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of pair) {
      s.on("close", close);
      s.on("error", close);
    }
  }
}

/** Resolves when `check` returns true (polled), or rejects after `ms`. */
export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
