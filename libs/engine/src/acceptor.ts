import { createServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type PeerCertificate, type TLSSocket, type TlsOptions } from "node:tls";
import { Framer, type FramerOptions, MsgType, Tag } from "@fixmesh/fix";
import type { AddressAllowList } from "./address-allow-list.js";
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
  /** Source addresses allowed to connect; a connection from elsewhere is closed at accept. Default: any. */
  allowFrom?: AddressAllowList;
  /** At most this many open connections from one source address; more are closed at accept. Default: no limit. */
  maxConnectionsPerAddress?: number;
  /**
   * Checks every Logon before its session sees it (credentials, the session's own allow-list, the client
   * certificate). Also called for a Logon naming no registered session (`session` undefined), whose answer is
   * always a refusal: a checker that spends the same time on it (a decoy hash) gives no CompID away by timing.
   */
  authenticate?: (req: LogonRequest) => LogonVerdict | Promise<LogonVerdict>;
  /** Every refused connection or Logon, for a metric. Never carries a credential. */
  onRefused?: (r: Refusal) => void;
  /**
   * Dynamic sessions (QuickFIX's AcceptorTemplate). For a Logon naming no registered session, `match` gives the
   * id of the session a template would create for it (undefined: none matches, the Logon is refused as unknown);
   * the Logon is checked by `authenticate` under that id first, and only then `create` makes the session and
   * registers it here — an unauthenticated peer creates nothing.
   */
  dynamicSessions?: {
    match(ids: DynamicSessionIds): string | undefined;
    create(ids: DynamicSessionIds): Promise<SessionRunner | undefined>;
  };
}

/** The identity a Logon for a dynamic session asks for (the counterparty's CompIDs, as in its Logon). */
export interface DynamicSessionIds {
  beginString: string;
  /** The counterparty's SenderCompID (our TargetCompID). */
  senderCompID: string;
  /** Its TargetCompID (our SenderCompID). */
  targetCompID: string;
}

/** What `authenticate` gets: strings read from the Logon at once (its parse buffer is reused). */
export interface LogonRequest {
  /** The session's id (`FIX.4.4:US->THEM`); undefined when no registered session has these CompIDs. */
  session: string | undefined;
  beginString: string;
  /** The counterparty's SenderCompID (our TargetCompID). */
  senderCompID: string;
  targetCompID: string;
  /** The session's UsernameTag (553 unless configured otherwise), when present. */
  username?: string;
  /** The session's PasswordTag (554 unless configured otherwise), when present. Never log it. */
  password?: string;
  /** The peer's IP address. */
  address: string;
  /** TLS ports: the client's certificate, when it sent one, and whether it chains to the configured CA. */
  certificate?: PeerCertificate;
  certificateAuthorized?: boolean;
}

export type LogonVerdict =
  | { ok: true }
  /** `reason`: a short code for logs and metrics (`credentials`); `text`: the Logout's Text(58). */
  | { ok: false; reason: string; text: string };

/** A refusal: `reason` is one of a small set of codes (metric label), `peer` is `address:port`. */
export interface Refusal {
  reason: string;
  peer: string;
  session?: string;
}

/** The Text(58) of the Logout a refused Logon gets (the same whatever failed: a prober learns nothing from it). */
export const LOGON_REFUSED_TEXT = "Logon refused";

/**
 * Accepts connections on one port for every registered session. A connection from an address outside `allowFrom`
 * or beyond `maxConnectionsPerAddress` is closed at accept. The first message must be a Logon whose
 * BeginString/SenderCompID/TargetCompID name a registered session (ours reversed): garbled bytes, another message
 * type or a Logon for an unknown session close the connection without a word (QuickFIX's acceptance tests 1c, 1d);
 * a Logon `authenticate` refuses is answered with a Logout (Text: the verdict's text) through its session and the
 * connection closed; a session that is already connected refuses a second connection. Every refusal is logged with the peer's address (never a password)
 * and counted in `refusals`.
 */
