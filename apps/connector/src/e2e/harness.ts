/**
 * What the end-to-end tests share: real Redis (6379) and NATS (4222, or a private nats-server), a venue
 * simulator behind a wire tap, a gRPC client of SessionService, the connector as a child process, and cleanup
 * of everything a test created (its Redis keys, its JetStream stream, its processes).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Delivered, JetStreamBus } from "@fixmesh/bus";
import { ChaosProxy } from "@fixmesh/chaos";
import {
  createGrpcClient,
  type FieldSchema,
  type GrpcClientOf,
  type SendResult,
  type SendStreamResponse,
  SessionHealth,
  SessionService,
} from "@fixmesh/contracts";
import { formatUtcTimestamp, MsgType, Tag } from "@fixmesh/fix";
import { createRedisClient } from "@fixmesh/store";
import { parseVenueSimConfig, startVenueSim, type VenueSim } from "@fixmesh/venue-sim";
import * as grpc from "@grpc/grpc-js";

export const REPO = fileURLToPath(new URL("../../../../", import.meta.url));
export const CLI = join(REPO, "apps/cli/dist/main.js");
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

/** The connector's session and the venue's, as each side names it. */
export const SESSION = "FIX.4.4:CLIENT->VENUE";
export const VENUE_SESSION = "FIX.4.4:VENUE->CLIENT";

export function rand(): string {
  return Math.random().toString(36).slice(2, 10);
}

/** Names no other test (or run) uses: a Redis key prefix, a JetStream stream and a subject prefix. */
export function testNames(): { redisPrefix: string; stream: string; subjectPrefix: string } {
  const r = rand();
  return { redisPrefix: `fixmesh-test-${r}`, stream: `FIXTEST_${r}`, subjectPrefix: `t_${r}` };
}

export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "fixmesh-e2e-"));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const a = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof a === "object" && a !== null ? a.port : 0;
}

// --- Redis ------------------------------------------------------------------------------------------------------

export type Redis = ReturnType<typeof createRedisClient>;

export async function redisClient(): Promise<Redis> {
  const r = createRedisClient(REDIS_URL);
  await r.connect();
  return r;
}

/** Every key under `prefix` (a test's own). */
export async function keysUnder(r: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await r.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  return keys;
}

export async function deleteKeysUnder(prefix: string): Promise<void> {
  const r = await redisClient();
  try {
    const keys = await keysUnder(r, prefix);
    if (keys.length > 0) await r.unlink(...keys);
  } finally {
    await r.quit();
  }
}

// --- the venue, behind a wire tap -------------------------------------------------------------------------------

/** One message the connector put on the wire towards the venue. */
export interface WireMessage {
  /** The TCP connection (1, 2, … in the order the proxy accepted them). */
  connection: number;
  msgType: string;
  seq: number;
  possDup: boolean;
  resetSeqNumFlag: boolean;
  clOrdId: string | undefined;
  /** Password(554), in a Logon. */
  password: string | undefined;
  /** Thrown away by the proxy (`blackhole`): it never reached the venue. */
  lost: boolean;
}

/**
 * The venue simulator (FIX 4.4, VENUE↔CLIENT, immediate fills) and a ChaosProxy in front of it that injects no
 * fault: it only records every message the connector sends, as it is on the wire.
 */
export interface TappedVenue {
  venue: VenueSim;
  proxy: ChaosProxy;
  /** Where the connector connects (the proxy). */
  port: number;
  /** What the connector sent towards the venue, in order (`lost` ones never reached it). */
  wire: WireMessage[];
  /**
   * While on, everything the connector sends is thrown away by the proxy, as bytes in a dying host's socket
   * buffers are; the connection stays up (not even a FIN goes through until it is turned off).
   */
  blackhole(on: boolean): void;
  stop(): Promise<void>;
}

export async function startTappedVenue(): Promise<TappedVenue> {
  const venue = await startVenueSim(
    parseVenueSimConfig({
      listen: { host: "127.0.0.1", port: 0 },
      sessions: [
        {
          BeginString: "FIX.4.4",
          SenderCompID: "VENUE",
          TargetCompID: "CLIENT",
          HeartBtInt: 30,
          NonStopSession: true,
        },
      ],
      policy: { fill: "immediate", referencePrice: 100, priceBandPercent: 50 },
    }),
  );
  const proxy = new ChaosProxy({ target: { host: "127.0.0.1", port: venue.port } });
  const { port } = await proxy.start();
  const wire: WireMessage[] = [];
  let connection = 0;
  let discarding = false;
  proxy.on("connect", () => {
    connection++;
  });
  // A rule that never matches: its predicate sees every message, in order, and lets it through untouched.
  proxy.toServer.drop({
    persistent: true,
    where: (m) => {
      wire.push({
        connection,
        msgType: m.msgType,
        seq: m.getInt(Tag.MsgSeqNum) ?? -1,
        possDup: m.flag(Tag.PossDupFlag),
        resetSeqNumFlag: m.flag(Tag.ResetSeqNumFlag),
        clOrdId: m.get(Tag.ClOrdID),
        password: m.get(Tag.Password),
        lost: discarding,
      });
      return false;
    },
  });
  return {
    venue,
    proxy,
    port,
    wire,
    blackhole(on) {
      discarding = on;
      if (on) proxy.toServer.stall({ discard: true });
      else proxy.toServer.resume();
    },
    async stop() {
      await proxy.stop();
      await venue.stop(0);
    },
  };
}

