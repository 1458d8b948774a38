/**
 * `pnpm bench:orders` — orders through the whole platform, each service its own process on real Redis and NATS:
 * gRPC clients (this process) → order-entry → risk → connector (Redis store) → FIX → venue simulator, and the
 * ExecutionReports back through the connector, NATS JetStream and order-entry to the client's StreamOrderUpdates.
 * Against the limits of one gRPC hop between two processes (a bare grpc-js unary echo and a bare bidi stream echo,
 * `orders-echo.ts`), measured in the same run.
 *
 * Modes (one JSON line each with --json):
 * - unary: SubmitOrder, `--in-flight` (64) calls outstanding; baseline: the unary echo, 64 in flight.
 * - stream: SubmitOrderStream, the orders of one event-loop turn in one batch frame (`--single-frames`: one
 *   request a frame), up to `--window` (256) orders not yet filled; baseline: the stream echo, one message a frame,
 *   256 in flight. Every mode reads its fills on a `batched` StreamOrderUpdates (`--single-frames`: one update a
 *   message).
 * - embedded: stream mode against the one-process stack (`orders-embedded.ts`: venue, connector, risk and
 *   order-entry in one process, memory state, no NATS); baseline: the stream echo.
 * - stream-mtls: stream mode against a second process stack with mutual TLS and the authorization policy on every
 *   gRPC hop (client → order-entry → risk, order-entry → connector; certificates made in the run, `orders-mtls.ts`),
 *   measured right after the plaintext stream run; `vsPlaintext`: its orders/s over the plaintext stream run's. The
 *   line also carries one hop's figure: the bare stream echo with mutual TLS against the plaintext one.
 *
 * An order is done when its FILLED update reaches the client on StreamOrderUpdates; latency runs from the submit
 * (open loop: from the order's due time) to that update. ordersPerSec: fills seen per second over `--seconds`
 * after a ramp, the median of `--rounds`. p50us/p99us: over those rounds' orders. p99usAt500: an open loop at
 * `--rate` (500) orders/s for `--latency-seconds` (4), each order written when due whatever happened before.
 *
 * Options: --json, --seconds=3, --rounds=3, --in-flight=64, --window=256, --rate=500, --latency-seconds=4,
 * --only=unary,stream,embedded,stream-mtls, --latency-only (the open loop alone), --single-frames,
 * --profile=order-entry,risk,connector,venue-sim,embedded (node --cpu-prof on those processes; the files' folder is
 * printed on stderr and kept), --trace (the services export spans to a collector here; a table of where the lone
 * orders' time goes, orders-trace.ts), --redis=URL, --nats=URL. Also printed per mode: 20 lone orders' latency, and CPU
 * time and write(2) calls per order by process (from /proc). Every wait is bounded; the run fails (exit 1) on a
 * broken stream, an order that never fills or a process that dies; refused orders are counted (`errors`).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { JetStreamBus } from "@fixmesh/bus";
import {
  type OrderRequestFrame,
  type OrderResponseFrame,
  OrderStatus,
  OrderType,
  type OrderUpdate,
  Side,
  type SubmitOrderRequest,
  TimeInForce,
} from "@fixmesh/contracts";
import { type OrderEntryClient, orderEntryClient } from "@fixmesh/order-entry";
import { type ClientTls, mtlsFromFolder } from "@fixmesh/security";
import { TestPki } from "@fixmesh/security/testing";
import { createRedisClient } from "@fixmesh/store";
import { type OtlpCollector, startOtlpCollector } from "@fixmesh/telemetry/testing";
import * as grpc from "@grpc/grpc-js";
import { type MtlsSetup, makeMtls } from "./orders-mtls.js";
import { type LoneTiming, loneTraces, stageTable } from "./orders-trace.js";

// --- options --------------------------------------------------------------------------------------------------------

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, ...v] = a.replace(/^--/, "").split("=");
    return [k as string, v.length > 0 ? v.join("=") : "true"] as const;
  }),
);
function num(name: string, def: number): number {
  const v = args.get(name);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`--${name}: must be a positive number, got "${v}"\n`);
    process.exit(2);
  }
  return n;
}
const JSON_OUT = args.get("json") === "true";
const SECONDS = num("seconds", 3);
const ROUNDS = Math.round(num("rounds", 3));
const IN_FLIGHT = Math.round(num("in-flight", 64));
const WINDOW = Math.round(num("window", 256));
const RATE = num("rate", 500);
const LATENCY_SECONDS = num("latency-seconds", 4);
/**
 * One request per SubmitOrderStream frame and one update per StreamOrderUpdates message (the forms before batch
 * frames), instead of the orders of one event-loop turn in one frame and a batched update stream.
 */
const SINGLE_FRAMES = args.get("single-frames") === "true";
/** Only the open loop at --rate (no closed-loop rounds): to see the path's latency when it is not saturated. */
const LATENCY_ONLY = args.get("latency-only") === "true";
/** Orders sent one at a time before the rounds (what a lone order costs). */
const LONE = 20;
/** How long the stack is watched idle, for its background CPU. */
const IDLE_MS = 2000;
const MODES = ["unary", "stream", "embedded", "stream-mtls"] as const;
type Mode = (typeof MODES)[number];
const ONLY = new Set((args.get("only") ?? MODES.join(",")).split(",")) as Set<string>;
for (const m of ONLY) {
  if (!(MODES as readonly string[]).includes(m)) {
    process.stderr.write(`--only: unknown mode "${m}" (modes: ${MODES.join(", ")})\n`);
    process.exit(2);
  }
}
const PROFILE = new Set((args.get("profile") ?? "").split(",").filter((s) => s.length > 0));
/** The services export their spans to a collector here, and the lone orders' spans are tabled (orders-trace.ts). */
const TRACE = args.get("trace") === "true";
let collector: OtlpCollector | undefined;
const REDIS_URL = args.get("redis") ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const NATS_URL = args.get("nats") ?? process.env.NATS_URL ?? "nats://127.0.0.1:4222";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const CLI = join(REPO, "apps/cli/dist/main.js");
const HERE = fileURLToPath(new URL(".", import.meta.url));
const SESSION = "FIX.4.4:CLIENT->VENUE";
const RUN = Math.random().toString(36).slice(2, 8);
const DIR = mkdtempSync(join(tmpdir(), "fixmesh-bench-orders-"));
const PROFILE_DIR = join(DIR, "profiles");

