#!/usr/bin/env node
/**
 * `pnpm test:conformance`: runs the QuickFIX acceptance scripts against our acceptor (started in-process) or
 * against one already running (`--port`). See ../README.md.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadKnownGaps } from "./known-gaps.js";
import { formatResult, formatSummary, totalsOf } from "./report.js";
import { ALL_VERSIONS, FIX4_VERSIONS, runAll, SERVER_DIR } from "./runner.js";

const KNOWN_GAPS_MD = fileURLToPath(new URL("../KNOWN_GAPS.md", import.meta.url));

const USAGE = `usage: node test/conformance/dist/main.js [options]
  --versions LIST   comma-separated folders (default ${FIX4_VERSIONS.join(",")}; "all" adds fix50,fix50sp1,fix50sp2)
  --port N          run against an acceptor already listening on N (default: start the in-process one)
  --host H          its host (default 127.0.0.1)
  --filter S        only scripts whose fixNN/Name contains S
  --timeout MS      limit for each wait: connect, E, eDISCONNECT (default 10000; keep above 7200)
  --json            print the results as one JSON document instead of text
  --definitions DIR folder holding the version folders (default: the vendored quickfix/definitions/server)
  --known-gaps FILE markdown table of fixNN/Name known failures (default: test/conformance/KNOWN_GAPS.md)`;

/** The in-process acceptor's module (at-server.ts), loaded only when no --port is given. */
interface AtServerModule {
  startAtServer(opts: { host?: string; port?: number; storeDir?: string }): Promise<{
    port: number;
    close(): Promise<void>;
  }>;
}

class UsageError extends Error {
  override readonly name = "UsageError";
}

interface CliOptions {
  versions: string[];
  port?: number;
  host: string;
  filter?: string;
  timeoutMs: number;
  json: boolean;
  serverDir: string;
  knownGapsPath: string;
}

function parseCli(argv: string[]): CliOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      versions: { type: "string" },
      port: { type: "string" },
      host: { type: "string" },
      filter: { type: "string" },
      timeout: { type: "string" },
      json: { type: "boolean" },
      definitions: { type: "string" },
      "known-gaps": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const versions = (values.versions ?? FIX4_VERSIONS.join(","))
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v !== "")
    .flatMap((v) => (v === "all" ? [...ALL_VERSIONS] : [v]));
  const serverDir = values.definitions ?? SERVER_DIR;
  const unique = [...new Set(versions)];
  if (unique.length === 0) throw new UsageError("--versions names no folder");
  for (const v of unique) {
    if (!existsSync(join(serverDir, v))) throw new UsageError(`--versions: no folder ${join(serverDir, v)}`);
  }
  return {
    versions: unique,
    port: values.port === undefined ? undefined : positiveInt("--port", values.port),
    host: values.host ?? "127.0.0.1",
    filter: values.filter,
    timeoutMs: values.timeout === undefined ? 10_000 : positiveInt("--timeout", values.timeout),
    json: values.json ?? false,
    serverDir,
    knownGapsPath: values["known-gaps"] ?? KNOWN_GAPS_MD,
  };
}

function positiveInt(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive integer, not ${text}`);
  return n;
}

async function startInProcessAcceptor(): Promise<{ port: number; close(): Promise<void> }> {
  // A variable specifier keeps tsc from resolving the module at build time: at-server.ts is written
  // separately, and the runner must build (and run with --port) without it.
  const specifier = "./at-server.js";
  const mod = (await import(specifier)) as AtServerModule;
  return mod.startAtServer({ host: "127.0.0.1", port: 0 });
}

async function main(argv: string[]): Promise<number> {
  let cli: CliOptions | "help";
  try {
    cli = parseCli(argv);
  } catch (e) {
    console.error(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  if (cli === "help") {
    console.log(USAGE);
    return 0;
  }
  if (cli.timeoutMs < 8000 && cli.filter === undefined) {
    console.error(`note: --timeout ${cli.timeoutMs} is below 8000 ms; 6_SendTestRequest waits 7.2 s for a disconnect`);
  }
  const knownGaps = loadKnownGaps(cli.knownGapsPath);

  let server: { port: number; close(): Promise<void> } | undefined;
  let host = cli.host;
  let port = cli.port;
  if (port === undefined) {
    try {
      server = await startInProcessAcceptor();
    } catch (e) {
      console.error(`cannot start the in-process acceptor (use --port to run against a running one): ${String(e)}`);
      return 2;
    }
    host = "127.0.0.1";
    port = server.port;
  }

  try {
    const all = await runAll(cli.versions, {
      host,
      port,
      timeoutMs: cli.timeoutMs,
      filter: cli.filter,
      serverDir: cli.serverDir,
      onResult: cli.json ? undefined : (r) => console.log(formatResult(r, knownGaps).join("\n")),
    });
    const failed = all.reduce((n, v) => n + totalsOf(v.results, knownGaps).failed, 0);
    if (cli.json) {
      const versions = all.map(({ version, results }) => ({
        version,
        ...totalsOf(results, knownGaps),
        results: results.map((r) => ({ ...r, knownGap: knownGaps.has(r.name) })),
      }));
      const passed = all.reduce((n, v) => n + totalsOf(v.results, knownGaps).passed, 0);
      console.log(JSON.stringify({ passed, failed, versions }, null, 2));
    } else {
      console.log(formatSummary(all, knownGaps).join("\n"));
    }
    return failed === 0 ? 0 : 1;
  } finally {
    await server?.close();
  }
}

// `… | head` closes stdout early: stop quietly, as a shell tool would on SIGPIPE.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code !== "EPIPE") throw e;
  process.exit(1);
});
process.exitCode = await main(process.argv.slice(2));
