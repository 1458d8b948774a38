/**
 * A TCP proxy in front of a Redis, for tests of the store's failure paths (`@fixmesh/store/testing`). A test can
 * stall it (bytes towards Redis are swallowed: a half-open link, where nothing fails and nothing answers), make it
 * lose Redis's replies (commands run, their answers never arrive), reset every link it carries, cut it (connections
 * reset, new ones refused) and bring it back.
 */
import { once } from "node:events";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";

export class RedisProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private stalled = false;
  private losingReplies = false;
  port = 0;

  /** `target`: the Redis behind it (default REDIS_URL, else redis://127.0.0.1:6379). */
  constructor(private readonly target = process.env.REDIS_URL ?? "redis://127.0.0.1:6379") {}

  async start(): Promise<void> {
    this.stalled = false;
    this.losingReplies = false;
    const { hostname, port } = new URL(this.target);
    const server = createServer((down) => {
      const up = netConnect(Number(port || 6379), hostname);
      for (const s of [down, up]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => {}); // a reset link is what these tests cause; ioredis reports its side
      }
      down.on("data", (d) => {
        if (!this.stalled) up.write(d);
      });
      up.on("data", (d) => {
        if (!this.losingReplies) down.write(d);
      });
      down.on("close", () => up.destroy());
      up.on("close", () => down.destroy());
    });
    server.listen(this.port, "127.0.0.1");
    await once(server, "listening");
    const address = server.address();
    if (address === null || typeof address !== "object") throw new Error("redis proxy: no address");
    this.port = address.port;
    this.server = server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  stall(): void {
    this.stalled = true;
  }

  /** Commands still reach Redis and run; their replies are dropped. */
  loseReplies(): void {
    this.losingReplies = true;
  }

  /**
   * Resets every connection and forwards normally again (a client whose replies were lost cannot go on with that
   * connection); new connections are taken as before.
   */
  resetLinks(): void {
    for (const s of this.sockets) s.destroy();
    this.stalled = false;
    this.losingReplies = false;
  }

  /** Resets every connection and stops listening: the client's reconnects are refused until `start()`. */
  async cut(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = null;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