const log = (s: string) => process.stderr.write(`${s}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// --- child processes --------------------------------------------------------------------------------------------------

interface Proc {
  name: string;
  proc: ChildProcess;
  listening: unknown;
  stderr: string[];
  exited: Promise<void>;
  stop(): Promise<void>;
}
const running = new Set<Proc>();
/** Every process started, for their stderr when the run fails. */
const started: Proc[] = [];

/** `node [--cpu-prof] script args`, resolved once it printed `{"listening":…}` (at most 30 s). */
function spawnNode(name: string, script: string, scriptArgs: string[], profileAs = name): Promise<Proc> {
  // The services run as `fixmesh` runs them (the launcher's young generation, see ./fixmesh).
  const nodeArgs: string[] = ["--max-semi-space-size=32"];
  if (PROFILE.has(profileAs)) {
    mkdirSync(PROFILE_DIR, { recursive: true });
    nodeArgs.push("--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`);
  }
  const proc = spawn(process.execPath, [...nodeArgs, script, ...scriptArgs], {
    cwd: REPO,
    // No trace export (unless --trace): the benchmark measures the order path, not an OTLP exporter.
    env: {
      ...process.env,
      OTEL_TRACES_EXPORTER: collector === undefined ? "none" : "otlp",
      OTEL_METRICS_EXPORTER: "none",
      OTEL_LOGS_EXPORTER: "none",
      ...collector?.env(`fixmesh-${profileAs}`),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stderr: string[] = [];
  let alive = true;
  const exited = new Promise<void>((resolve) =>
    proc.on("exit", (code, signal) => {
      alive = false;
      if (!stopping.has(name)) log(`${name} exited (${code ?? signal}); stderr: ${stderr.join("").slice(-1500)}`);
      resolve();
    }),
  );
  proc.stderr?.on("data", (d: Buffer) => {
    stderr.push(d.toString());
    if (stderr.length > 200) stderr.splice(0, 100);
  });
  const stop = async () => {
    stopping.add(name);
    if (!alive) return;
    process.kill(proc.pid as number, "SIGTERM");
    const t = setTimeout(() => {
      if (alive) process.kill(proc.pid as number, "SIGKILL");
    }, 10_000);
    await exited;
    clearTimeout(t);
  };
  return new Promise<Proc>((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${name}: no "listening" line within 30 s; stderr: ${stderr.join("").slice(-2000)}`));
    }, 30_000);
    proc.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith('{"listening"')) {
          clearTimeout(timer);
          const p: Proc = { name, proc, listening: JSON.parse(line).listening, stderr, exited, stop };
          running.add(p);
          started.push(p);
          resolve(p);
        }
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before listening; stderr: ${stderr.join("").slice(-2000)}`));
    });
  });
}
const stopping = new Set<string>();

async function stopAll(): Promise<void> {
  for (const p of [...running].reverse()) {
    await p.stop();
    running.delete(p);
  }
}

// --- the baselines: bare grpc-js echo between two processes --------------------------------------------------------

const identity = (b: Buffer) => b;
const PAYLOAD = Buffer.alloc(200, 0x41);

async function echoUnary(address: string, seconds: number): Promise<number> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  try {
    let count = 0;
    let counting = false;
    let end = false;
    const worker = async () => {
      while (!end) {
        await new Promise<void>((resolve, reject) =>
          client.makeUnaryRequest("/bench.Echo/Unary", identity, identity, PAYLOAD, (err) =>
            err ? reject(err) : resolve(),
          ),
        );
        if (counting) count++;
      }
    };
    const workers = Array.from({ length: IN_FLIGHT }, worker);
    await sleep(300);
    counting = true;
    const t0 = performance.now();
    await sleep(seconds * 1000);
    counting = false;
    const dt = (performance.now() - t0) / 1000;
    end = true;
    await Promise.all(workers);
    return count / dt;
  } finally {
    client.close();
  }
}

async function echoStream(
  address: string,
  seconds: number,
  inFlight = 256,
  tls?: { credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions },
): Promise<number> {
  const client = new grpc.Client(address, tls?.credentials ?? grpc.credentials.createInsecure(), tls?.options);
  try {
    const call = client.makeBidiStreamRequest("/bench.Echo/Stream", identity, identity) as grpc.ClientDuplexStream<
      Buffer,
      Buffer
    >;
    let count = 0;
    let counting = false;
    let end = false;
    let out = 0;
    const done = new Promise<void>((resolve, reject) => {
      call.on("data", () => {
        out--;
        if (counting) count++;
        if (!end) {
          out++;
          call.write(PAYLOAD);
        } else if (out === 0) resolve();
      });
      call.on("error", reject);
    });
    for (let i = 0; i < inFlight; i++) {
      out++;
      call.write(PAYLOAD);
    }
    await sleep(300);
    counting = true;
    const t0 = performance.now();
    await sleep(seconds * 1000);
    counting = false;
    const dt = (performance.now() - t0) / 1000;
    end = true;
    await Promise.race([done, sleep(10_000)]);
    call.end();
    return count / dt;
  } finally {
    client.close();
  }
}

/**
 * CPU time of one stream message echoed between two processes that sleep in between — 100 a second, one at a time
 * — both sides summed, µs; and the round trip's p50 and p90, ms. What a hop costs when nothing is batched: on a virtual machine waking a process on an
 * idle CPU can cost far more than the bytes moved, and an order crosses tens of such hops at a modest rate.
 */
async function idleHop(
  address: string,
  echoPid: number,
  seconds: number,
): Promise<{ cpuUs: number; rttP50Ms: number; rttP90Ms: number }> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  try {
    const call = client.makeBidiStreamRequest("/bench.Echo/Stream", identity, identity) as grpc.ClientDuplexStream<
      Buffer,
      Buffer
    >;
    call.on("error", () => undefined);
    const trip = () =>
      new Promise<void>((resolve) => {
        call.once("data", () => resolve());
        call.write(PAYLOAD);
      });
    for (let i = 0; i < 20; i++) await trip();
    const cpu = () => cpuMsOf(echoPid) + cpuMsOf(process.pid);
    const c0 = cpu();
    const end = performance.now() + seconds * 1000;
    let n = 0;
    const rtts: number[] = [];
    while (performance.now() < end) {
      await sleep(10);
      const t0 = performance.now();
      await trip();
      rtts.push(performance.now() - t0);
      n++;
    }
    const us = ((cpu() - c0) * 1000) / n;
    call.end();
    return { cpuUs: us, rttP50Ms: pct(rtts, 0.5), rttP90Ms: pct(rtts, 0.9) };
  } finally {
    client.close();
  }
}

/** Set by main: the idle hop's CPU (`idleHopCpuUs`) of this run. */
let idleHopUs = Number.NaN;

