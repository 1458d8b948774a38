/**
 * Connector benchmark: the whole order path of a connector — a gRPC `Send` in, the NewOrderSingle persisted and
 * on the wire, the counterparty's ExecutionReport back in the session — against the physical limit of its first
 * hop, a bare @grpc/grpc-js bidirectional stream, measured in the same run. Targets (issue 3): ≥ 20,000 orders/s
 * sustained per session with the Redis store over SendStream, p99 < 2 ms at 5,000 orders/s, and a 100,000-message
 * gap replayed to the counterparty in < 2 s while heartbeats keep flowing.
 *
 * Set-up, all on loopback:
 * - the connector: `startConnector` (@fixmesh/connector) with a configuration parsed from YAML text — one FIX 4.4
 *   initiator session, HeartBtInt 1, NonStopSession, the dictionary validating every inbound message (the
 *   default), no NATS (events go through the store's outbox to the in-process bus, as a connector without
 *   `nats.url` runs), gRPC and metrics on free ports, retention 200,000 messages. `store.kind: redis`
 *   (127.0.0.1:6379, a key prefix unique to the run; every key under it is deleted at the end) or `memory`. Each
 *   case gets a connector of its own, started before it and stopped after it, in this process, with its gRPC
 *   client: every case starts from the same state (a long-running connector is slower, see bench/README.md);
 * - the counterparty: `fill-venue.ts`, in a child process — a bare FIX acceptor on @fixmesh/fix's framer and
 *   encoder that answers each NewOrderSingle with one ExecutionReport (a full fill) and checks every MsgSeqNum.
 *   Cheaper than the venue simulator (an ack and a fill per order, an order book) and than a SessionRunner
 *   acceptor (parse, validate, step, store per message), and it can send a ResendRequest and TestRequests on cue,
 *   which a SessionRunner application cannot; the table shows its CPU time per order;
 * - an order counts as done when its ExecutionReport reaches the connector's session: a `SessionRunner.onMessage`
 *   listener in this process reads the echoed ClOrdID (StreamMessages, the client's way to see it, is one more
 *   gRPC hop and is not timed; the connector's gRPC layer still keeps every inbound message for it).
 *
 * Cases:
 * - SendStream throughput: one stream; frames of `--batch` (64) orders, up to `--window` (2,048) orders awaiting
 *   their ExecutionReport, refilled as reports arrive; orders done per second over `--seconds` after a 0.3 s
 *   ramp. Redis and memory stores.
 * - unary Send: 64 calls in flight, each followed by the next as soon as it answers; orders done per second.
 *   Redis store.
 * - latency at a fixed offered rate: `--rate` (5,000) orders/s for `--seconds`, open loop: order i is due at
 *   t0 + i/rate whatever happened before, and is written to the SendStream (with every other order already due)
 *   by a loop that checks the clock on every turn of the event loop. Latency is from the order's due time to its
 *   ExecutionReport, so a stalled event loop counts against it; p50 and p99. Redis and memory stores, and (case
 *   `latencyRedisNats`) the Redis store with the events going to NATS JetStream (`--nats`, default
 *   nats://127.0.0.1:4222; a stream of the run's own, deleted after the case), as a production connector runs:
 *   no event kept in the process, the JetStream publishing in it. JSON: `natsEvents`.
 * - replay: `--replay` (100,000) orders sent over SendStream (untimed), then the venue sends a ResendRequest for
 *   the last 100,000 messages of the session, and a TestRequest every 100 ms until the last one is back. Timed
 *   from the ResendRequest's write to the last replayed message's arrival; also counted: the Heartbeats received
 *   meanwhile, the TestRequests answered while it ran, and the longest any of them waited for its Heartbeat.
 *   Heartbeats "flow" when every TestRequest but the last was answered while the replay ran, each within
 *   HeartBtInt. Redis store.
 * - baseline: a bare grpc-js bidi stream (identity serialisers, no protobuf) echoing frames of the same size
 *   and count as the SendStream case's (the same batch and window), in this process: what one gRPC hop here
 *   carries at most. Also shown: the same echo with one order-sized message per frame and 256 in flight, the
 *   shape /work/shared/PERF-LIMITS.md quotes.
 *
 * Method: each case warmed up once (~1 s; the replay's first round is its warm-up's), then measured in
 * `--rounds` (3) rounds, the cases interleaved round by round; the figure is the median round. The run fails when
 * an order gets no ExecutionReport or a Send fails, when the venue sees a gap, a Reject or a garbled message, or
 * when a session is not logged on (or SAFE) after a case. `--only=<case>,…` runs some cases only (for profiling).
 *
 * Usage: node bench/dist/connector.js [--json] [--seconds=2] [--rounds=3] [--rate=5000] [--batch=64]
 *        [--window=2048] [--replay=100000] [--redis=redis://127.0.0.1:6379] [--nats=nats://127.0.0.1:4222]
 *        [--only=streamRedis,…]
 */

import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { PerformanceObserver } from "node:perf_hooks";
import { GCProfiler } from "node:v8";
import { JetStreamBus } from "@fixmesh/bus";
import { type Connector, loggerFor, parseConfig, startConnector } from "@fixmesh/connector";
import {
  createGrpcClient,
  type GrpcClientOf,
  grpcServiceDefinition,
  type SendStreamRequest,
  type SendStreamResponse,
  SessionService,
} from "@fixmesh/contracts";
import type { SessionRunner } from "@fixmesh/engine";
import { formatUtcTimestamp, MsgType, Tag } from "@fixmesh/fix";
import { Health, Status } from "@fixmesh/session";
import { createRedisClient } from "@fixmesh/store";
import * as grpc from "@grpc/grpc-js";
import type { VenueCommand, VenueReport } from "./fill-venue.js";

