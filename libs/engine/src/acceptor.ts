import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type TlsOptions } from "node:tls";
import { Framer, type FramerOptions, MsgType, Tag } from "@fixmesh/fix";
import type { FramedEvent, RunnerLogger, SessionRunner } from "./runner.js";

export interface AcceptorOptions {
  host?: string;
  /** 0 picks a free port. */
  port: number;
  framer?: FramerOptions;
  /** Seconds to wait for the first message (the Logon) before closing. */
  logonTimeout?: number;
  /** Serve TLS with these options (cert, key, ca, requestCert…). */
  tls?: TlsOptions;
  logger?: RunnerLogger;
}

/**
 * Accepts connections on one port for every registered session. The first message must be a Logon whose
 * BeginString/SenderCompID/TargetCompID name a registered session (ours reversed); anything else — garbled
 * bytes, another message type, an unknown CompID, a session that is already connected — closes the
 * connection without a word, logged with the peer's address.
 */
export class Acceptor {
  private readonly sessions = new Map<string, SessionRunner>();
  private readonly sockets = new Set<Socket>();
  private server: Server | null = null;
  private readonly opts: AcceptorOptions;

  constructor(opts: AcceptorOptions) {
    this.opts = opts;
  }

  /** Registers a session under its BeginString and CompIDs. */
  register(runner: SessionRunner): void {
    const s = runner.state.settings;
    this.sessions.set(keyOf(s.BeginString, s.SenderCompID, s.TargetCompID), runner);
  }

  /**
   * Removes `runner` (if it is still the one registered under its identity): a Logon for it is then refused as
   * for an unknown session. Connections it already has are its own to close.
   */
  unregister(runner: SessionRunner): void {
    const s = runner.state.settings;
    const key = keyOf(s.BeginString, s.SenderCompID, s.TargetCompID);
    if (this.sessions.get(key) === runner) this.sessions.delete(key);
  }

  /** True while the port is open. */
  get listening(): boolean {
    return this.server !== null;
  }

  get port(): number {
    const a = this.server?.address();
    return typeof a === "object" && a !== null ? a.port : 0;
  }

  async listen(): Promise<number> {
    const onConn = (socket: Socket) => this.onConnection(socket);
    const server = this.opts.tls ? createTlsServer(this.opts.tls, onConn) : createServer(onConn);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.port, this.opts.host ?? "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    return this.port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private onConnection(socket: Socket): void {
    const log = this.opts.logger;
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", (err) => log?.warn({ peer, err: err.message }, "socket error"));
    socket.setNoDelay(true);
    const framer = new Framer(this.opts.framer);
    const timer = setTimeout(
      () => {
        log?.warn({ peer }, "no Logon in time; closing");
        socket.destroy();
      },
      (this.opts.logonTimeout ?? 10) * 1000,
    );
    timer.unref();
    let decided = false;
    const onData = (chunk: Buffer) => {
      if (decided) return;
      const events: FramedEvent[] = [];
      framer.push(
        chunk,
        (msg) => events.push({ type: "message", msg }),
        (g) => events.push({ type: "garbled", reason: g.reason }),
      );
      if (events.length === 0) return; // the Logon is still arriving
      decided = true;
      clearTimeout(timer);
      socket.off("data", onData);
      const firstEvent = events[0];
      if (firstEvent.type === "garbled") {
        log?.warn({ peer, reason: firstEvent.reason }, "garbled data before Logon; closing");
        socket.destroy();
        return;
      }
      const logon = firstEvent.msg;
      if (logon.msgType !== MsgType.Logon) {
        log?.warn({ peer, msgType: logon.msgType }, "first message is not a Logon; closing");
        socket.destroy();
        return;
      }
      const key = keyOf(logon.valueAt(0), logon.get(Tag.TargetCompID) ?? "", logon.get(Tag.SenderCompID) ?? "");
      const runner = this.sessions.get(key);
      if (runner === undefined) {
        log?.warn(
          {
            peer,
            beginString: logon.valueAt(0),
            sender: logon.get(Tag.SenderCompID),
            target: logon.get(Tag.TargetCompID),
          },
          "Logon for an unknown session; closing",
        );
        socket.destroy();
        return;
      }
      if (!runner.attach(socket, framer, events)) {
        log?.warn({ peer, session: runner.id }, "session already connected (duplicate identity); closing");
        socket.destroy();
      }
    };
    socket.on("data", onData);
  }
}

function keyOf(beginString: string, ours: string, theirs: string): string {
  return `${beginString}\x01${ours}\x01${theirs}`;
}