// --- the order stack --------------------------------------------------------------------------------------------------

const LIMITS_YAML = [
  "# Every rule on, none refusing at benchmark rates (the orders vary account, side and quantity).",
  "limits:",
  "  - normal: { maxOrderQty: 1000000, maxNotional: 1000000000000, priceCollarPct: 50, maxOpenOrders: 1000000,",
  "              maxPosition: 1000000000000, maxOrdersPerSec: 1000000, duplicateWindowMs: 1, restrictedSymbols: [GME] }",
  '    referencePrices: { IBM: "100" }',
  "",
].join("\n");

interface Stack {
  address: string;
  /** The client's channel credentials when order-entry serves mutual TLS. */
  clientTls?: () => ClientTls;
  /** The stack's processes by name (for their CPU time). */
  procs: Array<{ name: string; pid: number }>;
  stop(): Promise<void>;
}

/** CPU time (user + system) a process has used so far, ms, from /proc (Linux); NaN elsewhere. */
function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
const CLOCK_TICKS = 100;
/** Write syscalls a process has made so far, from /proc/<pid>/io (Linux); NaN elsewhere. */
function writesOf(pid: number): number {
  try {
    return Number(/syscw:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}
function writesSnapshot(stack: Stack): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of stack.procs) m.set(p.name, writesOf(p.pid));
  m.set("client (this process)", writesOf(process.pid));
  return m;
}
function cpuSnapshot(stack: Stack): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of stack.procs) m.set(p.name, cpuMsOf(p.pid));
  const u = process.cpuUsage();
  m.set("client (this process)", (u.user + u.system) / 1000);
  return m;
}

const names = {
  redisPrefix: `fixmesh-bench-${RUN}`,
  fixStream: `BENCHFIX_${RUN}`,
  fixPrefix: `bf_${RUN}`,
  ordersStream: `BENCHORD_${RUN}`,
  ordersPrefix: `bo_${RUN}`,
  auditStream: `BENCHAUD_${RUN}`,
  auditPrefix: `ba_${RUN}`,
};
/** A stack's JetStream streams: the mTLS stack ("m") has its own, so it never reads the plaintext run's events. */
function busNames(tag: string): typeof names {
  if (tag === "p") return names;
  const t = tag.toUpperCase();
  return {
    redisPrefix: names.redisPrefix,
    fixStream: `${names.fixStream}_${t}`,
    fixPrefix: `${names.fixPrefix}_${tag}`,
    ordersStream: `${names.ordersStream}_${t}`,
    ordersPrefix: `${names.ordersPrefix}_${tag}`,
    auditStream: `${names.auditStream}_${t}`,
    auditPrefix: `${names.auditPrefix}_${tag}`,
  };
}
/** The tags of the process stacks a run may start (for the clean-up). */
const STACK_TAGS = ["p", "m"];

/**
 * venue-sim, connector, risk and order-entry, each `fixmesh <service> --config FILE` in its own process; with `mtls`,
 * every gRPC server on mutual TLS with the policy and order-entry dialling risk and the connector with its certificate.
 */
