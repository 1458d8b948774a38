/**
 * What the failover tests share: connector processes (`fixmesh connector --config …`, killed by their PID), the
 * venue simulator behind a wire tap that records, per TCP connection, every message the connectors send, and an
 * order pump that sends to whichever process leads.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  createGrpcClient,
  type FieldSchema,
  type GrpcClientOf,
  RpcError,
  SessionHealth,
  SessionService,
} from "@fixmesh/contracts";
import { Framer, formatUtcTimestamp, MsgType, Tag } from "@fixmesh/fix";
import { createRedisClient, sessionKeys } from "@fixmesh/store";
import { parseVenueSimConfig, startVenueSim, type VenueSim } from "@fixmesh/venue-sim";
import * as grpc from "@grpc/grpc-js";

export const REPO = fileURLToPath(new URL("../../../../", import.meta.url));
export const CLI = join(REPO, "apps/cli/dist/main.js");
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const SESSION = "FIX.4.4:CLIENT->VENUE";

/** The election timing of these tests (seconds): a SIGKILLed leader's lock expires 1 s after its last renewal. */
export const LEASE = { leaseDuration: 1, renewDeadline: 0.6, retryPeriod: 0.1 };

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor(check: () => boolean, ms: number, what: string, stepMs = 2): Promise<void> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

export function freshPrefix(): string {
  return `fixmesh-test-${Math.random().toString(36).slice(2, 10)}`;
}

/** The SAFE reason the session's Redis store holds under `prefix` (undefined: not SAFE). */
export async function storedSafe(prefix: string, session = SESSION): Promise<string | undefined> {
  const r = createRedisClient(REDIS_URL);
  await r.connect();
  try {
    return (await r.hget(sessionKeys(prefix, session).meta, "safe")) ?? undefined;
  } finally {
    await r.quit();
  }
}

/** Deletes the session's keys under `prefix` (store and election). */
export async function deleteSessionKeys(prefix: string, session = SESSION): Promise<void> {
  const r = createRedisClient(REDIS_URL);
  await r.connect();
  try {
    const keys = await r.keys(sessionKeys(prefix, session).pattern);
    if (keys.length > 0) await r.unlink(...keys);
  } finally {
    await r.quit();
  }
}

// --- the venue behind a wire tap --------------------------------------------------------------------------------

/** One message a connector put on the wire, with the TCP connection it came on. */
export interface TappedMessage {
  conn: number;
  at: number;
  msgType: string;
  seq: number;
  possDup: boolean;
  resetSeqNumFlag: boolean;
  clOrdId: string | undefined;
}

export interface TappedConnection {
  id: number;
  openedAt: number;
  closedAt: number | null;
}

/**
 * A TCP proxy in front of the venue that frames what each connection sends (connector → venue) and records it
 * with the connection's number; `toClientDelayMs` holds the venue's answers back that long.
 */
export class WireTap {
  readonly sent: TappedMessage[] = [];
  readonly conns: TappedConnection[] = [];
  toClientDelayMs = 0;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly targetPort: number) {}

  async start(): Promise<number> {
    const server = createServer((down) => this.accept(down));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    this.server = server;
    const a = server.address();
    this.port = typeof a === "object" && a !== null ? a.port : 0;
    return this.port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const s = this.server;
    this.server = null;
    if (s !== null) await new Promise<void>((r) => s.close(() => r()));
  }

  /** The connections whose traffic includes a Logon (the refused attempts of a standby have one too). */
  on(conn: number): TappedMessage[] {
    return this.sent.filter((m) => m.conn === conn);
  }

  private accept(down: Socket): void {
    const c: TappedConnection = { id: this.conns.length + 1, openedAt: performance.now(), closedAt: null };
    this.conns.push(c);
    const up = netConnect(this.targetPort, "127.0.0.1");
    const framer = new Framer();
    for (const s of [down, up]) {
      this.sockets.add(s);
      s.on("error", () => {}); // resets are what these tests cause
    }
    // What the connector sent before its end (a SIGKILL resets the connection) still reaches the venue, as it
    // would through a network: the venue's side is ended after the bytes already read, not destroyed.
    down.on("close", () => {
      this.sockets.delete(down);
      if (c.closedAt === null) c.closedAt = performance.now();
      up.end();
    });
    up.on("close", () => {
      this.sockets.delete(up);
      if (c.closedAt === null) c.closedAt = performance.now();
      down.destroy();
    });
    down.on("data", (d: Buffer) => {
      const at = performance.now();
      framer.push(
        d,
        (m) =>
          this.sent.push({
            conn: c.id,
            at,
            msgType: m.msgType,
            seq: m.getInt(Tag.MsgSeqNum) ?? -1,
            possDup: m.flag(Tag.PossDupFlag),
            resetSeqNumFlag: m.flag(Tag.ResetSeqNumFlag),
            clOrdId: m.get(Tag.ClOrdID),
          }),
        () => {},
      );
      up.write(d);
    });
    up.on("data", (d: Buffer) => {
      if (this.toClientDelayMs > 0) setTimeout(() => down.write(d), this.toClientDelayMs);
      else down.write(d);
    });
  }
}

