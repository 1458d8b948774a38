/**
 * The embedded stack of `fixmesh start`: the venue simulator, a connector, risk, persistence and order-entry in
 * one process, on embedded defaults — file stores for the FIX sessions (sequence numbers survive a restart), one
 * in-process bus for every event (the connector's `fix.>`, order-entry's `orders.>`, everyone's `audit.>`, read by
 * the others' durable consumers), orders and positions in memory, PGlite in a local folder for the audit trail —
 * each serving its gRPC API on loopback (plaintext is allowed there).
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Connector, InProcessBus, loggerFor, parseConfig, startConnector } from "@fixmesh/connector";
import { type OrderEntryHandle, parseOrderEntryConfig, startOrderEntry } from "@fixmesh/order-entry";
import { type PersistenceHandle, startPersistence } from "@fixmesh/persistence";
import { parseRiskConfig, type RiskHandle, startRisk } from "@fixmesh/risk";
import { parseVenueSimConfig, startVenueSim, type VenueSim } from "@fixmesh/venue-sim";
import { type DestinationStream, type Logger, pino } from "pino";

/** The one FIX session of the embedded stack, as the connector names it. */
export const EMBEDDED_SESSION = "FIX.4.4:CLIENT->VENUE";

export interface StackPorts {
  /** OrderEntryService (default 50061, what `fixmesh order` asks by default). */
  orderEntry: number;
  /** RiskService (default 50071, what `fixmesh risk` asks by default). */
  risk: number;
  /** AuditService (default 7090, what `fixmesh audit` asks by default). */
  audit: number;
  /** The connector's SessionService (default 50051). */
  connector: number;
  /** The venue simulator's FIX acceptor (default 0: any free port; only the connector talks to it). */
  venue: number;
}

export const DEFAULT_PORTS: StackPorts = { orderEntry: 50061, risk: 50071, audit: 7090, connector: 50051, venue: 0 };

export interface StackOptions {
  /** Where everything is kept (made absolute; created if missing). */
  dataDir: string;
  ports?: Partial<StackPorts>;
  logLevel?: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** Where the services' JSON log lines go. Default: `<dataDir>/fixmesh.log`. */
  logDestination?: DestinationStream;
  /** Progress while starting ("risk: serving on …"). */
  progress?: (line: string) => void;
  /** How long to wait for the FIX session to log on before order-entry starts (default 15 s). */
  logonTimeoutMs?: number;
}

export interface StackAddresses {
  orderEntry: string;
  risk: string;
  audit: string;
  connector: string;
  venue: string;
  /** The connector's Prometheus endpoint. */
  metrics: string | null;
}

export interface EmbeddedStack {
  readonly dataDir: string;
  readonly addresses: StackAddresses;
  readonly logFile: string | null;
  readonly limitsFile: string;
  readonly pgliteDir: string;
  /** The bus every service publishes to and reads from. */
  readonly bus: InProcessBus;
  readonly session: string;
  /** Whether the session was LIVE when start() returned. */
  readonly live: boolean;
  readonly venue: VenueSim;
  readonly connector: Connector;
  readonly risk: RiskHandle;
  readonly persistence: PersistenceHandle;
  readonly orderEntry: OrderEntryHandle;
  /**
   * Stops everything in order — order-entry (no new orders), the connector (Logout; its outbox published), then
   * persistence once it has stored what the bus holds (bounded by `drainMs`), risk, the venue — and flushes the
   * log. Resolves with the problems met (empty: a clean stop).
   */
  stop(drainMs?: number): Promise<string[]>;
}

/** The risk limits a first `fixmesh start` writes to `<data>/limits.yaml` (risk reloads the file on change). */
export const EMBEDDED_LIMITS_YAML = `# Risk limits of \`fixmesh start\`. Edit this file while it runs: risk reloads it (a file that does not
# parse is refused as a whole, the limits in force stay). Every field: apps/risk/README.md.
limits:
  - normal:
      maxOrderQty: 10000          # MAX_ORDER_QTY
      maxNotional: 1000000        # MAX_NOTIONAL (qty x price; market orders at the reference price)
      maxOpenOrders: 100          # MAX_OPEN_ORDERS per account
      maxPosition: 50000          # MAX_POSITION per account and symbol
      maxOrdersPerSec: 50         # ORDER_RATE per account
      restrictedSymbols: [GME]    # RESTRICTED_SYMBOL
    degraded:                     # while the FIX session is DEGRADED
      maxOrderQty: 1000
      maxOrdersPerSec: 5
    referencePrices: { IBM: "100", MSFT: "400", AAPL: "190" }
`;

