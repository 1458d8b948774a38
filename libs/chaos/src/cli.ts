import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { parseArgs } from "node:util";
import { formatEndpoint, parseEndpoint } from "./address.js";
import { CONTROL_HELP, type ControlCommand, parseControlCommand } from "./control.js";
import { InvalidOptionError, NonLoopbackAddressError } from "./errors.js";
import { ChaosProxy } from "./proxy.js";

/** Where the CLI reads commands and writes events; the process's streams by default. */
export interface ChaosCliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Stops the proxy when aborted. Without one, SIGINT and SIGTERM stop it. */
  signal?: AbortSignal;
}

export const CHAOS_CLI_USAGE = `usage: chaos-proxy --target HOST:PORT [--listen HOST:PORT] [options]

A FIX-aware fault-injection TCP proxy. Clients connect to --listen; each connection is forwarded to --target.
Commands are read from stdin, one per line; every event and every answer is one JSON object per line on stdout.

options:
  --target HOST:PORT      where to forward (the FIX acceptor under test); loopback only
  --listen HOST:PORT      where to accept clients (default 127.0.0.1:0, a free port: see the "listening" event)
  --allow-non-loopback    allow addresses outside 127.0.0.0/8 and ::1 (never point this at a real venue)
  --seed N                seed latency jitter and replay shuffles, to repeat a run
  --keep-running          keep running when stdin ends (stop with SIGINT/SIGTERM)
  --help                  this text

${CONTROL_HELP}`;

/**
 * The chaos proxy as a command: `--listen 127.0.0.1:9000 --target 127.0.0.1:9001`, then a line-based control
 * protocol on stdin (`stall toClient`, `drop toClient 35=8 next 1`, `partition 5000`, `stats`…) with JSON lines on
 * stdout. Resolves with the exit code when stdin ends, on `quit`, or on a signal: 0 after a clean run, 2 for bad
 * arguments or a refused address, 1 when the proxy could not start.
 */
export async function runChaosCli(argv: string[], io: Partial<ChaosCliIo> = {}): Promise<number> {
  const stdin = io.stdin ?? process.stdin;
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const emit = (event: string, body: object): void => {
    stdout.write(`${JSON.stringify({ event, time: new Date().toISOString(), ...body })}\n`);
  };

  let values: ReturnType<typeof parse>;
  let proxy: ChaosProxy;
  try {
    values = parse(argv);
    if (values.help) {
      stdout.write(`${CHAOS_CLI_USAGE}\n`);
      return 0;
    }
    if (values.target === undefined) throw new InvalidOptionError("--target", "required (HOST:PORT)");
    const seed = values.seed === undefined ? undefined : Number(values.seed);
    if (seed !== undefined && !Number.isInteger(seed)) throw new InvalidOptionError("--seed", "must be a whole number");
    proxy = new ChaosProxy({
      listen: parseEndpoint("--listen", values.listen),
      target: parseEndpoint("--target", values.target),
      allowNonLoopback: values["allow-non-loopback"],
      random: seed === undefined ? undefined : seeded(seed),
    });
  } catch (e) {
    stderr.write(`chaos-proxy: ${e instanceof Error ? e.message : String(e)}\n\n${CHAOS_CLI_USAGE}\n`);
    return 2;
  }

  proxy.on("fault", (f) => emit("fault", f));
  proxy.on("connect", (c) => emit("connect", c));
  proxy.on("disconnect", (d) => emit("disconnect", d));
  try {
    const at = await proxy.start();
    emit("listening", { listen: formatEndpoint(at), target: values.target });
  } catch (e) {
    stderr.write(`chaos-proxy: ${e instanceof Error ? e.message : String(e)}\n`);
    return e instanceof NonLoopbackAddressError ? 2 : 1;
  }

  const rl = createInterface({ input: stdin, crlfDelay: Number.POSITIVE_INFINITY, terminal: false });
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const signals = io.signal === undefined ? (["SIGINT", "SIGTERM"] as const) : [];
  for (const s of signals) process.once(s, finish);
  io.signal?.addEventListener("abort", finish, { once: true });
  if (io.signal?.aborted) finish();
  rl.on("line", (line) => {
    if (execute(proxy, line, emit) === "quit") finish();
  });
  rl.on("close", () => {
    if (!values["keep-running"]) finish();
  });
  await finished;
  // A CLI run inside a test process must not leave listeners behind.
  for (const s of signals) process.off(s, finish);
  io.signal?.removeEventListener("abort", finish);
  rl.close();
  const stats = proxy.stats();
  await proxy.stop();
  emit("stopped", { stats });
  return 0;
}

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      listen: { type: "string", default: "127.0.0.1:0" },
      target: { type: "string" },
      "allow-non-loopback": { type: "boolean", default: false },
      seed: { type: "string" },
      "keep-running": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  return values;
}

/** Runs one control line; answers with an `ok`, `stats`, `connections` or `error` event. */
function execute(proxy: ChaosProxy, line: string, emit: (event: string, body: object) => void): "quit" | undefined {
  let cmd: ControlCommand | null;
  try {
    cmd = parseControlCommand(line);
    if (cmd === null) return undefined;
    const extra = apply(proxy, cmd, emit);
    if (cmd.op !== "stats" && cmd.op !== "connections" && cmd.op !== "help") {
      emit("ok", { command: line.trim(), ...extra });
    }
    return cmd.op === "quit" ? "quit" : undefined;
  } catch (e) {
    // A bad command is answered, not fatal: the proxy keeps running for the next line.
    const err = e instanceof Error ? e : new Error(String(e));
    emit("error", { command: line.trim(), error: err.name, message: err.message });
    return undefined;
  }
}

function apply(proxy: ChaosProxy, cmd: ControlCommand, emit: (event: string, body: object) => void): object {
  const dirs = (names: readonly ("toServer" | "toClient")[]) => names.map((n) => proxy[n]);
  switch (cmd.op) {
    case "cut":
      return { connections: proxy.cut({ reset: cmd.reset }) };
    case "stall":
      for (const d of dirs(cmd.directions)) d.stall({ discard: cmd.discard });
      return {};
    case "resume":
      for (const d of dirs(cmd.directions)) d.resume();
      return {};
    case "latency":
      for (const d of dirs(cmd.directions)) d.latency({ min: cmd.min, max: cmd.max });
      return {};
    case "drop":
      return { rules: dirs(cmd.directions).map((d) => d.drop(cmd.rule).id) };
    case "duplicate":
      return { rules: dirs(cmd.directions).map((d) => d.duplicate(cmd.rule).id) };
    case "holdReplay":
      for (const d of dirs(cmd.directions)) d.holdReplay(cmd.options);
      return {};
    case "partition":
      // Healing is reported by its own event; nothing waits on the promise here.
      void proxy.partition(cmd.ms);
      return {};
    case "heal":
      proxy.heal();
      return {};
    case "refuse":
      proxy.refuseConnections(cmd.on);
      return {};
    case "clear":
      if (cmd.directions === null) proxy.reset();
      else for (const d of dirs(cmd.directions)) d.clear();
      return {};
    case "stats":
      emit("stats", proxy.stats());
      return {};
    case "connections":
      emit("connections", { connections: proxy.connections() });
      return {};
    case "help":
      emit("help", { text: CONTROL_HELP });
      return {};
    case "quit":
      return {};
  }
}

/** mulberry32: a small seeded generator, enough for jitter and shuffles that repeat with the same seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