export interface TappedVenue {
  venue: VenueSim;
  tap: WireTap;
  /** ClOrdID → how many times the venue's application took the order in (acknowledged it New, or rejected it). */
  taken: Map<string, number>;
  stop(): Promise<void>;
}

/** The venue simulator (FIX 4.4, VENUE↔CLIENT, immediate fills) behind a wire tap. */
export async function startTappedVenue(): Promise<TappedVenue> {
  const venue = await startVenueSim(
    parseVenueSimConfig({
      listen: { host: "127.0.0.1", port: 0 },
      sessions: [
        { BeginString: "FIX.4.4", SenderCompID: "VENUE", TargetCompID: "CLIENT", HeartBtInt: 5, NonStopSession: true },
      ],
      policy: { fill: "immediate", referencePrice: 100, priceBandPercent: 50 },
    }),
  );
  const tap = new WireTap(venue.port);
  await tap.start();
  // What the venue's application saw, which is what "exactly once" is about: the wire may carry a message twice
  // (an original the venue discarded while recovering a gap, then its PossDupFlag copy), the application never.
  const taken = new Map<string, number>();
  const off = venue.onExecution(({ event }) => {
    if (event.kind === "new" || event.kind === "rejected")
      taken.set(event.clOrdId, (taken.get(event.clOrdId) ?? 0) + 1);
  });
  return {
    venue,
    tap,
    taken,
    async stop() {
      off();
      await tap.stop();
      await venue.stop(0);
    },
  };
}

// --- connector processes ----------------------------------------------------------------------------------------

export interface ConnectorFiles {
  dir: string;
  config: string;
  cleanup(): void;
}

/**
 * A config file: one initiator session CLIENT→VENUE through the tap, Redis store and Redis election (the lock
 * always on REDIS_URL; the store on `storeUrl` when given, e.g. through a proxy).
 */
export function writeConfig(o: {
  redisPrefix: string;
  venuePort: number;
  heartBtInt?: number;
  storeUrl?: string;
  /** The Redis the lock lives in (default REDIS_URL). */
  electionUrl?: string;
  /** The Lease backend instead of Redis: the Lease API server's URL (the in-test one), namespace and name. */
  lease?: { apiServer: string; namespace: string; name: string };
}): ConnectorFiles {
  const dir = mkdtempSync(join(tmpdir(), "fixmesh-election-"));
  const config = join(dir, "connector.yaml");
  // election.redis.url names the same server as the store by default; given here so a store proxy leaves the lock alone.
  const timing = `leaseDuration: ${LEASE.leaseDuration}, renewDeadline: ${LEASE.renewDeadline}, retryPeriod: ${LEASE.retryPeriod}`;
  writeFileSync(
    config,
    [
      "connector: { id: failover }",
      `store: { kind: redis, redis: { url: "${o.storeUrl ?? REDIS_URL}", prefix: ${o.redisPrefix} } }`,
      o.lease === undefined
        ? `election: { kind: redis, ${timing}, redis: { url: "${o.electionUrl ?? REDIS_URL}" } }`
        : `election: { kind: lease, ${timing}, lease: { apiServer: "${o.lease.apiServer}", namespace: ${o.lease.namespace}, name: ${o.lease.name} } }`,
      "sessions:",
      "  - BeginString: FIX.4.4",
      "    SenderCompID: CLIENT",
      "    TargetCompID: VENUE",
      "    ConnectionType: initiator",
      `    HeartBtInt: ${o.heartBtInt ?? 5}`,
      "    NonStopSession: Y",
      "    ReconnectInterval: 0.1",
      "    ReconnectMaxInterval: 0.3",
      "    LogoutTimeout: 1",
      `    initiator: { hosts: [{ host: 127.0.0.1, port: ${o.venuePort} }] }`,
      "grpc: { plaintext: true, host: 127.0.0.1, port: 0 }",
      "metrics: { host: 127.0.0.1, port: 0 }",
      "log: { level: info }",
      "",
    ].join("\n"),
  );
  return { dir, config, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

type Client = GrpcClientOf<typeof SessionService>;

/** A pino line of a connector's log, parsed. */
export type LogLine = Record<string, unknown> & { msg?: string; time?: number; at: number };

/** `fixmesh connector` as a child process; every signal goes to its PID. */
export class ConnectorProcess {
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  grpcPort = 0;
  rpc!: Client;
  private conn: grpc.Client | null = null;
  private gone = false;

  private constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
  ) {
    this.exited = new Promise((resolve) =>
      proc.once("exit", (code, signal) => {
        this.gone = true;
        resolve({ code, signal });
      }),
    );
  }

  static async spawn(name: string, config: string): Promise<ConnectorProcess> {
    const proc = spawn(process.execPath, [CLI, "connector", "--config", config], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, FIXMESH_LOG_LEVEL: "info" },
    });
    const p = new ConnectorProcess(name, proc);
    const listening = new Promise<number>((resolve, reject) => {
      const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
      lines.on("line", (line) => {
        let o: Record<string, unknown>;
        try {
          o = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        const l = o.listening as { grpc?: number } | undefined;
        if (l !== undefined) resolve(l.grpc ?? 0);
        else p.logs.push({ ...o, at: performance.now() });
      });
      createInterface({ input: proc.stderr as NodeJS.ReadableStream }).on("line", (line) => p.stderr.push(line));
      void p.exited.then(({ code, signal }) =>
        reject(new Error(`${name} exited (${code ?? signal}) before listening: ${p.stderr.join("\n")}`)),
      );
    });
    p.grpcPort = await listening;
    p.conn = new grpc.Client(`127.0.0.1:${p.grpcPort}`, grpc.credentials.createInsecure());
    p.rpc = createGrpcClient(SessionService, p.conn);
    return p;
  }

  get pid(): number {
    return this.proc.pid as number;
  }

  get alive(): boolean {
    return !this.gone;
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.gone) process.kill(this.pid, sig);
  }

  /** SIGKILL (after SIGCONT, in case it is stopped), and wait for the exit. */
  async kill(): Promise<void> {
    this.conn?.close();
    this.conn = null;
    if (this.gone) return;
    process.kill(this.pid, "SIGKILL");
    await this.exited;
  }

  closeClient(): void {
    this.conn?.close();
    this.conn = null;
  }

  logged(msg: string): LogLine | undefined {
    return this.logs.find((l) => l.msg === msg);
  }

  /** This process's view of the session: leading and LIVE, with its epoch; null on standby or when unreachable. */
  async leading(): Promise<{ epoch: number; live: boolean; nextSenderSeq: number } | null> {
    if (this.gone || this.conn === null) return null;
    try {
      const r = await this.rpc.getSession({ sessionId: SESSION }, { deadline: Date.now() + 300 });
      const s = r.session;
      if (s === undefined || !s.leader) return null;
      return { epoch: Number(s.epoch), live: s.health === SessionHealth.LIVE, nextSenderSeq: s.nextSenderSeqNum };
    } catch {
      return null;
    }
  }
}

