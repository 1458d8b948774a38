import { connect, createServer, type Server, type Socket } from "node:net";
import { Framer, Tag } from "@fixmesh/fix";

/**
 * A loopback TCP proxy that can drop chosen messages flowing from the server to the client — the demo's way of
 * forcing a real sequence gap on the wire.
 */
export class DropProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  /** Returns true for a message (server → client) that must vanish. */
  dropIf: ((msgType: string, seq: number) => boolean) | null = null;
  onDrop: ((msgType: string, seq: number) => void) | null = null;

  constructor(
    private readonly targetPort: number,
    private readonly host = "127.0.0.1",
  ) {}

  async listen(): Promise<number> {
    const server = createServer((client) => this.onClient(client));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, this.host, resolve));
    const a = server.address();
    return typeof a === "object" && a !== null ? a.port : 0;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  private onClient(client: Socket): void {
    const upstream = connect({ host: this.host, port: this.targetPort });
    this.sockets.add(client);
    this.sockets.add(upstream);
    const framer = new Framer();
    client.on("data", (d) => upstream.write(d));
    upstream.on("data", (d: Buffer) => {
      framer.push(
        d,
        (m) => {
          const seq = m.getInt(Tag.MsgSeqNum) ?? 0;
          if (this.dropIf?.(m.msgType, seq)) {
            this.onDrop?.(m.msgType, seq);
            return;
          }
          client.write(m.raw);
        },
        (g) => client.write(g.bytes),
      );
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", close);
    upstream.on("close", close);
    client.on("error", close);
    upstream.on("error", close);
  }
}
