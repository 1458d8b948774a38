/**
 * What the order end-to-end tests share: real Redis and NATS, the venue simulator (in the test process: it is the
 * counterparty, not a fixmesh service), the connector and order-entry as child processes started through the
 * `fixmesh` command (SIGKILLed by PID when a test says so), a RiskService (a tiny one that allows everything, or a
 * real apps/risk process), gRPC clients, and cleanup of everything a test created: its Redis keys, its JetStream
 * streams, its processes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { JetStreamBus } from "@fixmesh/bus";
import {
  addGrpcService,
  type CheckOrderStreamRequest,
  createGrpcClient,
  type GrpcClientOf,
  type GrpcServiceImplOf,
  type KillSwitchScope,
  OrderType,
  type OrderUpdate,
  RiskService,
  RpcError,
  SessionHealth,
  SessionService,
  Side,
  TimeInForce,
} from "@fixmesh/contracts";
import { type OrderEntryClient, orderEntryClient } from "@fixmesh/order-entry";
import { parseVenueSimConfig, startVenueSim, type VenueSim } from "@fixmesh/venue-sim";
import * as grpc from "@grpc/grpc-js";
import { Redis } from "ioredis";

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
export const CLI = join(REPO, "apps/cli/dist/main.js");
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
export const SESSION = "FIX.4.4:CLIENT->VENUE";

export function rand(): string {
  return Math.random().toString(36).slice(2, 10);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns a value (not undefined/false), at most `ms`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  ms: number,
  what: string,
): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end)
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
    await sleep(20);
  }
}

// --- the venue ----------------------------------------------------------------------------------------------------

/**
 * Symbols pick the venue's behaviour: IBM fills at once; PART in 3 partial fills; BOOK rests (cancel and replace
 * it); SLOW fills at once but only 400 ms after each request (a cancel sent meanwhile arrives too late); REJ is
 * restricted (every order rejected).
 */
export async function startVenue(): Promise<VenueSim> {
  return startVenueSim(
    parseVenueSimConfig({
      listen: { host: "127.0.0.1", port: 0 },
      sessions: [{ BeginString: "FIX.4.4", SenderCompID: "VENUE", TargetCompID: "CLIENT", HeartBtInt: 30 }],
      policy: { fill: "immediate", referencePrice: 100, priceBandPercent: 50, unsolicitedCancelAfterMs: 600_000 },
      symbols: {
        PART: { fill: "partial(3)", fillIntervalMs: 50 },
        BOOK: { fill: "book" },
        SLOW: { fill: "immediate", latency: 400 },
        REJ: { restricted: true },
      },
    }),
  );
}

// --- a RiskService for the tests ----------------------------------------------------------------------------------

export interface TestRisk {
  address: string;
  port: number;
  /** Checks seen, in order. */
  checks: CheckOrderStreamRequest[];
  /** When set, refuses with this rule. */
  refuse: { rule: string; limit: string; value: string } | null;
  /** When true, reads checks and never answers (a risk engine stuck past every deadline). */
  hang: boolean;
  /** What GetKillSwitches answers. */
  killSwitches: Array<{
    scope: KillSwitchScope;
    target: string;
    engaged: boolean;
    reason: string;
    operator: string;
    cancelOpenOrders: boolean;
    at: { seconds: bigint; nanos: number };
  }>;
  stop(): Promise<void>;
}