/** A Send request as a client builds it (a plain init object), and one of its fields. */
type SendInit = Parameters<GrpcClientOf<typeof SessionService>["send"]>[0];
type FieldInit = NonNullable<SendInit["fields"]>[number];

// --- options -------------------------------------------------------------------------------------------------

const args = process.argv.slice(2);
const json = args.includes("--json");
const seconds = Number(optionValue("seconds") ?? 2);
const rounds = Number(optionValue("rounds") ?? 3);
const offeredRate = Number(optionValue("rate") ?? 5000);
const batch = Number(optionValue("batch") ?? 64);
const window = Number(optionValue("window") ?? 2048);
const replayCount = Number(optionValue("replay") ?? 100_000);
const redisUrl = optionValue("redis") ?? "redis://127.0.0.1:6379";
const natsUrl = optionValue("nats") ?? "nats://127.0.0.1:4222";

function optionValue(name: string): string | undefined {
  const prefix = `--${name}=`;
  return args.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

const TARGET_ORDERS = 20_000;
const TARGET_P99_US = 2000;
const TARGET_REPLAY_MS = 2000;
const HEART_BT_INT = 1;
const UNARY_IN_FLIGHT = 64;
const TEST_REQUEST_EVERY_MS = 100;
/** No wait in the benchmark may hang the run. */
const DRAIN_TIMEOUT_MS = 30_000;
const RAMP_MS = 300;
/** Idempotency keys a connector holds at most (IdempotencyKeys' default): the keyed case is timed past it. */
const IDEMPOTENCY_KEYS_HELD = 100_000;

const VENUE = "VENUE";

// --- small helpers -------------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, ms: number, what: () => string): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what()}`);
    await sleep(2);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))];
}

/** The first failure of anything running in the background (the venue, a stream): fails the case in progress. */
let backgroundFailure: Error | null = null;
function failInBackground(e: Error): void {
  backgroundFailure ??= e;
}
function checkBackground(): void {
  if (backgroundFailure !== null) throw backgroundFailure;
}

// --- the venue (child process) -------------------------------------------------------------------------------

class Venue {
  private readonly waiting: Array<(r: VenueReport) => boolean> = [];
  private stopping = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.on("message", (r: VenueReport) => {
      if (r.type === "error") {
        failInBackground(new Error(r.text));
        return;
      }
      const i = this.waiting.findIndex((w) => w(r));
      if (i >= 0) this.waiting.splice(i, 1);
    });
    child.on("exit", (code, signal) => {
      if (!this.stopping) failInBackground(new Error(`the venue exited (${signal ?? code})`));
    });
  }

  static async start(): Promise<Venue> {
    const child = fork(new URL("./fill-venue.js", import.meta.url), [], {
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    const port = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("the venue did not start in 10 s")), 10_000);
      child.once("message", (r: VenueReport) => {
        clearTimeout(t);
        if (r.type === "listening") resolve(r.port);
        else reject(new Error(`venue: ${JSON.stringify(r)}`));
      });
      child.once("error", reject);
    });
    return new Venue(child, port);
  }

  private ask<T extends VenueReport["type"]>(
    c: VenueCommand,
    type: T,
    timeoutMs: number,
  ): Promise<Extract<VenueReport, { type: T }>> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`venue: no ${type} after ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push((r) => {
        if (r.type !== type) return false;
        clearTimeout(t);
        resolve(r as Extract<VenueReport, { type: T }>);
        return true;
      });
      this.child.send(c);
    });
  }

  /** CPU time the venue has used so far, in ms. */
  async cpuMs(): Promise<number> {
    const r = await this.ask({ cmd: "cpu" }, "cpu", 5000);
    return r.userMs + r.systemMs;
  }

  replay(target: string, begin: number, end: number): Promise<Extract<VenueReport, { type: "replayDone" }>> {
    return this.ask(
      { cmd: "replay", target, begin, end, testRequestEveryMs: TEST_REQUEST_EVERY_MS },
      "replayDone",
      60_000,
    );
  }

  stop(): void {
    this.stopping = true;
    this.child.kill();
  }
}

// --- the connectors ------------------------------------------------------------------------------------------

/** `redis-nats`: the Redis store with the events going to NATS JetStream, as a production connector runs. */
type StoreKind = "redis" | "memory" | "redis-nats";

/** The YAML a user would write for this set-up. */
function configYaml(kind: StoreKind, sender: string, venuePort: number, prefix: string): string {
  const nats =
    kind === "redis-nats"
      ? `nats: { url: "${natsUrl}", stream: ${streamOf(prefix)}, subjectPrefix: ${streamOf(prefix)} }
`
      : "";
  const store =
    kind !== "memory"
      ? `store:
  kind: redis
  retention: { messages: 200000 }
  redis: { url: "${redisUrl}", prefix: ${prefix} }`
      : `store:
  kind: memory
  retention: { messages: 200000 }`;
  return `connector:
  id: bench-${kind}
${store}
${nats}sessions:
  - BeginString: FIX.4.4
    SenderCompID: ${sender}
    TargetCompID: ${VENUE}
    ConnectionType: initiator
    HeartBtInt: ${HEART_BT_INT}
    NonStopSession: Y
    initiator:
      hosts: [{ host: 127.0.0.1, port: ${venuePort} }]
