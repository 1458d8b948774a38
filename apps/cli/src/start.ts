/**
 * `fixmesh start`: the embedded stack (demo/stack.ts) until Ctrl-C / SIGTERM. Prints where each service listens,
 * a few commands to try in a second terminal, then one line per FIX application message and order change as they
 * happen. Logs (JSON) go to `<data>/fixmesh.log`.
 */
import { isAbsolute, relative } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_PORTS, type EmbeddedStack, type StackPorts, startEmbeddedStack } from "./demo/stack.js";

export const START_USAGE = `  start     the whole platform in one process on embedded defaults, until Ctrl-C: venue simulator, connector
            (file store), risk, order-entry (memory), persistence (PGlite), one in-process event bus; gRPC on
            loopback. Then, in another terminal: fixmesh order submit|watch, fixmesh risk, fixmesh audit
            --data DIR               where state and logs live (default .fixmesh)
            --order-entry-port N     OrderEntryService (default ${DEFAULT_PORTS.orderEntry}; 0: any free port)
            --risk-port N            RiskService (default ${DEFAULT_PORTS.risk})
            --audit-port N           AuditService (default ${DEFAULT_PORTS.audit})
            --connector-port N       the connector's SessionService (default ${DEFAULT_PORTS.connector})
            --venue-port N           the venue simulator's FIX port (default 0: any free port)
            --log-level L            fatal|error|warn|info|debug|trace|silent (default info)
            --quiet                  no line per message and order change`;

const OPTIONS = {
  data: { type: "string", default: ".fixmesh" },
  "order-entry-port": { type: "string" },
  "risk-port": { type: "string" },
  "audit-port": { type: "string" },
  "connector-port": { type: "string" },
  "venue-port": { type: "string" },
  "log-level": { type: "string", default: "info" },
  quiet: { type: "boolean", default: false },
} as const;

const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const PORT_FLAGS: Array<[keyof typeof OPTIONS, keyof StackPorts]> = [
  ["order-entry-port", "orderEntry"],
  ["risk-port", "risk"],
  ["audit-port", "audit"],
  ["connector-port", "connector"],
  ["venue-port", "venue"],
];

const MSG_NAMES: Record<string, string> = {
  D: "NewOrderSingle",
  F: "OrderCancelRequest",
  G: "OrderCancelReplaceRequest",
  "8": "ExecutionReport",
  "9": "OrderCancelReject",
  "3": "Reject",
  j: "BusinessMessageReject",
  A: "Logon",
  "5": "Logout",
  "2": "ResendRequest",
  "4": "SequenceReset",
};

export interface StartIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM). */
  stopSignal: Promise<string>;
}

function defaultIo(): StartIo {
  return {
    out: (l) => console.log(l),
    err: (l) => console.error(l),
    stopSignal: new Promise<string>((resolve) => {
      let asked = false;
      const on = (sig: NodeJS.Signals) => {
        if (asked) {
          console.error(`fixmesh start: ${sig} again, exiting without a clean stop`);
          process.exit(130);
        }
        asked = true;
        resolve(sig);
      };
      process.on("SIGINT", on);
      process.on("SIGTERM", on);
    }),
  };
}

/** The commands printed for a newcomer; an `--address` flag only where a port is not the default. */
export function tryCommands(stack: Pick<EmbeddedStack, "addresses" | "session">, cli = "./fixmesh"): string[] {
  const a = stack.addresses;
  const flag = (addr: string, dflt: number, name = "--address") =>
    addr === `127.0.0.1:${dflt}` ? "" : ` ${name} ${addr}`;
  const s = `'${stack.session}'`;
  return [
    `${cli} order submit${flag(a.orderEntry, DEFAULT_PORTS.orderEntry)} --session ${s} --account ACC1 --symbol IBM --side buy --qty 100 --price 100.5`,
    `${cli} order watch --from 1${flag(a.orderEntry, DEFAULT_PORTS.orderEntry)}   # every change of every order, then live; Ctrl-C to stop`,
    `${cli} risk positions${flag(a.risk, DEFAULT_PORTS.risk)} --account ACC1`,
    `${cli} audit transcript${flag(a.audit, DEFAULT_PORTS.audit)} --session ${s}`,
  ];
}

/** What a line is printed from: a bus event (JSON payload). */
interface BusEventLike {
  subject: string;
  payload: Uint8Array;
}