export class Acceptor {
  private readonly sessions = new Map<string, SessionRunner>();
  private readonly sockets = new Set<Socket>();
  private readonly perAddress = new Map<string, number>();
  private server: Server | null = null;
  private readonly opts: AcceptorOptions;
  /** Refusals so far, by reason. */
  readonly refusals = new Map<string, number>();

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
    // "connection" is the TCP accept (before any TLS handshake): the address checks happen there.
    server.on("connection", (raw: Socket) => this.onAccept(raw));
    if (this.opts.tls) {
      server.on("tlsClientError", (err: Error & { code?: string }, s: TLSSocket) => {
        const peer = `${s.remoteAddress}:${s.remotePort}`;
        this.opts.logger?.warn({ peer, err: err.code ?? err.message }, "TLS handshake failed; closing");
        this.refuse("tls_handshake", peer);
      });
    }
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

  private refuse(reason: string, peer: string, session?: string): void {
    this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + 1);
    this.opts.onRefused?.({ reason, peer, ...(session !== undefined && { session }) });
  }

  /** The TCP accept: the allow-list and the per-address limit, before a byte is read. */
  private onAccept(raw: Socket): void {
    const address = raw.remoteAddress ?? "";
    const peer = `${address}:${raw.remotePort}`;
    const log = this.opts.logger;
    if (this.opts.allowFrom !== undefined && !this.opts.allowFrom.allows(address)) {
      log?.warn({ peer }, "address not in allowFrom; closing");
      this.refuse("address", peer);
      raw.destroy();
      return;
    }
    const max = this.opts.maxConnectionsPerAddress;
    if (max === undefined) return;
    const n = this.perAddress.get(address) ?? 0;
    if (n >= max) {
      log?.warn({ peer, open: n, max }, "too many connections from this address; closing");
      this.refuse("connection_limit", peer);
      raw.destroy();
      return;
    }
    this.perAddress.set(address, n + 1);
    raw.once("close", () => {
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, left);
    });
  }

  private onConnection(socket: Socket): void {
    if (socket.destroyed) return;
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
        this.refuse("logon_timeout", peer);
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
        this.refuse("garbled", peer);
        socket.destroy();
        return;
      }
      const logon = firstEvent.msg;
      if (logon.msgType !== MsgType.Logon) {
        log?.warn({ peer, msgType: logon.msgType }, "first message is not a Logon; closing");
        this.refuse("not_logon", peer);
        socket.destroy();
        return;
      }
      const beginString = logon.valueAt(0);
      const sender = logon.get(Tag.SenderCompID) ?? "";
      const target = logon.get(Tag.TargetCompID) ?? "";
      const runner = this.sessions.get(keyOf(beginString, target, sender));
      if (runner?.connected) {
        log?.warn({ peer, session: runner.id }, "session already connected (duplicate identity); closing");
        this.refuse("duplicate", peer, runner.id);
        socket.destroy();
        return;
      }
      const dynamic = this.opts.dynamicSessions;
      const ids: DynamicSessionIds = { beginString, senderCompID: sender, targetCompID: target };
      const dynamicId = runner === undefined ? dynamic?.match(ids) : undefined;
      /** Creates the dynamic session (after the check) and hands it the connection. */
      const createAndHand = (): void => {
        socket.pause();
        (dynamic as NonNullable<typeof dynamic>).create(ids).then(
          (made) => {
            if (socket.destroyed) return;
            if (made === undefined) this.refuseUnknown(socket, peer, beginString, sender, target);
            else this.hand(socket, made, framer, events, peer);
          },
          (err: unknown) => {
            log?.error(
              { peer, session: dynamicId, err: err instanceof Error ? err.message : String(err) },
              "dynamic session could not be created; closing",
            );
            this.refuse("dynamic_session_failed", peer, dynamicId);
            socket.destroy();
          },
        );
      };
      const check = this.opts.authenticate;
      if (check === undefined) {
        if (runner === undefined && dynamicId !== undefined) createAndHand();
        else if (runner === undefined) this.refuseUnknown(socket, peer, beginString, sender, target);
        else this.hand(socket, runner, framer, events, peer);
        return;
      }
      // Read what the checker needs now: the message's field index lives in a parse buffer reused by the framer.
      const s = runner?.state.settings;
      const username = logon.get(s?.UsernameTag ?? Tag.Username);
      const password = logon.get(s?.PasswordTag ?? Tag.Password);
      const tlsSocket = socket as Partial<TLSSocket>;
      const cert = typeof tlsSocket.getPeerCertificate === "function" ? tlsSocket.getPeerCertificate() : undefined;
      const req: LogonRequest = {
        session: runner?.id ?? dynamicId,
        beginString,
        senderCompID: sender,
        targetCompID: target,
        address: normalizeAddress(socket.remoteAddress),
        ...(username !== undefined && { username }),
        ...(password !== undefined && { password }),
        ...(cert !== undefined && Object.keys(cert).length > 0 && { certificate: cert }),
        ...(tlsSocket.authorized !== undefined && { certificateAuthorized: tlsSocket.authorized }),
      };
      // Bytes that arrive while the check runs wait in the socket (a paused socket emits no data).
      socket.pause();
      Promise.resolve()
        .then(() => check(req))
        .then(
          (verdict) => {
            if (socket.destroyed) return;
            const current = runner === undefined ? undefined : this.sessions.get(keyOf(beginString, target, sender));
            if (runner === undefined && dynamicId !== undefined && verdict.ok) {
              createAndHand();
              return;
            }
            if (runner === undefined || current !== runner) {
              this.refuseUnknown(
                socket,
                peer,
                beginString,
                sender,
                target,
                verdict.ok ? "unknown_session" : verdict.reason,
              );
              return;
            }
            if (verdict.ok) {
              this.hand(socket, runner, framer, events, peer);
              return;
            }
            log?.warn(
              { peer, session: runner.id, reason: verdict.reason, ...(username !== undefined && { username }) },
              "Logon refused",
            );
            this.refuse(verdict.reason, peer, runner.id);
            // The session answers with a Logout (its MsgSeqNum, persisted) and disconnects.
            if (runner.attach(socket, framer, events, { refuseLogon: verdict.text })) socket.resume();
            else socket.destroy();
          },
          (err: unknown) => {
            log?.error(
              { peer, session: runner?.id, err: err instanceof Error ? err.message : String(err) },
              "Logon check failed; closing",
            );
            this.refuse("check_failed", peer, runner?.id);
            socket.destroy();
          },
        );
    };
    socket.on("data", onData);
  }

  private hand(socket: Socket, runner: SessionRunner, framer: Framer, events: FramedEvent[], peer: string): void {
    if (!runner.attach(socket, framer, events)) {
      this.opts.logger?.warn({ peer, session: runner.id }, "session already connected (duplicate identity); closing");
      this.refuse("duplicate", peer, runner.id);
      socket.destroy();
      return;
    }
    socket.resume();
  }

  /**
   * A Logon naming no registered session (unknown CompIDs or BeginString): closed without a word. There is no
   * session whose MsgSeqNum a Logout could carry, and QuickFIX's acceptance tests (1c_InvalidSenderCompID,
   * 1c_InvalidTargetCompID, 1d_InvalidLogonWrongBeginString) require the plain disconnect.
   */
  private refuseUnknown(
    socket: Socket,
    peer: string,
    beginString: string,
    sender: string,
    target: string,
    reason = "unknown_session",
  ): void {
    this.opts.logger?.warn({ peer, beginString, sender, target, reason }, "Logon for an unknown session; closing");
    this.refuse(reason, peer);
    socket.destroy();
  }
}

function keyOf(beginString: string, ours: string, theirs: string): string {
  return `${beginString}\x01${ours}\x01${theirs}`;
}

/** `::ffff:10.1.2.3` (an IPv4 client on a dual-stack port) → `10.1.2.3`. */
function normalizeAddress(a: string | undefined): string {
  if (a === undefined) return "";
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return m === null ? a : m[1];
}