grpc: { plaintext: true, host: 127.0.0.1, port: 0 }
metrics: { host: 127.0.0.1, port: 0 }
log: { level: warn }
`;
}

/** Hook for one order's ExecutionReport: its ClOrdID (a number) and when it arrived (performance.now()). */
type ReportHook = (clOrdId: number, at: number) => void;

interface Side {
  kind: StoreKind;
  sender: string;
  sessionId: string;
  connector: Connector;
  runner: SessionRunner;
  conn: grpc.Client;
  rpc: GrpcClientOf<typeof SessionService>;
  /** ExecutionReports received by the session so far. */
  reports: number;
  onReport: ReportHook | null;
  /** Store commits of the session so far: how many, the messages they carried, and their total time. */
  commits: { count: number; messages: number; events: number; ms: number };
}

async function startSide(kind: StoreKind, venuePort: number, prefix: string): Promise<Side> {
  const sender = kind === "redis" ? "BENCHR" : kind === "memory" ? "BENCHM" : "BENCHN";
  const config = parseConfig(configYaml(kind, sender, venuePort, prefix), { env: {}, source: `<bench ${kind}>` });
  // Warnings and errors on stderr, so that --json keeps stdout to itself.
  const logger = loggerFor(config, { write: (line: string) => process.stderr.write(line) });
  const connector = await startConnector(config, { logger });
  const sessionId = config.sessions[0].id;
  const runner = connector.get(sessionId);
  if (runner === undefined || connector.grpcPort === null) throw new Error(`${kind}: no session or no gRPC port`);
  const conn = new grpc.Client(`127.0.0.1:${connector.grpcPort}`, grpc.credentials.createInsecure());
  const side: Side = {
    kind,
    sender,
    sessionId,
    connector,
    runner,
    conn,
    rpc: createGrpcClient(SessionService, conn),
    reports: 0,
    onReport: null,
    commits: { count: 0, messages: 0, events: 0, ms: 0 },
  };
  runner.onCommit((c) => {
    side.commits.count++;
    side.commits.messages += c.messages;
    side.commits.events += c.events;
    side.commits.ms += c.ms;
  });
  runner.onMessage((msg, possDup) => {
    if (msg.msgType !== MsgType.ExecutionReport) return;
    if (possDup) failInBackground(new Error(`${kind}: an ExecutionReport came as a resent copy`));
    side.reports++;
    side.onReport?.(msg.getInt(Tag.ClOrdID) ?? -1, performance.now());
  });
  await waitFor(
    () => runner.state.health === Health.Live,
    10_000,
    () => `${kind}: session LIVE (${runner.state.status}/${runner.state.health})`,
  );
  return side;
}

function checkLive(side: Side): void {
  const st = side.runner.state;
  if (st.status !== Status.LoggedOn || st.safeReason !== null) {
    throw new Error(`${side.kind}: session is ${st.status}/${st.health} ${st.safeReason ?? ""}`);
  }
}

/** The JetStream stream (and subject prefix) of a connector whose key prefix is `prefix`. */
function streamOf(prefix: string): string {
  return `BENCHC_${prefix.replace(/[^A-Za-z0-9]+/g, "_")}`;
}

async function stopSide(side: Side, prefix: string): Promise<void> {
  side.conn.close();
  await side.connector.stop();
  if (side.kind === "redis-nats") {
    const bus = await JetStreamBus.connect({
      servers: natsUrl,
      stream: streamOf(prefix),
      subjects: [`${streamOf(prefix)}.>`],
    });
    await bus.deleteStream().finally(() => bus.close());
  }
}

/** Deletes every key whose prefix starts with the run's; returns how many there were. */
async function deleteKeys(prefix: string): Promise<number> {
  const redis = createRedisClient(redisUrl);
  await redis.connect();
  let deleted = 0;
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== "0");
  await redis.quit();
  return deleted;
}

// --- orders --------------------------------------------------------------------------------------------------

/** ClOrdIDs are numbers (read back with `getInt`), unique in the run. */
let nextClOrdId = 1_000_000;

let transactMs = -1;
let transactTime = "";
function transactTimeNow(): string {
  const now = Date.now();
  if (now !== transactMs) {
    transactMs = now;
    transactTime = formatUtcTimestamp(now);
  }
  return transactTime;
}

const str = (tag: number, value: string): FieldInit => ({ tag, value: { case: "stringValue", value } });

/** A limit NewOrderSingle as a gRPC client builds it (~200 B on the wire). */
function order(sessionId: string, clOrdId: number): SendInit {
  return {
    sessionId,
    msgType: MsgType.NewOrderSingle,
    fields: [
      str(Tag.ClOrdID, String(clOrdId)),
      str(Tag.Account, "ACCT-0001"),
      str(Tag.HandlInst, "1"),
      str(Tag.Symbol, "AAPL"),
      str(Tag.Side, "1"),
      str(Tag.TransactTime, transactTimeNow()),
      str(Tag.OrderQty, "100"),
      str(Tag.OrdType, "2"),
      str(Tag.Price, "123.45"),
      str(Tag.TimeInForce, "0"),
    ],
  };
}

type StreamCall = grpc.ClientDuplexStream<SendStreamRequest | object, SendStreamResponse>;

/** A SendStream whose every result must be `ok`; a failed one fails the run. */
function openStream(side: Side): { call: StreamCall; results: () => number; ended: Promise<void> } {
  const call = side.rpc.sendStream() as StreamCall;
  let results = 0;
  call.on("data", (f: SendStreamResponse) => {
    for (const r of f.results) {
      if (r.result.case !== "ok") {
        failInBackground(new Error(`${side.kind}: a Send failed: ${JSON.stringify(r.result.value)}`));
      }
    }
    results += f.results.length;
  });
  const ended = new Promise<void>((resolve, reject) => {
    call.on("end", resolve);
    call.on("error", (e) => {
      failInBackground(e);
      reject(e);
    });
  });
  ended.catch(() => {});
  return { call, results: () => results, ended };
}

function frameOf(sessionId: string, n: number, keyed = false) {
  const sends = [];
  for (let i = 0; i < n; i++) {
    const id = nextClOrdId++;
    const send = order(sessionId, id);
    // As order-entry sends: the ClOrdID as the connector's idempotency key.
    sends.push({ correlationId: BigInt(id), send: keyed ? { ...send, idempotencyKey: String(id) } : send });
  }
  return { sends };
}

/** Waits until every order sent has its ExecutionReport. */
async function drain(side: Side, expected: number): Promise<void> {
  await waitFor(
    () => side.reports >= expected || backgroundFailure !== null,
    DRAIN_TIMEOUT_MS,
    () => `${side.kind}: ${expected - side.reports} ExecutionReports`,
  );
  checkBackground();
  if (side.reports !== expected) throw new Error(`${side.kind}: ${side.reports} reports for ${expected} orders`);
  checkLive(side);
}

// --- cases ---------------------------------------------------------------------------------------------------

interface ThroughputResult {
  perSec: number;
  cpuUsPerOrder: number;
  heapBytesPerOrder: number;
  promotedBytesPerOrder: number;
  gcUsPerOrder: number;
}

/**
 * SendStream, closed loop over a window of orders in flight. Returns orders done per second, and the CPU time
 * this process (connector and gRPC client) spent per order meanwhile: a figure the machine's load moves less.
 */
async function streamThroughput(
  side: Side,
  ms: number,
  /** Each order with an idempotency key, timed once the connector holds this many keys (its bound). */
  keyed?: { warmKeys: number },
): Promise<ThroughputResult> {
  const { call, ended } = openStream(side);
  const base = side.reports;
  let sent = 0;
  let stopping = false;
  let refillQueued = false;
  const refill = () => {
    refillQueued = false;
    while (!stopping && sent - (side.reports - base) <= window - batch) {
      call.write(frameOf(side.sessionId, batch, keyed !== undefined));
      sent += batch;
    }
  };
  side.onReport = () => {
    if (refillQueued) return;
    refillQueued = true;
    queueMicrotask(refill);
  };
  refill();
  await sleep(RAMP_MS);
  if (keyed !== undefined) {
    await waitFor(
      () => side.reports - base >= keyed.warmKeys || backgroundFailure !== null,
      DRAIN_TIMEOUT_MS * 4,
      () => `${side.kind}: ${keyed.warmKeys} keyed orders before timing`,
    );
  }
  const t1 = performance.now();
  const d1 = side.reports;
  const cpu1 = process.cpuUsage();
  const heap = heapWatch();
  await sleep(ms);
  const cpu = process.cpuUsage(cpu1);
  const gc = heap.stop();
  const t2 = performance.now();
  const d2 = side.reports;
  stopping = true;
  side.onReport = null;
  await drain(side, base + sent);
  call.end();
  await ended;
  const n = Math.max(1, d2 - d1);
  return {
    perSec: ((d2 - d1) * 1000) / (t2 - t1),
    cpuUsPerOrder: (cpu.user + cpu.system) / n,
    heapBytesPerOrder: gc.allocated / n,
    promotedBytesPerOrder: gc.promoted / n,
    gcUsPerOrder: (gc.pauseMs * 1000) / n,
  };
}

/**
 * What the V8 heap did meanwhile (this process: connector and gRPC client), from the heap statistics before and
 * after each collection: bytes allocated, bytes that survived a young-generation collection into the old
 * generation (what makes scavenges long), and the time collections took. Figures the machine's load moves little.
 */
function heapWatch(): { stop(): { allocated: number; promoted: number; pauseMs: number } } {
  const profiler = new GCProfiler();
  const used0 = process.memoryUsage().heapUsed;
  profiler.start();
  return {
    stop() {
      const used1 = process.memoryUsage().heapUsed;
      const stats = profiler.stop()?.statistics ?? [];
      let allocated = 0;
      let promoted = 0;
      let pauseMs = 0;
      let last = used0;
      const space = (h: (typeof stats)[number]["beforeGC"], name: string) =>
        h.heapSpaceStatistics.find((x) => x.spaceName === name)?.spaceUsedSize ?? 0;
      for (const g of stats) {
        allocated += Math.max(0, g.beforeGC.heapStatistics.usedHeapSize - last);
        last = g.afterGC.heapStatistics.usedHeapSize;
        pauseMs += g.cost / 1000;
        if (g.gcType === "Scavenge")
          promoted += Math.max(0, space(g.afterGC, "old_space") - space(g.beforeGC, "old_space"));
      }
      allocated += Math.max(0, used1 - last);
      return { allocated, promoted, pauseMs };
    },
  };
}

/** Sends `n` orders over SendStream as fast as the window allows, and waits for all their reports (untimed). */
async function sendOrders(side: Side, n: number): Promise<void> {
  const { call, ended } = openStream(side);
  const base = side.reports;
  let sent = 0;
  let refillQueued = false;
  const refill = () => {
    refillQueued = false;
    while (sent < n && sent - (side.reports - base) <= window - batch) {
      const k = Math.min(batch, n - sent);
      call.write(frameOf(side.sessionId, k));
      sent += k;
    }
  };
  side.onReport = () => {
    if (refillQueued) return;
    refillQueued = true;
    queueMicrotask(refill);
  };
  refill();
  await waitFor(
    () => sent === n || backgroundFailure !== null,
    (n / 1000) * DRAIN_TIMEOUT_MS,
    () => `${side.kind}: ${n - sent} orders to send`,
  );
  side.onReport = null;
  await drain(side, base + n);
  call.end();
  await ended;
}

/** Unary Send, `inFlight` calls at a time. Returns orders done (ExecutionReports) per second. */
async function unaryThroughput(side: Side, ms: number, inFlight: number): Promise<number> {
  const base = side.reports;
  let sent = 0;
  let stopping = false;
  const loop = async () => {
    while (!stopping) {
      const id = nextClOrdId++;
      sent++;
      await side.rpc.send(order(side.sessionId, id), { deadline: Date.now() + DRAIN_TIMEOUT_MS });
    }
  };
  const loops = Array.from({ length: inFlight }, loop);
  const all = Promise.all(loops);
  all.catch(() => {});
  await sleep(RAMP_MS);
  const t1 = performance.now();
  const d1 = side.reports;
  await sleep(ms);
  const t2 = performance.now();
  const d2 = side.reports;
  stopping = true;
  await all;
  await drain(side, base + sent);
  return ((d2 - d1) * 1000) / (t2 - t1);
}

interface Latency {
  p50us: number;
  p99us: number;
  /** p99 of how late the pacing loop wrote an order after its due time. */
  lagP99us: number;
  /** Orders slower than the p99 target, and how many of them were in flight while a GC pause ran. */
  slow: number;
  slowDuringGc: number;
  /** GC pauses meanwhile: how many, how many ≥ 1 ms, the longest, and their share of the time. */
  gcPauses: number;
  gcPausesOver1ms: number;
  gcMaxMs: number;
  gcShare: number;
}

/** Open loop at `rate` orders/s over SendStream for `ms`; latency from each order's due time to its report. */
async function streamLatency(side: Side, rate: number, ms: number): Promise<Latency> {
  const total = Math.max(1, Math.round((rate * ms) / 1000));
  const interval = 1000 / rate;
  const due = new Float64Array(total);
  const lag = new Float64Array(total);
  const latency = new Float64Array(total).fill(Number.NaN);
  const { call, ended } = openStream(side);
  const base = side.reports;
  const firstId = nextClOrdId;
  nextClOrdId += total;
  side.onReport = (id, at) => {
    const i = id - firstId;
    if (i >= 0 && i < total) latency[i] = at - due[i];
  };
  let sent = 0;
  const gcs: Array<{ start: number; end: number }> = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ start: e.startTime, end: e.startTime + e.duration });
  });
  gcObserver.observe({ entryTypes: ["gc"] });
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const upTo = Math.min(total, Math.floor((now - t0) / interval) + 1);
      if (upTo > sent) {
        const sends = [];
        for (let i = sent; i < upTo; i++) {
          due[i] = t0 + i * interval;
          lag[i] = now - due[i];
          sends.push({ correlationId: BigInt(firstId + i), send: order(side.sessionId, firstId + i) });
        }
        call.write({ sends });
        sent = upTo;
      }
      if (sent < total && backgroundFailure === null) setImmediate(tick);
      else resolve();
    };
    tick();
  });
  await drain(side, base + total);
  const t1 = performance.now();
  gcObserver.disconnect();
  side.onReport = null;
  call.end();
  await ended;
  if (latency.some(Number.isNaN)) throw new Error(`${side.kind}: an order's report was not matched to it`);
  // What the tail is made of: the slow orders that were in flight while the collector stopped the process.
  let slow = 0;
  let slowDuringGc = 0;
  for (let i = 0; i < total; i++) {
    if (latency[i] * 1000 < TARGET_P99_US) continue;
    slow++;
    const from = due[i];
    const to = due[i] + latency[i];
    if (gcs.some((g) => g.end - g.start >= 0.5 && g.start < to && g.end > from)) slowDuringGc++;
  }
  const pauses = gcs.map((g) => g.end - g.start);
  latency.sort();
  lag.sort();
  return {
    p50us: percentile(latency, 0.5) * 1000,
    p99us: percentile(latency, 0.99) * 1000,
    lagP99us: percentile(lag, 0.99) * 1000,
    slow,
    slowDuringGc,
    gcPauses: pauses.length,
    gcPausesOver1ms: pauses.filter((x) => x >= 1).length,
    gcMaxMs: Math.max(0, ...pauses),
    gcShare: pauses.reduce((a, b) => a + b, 0) / (t1 - t0),
  };
}