function printEvent(d: BusEventLike, out: (l: string) => void): void {
  const stamp = new Date().toISOString().slice(11, 23);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(Buffer.from(d.payload).toString("utf8")) as Record<string, unknown>;
  } catch {
    return;
  }
  if (d.subject.startsWith("orders.")) {
    const o = (body.order ?? {}) as Record<string, string>;
    const ex = body.execution as Record<string, string> | undefined;
    out(
      `${stamp}  order      ${o.orderId} ${o.clOrdId} ${o.account} ${o.side} ${o.quantity} ${o.symbol}${o.price ? ` @ ${o.price}` : ""}: ${body.change} -> ${o.status} ${o.cumQty}/${o.quantity}${ex && Number(ex.lastQty) > 0 ? ` (fill ${ex.lastQty} @ ${ex.lastPx})` : ""}${o.text ? ` "${o.text}"` : ""}`,
    );
    return;
  }
  if (d.subject.endsWith(".state")) {
    const n = body.notice as { kind?: string; from?: string; to?: string; reason?: string } | undefined;
    if (n?.kind === "health") {
      out(`${stamp}  session    ${body.session} ${n.from} -> ${n.to}${n.reason ? ` (${n.reason})` : ""}`);
    }
    return;
  }
  const msgType = String(body.msgType ?? "");
  if (msgType === "0" || msgType === "1") return; // heartbeats and test requests
  const arrow = body.dir === "out" ? "->" : "<-";
  out(
    `${stamp}  fix        ${arrow} ${MSG_NAMES[msgType] ?? `MsgType ${msgType}`} seq ${body.seq}${body.clOrdId ? ` ClOrdID ${body.clOrdId}` : ""}${body.execId ? ` ExecID ${body.execId}` : ""}${body.possDup ? " PossDup" : ""}`,
  );
}

export async function runStart(args: string[], io: StartIo = defaultIo()): Promise<number> {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; args: string[]; strict: true }>>["values"];
  try {
    ({ values } = parseArgs({ args, options: OPTIONS, strict: true }));
  } catch (e) {
    const m = (e as Error).message;
    const hint = /'--(orders|chaos)'/.test(m)
      ? "\n(--orders and --chaos belong to the scripted demo: fixmesh demo)"
      : "";
    io.err(`fixmesh start: ${m}${hint}\n\nusage:\n${START_USAGE}`);
    return 2;
  }
  const ports: Partial<StackPorts> = {};
  for (const [flag, key] of PORT_FLAGS) {
    const v = values[flag];
    if (v === undefined) continue;
    const n = Number(v);
    if (typeof v !== "string" || !/^\d+$/.test(v) || n > 65535) {
      io.err(`fixmesh start: --${flag}: must be a port number from 0 to 65535, got "${v}"`);
      return 2;
    }
    ports[key] = n;
  }
  const level = values["log-level"];
  if (!(LEVELS as readonly string[]).includes(level)) {
    io.err(`fixmesh start: --log-level: must be one of ${LEVELS.join(", ")}, got "${level}"`);
    return 2;
  }
  const t0 = Date.now();
  io.out(`fixmesh start: starting the embedded stack in ${values.data} ...`);
  let stack: EmbeddedStack;
  try {
    stack = await startEmbeddedStack({
      dataDir: values.data,
      ports,
      logLevel: level as (typeof LEVELS)[number],
      progress: (l) => io.out(`  ${l}`),
    });
  } catch (err) {
    io.err(`fixmesh start: ${(err as Error).message}`);
    return 1;
  }
  const a = stack.addresses;
  const rel = (p: string) => {
    const r = relative(process.cwd(), p);
    return r === "" ? "." : r.startsWith("..") || isAbsolute(r) ? p : r;
  };
  io.out("");
  io.out(`fixmesh is running, in one process (data in ${rel(stack.dataDir)}, started in ${Date.now() - t0} ms):`);
  io.out(`  order-entry   ${a.orderEntry.padEnd(16)}  OrderEntryService`);
  io.out(
    `  risk          ${a.risk.padEnd(16)}  RiskService (limits: ${rel(stack.limitsFile)}, reloaded when it changes)`,
  );
  io.out(`  audit         ${a.audit.padEnd(16)}  AuditService (PGlite in ${rel(stack.pgliteDir)})`);
  io.out(
    `  connector     ${a.connector.padEnd(16)}  SessionService; session ${stack.session}${stack.live ? " LIVE" : ""}`,
  );
  io.out(`  venue         ${a.venue.padEnd(16)}  venue simulator (FIX 4.4; fills in two parts; VOD.L rests in a book)`);
  if (a.metrics) io.out(`  metrics       ${a.metrics}`);
  if (stack.logFile) io.out(`  logs          ${rel(stack.logFile)}`);
  io.out("");
  io.out("Try, in another terminal:");
  for (const c of tryCommands(stack)) io.out(`  ${c}`);
  io.out("");
  io.out("Ctrl-C stops it.");
  io.out("");

  const subs = values.quiet
    ? []
    : await Promise.all(
        ["fix.*.in.*", "fix.*.out.*", "fix.*.state", "orders.>"].map((f) =>
          stack.bus.subscribe(f, (d) => printEvent(d, io.out)),
        ),
      );

  const sig = await io.stopSignal;
  io.out(`fixmesh start: ${sig}: stopping (order-entry, Logout, storing the last events) ...`);
  for (const s of subs) await s.unsubscribe();
  const problems = await stack.stop();
  for (const p of problems) io.err(`fixmesh start: ${p}`);
  io.out(problems.length === 0 ? "fixmesh start: stopped cleanly" : "fixmesh start: stopped, with the problems above");
  return problems.length === 0 ? 0 : 1;
}