// --- the connector's configuration ------------------------------------------------------------------------------

export interface ConnectorYamlOptions {
  id: string;
  venuePort: number;
  redisPrefix?: string;
  nats?: { url: string; stream: string; subjectPrefix: string };
  passwordEnv?: string;
  logLevel?: string;
}

/** A connector with one initiator session CLIENT→VENUE; gRPC and metrics on free ports. */
export function connectorYaml(o: ConnectorYamlOptions): string {
  const lines = [
    `connector: { id: ${o.id} }`,
    o.redisPrefix === undefined
      ? "store: { kind: memory }"
      : `store: { kind: redis, redis: { url: "${REDIS_URL}", prefix: ${o.redisPrefix} } }`,
    "sessions:",
    "  - BeginString: FIX.4.4",
    "    SenderCompID: CLIENT",
    "    TargetCompID: VENUE",
    "    ConnectionType: initiator",
    "    HeartBtInt: 30",
    "    NonStopSession: Y",
    "    ReconnectInterval: 1",
    "    Username: e2e-trader",
    ...(o.passwordEnv === undefined ? [] : [`    PasswordEnv: ${o.passwordEnv}`]),
    `    initiator: { hosts: [{ host: 127.0.0.1, port: ${o.venuePort} }] }`,
    "grpc: { plaintext: true, host: 127.0.0.1, port: 0 }",
    "metrics: { host: 127.0.0.1, port: 0 }",
    ...(o.nats === undefined
      ? []
      : [`nats: { url: "${o.nats.url}", stream: ${o.nats.stream}, subjectPrefix: ${o.nats.subjectPrefix} }`]),
    `log: { level: ${o.logLevel ?? "warn"} }`,
  ];
  return `${lines.join("\n")}\n`;
}

// --- gRPC -------------------------------------------------------------------------------------------------------

export interface SessionClient {
  rpc: GrpcClientOf<typeof SessionService>;
  close(): void;
}

export function sessionClient(port: number): SessionClient {
  const conn = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return { rpc: createGrpcClient(SessionService, conn), close: () => conn.close() };
}

type FieldInit = MessageInitShape<typeof FieldSchema>;
const str = (tag: number, value: string): FieldInit => ({ tag, value: { case: "stringValue", value } });

/** A limit NewOrderSingle the venue fills at once (New, then one Trade). */
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

/** A SendStream of orders: each result as it comes back, the ClOrdID of each acknowledged send with its MsgSeqNum. */
export class OrderStream {
  readonly acked: Array<{ clOrdId: string; seq: number }> = [];
  readonly failed: Array<{ clOrdId: string; reason: string }> = [];
  /** Set when the stream itself ended with an error (the connector went away). */
  error: Error | null = null;
  ended = false;
  private readonly call: ReturnType<SessionClient["rpc"]["sendStream"]>;
  private readonly ids: string[] = [];
  private next = 0n;
  readonly done: Promise<void>;

  constructor(client: SessionClient) {
    this.call = client.rpc.sendStream();
    this.done = new Promise<void>((resolve) => {
      this.call.on("data", (f: SendStreamResponse) => {
        for (const r of f.results) this.settle(r);
      });
      this.call.on("end", () => {
        this.ended = true;
        resolve();
      });
      this.call.on("error", (e: Error) => {
        this.error = e;
        this.ended = true;
        resolve();
      });
    });
  }

  /** Writes one frame with these orders. */
  send(clOrdIds: readonly string[]): void {
    const sends = clOrdIds.map((id) => {
      const correlationId = this.next++;
      this.ids[Number(correlationId)] = id;
      return { correlationId, send: order(id) };
    });
    this.call.write({ sends });
  }

  end(): void {
    this.call.end();
  }

  cancel(): void {
    this.call.cancel();
  }

  private settle(r: SendResult): void {
    const clOrdId = this.ids[Number(r.correlationId)];
    if (r.result.case === "ok") this.acked.push({ clOrdId, seq: r.result.value.msgSeqNum });
    else this.failed.push({ clOrdId, reason: r.result.value?.message ?? "?" });
  }
}

// --- JetStream --------------------------------------------------------------------------------------------------