async function startProcessStack(tag: string, mtls?: MtlsSetup): Promise<Stack> {
  const n = busNames(tag);
  const grpcServer = (s: "connector" | "risk" | "orderEntry") =>
    mtls ? mtls.grpcServer(s) : "grpc: { plaintext: true, host: 127.0.0.1, port: 0 }";
  const dir = join(DIR, tag);
  mkdirSync(dir, { recursive: true });
  const file = (n: string, lines: string[]) => {
    const p = join(dir, n);
    writeFileSync(p, `${lines.join("\n")}\n`);
    return p;
  };
  const procs: Proc[] = [];
  const stop = async () => {
    for (const p of procs.reverse()) {
      await p.stop();
      running.delete(p);
    }
  };
  try {
    const venueFile = file("venue.yaml", [
      "listen: { host: 127.0.0.1, port: 0 }",
      "store: { kind: memory }",
      "sessions:",
      "  - { BeginString: FIX.4.4, SenderCompID: VENUE, TargetCompID: CLIENT, HeartBtInt: 30 }",
      "policy: { fill: immediate, latency: 0, referencePrice: 100, priceBandPercent: 50 }",
    ]);
    const venue = await spawnNode(`venue-sim-${tag}`, CLI, ["venue-sim", "--config", venueFile], "venue-sim");
    procs.push(venue);
    const connectorFile = file("connector.yaml", [
      `connector: { id: bench-${tag} }`,
      `store: { kind: redis, redis: { url: "${REDIS_URL}", prefix: ${names.redisPrefix}-${tag}-conn } }`,
      "sessions:",
      "  - BeginString: FIX.4.4",
      "    SenderCompID: CLIENT",
      "    TargetCompID: VENUE",
      "    ConnectionType: initiator",
      "    HeartBtInt: 30",
      "    NonStopSession: Y",
      "    ReconnectInterval: 1",
      `    initiator: { hosts: [{ host: 127.0.0.1, port: ${venue.listening as number} }] }`,
      grpcServer("connector"),
      "metrics: { host: 127.0.0.1, port: 0 }",
      `nats: { url: "${NATS_URL}", stream: ${n.fixStream}, subjectPrefix: ${n.fixPrefix} }`,
      "log: { level: warn }",
    ]);
    const connector = await spawnNode(`connector-${tag}`, CLI, ["connector", "--config", connectorFile], "connector");
    procs.push(connector);
    file("limits.yaml", [LIMITS_YAML]);
    const riskFile = file("risk.yaml", [
      `risk: { id: bench-${tag} }`,
      grpcServer("risk"),
      "limits: { file: limits.yaml }",
      `state: { kind: redis, redis: { url: "${REDIS_URL}", prefix: ${names.redisPrefix}-${tag}-risk } }`,
      `bus: { kind: nats, nats: { url: "${NATS_URL}", ordersStream: ${n.ordersStream}, ordersPrefix: ${n.ordersPrefix}, fixStream: ${n.fixStream}, fixPrefix: ${n.fixPrefix}, auditStream: ${n.auditStream}, auditPrefix: ${n.auditPrefix} } }`,
      "log: { level: warn }",
    ]);
    const risk = await spawnNode(`risk-${tag}`, CLI, ["risk-service", "--config", riskFile], "risk");
    procs.push(risk);
    const oeFile = file("order-entry.yaml", [
      `orderEntry: { id: bench-${tag} }`,
      grpcServer("orderEntry"),
      "sessions:",
      `  - { id: "${SESSION}", connector: "127.0.0.1:${(connector.listening as { grpc: number }).grpc}" }`,
      ...(mtls ? [`connector: { ${mtls.dialTls("connector")} }`] : []),
      `risk: { address: "127.0.0.1:${(risk.listening as { grpc: number }).grpc}", deadlineMs: 2000${mtls ? `, ${mtls.dialTls("risk")}` : ""} }`,
      `store: { kind: redis, redis: { url: "${REDIS_URL}", prefix: ${names.redisPrefix}-${tag}-oe } }`,
      `nats: { url: "${NATS_URL}", fixStream: ${n.fixStream}, fixSubjectPrefix: ${n.fixPrefix}, ordersStream: ${n.ordersStream}, ordersSubjectPrefix: ${n.ordersPrefix}, durable: bench-${tag} }`,
      "log: { level: warn }",
    ]);
    const oe = await spawnNode(`order-entry-${tag}`, CLI, ["order-entry", "--config", oeFile], "order-entry");
    procs.push(oe);
    return {
      address: `127.0.0.1:${oe.listening as number}`,
      ...(mtls ? { clientTls: () => mtls.client() } : {}),
      procs: [
        { name: "order-entry", pid: oe.proc.pid as number },
        { name: "connector", pid: connector.proc.pid as number },
        { name: "risk", pid: risk.proc.pid as number },
        { name: "venue-sim", pid: venue.proc.pid as number },
        ...serversOnThisMachine(),
      ],
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The Redis and NATS servers when they run on this machine (pidof; Linux): their CPU per order is part of what an
 * order costs here. Shared with anything else using them at the time (other runs, tests): an upper bound.
 */
function serversOnThisMachine(): Array<{ name: string; pid: number }> {
  const out: Array<{ name: string; pid: number }> = [];
  for (const name of ["redis-server", "nats-server"]) {
    try {
      const pids = execFileSync("pidof", [name], { encoding: "utf8" }).trim().split(/\s+/).map(Number);
      if (pids.length === 1 && Number.isInteger(pids[0]))
        out.push({ name: `${name} (shared)`, pid: pids[0] as number });
    } catch {
      // not running here (or no pidof): left out
    }
  }
  return out;
}

async function startEmbeddedStack(): Promise<Stack> {
  const dir = join(DIR, "embedded");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "limits.yaml"), LIMITS_YAML);
  const p = await spawnNode("embedded", join(HERE, "orders-embedded.js"), [dir]);
  return {
    address: `127.0.0.1:${p.listening as number}`,
    procs: [{ name: "embedded stack", pid: p.proc.pid as number }],
    stop: async () => {
      await p.stop();
      running.delete(p);
    },
  };
}

/** Deletes every Redis key and JetStream stream this run created. */
async function cleanup(): Promise<void> {
  const redis = createRedisClient(REDIS_URL, { maxRetriesPerRequest: 2 });
  try {
    await redis.connect().catch(() => undefined);
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${names.redisPrefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== "0");
  } catch (err) {
    log(`cleanup: Redis: ${(err as Error).message}`);
  } finally {
    redis.disconnect();
  }
  for (const [stream, prefix] of STACK_TAGS.map(busNames).flatMap(
    (n) =>
      [
        [n.fixStream, n.fixPrefix],
        [n.ordersStream, n.ordersPrefix],
        [n.auditStream, n.auditPrefix],
      ] as const,
  )) {
    try {
      const bus = await JetStreamBus.connect({ servers: NATS_URL, stream, subjects: [`${prefix}.>`] });
      await bus.deleteStream();
      await bus.close();
    } catch {
      // never created
    }
  }
}

// --- the order driver -----------------------------------------------------------------------------------------------

let seq = 0;
function orderOf(key: string, i: number): SubmitOrderRequest {
  return {
    idempotencyKey: key,
    sessionId: SESSION,
    account: `ACC${i % 64}`,
    symbol: "IBM",
    side: i % 2 === 0 ? Side.BUY : Side.SELL,
    quantity: String(1 + (i % 997)),
    orderType: OrderType.LIMIT,
    price: "100",
    timeInForce: TimeInForce.DAY,
  } as SubmitOrderRequest;
}

/** Submits orders (unary or over one SubmitOrderStream) and sees their fills on StreamOrderUpdates. */
class Driver {
  readonly client: OrderEntryClient;
  private readonly updates: ReturnType<OrderEntryClient["rpc"]["streamOrderUpdates"]>;
  private stream: grpc.ClientDuplexStream<OrderRequestFrame, OrderResponseFrame> | null = null;
  /** key → when it was submitted (or due), ms. */
  private readonly pending = new Map<string, number>();
  private readonly keyOfOrderId = new Map<string, string>();
  /** Fills seen for an order id before its answer named it. */
  private readonly early = new Map<string, number>();
  filled = 0;
  errors = 0;
  firstError = "";
  latencies: number[] | null = null;
  /** Whoever waits for the next fill or error (every waiter is woken). */
  private readonly waiters = new Set<() => void>();
  failure: Error | null = null;

  /** `tls`: the channel's credentials when order-entry serves mutual TLS (its files closed with the driver). */
  constructor(
    address: string,
    private readonly tls?: ClientTls,
  ) {
    this.client = orderEntryClient(address, tls?.credentials, tls?.options);
    this.updates = this.client.rpc.streamOrderUpdates({
      account: "",
      sessionId: "",
      fromPosition: 0n,
      batched: !SINGLE_FRAMES,
    });
    this.updates.on("data", (u: OrderUpdate) => {
      if (u.batch.length === 0) this.onUpdate(u);
      else for (const x of u.batch) this.onUpdate(x);
    });
    this.updates.on("error", (e: Error) => {
      if ((e as { code?: number }).code !== grpc.status.CANCELLED) this.failure ??= e;
    });
  }

  get outstanding(): number {
    return this.pending.size;
  }

  private onUpdate(u: OrderUpdate): void {
    const o = u.order;
    if (o === undefined || o.status !== OrderStatus.FILLED) return;
    const now = performance.now();
    const key = o.idempotencyKey || this.keyOfOrderId.get(o.orderId);
    if (key === undefined) {
      this.early.set(o.orderId, now);
      return;
    }
    this.done(key, now);
  }

  private done(key: string, now: number): void {
    const t = this.pending.get(key);
    if (t === undefined) return;
    this.pending.delete(key);
    this.filled++;
    this.latencies?.push((now - t) * 1000);
    this.wake();
  }

  /** When the last answer (SubmitOrder reply or response frame) arrived, ms. */
  lastAnswerAt = 0;

  private answered(key: string, orderId: string | undefined, err: string | undefined): void {
    this.lastAnswerAt = performance.now();
    if (err !== undefined) {
      this.errors++;
      this.firstError ||= err;
      this.pending.delete(key);
      this.wake();
      return;
    }
    if (orderId === undefined) return;
    const early = this.early.get(orderId);
    if (early !== undefined) {
      this.early.delete(orderId);
      this.done(key, early);
    } else if (this.pending.has(key)) this.keyOfOrderId.set(orderId, key);
  }

  openStream(): void {
    const s = this.client.rpc.submitOrderStream() as unknown as grpc.ClientDuplexStream<
      OrderRequestFrame,
      OrderResponseFrame
    >;
    const one = (f: OrderResponseFrame) => {
      if (f.result.case === "order") this.answered(f.correlationId, f.result.value.orderId, undefined);
      else if (f.result.case === "error") this.answered(f.correlationId, undefined, f.result.value.message);
    };
    s.on("data", (f: OrderResponseFrame) => {
      if (f.results.length === 0) one(f);
      else for (const r of f.results) one(r);
    });
    s.on("error", (e: Error) => {
      if ((e as { code?: number }).code !== grpc.status.CANCELLED) this.failure ??= e;
    });
    this.stream = s;
  }

  private frames: OrderRequestFrame[] = [];
  private flushing: NodeJS.Immediate | null = null;

  private flushFrames(): void {
    this.flushing = null;
    const frames = this.frames;
    this.frames = [];
    if (frames.length === 1) this.stream?.write(frames[0] as OrderRequestFrame);
    else if (frames.length > 1) this.stream?.write({ batch: frames } as unknown as OrderRequestFrame);
  }

  /** Submits one order; `at` is its submit (or due) time. */
  submit(at = performance.now()): Promise<void> | undefined {
    const i = seq++;
    const key = `b${RUN}-${i}`;
    this.pending.set(key, at);
    const req = orderOf(key, i);
    if (this.stream !== null) {
      const frame = { correlationId: key, request: { case: "submit", value: req } } as OrderRequestFrame;
      if (SINGLE_FRAMES) this.stream.write(frame);
      else {
        // The orders of one event-loop turn go out as one batch frame (a lone order as a plain frame).
        this.frames.push(frame);
        this.flushing ??= setImmediate(() => this.flushFrames());
      }
      return undefined;
    }
    return this.client.rpc.submitOrder(req).then(
      (r) => this.answered(key, r.order?.orderId, undefined),
      (e: Error) => this.answered(key, undefined, e.message),
    );
  }

  private wake(): void {
    if (this.waiters.size === 0) return;
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  /** Resolves at the next fill or error (bounded by `ms`). */
  next(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.waiters.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  /** Waits until nothing is outstanding, at most `ms`; true if so. */
  async drain(ms: number): Promise<boolean> {
    const end = performance.now() + ms;
    while (this.pending.size > 0 && performance.now() < end) await this.next(100);
    return this.pending.size === 0;
  }

  /** A broken stream fails the run; refused orders (e.g. risk past its deadline: fail closed) are counted. */
  check(): void {
    if (this.failure) throw this.failure;
  }

  close(): void {
    this.stream?.end();
    this.updates.cancel();
    this.client.close();
    this.tls?.files.close();
  }
}

/** Submits one order at a time until one fills (the FIX session LIVE, every hop connected), at most 30 s. */
async function waitReady(d: Driver): Promise<void> {
  const end = performance.now() + 30_000;
  for (;;) {
    d.errors = 0;
    d.firstError = "";
    const before = d.filled;
    await d.submit();
    if (d.errors === 0 && (await d.drain(5000)) && d.filled > before) return;
    if (performance.now() > end) throw new Error(`the stack never filled an order within 30 s: ${d.firstError}`);
    await sleep(250);
  }
}

/** Closed loop: unary keeps `IN_FLIGHT` calls outstanding, stream keeps `WINDOW` orders unfilled. */
async function closedLoop(d: Driver, unary: boolean, seconds: number, latencies: number[]): Promise<number> {
  let end = false;
  let counting = false;
  let count = 0;
  let lastFilled = d.filled;
  const loops: Promise<void>[] = [];
  if (unary) {
    // Each worker: a call, its answer, the next call; fills may lag the answers by at most WINDOW orders.
    const worker = async () => {
      while (!end && d.failure === null) {
        while (d.outstanding >= WINDOW && !end) await d.next(100);
        await d.submit();
      }
    };
    for (let i = 0; i < IN_FLIGHT; i++) loops.push(worker());
  } else {
    loops.push(
      (async () => {
        while (!end && d.failure === null) {
          while (d.outstanding < WINDOW) d.submit();
          await d.next(100);
        }
      })(),
    );
  }
  await sleep(500);
  lastFilled = d.filled;
  d.latencies = latencies;
  counting = true;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  count = d.filled - lastFilled;
  const dt = (performance.now() - t0) / 1000;
  counting = false;
  d.latencies = null;
  end = true;
  await Promise.race([Promise.all(loops), sleep(15_000)]);
  if (!(await d.drain(60_000))) throw new Error(`${d.outstanding} orders never filled within 60 s`);
  d.check();
  void counting;
  return count / dt;
}

/** Open loop at `rate` orders/s: order i is due at t0 + i/rate and written then (or as soon as the loop runs). */
async function openLoop(d: Driver, rate: number, seconds: number): Promise<{ latencies: number[]; lagP99: number }> {
  const latencies: number[] = [];
  const lags: number[] = [];
  const total = Math.round(rate * seconds);
  d.latencies = latencies;
  const t0 = performance.now();
  let i = 0;
  while (i < total) {
    const now = performance.now();
    while (i < total && t0 + (i * 1000) / rate <= now) {
      const due = t0 + (i * 1000) / rate;
      lags.push((now - due) * 1000);
      void d.submit(due);
      i++;
    }
    await sleep(1);
  }
  if (!(await d.drain(60_000))) throw new Error(`${d.outstanding} orders never filled within 60 s`);
  d.latencies = null;
  d.check();
  return { latencies, lagP99: pct(lags, 0.99) };
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] as number;
}
const median = (xs: number[]) => pct(xs, 0.5);

interface OrderFigures {
  ordersPerSec: number;
  p50us: number;
  p99us: number;
  p99usAt500: number;
  rounds: number[];
  lagP99us: number;
  /** Orders refused or failed (not filled) over the whole mode, and the first reason. */
  errors: number;
  firstError: string;
  /** CPU time per order submitted (filled or refused) over the closed-loop rounds, µs, by process. */
  cpuUsPerOrder: Record<string, number>;
  /** write(2) calls per order submitted over the rounds, by process. */
  writesPerOrder: Record<string, number>;
  /** CPU time of all the stack's processes and the client per order submitted over the rounds, nothing subtracted. */
  rawStackCpuUsPerOrder: number;
  /** The open loop at --rate: CPU time (nothing subtracted) and write syscalls per order, all processes summed. */
  openCpuUsPerOrder: number;
  openWritesPerOrder: number;
}

async function measureOrders(stack: Stack, unary: boolean): Promise<OrderFigures> {
  const d = new Driver(stack.address, stack.clientTls?.());
  try {
    if (!unary) d.openStream();
    await waitReady(d);
    // A lone order at a time: what one order costs when nothing queues (answer, then the fill on the updates).
    const answerMs: number[] = [];
    const fillMs: number[] = [];
    const wall = (t: number) => performance.timeOrigin + t;
    // --trace: the spans of the orders before these (exported every 100 ms) are in before the lone ones start.
    if (collector !== undefined) await sleep(500);
    const loneSince = wall(performance.now());
    const timings: LoneTiming[] = [];
    for (let i = 0; i < LONE; i++) {
      const t0 = performance.now();
      const before = d.filled;
      await d.submit(t0);
      if (unary) answerMs.push(d.lastAnswerAt - t0);
      await d.drain(10_000);
      if (d.filled > before) {
        const t1 = performance.now();
        fillMs.push(t1 - t0);
        timings.push({ submittedAt: wall(t0), filledAt: wall(t1) });
      }
    }
    const lone = { answerP50ms: pct(answerMs, 0.5), fillP50ms: pct(fillMs, 0.5), fillMaxMs: pct(fillMs, 1) };
    log(
      `  lone orders (${LONE}, one at a time): ${unary ? `SubmitOrder answered p50 ${lone.answerP50ms.toFixed(2)} ms, ` : ""}` +
        `fill seen p50 ${lone.fillP50ms.toFixed(2)} ms, max ${lone.fillMaxMs.toFixed(2)} ms`,
    );
    if (collector !== undefined) log(stageTable(await loneTraces(collector, loneSince - 1, LONE, 8), timings));
    // Warm-up: one short closed-loop round, not counted.
    if (!LATENCY_ONLY) await closedLoop(d, unary, 1, []);
    const rounds: number[] = [];
    const latencies: number[] = [];
    // Background CPU (timers, polls, heartbeats) with no order in flight, subtracted from the per-order figures.
    const idle0 = cpuSnapshot(stack);
    const idleT0 = performance.now();
    await sleep(IDLE_MS);
    const idle1 = cpuSnapshot(stack);
    const idleMs = performance.now() - idleT0;
    const cpuBefore = cpuSnapshot(stack);
    const writesBefore = writesSnapshot(stack);
    const roundsT0 = performance.now();
    const submittedBefore = seq;
    for (let r = 0; r < (LATENCY_ONLY ? 0 : ROUNDS); r++) {
      rounds.push(await closedLoop(d, unary, SECONDS, latencies));
      log(`  round ${r + 1}: ${Math.round(rounds[r] as number)} orders/s`);
    }
    const cpuAfter = cpuSnapshot(stack);
    const writesAfter = writesSnapshot(stack);
    const roundsMs = performance.now() - roundsT0;
    const n = seq - submittedBefore;
    const cpuUsPerOrder: Record<string, number> = {};
    for (const [k, v] of cpuAfter) {
      const background = (((idle1.get(k) ?? 0) - (idle0.get(k) ?? 0)) / idleMs) * roundsMs;
      cpuUsPerOrder[k] = Math.round((((v - (cpuBefore.get(k) ?? 0) - background) * 1000) / n) * 10) / 10;
    }
    let rawCpuMs = 0;
    // The shared Redis and NATS servers are left out: whatever else uses them would move this figure.
    for (const [k, v] of cpuAfter) if (!k.endsWith("(shared)")) rawCpuMs += v - (cpuBefore.get(k) ?? 0);
    const writesPerOrder: Record<string, number> = {};
    for (const [k, v] of writesAfter) writesPerOrder[k] = Math.round(((v - (writesBefore.get(k) ?? 0)) / n) * 10) / 10;
    if (n > 0) {
      log(
        `  write syscalls per order: ${Object.entries(writesPerOrder)
          .map(([k, v]) => `${k} ${v}`)
          .join(", ")}`,
      );
      log(
        `  CPU per order submitted over the rounds (${n} orders, background CPU of an idle ${IDLE_MS / 1000} s subtracted): ${Object.entries(
          cpuUsPerOrder,
        )
          .map(([k, v]) => `${k} ${v} µs`)
          .join(", ")}`,
      );
    }
    let openCpuUs = Number.NaN;
    let openWrites = Number.NaN;
    const openCpu0 = cpuSnapshot(stack);
    const openWrites0 = writesSnapshot(stack);
    const openSeq0 = seq;
    const openT0 = performance.now();
    const open = await openLoop(d, RATE, LATENCY_SECONDS);
    const openCpu1 = cpuSnapshot(stack);
    const openWrites1 = writesSnapshot(stack);
    const openN = seq - openSeq0;
    if (openN > 0) {
      // At a modest rate little is batched: what each order costs then is what bounds the latency at this rate.
      const openMs = performance.now() - openT0;
      const per = (a: Map<string, number>, b: Map<string, number>, scale: number, idle?: boolean) =>
        [...b]
          .map(([k, v]) => {
            const background = idle ? (((idle1.get(k) ?? 0) - (idle0.get(k) ?? 0)) / idleMs) * openMs : 0;
            return `${k} ${Math.round((((v - (a.get(k) ?? 0) - background) * scale) / openN) * 10) / 10}`;
          })
          .join(", ");
      log(`  open loop at ${RATE}/s (${openN} orders): CPU µs per order: ${per(openCpu0, openCpu1, 1000, true)}`);
      log(`  open loop write syscalls per order: ${per(openWrites0, openWrites1, 1)}`);
      const sum = (a: Map<string, number>, b: Map<string, number>) =>
        [...b].reduce((t, [k, v]) => t + v - (a.get(k) ?? 0), 0) / openN;
      openCpuUs = sum(openCpu0, openCpu1) * 1000;
      openWrites = sum(openWrites0, openWrites1);
      // An echoed message is two writes, each waking the other side: the writes at the idle hop's price. That is what
      // they cost when every one wakes a sleeping process (a modest rate); a write to a busy process costs less.
      log(
        `  open loop, all processes: ${Math.round(openCpuUs)} µs CPU and ${openWrites.toFixed(1)} writes per order ` +
          `(at the idle hop's ${Math.round(idleHopUs)} µs per two writes, if each woke a sleeping process: ` +
          `${Math.round((openWrites * idleHopUs) / 2)} µs); at ${Math.round(openCpuUs)} µs an order, ` +
          `${cpus().length} CPUs carry at most ${Math.round((cpus().length * 1e6) / openCpuUs)} orders/s`,
      );
    }
    return {
      ordersPerSec: median(rounds),
      p50us: pct(latencies, 0.5),
      p99us: pct(latencies, 0.99),
      p99usAt500: pct(open.latencies, 0.99),
      rounds,
      lagP99us: open.lagP99,
      errors: d.errors,
      firstError: d.firstError,
      cpuUsPerOrder,
      writesPerOrder,
      rawStackCpuUsPerOrder: (rawCpuMs * 1000) / n,
      openCpuUsPerOrder: openCpuUs,
      openWritesPerOrder: openWrites,
    };
  } finally {
    d.close();
  }
}

// --- mTLS --------------------------------------------------------------------------------------------------------------

/** One hop: the bare stream echo with mutual TLS (client certificates required) against a plaintext one. */
async function echoMtlsHop(): Promise<{ mtls: number; plain: number }> {
  const pki = new TestPki(join(DIR, "pki"));
  pki.issue("tls", { cn: "localhost", dns: ["localhost"], ips: ["127.0.0.1"] });
  const tlsEcho = await spawnNode("echo-mtls", join(HERE, "orders-echo.js"), ["--tls", pki.dir]);
  const plainEcho = await spawnNode("echo-plain", join(HERE, "orders-echo.js"), []);
  const m = mtlsFromFolder(pki.dir).client("localhost");
  const tlsRounds: number[] = [];
  const plainRounds: number[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      plainRounds.push(await echoStream(`127.0.0.1:${plainEcho.listening as number}`, Math.min(SECONDS, 2)));
      tlsRounds.push(
        await echoStream(`127.0.0.1:${tlsEcho.listening as number}`, Math.min(SECONDS, 2), 256, {
          credentials: m.credentials,
          options: m.options,
        }),
      );
    }
  } finally {
    m.files.close();
    for (const p of [tlsEcho, plainEcho]) {
      await p.stop();
      running.delete(p);
    }
  }
  return { mtls: median(tlsRounds), plain: median(plainRounds) };
}

/** The mTLS stack's order-entry must refuse a plaintext call, or this mode would measure plaintext (bounded 10 s). */
async function refusesPlaintext(address: string): Promise<void> {
  const c = orderEntryClient(address);
  try {
    const outcome = await c.rpc.getOrder({ orderId: "none" }, { deadline: Date.now() + 10_000 }).then(
      () => "answered",
      (e: { code?: number }) => (e.code === grpc.status.UNAVAILABLE ? null : `answered ${grpc.status[e.code ?? 2]}`),
    );
    if (outcome !== null) throw new Error(`stream-mtls: order-entry ${outcome} a plaintext call: TLS is not on`);
  } finally {
    c.close();
  }
}

// --- main --------------------------------------------------------------------------------------------------------------

const round = (n: number) => (Number.isFinite(n) ? Math.round(n) : null);
const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;

async function main(): Promise<number> {
  const load = loadavg()[0]?.toFixed(2);
  log(
    `orders benchmark — Node ${process.version}, ${ROUNDS} rounds × ${SECONDS} s, unary ${IN_FLIGHT} in flight, ` +
      `stream window ${WINDOW}, open loop ${RATE}/s for ${LATENCY_SECONDS} s, ` +
      `${SINGLE_FRAMES ? "one request/update per frame" : "batch frames"}; load average ${load} at start`,
  );
  if (TRACE) collector = await startOtlpCollector();
  if (PROFILE.size > 0) log(`CPU profiles (node --cpu-prof) of ${[...PROFILE].join(", ")} go to ${PROFILE_DIR}`);
  const lines: Record<string, unknown>[] = [];

  // Baselines.
  const echo = await spawnNode("echo", join(HERE, "orders-echo.js"), []);
  const echoAddress = `127.0.0.1:${echo.listening as number}`;
  const unaryRounds: number[] = [];
  const streamRounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    unaryRounds.push(await echoUnary(echoAddress, Math.min(SECONDS, 2)));
    streamRounds.push(await echoStream(echoAddress, Math.min(SECONDS, 2)));
  }
  const hop = await idleHop(echoAddress, echo.proc.pid as number, 3);
  idleHopUs = hop.cpuUs;
  await echo.stop();
  running.delete(echo);
  const baseUnary = median(unaryRounds);
  const baseStream = median(streamRounds);
  log(
    `baseline: grpc-js unary echo ${Math.round(baseUnary)}/s (${IN_FLIGHT} in flight), bidi stream echo ${Math.round(baseStream)}/s (256 in flight)`,
  );
  log(
    `baseline: one stream message echoed between two otherwise idle processes (100/s, one at a time) costs ${Math.round(idleHopUs)} µs of CPU, both sides; ` +
      `round trip p50 ${hop.rttP50Ms.toFixed(2)} ms, p90 ${hop.rttP90Ms.toFixed(2)} ms`,
  );

  const emit = (mode: Mode, f: OrderFigures, baseline: number, extra: Record<string, unknown> = {}) => {
    const line = {
      mode,
      ordersPerSec: round(f.ordersPerSec),
      p50us: round(f.p50us),
      p99us: round(f.p99us),
      p99usAt500: round(f.p99usAt500),
      baselinePerSec: round(baseline),
      ratio: ratio(f.ordersPerSec, baseline),
      errors: f.errors,
      cpuUsPerOrder: f.cpuUsPerOrder,
      openCpuUsPerOrder: round(f.openCpuUsPerOrder),
      openWritesPerOrder: Number.isFinite(f.openWritesPerOrder) ? Math.round(f.openWritesPerOrder * 10) / 10 : null,
      idleHopCpuUs: round(idleHopUs),
      ...extra,
    };
    lines.push(line);
    if (JSON_OUT) process.stdout.write(`${JSON.stringify(line)}\n`);
    log(
      `${mode}: ${line.ordersPerSec} orders/s (rounds ${f.rounds.map(Math.round).join(", ")}), p50 ${line.p50us} µs, p99 ${line.p99us} µs; ` +
        `at ${RATE}/s p99 ${line.p99usAt500} µs (pacing lag p99 ${Math.round(f.lagP99us)} µs); ` +
        `baseline ${line.baselinePerSec}/s, ratio ${line.ratio}` +
        (f.errors > 0 ? `; ${f.errors} orders not filled, the first: ${f.firstError}` : ""),
    );
  };

  let streamFigures: OrderFigures | null = null;
  if (ONLY.has("unary") || ONLY.has("stream")) {
    const stack = await startProcessStack("p");
    try {
      if (ONLY.has("unary")) emit("unary", await measureOrders(stack, true), baseUnary);
      if (ONLY.has("stream")) {
        streamFigures = await measureOrders(stack, false);
        emit("stream", streamFigures, baseStream);
      }
    } finally {
      await stack.stop();
    }
  }
  // stream-mtls: measured right after the plaintext stream run (the closer in time, the less the shared machine's
  // load moves between the two), reported after the embedded line as before.
  let mtlsLine: Record<string, unknown> | null = null;
  if (ONLY.has("stream-mtls")) {
    const mtls = makeMtls(join(DIR, "mtls"), SESSION);
    const stack = await startProcessStack("m", mtls);
    let f: OrderFigures;
    try {
      log("stream-mtls: the stream mode with mutual TLS and the policy on every gRPC hop");
      await refusesPlaintext(stack.address);
      f = await measureOrders(stack, false);
    } finally {
      await stack.stop();
    }
    const hop = await echoMtlsHop();
    const vsPlaintext = streamFigures === null ? null : ratio(f.ordersPerSec, streamFigures.ordersPerSec);
    // CPU per order of the whole stack and the client over the plaintext run's, nothing subtracted (not the
    // idle-subtracted figures, which go negative when a process is still busy in the idle window): the figure the
    // shared machine's load moves least.
    const cpuVsPlaintext =
      streamFigures === null ? null : ratio(f.rawStackCpuUsPerOrder, streamFigures.rawStackCpuUsPerOrder);
    mtlsLine = {
      mode: "stream-mtls",
      ordersPerSec: round(f.ordersPerSec),
      p50us: round(f.p50us),
      p99us: round(f.p99us),
      p99usAt500: round(f.p99usAt500),
      baselinePerSec: round(baseStream),
      ratio: ratio(f.ordersPerSec, baseStream),
      errors: f.errors,
      cpuUsPerOrder: f.cpuUsPerOrder,
      vsPlaintext,
      cpuPerOrderVsPlaintext: cpuVsPlaintext,
      plaintextOrdersPerSec: round(streamFigures?.ordersPerSec ?? Number.NaN),
      echoMtlsPerSec: round(hop.mtls),
      echoPlaintextPerSec: round(hop.plain),
      echoVsPlaintext: ratio(hop.mtls, hop.plain),
    };
    log(
      `stream-mtls: ${mtlsLine.ordersPerSec} orders/s (rounds ${f.rounds.map(Math.round).join(", ")}), p50 ${mtlsLine.p50us} µs, p99 ${mtlsLine.p99us} µs; ` +
        `at ${RATE}/s p99 ${mtlsLine.p99usAt500} µs; vs the plaintext stream run ${vsPlaintext ?? "(not run: add stream to --only)"} (CPU per order ${cpuVsPlaintext ?? "—"}×)` +
        (f.errors > 0 ? `; ${f.errors} orders not filled, the first: ${f.firstError}` : "") +
        `; one hop, the bare stream echo: mutual TLS ${mtlsLine.echoMtlsPerSec}/s vs plaintext ${mtlsLine.echoPlaintextPerSec}/s → ${mtlsLine.echoVsPlaintext}`,
    );
  }
  if (ONLY.has("embedded")) {
    const stack = await startEmbeddedStack();
    try {
      emit("embedded", await measureOrders(stack, false), baseStream);
    } finally {
      await stack.stop();
    }
  }
  if (mtlsLine !== null) {
    lines.push(mtlsLine);
    if (JSON_OUT) process.stdout.write(`${JSON.stringify(mtlsLine)}\n`);
  }

  if (!JSON_OUT) {
    const targets = lines as Array<{ mode: string; ordersPerSec?: number; ratio?: number; p99usAt500?: number }>;
    const u = targets.find((l) => l.mode === "unary");
    const s = targets.find((l) => l.mode === "stream");
    const say = (what: string, ok: boolean | undefined) =>
      process.stdout.write(`target ${what}: ${ok === undefined ? "not measured" : ok ? "met" : "MISSED"}\n`);
    process.stdout.write(
      `${["mode", "orders/s", "p50 µs", "p99 µs", "p99 µs @500/s", "baseline/s", "ratio"].join("\t")}\n`,
    );
    for (const l of lines) {
      const x = l as Record<string, unknown>;
      process.stdout.write(
        `${[x.mode, x.ordersPerSec, x.p50us, x.p99us, x.p99usAt500, x.baselinePerSec, x.ratio, ...(x.mode === "stream-mtls" ? [`vs plaintext ${x.vsPlaintext ?? "—"}; one hop (bare echo) with mTLS: ${x.echoVsPlaintext}`] : [])].join("\t")}\n`,
      );
    }
    say("unary ≥ 50% of the bare unary echo", u && (u.ratio as number) >= 0.5);
    say(
      "stream ≥ 5,000 orders/s and ≥ 25% of the bare stream echo",
      s && (s.ordersPerSec as number) >= 5000 && (s.ratio as number) >= 0.25,
    );
    say(
      "p99 < 20 ms at 500 orders/s (unary and stream)",
      u && s && (u.p99usAt500 as number) < 20_000 && (s.p99usAt500 as number) < 20_000,
    );
    const vs = (lines.find((l) => l.mode === "stream-mtls")?.vsPlaintext ?? undefined) as number | undefined;
    say("stream-mtls ≥ 0.8 of plaintext", vs === undefined ? undefined : vs >= 0.8);
  }
  return 0;
}

const deadline = setTimeout(() => {
  log("orders benchmark: still running after 10 minutes, giving up");
  void stopAll().finally(() => process.exit(1));
}, 10 * 60_000);
deadline.unref();

main()
  .then(async (code) => {
    await stopAll();
    await cleanup();
    if (PROFILE.size > 0) log(`CPU profiles in ${PROFILE_DIR}`);
    else rmSync(DIR, { recursive: true, force: true });
    process.exit(code);
  })
  .catch(async (err: unknown) => {
    log(`orders benchmark failed: ${(err as Error).stack ?? String(err)}`);
    for (const p of started) log(`--- ${p.name} stderr (last 1,500 characters):\n${p.stderr.join("").slice(-1500)}`);
    await stopAll();
    await cleanup();
    if (PROFILE.size === 0) rmSync(DIR, { recursive: true, force: true });
    process.exit(1);
  });
