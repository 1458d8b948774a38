import { createInterface } from "node:readline";
import type { RunnerLogger } from "@fixmesh/engine";
import { ConfigError } from "@fixmesh/session";
import { loadVenueSimConfig } from "./config.js";
import { runControlCommand } from "./control.js";
import { startVenueSim } from "./sim.js";

export interface VenueSimCliIo {
  stdout?: { write(s: string): unknown };
  stderr?: { write(s: string): unknown };
  /** Stops the simulator (besides SIGTERM and SIGINT); for callers that run it in-process. */
  signal?: AbortSignal;
  /** Where `--control` commands come from (default process.stdin). */
  stdin?: NodeJS.ReadableStream;
}

const USAGE = `usage: fixmesh venue-sim --config FILE [--port N] [--verbose]

Runs the venue simulator: a FIX 4.2/4.4 acceptor that acks, fills, cancels, replaces and rejects orders.
Prints {"listening":PORT} on one line once it listens, and runs until SIGTERM or SIGINT.

  --config FILE   the YAML configuration (see apps/venue-sim/README.md)
  --port N        listen on N instead of the file's listen.port (0 picks a free port)
  --verbose       log session events (JSON lines on stderr); warnings and errors are always logged
  --control       read fault commands from stdin, one per line (send "help" for the list)
`;

/**
 * The `fixmesh venue-sim` command: loads `--config FILE`, starts the simulator, prints one JSON line
 * `{"listening":PORT}` on stdout, and runs until SIGTERM or SIGINT (or `io.signal`). Resolves with the exit
 * code: 0 after a clean stop, 2 for bad arguments or a bad configuration, 1 when it cannot start.
 */
export async function runVenueSimCli(args: readonly string[], io: VenueSimCliIo = {}): Promise<number> {
  const out = io.stdout ?? process.stdout;
  const err = io.stderr ?? process.stderr;
  let configPath: string | undefined;
  let port: number | undefined;
  let verbose = false;
  let control = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const [flag, inline] =
      a.startsWith("--") && a.includes("=")
        ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
        : [a, undefined];
    const value = () => inline ?? args[++i];
    if (flag === "--config") configPath = value();
    else if (flag === "--port") {
      const v = value();
      port = v !== undefined && /^\d+$/.test(v) ? Number(v) : Number.NaN;
      if (!(port >= 0 && port <= 65535)) {
        err.write(`--port must be a whole number from 0 to 65535, got ${JSON.stringify(v ?? "")}\n${USAGE}`);
        return 2;
      }
    } else if (flag === "--verbose") verbose = true;
    else if (flag === "--control") control = true;
    else if (flag === "--help" || flag === "-h") {
      out.write(USAGE);
      return 0;
    } else {
      err.write(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
      return 2;
    }
  }
  if (configPath === undefined) {
    err.write(`--config FILE is required\n${USAGE}`);
    return 2;
  }
  let config: ReturnType<typeof loadVenueSimConfig>;
  try {
    config = loadVenueSimConfig(configPath);
  } catch (e) {
    if (e instanceof ConfigError) {
      err.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (port !== undefined) config = { ...config, listen: { ...config.listen, port } };
  const logger = jsonLogger(err, verbose);
  let sim: Awaited<ReturnType<typeof startVenueSim>>;
  try {
    sim = await startVenueSim(config, { logger });
  } catch (e) {
    err.write(`venue-sim could not start: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  out.write(`${JSON.stringify({ listening: sim.port })}\n`);
  let rl: ReturnType<typeof createInterface> | null = null;
  if (control) {
    rl = createInterface({ input: io.stdin ?? process.stdin });
    let queue = Promise.resolve();
    rl.on("line", (line) => {
      if (line.trim() === "") return;
      queue = queue.then(async () => {
        try {
          const result = await runControlCommand(sim, line);
          out.write(`${JSON.stringify({ ok: true, command: line.trim(), result })}\n`);
        } catch (e) {
          out.write(
            `${JSON.stringify({ ok: false, command: line.trim(), error: e instanceof Error ? e.message : String(e) })}\n`,
          );
        }
      });
    });
  }
  await new Promise<void>((resolve) => {
    const done = () => {
      process.off("SIGTERM", done);
      process.off("SIGINT", done);
      io.signal?.removeEventListener("abort", done);
      resolve();
    };
    process.once("SIGTERM", done);
    process.once("SIGINT", done);
    if (io.signal?.aborted) done();
    else io.signal?.addEventListener("abort", done);
  });
  rl?.close();
  await sim.stop();
  return 0;
}

function jsonLogger(err: { write(s: string): unknown }, verbose: boolean): RunnerLogger {
  const line = (level: string, obj: object, msg?: string) => {
    const o: Record<string, unknown> = { level, time: Date.now(), ...obj, ...(msg !== undefined && { msg }) };
    if (o.err instanceof Error) o.err = o.err.message;
    err.write(`${JSON.stringify(o)}\n`);
  };
  return {
    info: (obj, msg) => {
      if (verbose) line("info", obj, msg);
    },
    warn: (obj, msg) => line("warn", obj, msg),
    error: (obj, msg) => line("error", obj, msg),
  };
}