/** The process that leads and reports LIVE, within `ms`. */
export async function leaderOf(procs: readonly ConnectorProcess[], ms: number): Promise<ConnectorProcess> {
  const end = performance.now() + ms;
  for (;;) {
    for (const p of procs) {
      const l = await p.leading();
      if (l?.live) return p;
    }
    if (performance.now() > end) throw new Error(`no process led the session LIVE within ${ms} ms`);
    await sleep(20);
  }
}

// --- orders -----------------------------------------------------------------------------------------------------

type FieldInit = MessageInitShape<typeof FieldSchema>;
const str = (tag: number, value: string): FieldInit => ({ tag, value: { case: "stringValue", value } });

export function order(clOrdId: string) {
  return {
    sessionId: SESSION,
    msgType: MsgType.NewOrderSingle,
    fields: [
      str(Tag.ClOrdID, clOrdId),
      str(Tag.Symbol, "IBM"),
      str(Tag.Side, "1"),
      str(Tag.TransactTime, formatUtcTimestamp(Date.now())),
      str(Tag.OrderQty, "100"),
      str(Tag.OrdType, "2"),
      str(Tag.Price, "100"),
    ],
  };
}

/**
 * Sends orders to one process, `window` in flight at a time, until told to stop or a send fails (the process
 * died, stood down or stops). Records what was acknowledged (persisted: its MsgSeqNum) and what failed.
 */
export class OrderPump {
  readonly acked: Array<{ clOrdId: string; seq: number; at: number }> = [];
  readonly failed: Array<{ clOrdId: string; reason: string }> = [];
  private n = 0;
  private stopped = false;
  readonly done: Promise<void>;

  constructor(
    private readonly to: ConnectorProcess,
    private readonly prefix: string,
    window = 4,
  ) {
    this.done = Promise.all(Array.from({ length: window }, () => this.lane())).then(() => undefined);
  }

  stop(): void {
    this.stopped = true;
  }

  private async lane(): Promise<void> {
    while (!this.stopped) {
      const id = `${this.prefix}-${++this.n}`;
      try {
        const r = await this.to.rpc.send(order(id), { deadline: Date.now() + 3000 });
        this.acked.push({ clOrdId: id, seq: r.msgSeqNum, at: performance.now() });
      } catch (e) {
        this.failed.push({ clOrdId: id, reason: RpcError.from(e).reason || RpcError.from(e).message });
        this.stopped = true;
        return;
      }
    }
  }
}