interface ReplayResult {
  ms: number;
  heartbeats: number;
  testRequestsSent: number;
  testRequestsAnsweredDuring: number;
  maxAnswerMs: number;
}

/** The venue asks the Redis session for its last `count` messages again (topped up with orders if need be). */
async function replay(side: Side, venue: Venue, count: number): Promise<ReplayResult> {
  // The Logon is seq 1: `count` messages after it must have been sent.
  const missing = count - (side.runner.state.nextSenderSeq - 2);
  if (missing > 0) await sendOrders(side, missing);
  const end = side.runner.state.nextSenderSeq - 1;
  const begin = end - count + 1;
  const resentBefore = side.runner.state.counters.messagesResent;
  const r = await venue.replay(side.sender, begin, end);
  checkBackground();
  checkLive(side);
  const resent = side.runner.state.counters.messagesResent - resentBefore;
  if (r.resent !== resent || r.resent + r.gapFilled === 0) {
    throw new Error(`replay: the venue got ${r.resent} resent messages, the session resent ${resent}`);
  }
  return {
    ms: r.ms,
    heartbeats: r.heartbeats,
    testRequestsSent: r.testRequestsSent,
    testRequestsAnsweredDuring: r.testRequestsAnsweredDuring,
    maxAnswerMs: r.maxAnswerMs,
  };
}