/** The `fixmesh start` flag that sets each service's port, for the hint when the port is taken. */
const PORT_FLAG_OF: Record<string, string> = {
  "venue-sim": "--venue-port",
  risk: "--risk-port",
  persistence: "--audit-port",
  connector: "--connector-port",
  "order-entry": "--order-entry-port",
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function errText(err: unknown): string {
  if (err instanceof Error) {
    const issues = (err as { issues?: Array<{ field: string; reason: string }> }).issues;
    if (Array.isArray(issues) && issues.length > 0) return issues.map((i) => `${i.field}: ${i.reason}`).join("; ");
    return err.message;
  }
  return String(err);
}

/** Starts the whole stack; on a failure stops what had started and throws an Error naming the service. */
export async function startEmbeddedStack(o: StackOptions): Promise<EmbeddedStack> {
  const dir = resolve(o.dataDir);
  mkdirSync(dir, { recursive: true });
  const ports: StackPorts = { ...DEFAULT_PORTS, ...o.ports };
  const level = o.logLevel ?? "info";
  const progress = o.progress ?? (() => undefined);
  const logFile = o.logDestination ? null : join(dir, "fixmesh.log");
  const ownDest = o.logDestination ? null : pino.destination({ dest: logFile as string, append: true, sync: false });
  const dest: DestinationStream = o.logDestination ?? (ownDest as DestinationStream);
  const logger = (service: string): Logger => pino({ level, base: { service } }, dest);
  const bus = new InProcessBus();

  const stops: Array<{ name: string; stop: () => Promise<void> }> = [];
  const stopAll = async (): Promise<string[]> => {
    const problems: string[] = [];
    for (const s of stops.reverse()) {
      try {
        await s.stop();
      } catch (err) {
        problems.push(`${s.name}: ${errText(err)}`);
      }
    }
    stops.length = 0;
    await bus.close();
    if (ownDest) {
      try {
        ownDest.flushSync();
      } catch {
        // nothing was buffered, or the file is gone: nothing more to do
      }
      ownDest.end();
    }
    return problems;
  };
  const step = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      const flag = PORT_FLAG_OF[name];
      const inUse = flag !== undefined && /EADDRINUSE/.test(errText(err));
      const hint = inUse ? ` (another fixmesh start running? choose another port with ${flag}, 0 for any)` : "";
      const e = new Error(`${name} did not start: ${errText(err)}${hint}`, { cause: err });
      const problems = await stopAll();
      if (problems.length > 0) e.message += ` (and while stopping: ${problems.join("; ")})`;
      throw e;
    }
  };

  // --- persistence (PGlite in <data>/pglite). First: PGlite runs on this thread and a first start (creating the
  // database) keeps it busy for seconds, which would stall a FIX logon started meanwhile. Its durable consumers
  // read the bus from the beginning, so starting before the others loses nothing.
  const pgliteDir = join(dir, "pglite");
  progress(`persistence  opening PGlite in ${pgliteDir} (the first start creates the database: it takes a while)`);
  const persistence = await step("persistence", () =>
    startPersistence(
      {
        database: { engine: "pglite", dataDir: pgliteDir },
        grpc: { plaintext: true, host: "127.0.0.1", port: ports.audit },
        log: { level },
      },
      { bus, logger: logger("persistence") },
    ),
  );
  stops.push({ name: "persistence", stop: () => persistence.close() });
  progress(`persistence  AuditService on 127.0.0.1:${persistence.grpcPort ?? "-"}`);

  // --- the venue -------------------------------------------------------------------------------------------------
  const venue = await step("venue-sim", () =>
    startVenueSim(
      parseVenueSimConfig({
        listen: { host: "127.0.0.1", port: ports.venue },
        store: { kind: "file", dir: join(dir, "venue"), fsync: "never" },
        sessions: [{ BeginString: "FIX.4.4", SenderCompID: "VENUE", TargetCompID: "CLIENT" }],
        // New, then two fills 100 ms apart; VOD.L orders rest in a book (try a cancel or a replace on them).
        policy: { fill: "partial(2)", fillIntervalMs: 100, latency: 1 },
        symbols: { "VOD.L": { fill: "book" }, GME: { restricted: true } },
      }),
    ),
  );
  stops.push({ name: "venue-sim", stop: () => venue.stop(1000) });
  progress(`venue-sim    FIX 4.4 acceptor on 127.0.0.1:${venue.port}`);

  // --- risk (before the connector: it follows the session's health from the first state event) ------------------
  const limitsFile = join(dir, "limits.yaml");
  if (!existsSync(limitsFile)) writeFileSync(limitsFile, EMBEDDED_LIMITS_YAML);
  const risk = await step("risk", () =>
    startRisk(
      parseRiskConfig(
        JSON.stringify({
          risk: { id: "embedded" },
          grpc: { plaintext: true, host: "127.0.0.1", port: ports.risk, closeGraceMs: 500 },
          limits: { file: limitsFile },
          state: { kind: "memory" },
          bus: { kind: "in-process", catchUpTimeoutMs: 10_000 },
          log: { level },
        }),
        { env: {}, source: "fixmesh start (risk)", cwd: dir, baseDir: dir },
      ),
      { buses: { orders: bus, fix: bus, audit: bus }, logger: logger("risk") },
    ),
  );
  stops.push({ name: "risk", stop: () => risk.close() });
  progress(`risk         RiskService on 127.0.0.1:${risk.port}`);

  // --- the connector ---------------------------------------------------------------------------------------------
  const yaml = `
connector: { id: embedded, dataDir: ${JSON.stringify(join(dir, "connector"))} }
store: { kind: file, fsync: always }
grpc: { plaintext: true, host: 127.0.0.1, port: ${ports.connector} }
metrics: { host: 127.0.0.1, port: 0 }
log: { level: ${level} }
sessions:
  - BeginString: FIX.4.4
    SenderCompID: CLIENT
    TargetCompID: VENUE
    ConnectionType: initiator
    HeartBtInt: 5
    ReconnectInterval: 1
    initiator: { hosts: [{ host: 127.0.0.1, port: ${venue.port} }] }
`;
  const connector = await step("connector", async () => {
    const cfg = parseConfig(yaml, { env: {}, source: "fixmesh start (connector)", cwd: dir, baseDir: dir });
    return startConnector(cfg, { logger: loggerFor(cfg, dest), bus });
  });
  stops.push({ name: "connector", stop: () => connector.stop() });
  progress(`connector    SessionService on 127.0.0.1:${connector.grpcPort}; session ${EMBEDDED_SESSION}`);

  const runner = connector.get(EMBEDDED_SESSION);
  const logonBy = Date.now() + (o.logonTimeoutMs ?? 15_000);
  while (runner !== undefined && runner.state.health !== "LIVE" && Date.now() < logonBy) await sleep(20);
  const live = runner?.state.health === "LIVE";
  progress(
    live
      ? `session      ${EMBEDDED_SESSION} LIVE (next seq out ${runner?.state.nextSenderSeq}, in ${runner?.state.nextTargetSeq})`
      : `session      ${EMBEDDED_SESSION} not LIVE yet (${runner?.state.health ?? "unknown"}): orders are refused until it is`,
  );

  // --- order-entry -----------------------------------------------------------------------------------------------
  const orderEntry = await step("order-entry", () =>
    startOrderEntry(
      parseOrderEntryConfig(
        {
          orderEntry: { id: "embedded" },
          grpc: { plaintext: true, host: "127.0.0.1", port: ports.orderEntry },
          sessions: [{ id: EMBEDDED_SESSION, connector: `127.0.0.1:${connector.grpcPort}` }],
          // A loaded laptop (PGlite shares this thread) needs more than the 250 ms default; still fail closed.
          risk: { address: `127.0.0.1:${risk.port}`, deadlineMs: 1000 },
          store: { kind: "memory" },
          log: { level },
        },
        { source: "fixmesh start (order-entry)", env: {} },
      ),
      { fixBus: bus, ordersBus: bus, logger: logger("order-entry") },
    ),
  );
  stops.push({ name: "order-entry", stop: () => orderEntry.close() });
  progress(`order-entry  OrderEntryService on 127.0.0.1:${orderEntry.port}`);

  let stopping: Promise<string[]> | null = null;
  return {
    dataDir: dir,
    addresses: {
      orderEntry: `127.0.0.1:${orderEntry.port}`,
      risk: `127.0.0.1:${risk.port}`,
      audit: `127.0.0.1:${persistence.grpcPort ?? 0}`,
      connector: `127.0.0.1:${connector.grpcPort}`,
      venue: `127.0.0.1:${venue.port}`,
      metrics: connector.metricsPort ? `http://127.0.0.1:${connector.metricsPort}/metrics` : null,
    },
    logFile,
    limitsFile,
    pgliteDir,
    bus,
    session: EMBEDDED_SESSION,
    live,
    venue,
    connector,
    risk,
    persistence,
    orderEntry,
    stop(drainMs = 5000) {
      stopping ??= (async () => {
        const problems: string[] = [];
        // Stop taking orders, then log the session out (the connector publishes what its outbox holds) ...
        for (const name of ["order-entry", "connector"]) {
          const i = stops.findIndex((s) => s.name === name);
          if (i < 0) continue;
          const [s] = stops.splice(i, 1);
          try {
            await s.stop();
          } catch (err) {
            problems.push(`${name}: ${errText(err)}`);
          }
        }
        // ... then let persistence store what the bus still holds, so the transcript ends with the Logout.
        const by = Date.now() + drainMs;
        for (;;) {
          const lag = await persistence.lag().catch(() => 0);
          if (lag === 0) break;
          if (Date.now() > by) {
            problems.push(`persistence: ${lag} event(s) not stored within ${drainMs} ms`);
            break;
          }
          await sleep(50);
        }
        problems.push(...(await stopAll()));
        return problems;
      })();
      return stopping;
    },
  };
}