/** A RiskService that allows every order (or refuses with `refuse`), on a free loopback port. */
export async function startTestRisk(): Promise<TestRisk> {
  const unimplemented = async (): Promise<never> => {
    throw new RpcError(grpc.status.UNIMPLEMENTED, "INTERNAL", "not in the test risk service");
  };
  const state: TestRisk = {
    address: "",
    port: 0,
    checks: [],
    refuse: null,
    hang: false,
    killSwitches: [],
    stop: async () => undefined,
  };
  const impl: GrpcServiceImplOf<typeof RiskService> = {
    checkOrder: unimplemented,
    getLimits: unimplemented,
    setLimits: unimplemented,
    setKillSwitch: unimplemented,
    getKillSwitches: async () => ({ killSwitches: state.killSwitches }),
    getPositions: unimplemented,
    checkOrderStream: (call) => {
      call.on("data", (frame: CheckOrderStreamRequest) => {
        // A frame carries one check, or a batch of them answered by one frame of results in the same order.
        const items = frame.batch.length > 0 ? frame.batch : [frame];
        for (const r of items) state.checks.push(r);
        if (state.hang) return;
        const refuse = state.refuse;
        const answer = (r: CheckOrderStreamRequest) => ({
          correlationId: r.correlationId,
          result: refuse
            ? { allowed: false, ...refuse, message: `test refuses: ${refuse.rule}` }
            : { allowed: true, limitSet: "normal" },
        });
        call.write(frame.batch.length > 0 ? { results: items.map(answer) } : answer(frame));
      });
      call.on("end", () => call.end());
      call.on("error", () => undefined);
    },
  };
  const server = new grpc.Server();
  addGrpcService(server, RiskService, impl);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  state.port = port;
  state.address = `127.0.0.1:${port}`;
  state.stop = () => new Promise<void>((r) => server.tryShutdown(() => r()));
  return state;
}

// --- child processes ------------------------------------------------------------------------------------------------

/**
 * Every child this process started and has not seen exit: SIGKILLed by PID if this process ends first (a test file
 * killed on its timeout runs no `after` hook), so no service outlives its test.
 */
const children = new Set<ChildProcess>();
function killChildren(): void {
  for (const c of children)
    if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) process.kill(c.pid, "SIGKILL");
  children.clear();
}
process.once("exit", killChildren);
for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.once(sig, () => {
    killChildren();
    process.exit(1);
  });
}

