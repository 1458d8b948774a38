/**
 * QuickFIX C++ as a child process: compiles ../quickfix/venue.cpp against Debian's libquickfix-dev (once per
 * source/compiler/library, cached in the temp dir), starts it as acceptor or initiator, drives it through stdin
 * and reads its stdout events. See venue.cpp for the commands and the lines it prints.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const SOURCE = fileURLToPath(new URL("../quickfix/venue.cpp", import.meta.url));
/** QuickFIX's own data dictionaries, vendored for the conformance suite (Debian's package installs none). */
export const SPEC_DIR = fileURLToPath(new URL("../../conformance/quickfix/spec", import.meta.url));
const HEADER = "/usr/include/quickfix/Application.h";
const INSTALL_HINT =
  "install it with `apt-get install -y libquickfix-dev g++` (as root, after `apt-get update`); `.ci/run` does this";
// C++14: the 1.15.1 headers declare `throw( X )` exception specifications, which C++17 no longer accepts.
const CXX_FLAGS = ["-O1", "-std=c++14", "-Wno-deprecated"];
const LIBS = ["-lquickfix", "-lpthread"];

/** QuickFIX C++ or a C++ compiler is missing: the interop suite cannot run (and must fail, not skip). */
export class QuickFixUnavailableError extends Error {
  override readonly name = "QuickFixUnavailableError";
}

let built: Promise<string> | null = null;

/** Path of the compiled venue; compiles it on first use. Rejects with QuickFixUnavailableError when it cannot. */
export function venueBinary(): Promise<string> {
  built ??= Promise.resolve().then(build);
  return built;
}

function build(): string {
  if (!existsSync(HEADER)) {
    throw new QuickFixUnavailableError(`QuickFIX C++ is not installed (no ${HEADER}): ${INSTALL_HINT}`);
  }
  const gxx = spawnSync("g++", ["--version"], { encoding: "utf8" });
  if (gxx.error !== undefined || gxx.status !== 0) {
    throw new QuickFixUnavailableError(`g++ is not available (${gxx.error?.message ?? gxx.stderr}): ${INSTALL_HINT}`);
  }
  const hash = createHash("sha256")
    .update(readFileSync(SOURCE))
    .update(gxx.stdout)
    .update(CXX_FLAGS.join(" "))
    .update(libraryStamp());
  const dir = join(tmpdir(), "fixmesh-interop-build");
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `venue-${hash.digest("hex").slice(0, 16)}`);
  if (existsSync(out)) return out;
  const partial = `${out}.${process.pid}.tmp`;
  const r = spawnSync("g++", [...CXX_FLAGS, SOURCE, ...LIBS, "-o", partial], { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) {
    throw new QuickFixUnavailableError(
      `compiling ${SOURCE} against QuickFIX C++ failed (exit ${r.status}${r.error ? `, ${r.error.message}` : ""}):\n` +
        `${r.stderr}\n${INSTALL_HINT}`,
    );
  }
  // Renamed into place so a concurrent run never executes a half-written binary.
  renameSync(partial, out);
  // Binaries of older sources are never used again (a running one keeps its inode).
  for (const name of readdirSync(dir)) {
    if (name.startsWith("venue-") && join(dir, name) !== out && !name.endsWith(".tmp")) rmSync(join(dir, name));
  }
  return out;
}

/** The installed library's identity: a new libquickfix means a new binary. */
function libraryStamp(): string {
  for (const d of ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/local/lib"]) {
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d)) {
      if (!name.startsWith("libquickfix.so")) continue;
      const real = realpathSync(join(d, name));
      const st = statSync(real);
      return `${real}:${st.size}:${st.mtimeMs}`;
    }
  }
  return "unknown";
}

/** A loopback port that was free a moment ago (QuickFIX needs a number; it cannot report an ephemeral one). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  const port = typeof a === "object" && a !== null ? a.port : 0;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export interface QuickFixOptions {
  /** Working directory: DIR/store (FileStore) and DIR/log (FileLog). */
  dir: string;
  /** Acceptor: the port to listen on (default: a free one). Initiator: the port to connect to. */
  port?: number;
  initiator?: boolean;
  /** Initiator: the session's BeginString. */
  beginString?: string;
  senderCompId?: string;
  targetCompId?: string;
  heartBtInt?: number;
}

const running = new Set<QuickFix>();

/** Stops every QuickFIX process this module started and that is still running (by its own PID). */
export async function stopAllQuickFix(): Promise<void> {
  await Promise.all([...running].map((q) => q.stop()));
}

/** One QuickFIX C++ process. */
export class QuickFix {
  readonly lines: string[] = [];
  readonly port: number;
  readonly dir: string;
  private readonly proc: ChildProcess;
  private readonly exited: Promise<void>;
  private exitCode: number | null | undefined = undefined;
  private stderr = "";