// --- baseline: a bare grpc-js bidi stream echo ---------------------------------------------------------------

const ECHO_PATH = "/bench.Echo/Stream";
const identity = (b: Buffer) => b;

async function startEchoServer(): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server();
  server.addService(
    {
      stream: {
        path: ECHO_PATH,
        requestStream: true,
        responseStream: true,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        call.on("data", (b: Buffer) => call.write(b));
        call.on("end", () => call.end());
        call.on("error", () => {});
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { port, server };
}

/**
 * Echo over one stream: frames of `perFrame` messages (`frameBytes` bytes), at most `inFlight` messages out,
 * refilled as echoes come back. Returns messages echoed per second.
 */
async function echoThroughput(
  client: grpc.Client,
  frameBytes: number,
  perFrame: number,
  inFlight: number,
  ms: number,
): Promise<number> {
  const call = client.makeBidiStreamRequest(ECHO_PATH, identity, identity) as grpc.ClientDuplexStream<Buffer, Buffer>;
  const payload = randomBytes(frameBytes);
  let sent = 0;
  let echoed = 0;
  let stopping = false;
  const ended = new Promise<void>((resolve, reject) => {
    call.on("end", resolve);
    call.on("error", reject);
  });
  const refill = () => {
    while (!stopping && sent - echoed <= inFlight - perFrame) {
      call.write(Buffer.from(payload));
      sent += perFrame;
    }
  };
  call.on("data", (b: Buffer) => {
    if (b.length !== frameBytes) failInBackground(new Error("echo: a frame came back changed"));
    echoed += perFrame;
    refill();
  });
  refill();
  await sleep(RAMP_MS);
  const t1 = performance.now();
  const e1 = echoed;
  await sleep(ms);
  const t2 = performance.now();
  const e2 = echoed;
  stopping = true;
  await waitFor(
    () => echoed === sent,
    DRAIN_TIMEOUT_MS,
    () => "echoes",
  );
  call.end();
  await ended;
  return ((e2 - e1) * 1000) / (t2 - t1);
}

// --- main ----------------------------------------------------------------------------------------------------

const CASE_NAMES = [
  "echo",
  "echoSingle",
  "streamRedis",
  "streamMemory",
  "streamRedisKeyed",
  "unaryRedis",
  "latencyRedis",
  "latencyMemory",
  "latencyRedisNats",
  "replay",
] as const;
type CaseName = (typeof CASE_NAMES)[number];

/** What one round of a case measured, and what the session's store did meanwhile. */
interface Sample {
  value: number;
  /** Throughput cases: CPU time, heap allocation and GC of this process per order done. */
  cost?: ThroughputResult;
  latency?: Latency;
  replay?: ReplayResult;
  commits?: { perSec: number; messagesPerCommit: number; eventsPerCommit: number; meanMs: number };
}

/** `--only=streamRedis,replay`: run just these cases (for profiling); the others print as not measured. */
function selectedCases(): Set<CaseName> {
  const only = optionValue("only");
  if (only === undefined) return new Set(CASE_NAMES);
  const names = only.split(",").map((x) => x.trim());
  for (const n of names) {
    if (!(CASE_NAMES as readonly string[]).includes(n)) {
      throw new Error(`--only: unknown case ${n}; the cases are ${CASE_NAMES.join(", ")}`);
    }
  }
  return new Set(names as CaseName[]);
}

async function main(): Promise<void> {
  const selected = selectedCases();
  const runPrefix = `fixmesh-bench-${process.pid}-${randomBytes(4).toString("hex")}`;
  const load = loadavg()[0];
  const venue = await Venue.start();
  const echo = await startEchoServer();
  const echoClient = new grpc.Client(`127.0.0.1:${echo.port}`, grpc.credentials.createInsecure());
  let keysDeleted = -1;
  try {
    // The echo's frames have the size of the SendStream case's frames, and of one order.
    const serialize = grpcServiceDefinition(SessionService).sendStream.requestSerialize;
    const frameBytes = serialize(frameOf("FIX.4.4:BENCHR->VENUE", batch)).length;
    const orderBytes = serialize(frameOf("FIX.4.4:BENCHR->VENUE", 1)).length;

    // Every case gets a connector of its own, started for it and stopped after it (with its own Redis keys): each
    // starts from the same state, whatever ran before (see the README on what a long-running connector does).
    let connectors = 0;
    const withSide = async (kind: StoreKind, f: (side: Side) => Promise<Sample>): Promise<Sample> => {
      const prefix = `${runPrefix}-${++connectors}`;
      const side = await startSide(kind, venue.port, prefix);
      try {
        const c0 = { ...side.commits };
        const t0 = performance.now();
        const sample = await f(side);
        const s = (performance.now() - t0) / 1000;
        const n = side.commits.count - c0.count;
        sample.commits = {
          perSec: n / s,
          messagesPerCommit: (side.commits.messages - c0.messages) / Math.max(1, n),
          eventsPerCommit: (side.commits.events - c0.events) / Math.max(1, n),
          meanMs: (side.commits.ms - c0.ms) / Math.max(1, n),
        };
        return sample;
      } finally {
        await stopSide(side, prefix);
      }
    };
    let venueCpuPerOrderUs = Number.NaN;
    const run: Record<CaseName, (ms: number) => Promise<Sample>> = {
      echo: async (t) => ({ value: await echoThroughput(echoClient, frameBytes, batch, window, t) }),
      echoSingle: async (t) => ({ value: await echoThroughput(echoClient, orderBytes, 1, 256, t) }),
      streamRedis: (t) =>
        withSide("redis", async (side) => {
          const cpu0 = await venue.cpuMs();
          const r = await streamThroughput(side, t);
          venueCpuPerOrderUs = (((await venue.cpuMs()) - cpu0) * 1000) / side.reports;
          return { value: r.perSec, cost: r };
        }),
      streamMemory: (t) =>
        withSide("memory", async (side) => {
          const r = await streamThroughput(side, t);
          return { value: r.perSec, cost: r };
        }),
      streamRedisKeyed: (t) =>
        withSide("redis", async (side) => {
          const r = await streamThroughput(side, t, { warmKeys: IDEMPOTENCY_KEYS_HELD });
          return { value: r.perSec, cost: r };
        }),
      unaryRedis: (t) =>
        withSide("redis", async (side) => ({ value: await unaryThroughput(side, t, UNARY_IN_FLIGHT) })),
      latencyRedis: (t) =>
        withSide("redis", async (side) => {
          const l = await streamLatency(side, offeredRate, t);
          return { value: l.p99us, latency: l };
        }),
      latencyMemory: (t) =>
        withSide("memory", async (side) => {
          const l = await streamLatency(side, offeredRate, t);
          return { value: l.p99us, latency: l };
        }),
      latencyRedisNats: (t) =>
        withSide("redis-nats", async (side) => {
          const l = await streamLatency(side, offeredRate, t);
          return { value: l.p99us, latency: l };
        }),
      replay: () =>
        withSide("redis", async (side) => {
          const r = await replay(side, venue, replayCount);
          return { value: r.ms, replay: r };
        }),
    };
    const samples = new Map<CaseName, Sample[]>();
    const cases = CASE_NAMES.filter((n) => selected.has(n));

    // Warm-up: every path once, so V8 has optimised it before anything is timed (the replay warms up in round 1).
    const ms = seconds * 1000;
    for (const name of cases) if (name !== "replay") await run[name](Math.min(1000, ms / 2));
    for (let r = 0; r < rounds; r++) {
      for (const name of cases) {
        const sample = await run[name](ms);
        checkBackground();
        samples.set(name, [...(samples.get(name) ?? []), sample]);
      }
    }

    /** The median round of a case (by its value), or undefined when it did not run. */
    const med = (name: CaseName): Sample | undefined => {
      const xs = samples.get(name);
      if (xs === undefined) return undefined;
      const m = median(xs.map((x) => x.value));
      return xs.find((x) => x.value === m);
    };
    const value = (name: CaseName) => med(name)?.value;
    const echoRate = value("echo");
    const streamRedis = value("streamRedis");
    const latRedis = med("latencyRedis")?.latency;
    const latMemory = med("latencyMemory")?.latency;
    const latNats = med("latencyRedisNats")?.latency;
    const replays = (samples.get("replay") ?? []).map((x) => x.replay as ReplayResult);
    const replayMedian = med("replay")?.replay;
    // Heartbeats flow: every TestRequest sent during a replay was answered within HeartBtInt, and while the replay
    // ran (all but the last, which may have gone out just before the replay's last message).
    const heartbeatsFlow = (x: ReplayResult) =>
      x.maxAnswerMs < HEART_BT_INT * 1000 && x.testRequestsAnsweredDuring >= x.testRequestsSent - 1;
    const met = {
      ordersPerSec: streamRedis === undefined ? null : streamRedis >= TARGET_ORDERS,
      p99: latRedis === undefined ? null : latRedis.p99us < TARGET_P99_US,
      replay: replayMedian === undefined ? null : replayMedian.ms < TARGET_REPLAY_MS && replays.every(heartbeatsFlow),
    };
    const round = (n: number | undefined) => (n === undefined ? null : Math.round(n));
    const perOrder = (c: ThroughputResult | undefined) =>
      c === undefined
        ? null
        : {
            cpuUs: round(c.cpuUsPerOrder),
            heapBytes: round(c.heapBytesPerOrder),
            promotedBytes: round(c.promotedBytesPerOrder),
            gcUs: Math.round(c.gcUsPerOrder * 10) / 10,
          };
    const result = {
      ordersPerSec: round(streamRedis),
      p50us: round(latRedis?.p50us),
      p99us: round(latRedis?.p99us),
      store: "redis",
      unaryPerSec: round(value("unaryRedis")),
      keyedOrdersPerSec: round(value("streamRedisKeyed")),
      perOrder: perOrder(med("streamRedis")?.cost),
      tail:
        latRedis === undefined
          ? null
          : {
              slowOrders: latRedis.slow,
              slowDuringGc: latRedis.slowDuringGc,
              gcPausesOver1ms: latRedis.gcPausesOver1ms,
              gcMaxMs: Math.round(latRedis.gcMaxMs * 10) / 10,
              gcShare: Math.round(latRedis.gcShare * 1000) / 1000,
            },
      memory: {
        ordersPerSec: round(value("streamMemory")),
        p50us: round(latMemory?.p50us),
        p99us: round(latMemory?.p99us),
        perOrder: perOrder(med("streamMemory")?.cost),
      },
      natsEvents: { p50us: round(latNats?.p50us), p99us: round(latNats?.p99us) },
      replay100k:
        replayMedian === undefined ? null : { ms: round(replayMedian.ms), heartbeatsDuring: replayMedian.heartbeats },
      baselineStreamEchoPerSec: round(echoRate),
      baselineStreamEchoSinglePerSec: round(value("echoSingle")),
      ratio:
        streamRedis === undefined || echoRate === undefined ? null : Math.round((streamRedis / echoRate) * 1000) / 1000,
      targetsMet: met,
    };

    keysDeleted = await deleteKeys(runPrefix);

    if (json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }

    const fmt = (n: number | undefined) => (n === undefined ? "—" : Math.round(n).toLocaleString("en-US"));
    const verdict = (ok: boolean | null) => (ok === null ? "not measured" : ok ? "met" : "MISSED");
    const ratio = (n: number | undefined) =>
      n === undefined || echoRate === undefined ? "" : `${(n / echoRate).toFixed(3)}×`;
    const row = (label: string, v: string, extra = "") => `${label.padEnd(58)}${v.padStart(12)}${extra.padStart(16)}`;
    const commits = (name: CaseName) => {
      const c = med(name)?.commits;
      return c === undefined
        ? "—"
        : `${fmt(c.perSec)}/s, ${c.messagesPerCommit.toFixed(1)} messages and ${c.eventsPerCommit.toFixed(1)} events each, mean ${c.meanMs.toFixed(2)} ms`;
    };
    const latencyRow = (label: string, l: Latency | undefined) =>
      `${label.padEnd(30)}${`p50 ${fmt(l?.p50us)} µs`.padStart(20)}${`p99 ${fmt(l?.p99us)} µs`.padStart(20)}` +
      (l
        ? `   (pacing lag p99 ${fmt(l.lagP99us)} µs)\n${"".padEnd(30)}orders over ${fmt(TARGET_P99_US)} µs: ${fmt(l.slow)}, ` +
          `${fmt(l.slowDuringGc)} of them in flight during a GC pause; GC pauses ${l.gcPauses} ` +
          `(${l.gcPausesOver1ms} ≥ 1 ms, longest ${l.gcMaxMs.toFixed(1)} ms), ${(l.gcShare * 100).toFixed(1)} % of the time`
        : "");
    const costLine = (c: ThroughputResult | undefined) =>
      c === undefined
        ? "—"
        : `CPU ${fmt(c.cpuUsPerOrder)} µs, heap allocated ${fmt(c.heapBytesPerOrder)} B, promoted by scavenges ${fmt(c.promotedBytesPerOrder)} B, GC ${c.gcUsPerOrder.toFixed(1)} µs`;
    const replayLine = (x: ReplayResult) =>
      `${fmt(x.ms)} ms, ${x.heartbeats} Heartbeats in, TestRequests answered ${x.testRequestsAnsweredDuring}/${x.testRequestsSent} ` +
      `during the replay, longest wait ${fmt(x.maxAnswerMs)} ms`;
    const lines = [
      `connector benchmark — Node ${process.version}, ${rounds} rounds × ${seconds} s per case, median round; load average ${load.toFixed(2)} at start`,
      `FIX 4.4 initiator (HeartBtInt ${HEART_BT_INT}) → fill venue (child process) over loopback, gRPC client in this process;`,
      `SendStream frames of ${batch} orders (${frameBytes} B), ${fmt(window)} orders in flight; an order is done when its ExecutionReport is in`,
      "",
      row("case", "orders/s", "vs baseline"),
      row("baseline: grpc-js bidi echo, same frames and window", fmt(echoRate), ratio(echoRate)),
      row(
        `grpc-js bidi echo, 1 message (${orderBytes} B) a frame, 256 out`,
        fmt(value("echoSingle")),
        ratio(value("echoSingle")),
      ),
      row("SendStream → FIX → ExecutionReport, Redis store", fmt(streamRedis), ratio(streamRedis)),
      row("SendStream → FIX → ExecutionReport, memory store", fmt(value("streamMemory")), ratio(value("streamMemory"))),
      row(
        `  the same, an idempotency key each, past ${fmt(IDEMPOTENCY_KEYS_HELD)} keys held`,
        fmt(value("streamRedisKeyed")),
        ratio(value("streamRedisKeyed")),
      ),
      row(
        `unary Send, ${UNARY_IN_FLIGHT} in flight, Redis store`,
        fmt(value("unaryRedis")),
        ratio(value("unaryRedis")),
      ),
      "",
      `latency at ${fmt(offeredRate)} orders/s offered over SendStream (open loop, from each order's due time)`,
      latencyRow("  Redis store", latRedis),
      latencyRow("  memory store", latMemory),
      latencyRow("  Redis store, events to NATS", latNats),
      "",
      `replay of ${fmt(replayCount)} messages (Redis store), a TestRequest every ${TEST_REQUEST_EVERY_MS} ms while it runs:`,
      ...replays.map((x, i) => `  round ${i + 1}: ${replayLine(x)}`),
      "",
      "Redis store commits (median round):",
      `  SendStream throughput: ${commits("streamRedis")}`,
      `  unary Send:            ${commits("unaryRedis")}`,
      `  latency at ${fmt(offeredRate)}/s:   ${commits("latencyRedis")}`,
      "per order in this process (connector + gRPC client), SendStream (median round):",
      `  Redis store:  ${costLine(med("streamRedis")?.cost)}`,
      `  Redis store, keyed: ${costLine(med("streamRedisKeyed")?.cost)}`,
      `  memory store: ${costLine(med("streamMemory")?.cost)}`,
      `venue CPU per order: ${Number.isNaN(venueCpuPerOrderUs) ? "—" : venueCpuPerOrderUs.toFixed(1)} µs; Redis keys deleted at the end: ${fmt(keysDeleted)}`,
      "",
      `target ≥ ${fmt(TARGET_ORDERS)} orders/s over SendStream, Redis store: ${verdict(met.ordersPerSec)}`,
      `target p99 < ${fmt(TARGET_P99_US)} µs at ${fmt(offeredRate)} orders/s, Redis store: ${verdict(met.p99)}`,
      `target replay of ${fmt(replayCount)} in < ${fmt(TARGET_REPLAY_MS)} ms, TestRequests answered during it within HeartBtInt: ${verdict(met.replay)}`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    if (keysDeleted < 0) await deleteKeys(runPrefix).catch(() => {});
    echoClient.close();
    echo.server.forceShutdown();
    venue.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