export interface ServiceProcess {
  name: string;
  proc: ChildProcess;
  pid: number;
  listening: unknown;
  stdout: string[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL by PID; resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM by PID, then SIGKILL after `ms`. */
  stop(ms?: number): Promise<void>;
}

/** `node apps/cli/dist/main.js <args>`, resolved once it printed its `{"listening":…}` line. */
export function spawnFixmesh(name: string, args: string[], env: Record<string, string> = {}): Promise<ServiceProcess> {
  const proc = spawn(process.execPath, [CLI, ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(proc);
  proc.once("exit", () => children.delete(proc));
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on("exit", (code, signal) => resolve({ code, signal })),
  );
  proc.stderr?.on("data", (d: Buffer) => stderr.push(d.toString()));
  const alive = () => proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined;
  const kill = async () => {
    if (!alive()) return;
    process.kill(proc.pid as number, "SIGKILL");
    await exited;
  };
  const stop = async (ms = 5000) => {
    if (!alive()) return;
    process.kill(proc.pid as number, "SIGTERM");
    const t = setTimeout(() => void kill(), ms);
    await exited;
    clearTimeout(t);
  };
  return new Promise<ServiceProcess>((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => {
      void kill();
      reject(new Error(`${name}: no "listening" line within 20 s; stderr: ${stderr.join("").slice(-2000)}`));
    }, 20_000);
    proc.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        stdout.push(line);
        if (line.startsWith('{"listening"')) {
          clearTimeout(timer);
          resolve({
            name,
            proc,
            pid: proc.pid as number,
            listening: JSON.parse(line).listening,
            stdout,
            stderr,
            exited,
            kill,
            stop,
          });
        }
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before listening; stderr: ${stderr.join("").slice(-2000)}`));
    });
  });
}

// --- the stack ----------------------------------------------------------------------------------------------------

export interface StackNames {
  redisPrefix: string;
  fixStream: string;
  fixPrefix: string;
  ordersStream: string;
  ordersPrefix: string;
}

export function stackNames(): StackNames {
  const r = rand();
  return {
    redisPrefix: `fixmesh-test-${r}`,
    fixStream: `FIXTEST_${r}`,
    fixPrefix: `t_${r}`,
    ordersStream: `ORDTEST_${r}`,
    ordersPrefix: `o_${r}`,
  };
}

export class OrdersStack {
  readonly names = stackNames();
  readonly dir = mkdtempSync(join(tmpdir(), "fixmesh-orders-e2e-"));
  venue!: VenueSim;
  connector!: ServiceProcess;
  risk: TestRisk | null = null;
  riskAddress = "";
  readonly orderEntries: ServiceProcess[] = [];
  private readonly clients: OrderEntryClient[] = [];
  session!: GrpcClientOf<typeof SessionService>;
  private sessionConn!: grpc.Client;
  connectorPort = 0;

  riskProc: ServiceProcess | null = null;

  /**
   * The real risk service (`fixmesh risk-service`) as a child process: kill switches in Redis, order and session
   * events from this stack's streams, the limits given as YAML.
   */
  async startRealRisk(limitsYaml: string): Promise<ServiceProcess> {
    const n = this.names;
    writeFileSync(join(this.dir, "limits.yaml"), limitsYaml);
    const file = join(this.dir, "risk.yaml");
    writeFileSync(
      file,
      [
        "risk: { id: risk-e2e }",
        "grpc: { plaintext: true, host: 127.0.0.1, port: 0 }",
        "limits: { file: limits.yaml }",
        `state: { kind: redis, redis: { url: "${REDIS_URL}", prefix: ${n.redisPrefix}-risk } }`,
        `bus: { kind: nats, nats: { url: "${NATS_URL}", ordersStream: ${n.ordersStream}, ordersPrefix: ${n.ordersPrefix}, fixStream: ${n.fixStream}, fixPrefix: ${n.fixPrefix}, auditStream: AUDTEST_${n.fixPrefix}, auditPrefix: a_${n.fixPrefix} } }`,
        "log: { level: warn }",
        "",
      ].join("\n"),
    );
    const proc = await spawnFixmesh("risk", ["risk-service", "--config", file]);
    this.riskProc = proc;
    this.riskAddress = `127.0.0.1:${(proc.listening as { grpc: number }).grpc}`;
    return proc;
  }

  /** Venue, connector (Redis store, NATS events) and a RiskService (a test one, or none yet for `"real"`); waits until LIVE. */
  async start(opts: { risk?: "test" | "real" } = {}): Promise<this> {
    this.venue = await startVenue();
    const file = join(this.dir, "connector.yaml");
    writeFileSync(
      file,
      [
        "connector: { id: orders-e2e }",
        `store: { kind: redis, redis: { url: "${REDIS_URL}", prefix: ${this.names.redisPrefix}-conn } }`,
        "sessions:",
        "  - BeginString: FIX.4.4",
        "    SenderCompID: CLIENT",
        "    TargetCompID: VENUE",
        "    ConnectionType: initiator",
        "    HeartBtInt: 30",
        "    NonStopSession: Y",
        "    ReconnectInterval: 1",
        `    initiator: { hosts: [{ host: 127.0.0.1, port: ${this.venue.port} }] }`,
        "grpc: { plaintext: true, host: 127.0.0.1, port: 0 }",
        "metrics: { host: 127.0.0.1, port: 0 }",
        `nats: { url: "${NATS_URL}", stream: ${this.names.fixStream}, subjectPrefix: ${this.names.fixPrefix} }`,
        "log: { level: warn }",
        "",
      ].join("\n"),
    );
    this.connector = await spawnFixmesh("connector", ["connector", "--config", file]);
    this.connectorPort = (this.connector.listening as { grpc: number }).grpc;
    this.sessionConn = new grpc.Client(`127.0.0.1:${this.connectorPort}`, grpc.credentials.createInsecure());
    this.session = createGrpcClient(SessionService, this.sessionConn);
    await this.waitSession(SessionHealth.LIVE);
    if (opts.risk === undefined || opts.risk === "test") {
      this.risk = await startTestRisk();
      this.riskAddress = this.risk.address;
    }
    return this;
  }

  async waitSession(health: SessionHealth, ms = 15_000): Promise<void> {
    await eventually(
      async () =>
        (await this.session.getSession({ sessionId: SESSION }, { deadline: Date.now() + 2000 })).session?.health ===
        health,
      ms,
      `session ${SessionHealth[health]}`,
    );
  }

  orderEntryYaml(over: { riskAddress?: string; riskDeadlineMs?: number; id?: string; pullers?: number } = {}): string {
    const n = this.names;
    return [
      `orderEntry: { id: ${over.id ?? "oe"} }`,
      "grpc: { plaintext: true, host: 127.0.0.1, port: 0 }",
      "sessions:",
      `  - { id: "${SESSION}", connector: "127.0.0.1:${this.connectorPort}" }`,
      `risk: { address: "${over.riskAddress ?? this.riskAddress}", deadlineMs: ${over.riskDeadlineMs ?? 2000}, killSwitchPollMs: 200 }`,
      `store: { kind: redis, redis: { url: "${REDIS_URL}", prefix: ${n.redisPrefix}-oe } }`,
      `nats: { url: "${NATS_URL}", fixStream: ${n.fixStream}, fixSubjectPrefix: ${n.fixPrefix}, ordersStream: ${n.ordersStream}, ordersSubjectPrefix: ${n.ordersPrefix}, auditStream: AUDTEST_${n.fixPrefix}, auditSubjectPrefix: a_${n.fixPrefix}, pullers: ${over.pullers ?? 1} }`,
      "idempotency: { takeoverMs: 2000 }",
      "log: { level: warn }",
      "",
    ].join("\n");
  }

  /** `fixmesh order-entry --config FILE` as a child process; its client at index `i` of `clients`. */
  async startOrderEntry(
    over: Parameters<OrdersStack["orderEntryYaml"]>[0] = {},
  ): Promise<{ proc: ServiceProcess; client: OrderEntryClient; port: number }> {
    const file = join(this.dir, `order-entry-${rand()}.yaml`);
    writeFileSync(file, this.orderEntryYaml(over));
    const proc = await spawnFixmesh("order-entry", ["order-entry", "--config", file]);
    const port = proc.listening as number;
    const client = orderEntryClient(`127.0.0.1:${port}`);
    this.orderEntries.push(proc);
    this.clients.push(client);
    return { proc, client, port };
  }

  client(port: number): OrderEntryClient {
    const c = orderEntryClient(`127.0.0.1:${port}`);
    this.clients.push(c);
    return c;
  }

  /** The NewOrderSingles (or any MsgType) the connector sent, from the connector's own events on the FIX stream. */
  async sentMessages(msgType: string): Promise<Array<{ clOrdId?: string; seq: number; possDup: boolean }>> {
    const bus = await JetStreamBus.connect({
      servers: NATS_URL,
      stream: this.names.fixStream,
      subjects: [`${this.names.fixPrefix}.>`],
    });
    try {
      const last = await bus.lastSeq();
      const got: Array<{ clOrdId?: string; seq: number; possDup: boolean }> = [];
      let seen = 0;
      const all = await bus.subscribe(
        `${this.names.fixPrefix}.>`,
        (d) => {
          seen = d.seq;
          if (d.subject.endsWith(`.out.${msgType}`)) {
            const b = JSON.parse(Buffer.from(d.payload).toString()) as {
              clOrdId?: string;
              seq: number;
              possDup: boolean;
            };
            got.push({ seq: b.seq, possDup: b.possDup, ...(b.clOrdId !== undefined && { clOrdId: b.clOrdId }) });
          }
        },
        { fromSeq: 1 },
      );
      try {
        await eventually(() => seen >= last, 10_000, "the whole FIX stream");
      } finally {
        await all.unsubscribe();
      }
      return got;
    } finally {
      await bus.close();
    }
  }

  /** The order-entry store's counters (Redis hash), as every instance adds to them. */
  async storeCounters(): Promise<Record<string, number>> {
    const redis = new Redis(REDIS_URL);
    try {
      const h = await redis.hgetall(`${this.names.redisPrefix}-oe:counters`);
      return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
    } finally {
      await redis.quit();
    }
  }

  /** Every AUDIT event on the test's stream (JSON payloads). */
  async auditEvents(): Promise<Array<Record<string, unknown>>> {
    const bus = await JetStreamBus.connect({
      servers: NATS_URL,
      stream: `AUDTEST_${this.names.fixPrefix}`,
      subjects: [`a_${this.names.fixPrefix}.>`],
    });
    try {
      const last = await bus.lastSeq();
      const out: Array<Record<string, unknown>> = [];
      let seen = 0;
      const sub = await bus.subscribe(
        `a_${this.names.fixPrefix}.>`,
        (d) => {
          seen = d.seq;
          out.push(JSON.parse(Buffer.from(d.payload).toString()) as Record<string, unknown>);
        },
        { fromSeq: 1 },
      );
      try {
        await eventually(() => seen >= last, 10_000, "the whole AUDIT stream");
      } finally {
        await sub.unsubscribe();
      }
      return out;
    } finally {
      await bus.close();
    }
  }

  /** Every ORDERS event on the test's stream: its id and how many times it is there. */
  async orderEvents(): Promise<Map<string, number>> {
    const bus = await JetStreamBus.connect({
      servers: NATS_URL,
      stream: this.names.ordersStream,
      subjects: [`${this.names.ordersPrefix}.>`],
    });
    try {
      const last = await bus.lastSeq();
      const ids = new Map<string, number>();
      let seen = 0;
      const sub = await bus.subscribe(
        `${this.names.ordersPrefix}.>`,
        (d) => {
          seen = d.seq;
          ids.set(d.id, (ids.get(d.id) ?? 0) + 1);
        },
        { fromSeq: 1 },
      );
      try {
        await eventually(() => seen >= last, 10_000, "the whole ORDERS stream");
      } finally {
        await sub.unsubscribe();
      }
      return ids;
    } finally {
      await bus.close();
    }
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.close();
    this.sessionConn?.close();
    for (const p of this.orderEntries) await p.kill();
    await this.connector?.kill();
    await this.riskProc?.kill();
    await this.risk?.stop();
    await this.venue?.stop(0);
    const redis = new Redis(REDIS_URL);
    try {
      for (const prefix of [`${this.names.redisPrefix}-conn`, `${this.names.redisPrefix}-oe`, this.names.redisPrefix]) {
        let cursor = "0";
        do {
          const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
          cursor = next;
          if (keys.length > 0) await redis.unlink(...keys);
        } while (cursor !== "0");
      }
    } finally {
      await redis.quit();
    }
    for (const [stream, prefix] of [
      [this.names.fixStream, this.names.fixPrefix],
      [this.names.ordersStream, this.names.ordersPrefix],
      [`AUDTEST_${this.names.fixPrefix}`, `a_${this.names.fixPrefix}`],
    ] as const) {
      try {
        const bus = await JetStreamBus.connect({ servers: NATS_URL, stream, subjects: [`${prefix}.>`] });
        await bus.deleteStream();
        await bus.close();
      } catch {
        // never created
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Collects a StreamOrderUpdates call's updates (and its end). */
export class UpdateCollector {
  readonly updates: OrderUpdate[] = [];
  error: Error | null = null;
  ended = false;
  private readonly call: ReturnType<OrderEntryClient["rpc"]["streamOrderUpdates"]>;

  constructor(client: OrderEntryClient, fromPosition = 0n, account = "") {
    this.call = client.rpc.streamOrderUpdates({ account, sessionId: "", fromPosition });
    this.call.on("data", (u: OrderUpdate) => this.updates.push(u));
    this.call.on("error", (e: Error) => {
      this.error = e;
      this.ended = true;
    });
    this.call.on("end", () => {
      this.ended = true;
    });
  }

  of(orderId: string): OrderUpdate[] {
    return this.updates.filter((u) => u.order?.orderId === orderId);
  }

  get lastPosition(): bigint {
    return this.updates.at(-1)?.position ?? 0n;
  }

  cancel(): void {
    this.call.cancel();
  }
}

/** A SubmitOrder request on SESSION for ACC1: buy 100 `symbol` at 100, limit, day, a fresh idempotency key. */
export function submitReq(symbol: string, over: Record<string, unknown> = {}) {
  return {
    idempotencyKey: `k-${rand()}`,
    sessionId: SESSION,
    account: "ACC1",
    symbol,
    side: Side.BUY,
    quantity: "100",
    orderType: OrderType.LIMIT,
    price: "100",
    timeInForce: TimeInForce.DAY,
    ...over,
  };
}