  private constructor(proc: ChildProcess, port: number, dir: string) {
    this.proc = proc;
    this.port = port;
    this.dir = dir;
    let buf = "";
    proc.stdout?.setEncoding("utf8");
    proc.stdout?.on("data", (d: string) => {
      buf += d;
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        this.lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    proc.stderr?.setEncoding("utf8");
    proc.stderr?.on("data", (d: string) => {
      this.stderr += d;
    });
    // A write after the process ended must not crash the test process; the exit is reported by waitLine.
    proc.stdin?.on("error", () => undefined);
    this.exited = new Promise<void>((resolve) => {
      proc.on("exit", (code) => {
        this.exitCode = code;
        running.delete(this);
        resolve();
      });
    });
    running.add(this);
  }

  /** Starts QuickFIX and waits for READY. An acceptor without a port retries on a new port if the bind fails. */
  static async start(opts: QuickFixOptions): Promise<QuickFix> {
    const bin = await venueBinary();
    for (let attempt = 1; ; attempt++) {
      const port = opts.port ?? (await freePort());
      const args = ["--port", String(port), "--dir", opts.dir, "--spec", SPEC_DIR];
      if (opts.initiator) args.push("--initiator");
      if (opts.beginString) args.push("--begin", opts.beginString);
      if (opts.senderCompId) args.push("--sender", opts.senderCompId);
      if (opts.targetCompId) args.push("--target", opts.targetCompId);
      if (opts.heartBtInt !== undefined) args.push("--heartbeat", String(opts.heartBtInt));
      const q = new QuickFix(spawn(bin, args, { stdio: ["pipe", "pipe", "pipe"] }), port, opts.dir);
      try {
        await q.waitLine(/^READY /, 5000);
        return q;
      } catch (err) {
        await q.stop();
        if (opts.port !== undefined || attempt >= 3) throw err;
      }
    }
  }

  /** Sends one stdin command (see venue.cpp). */
  command(line: string): void {
    this.proc.stdin?.write(`${line}\n`);
  }

  /** Index of the next line to arrive: pass it to waitLine to look only at what comes after now. */
  mark(): number {
    return this.lines.length;
  }

  /** Lines matching `re`, from `from` on. */
  matching(re: RegExp, from = 0): string[] {
    return this.lines.slice(from).filter((l) => re.test(l));
  }

  /** The first line matching `re` at or after `from`; rejects after `ms`, or when the process ends first. */
  async waitLine(re: RegExp, ms: number, from = 0): Promise<string> {
    return (await this.waitLines(re, 1, ms, from))[0];
  }

  /** The first `n` lines matching `re` at or after `from`. */
  async waitLines(re: RegExp, n: number, ms: number, from = 0): Promise<string[]> {
    const end = Date.now() + ms;
    for (;;) {
      const found = this.matching(re, from);
      if (found.length >= n) return found.slice(0, n);
      if (this.exitCode !== undefined || Date.now() > end) {
        const why =
          this.exitCode !== undefined ? `QuickFIX exited (code ${this.exitCode})` : `timed out after ${ms} ms`;
        throw new Error(
          `${why} waiting for ${n} line(s) matching ${re} (got ${found.length}); QuickFIX printed:\n` +
            `${this.lines.join("\n")}${this.stderr ? `\nstderr:\n${this.stderr}` : ""}`,
        );
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Asks for the session's sequence numbers: `{ nextSender, nextTarget }`. */
  async sequences(beginString = "FIX.4.4"): Promise<{ nextSender: number; nextTarget: number }> {
    const from = this.mark();
    this.command(`seq ${beginString}`);
    const line = await this.waitLine(new RegExp(`^SEQ ${beginString.replaceAll(".", "\\.")} `), 2000, from);
    const [, , s, t] = line.split(" ");
    return { nextSender: Number(s), nextTarget: Number(t) };
  }

  /** Every message QuickFIX logged in and out (its FileLog), in order, with SOH shown as `|`. */
  messageLog(): string {
    const logDir = join(this.dir, "log");
    if (!existsSync(logDir)) return "(no QuickFIX log)";
    return readdirSync(logDir)
      .filter((n) => n.endsWith(".messages.current.log"))
      .map((n) => `${n}:\n${readFileSync(join(logDir, n), "latin1").replaceAll("\x01", "|")}`)
      .join("\n");
  }

  /** Stops the process: `quit`, then SIGKILL of its PID if it has not exited within 3 s. */
  async stop(): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.command("quit");
    this.proc.stdin?.end();
    const t = setTimeout(() => {
      if (this.exitCode === undefined && this.proc.pid !== undefined) this.proc.kill("SIGKILL");
    }, 3000);
    await this.exited;
    clearTimeout(t);
  }
}