/** Every message of the stream, from its first, once the stream holds `lastSeq` of them. */
export async function readWholeStream(bus: JetStreamBus, filter: string, timeoutMs = 10_000): Promise<Delivered[]> {
  const last = await bus.lastSeq();
  const got: Delivered[] = [];
  const sub = await bus.subscribe(filter, (d) => got.push(d), { fromSeq: 1 });
  try {
    await waitFor(() => got.length >= last, timeoutMs, `the ${last} messages of stream ${bus.stream}`);
  } finally {
    await sub.unsubscribe();
  }
  return got;
}

/** The JSON payload of a FIX message event (@fixmesh/engine `FixMessageEvent`), as far as the tests read it. */
export interface MessageEventBody {
  session: string;
  cycle: string;
  dir: "in" | "out";
  seq: number;
  msgType: string;
  possDup: boolean;
  clOrdId?: string;
  execId?: string;
  raw: string;
}

export function bodyOf(d: Delivered): Record<string, unknown> {
  return JSON.parse(Buffer.from(d.payload).toString("utf8")) as Record<string, unknown>;
}

/** Message events (not state events) by id, with how many times each id is on the stream. */
export function countIds(events: readonly Delivered[]): Map<string, number> {
  const n = new Map<string, number>();
  for (const e of events) n.set(e.id, (n.get(e.id) ?? 0) + 1);
  return n;
}

// --- a private nats-server --------------------------------------------------------------------------------------

/** A nats-server child process with JetStream, on its own port and store directory, killed by its PID. */
export class NatsServer {
  private proc: ChildProcess | null = null;
  readonly url: string;

  constructor(
    readonly port: number,
    readonly storeDir: string,
  ) {
    this.url = `nats://127.0.0.1:${port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts the server and waits until JetStream answers. */
  async start(): Promise<void> {
    const proc = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(this.port), "-js", "-sd", this.storeDir], {
      stdio: "ignore",
    });
    this.proc = proc;
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`nats-server exited with ${proc.exitCode}`);
      try {
        const nc = await JetStreamBus.connect({
          servers: this.url,
          stream: "PROBE",
          subjects: ["probe.>"],
          connectTimeoutMs: 500,
        });
        await nc.close();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(50);
      }
    }
  }

  /** SIGKILL by PID; resolves once the process is gone. */
  async kill(): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (proc === null || proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
    const exited = new Promise<void>((r) => proc.once("exit", () => r()));
    process.kill(proc.pid, "SIGKILL");
    await exited;
  }
}

// --- the connector as a process ---------------------------------------------------------------------------------

export interface ConnectorProcess {
  proc: ChildProcess;
  pid: number;
  grpcPort: number;
  stdout: string[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL by PID; resolves once the process is gone. */
  kill(): Promise<void>;
}

/** `fixmesh connector --config FILE`, resolved once it printed its `{"listening":…}` line. */
export function spawnConnector(configFile: string, env: Record<string, string> = {}): Promise<ConnectorProcess> {
  const proc = spawn(process.execPath, [CLI, "connector", "--config", configFile], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on("exit", (code, signal) => resolve({ code, signal })),
  );
  proc.stderr?.on("data", (d: Buffer) => stderr.push(d.toString()));
  const kill = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
    process.kill(proc.pid, "SIGKILL");
    await exited;
  };
  return new Promise<ConnectorProcess>((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => {
      void kill();
      reject(new Error(`no "listening" line within 10 s; stderr: ${stderr.join("")}`));
    }, 10_000);
    proc.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        stdout.push(line);
        if (line.startsWith('{"listening"')) {
          clearTimeout(timer);
          const listening = JSON.parse(line).listening as { grpc: number };
          resolve({ proc, pid: proc.pid as number, grpcPort: listening.grpc, stdout, stderr, exited, kill });
        }
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code ?? signal}) before listening; stderr: ${stderr.join("")}`));
    });
  });
}

/** Deletes a test's stream, through `bus` when the test has one, else through a connection of its own. */
export async function deleteStream(
  bus: JetStreamBus | undefined,
  url: string,
  names: { stream: string; subjectPrefix: string },
): Promise<void> {
  const b =
    bus ?? (await JetStreamBus.connect({ servers: url, stream: names.stream, subjects: [`${names.subjectPrefix}.>`] }));
  try {
    await b.deleteStream();
  } finally {
    await b.close();
  }
}

/** Polls GetSession until the connector reports the session LIVE (so Sends are not refused as not logged on). */
export async function waitLive(client: SessionClient, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const { session } = await client.rpc.getSession({ sessionId: SESSION }, { deadline: Date.now() + 2000 });
    if (session?.health === SessionHealth.LIVE) return;
    if (Date.now() > end) throw new Error(`the connector's session is not LIVE after ${ms} ms (${session?.health})`);
    await sleep(20);
  }
}
