/**
 * Runs `.def` scripts against an acceptor: one script at a time per version folder (the scripts of a folder
 * share a session), folders of different versions in parallel (they use different sessions).
 */
import { readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { ScriptConnection } from "./client.js";
import { compareMessages, type FieldPatterns, loadFieldPatterns, showSoh, verifyFraming } from "./compare.js";
import { completeMessage, expandPlaceholders, PlaceholderFileError } from "./complete.js";
import { DefSyntaxError, parseDef, type Step, StepKind } from "./def.js";

/** Where the vendored QuickFIX definitions live, relative to this module (src/ or dist/). */
export const DEFINITIONS_DIR = fileURLToPath(new URL("../quickfix/definitions/", import.meta.url));
export const SERVER_DIR = join(DEFINITIONS_DIR, "server");
export const FIELDS_FMT = join(DEFINITIONS_DIR, "fields.fmt");

export const FIX4_VERSIONS = ["fix40", "fix41", "fix42", "fix43", "fix44"] as const;
export const ALL_VERSIONS = [...FIX4_VERSIONS, "fix50", "fix50sp1", "fix50sp2"] as const;

export interface RunOptions {
  host: string;
  port: number;
  /** Limit for each wait (connect, `E`, `eDISCONNECT`). Default 10 000 ms; must exceed 7.2 s for `6_*`. */
  timeoutMs?: number;
  /** Pause between two scripts of a folder, so the acceptor sees the close before the next Logon. Default 100. */
  pauseMs?: number;
  /** Only scripts whose `fixNN/Name` contains this string. */
  filter?: string;
  /** Patterns for regex-compared tags; default: the vendored `fields.fmt`. */
  patterns?: FieldPatterns;
  /** Called as each script finishes (to print while the run goes on). */
  onResult?: (result: ScriptResult) => void;
}

export interface Failure {
  /** Line of the failing step (0 when the file could not be read). */
  line: number;
  /** The step as written, SOH shown as `|`. */
  step: string;
  /** The completed expected message, SOH as `|` (E steps). */
  expected?: string;
  /** What arrived instead: a message, or the partial data at a timeout or close; SOH as `|`. */
  received?: string;
  /** 0-based index of the first differing field, when a comparison failed. */
  field?: number;
  detail: string;
}

export interface ScriptResult {
  /** `fixNN/ScriptName`: the folder and the file name without `.def`. */
  name: string;
  passed: boolean;
  failure?: Failure;
  ms: number;
}

export interface VersionResults {
  version: string;
  results: ScriptResult[];
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_PAUSE_MS = 100;

let defaultPatterns: FieldPatterns | undefined;
function patternsOf(opts: RunOptions): FieldPatterns {
  if (opts.patterns !== undefined) return opts.patterns;
  defaultPatterns ??= loadFieldPatterns(FIELDS_FMT);
  return defaultPatterns;
}

/** The name a script is reported under: `fix44/2b_MsgSeqNumTooHigh`. */
export function scriptName(path: string): string {
  return `${basename(dirname(path))}/${basename(path, ".def")}`;
}

/** A step failed; carries what the report shows. */
class StepFailure extends Error {
  override readonly name = "StepFailure";
  constructor(readonly failure: Failure) {
    super(failure.detail);
  }
}

/** Runs one script. Never throws: every problem is a failed result. */
export async function runScript(path: string, opts: RunOptions): Promise<ScriptResult> {
  const name = scriptName(path);
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  let steps: Step[];
  try {
    steps = parseDef(readFileSync(path), path);
  } catch (e) {
    const failure: Failure =
      e instanceof DefSyntaxError
        ? { line: e.line, step: showSoh(e.source), detail: `syntax error: ${e.reason}` }
        : { line: 0, step: "", detail: `cannot read script: ${e instanceof Error ? e.message : String(e)}` };
    return { name, passed: false, failure, ms: ms() };
  }

  const run = new ScriptRun(path, opts);
  try {
    await run.steps(steps);
    return { name, passed: true, ms: ms() };
  } catch (e) {
    if (e instanceof StepFailure) return { name, passed: false, failure: e.failure, ms: ms() };
    const step = run.current;
    const detail = `runner error: ${e instanceof Error ? e.message : String(e)}`;
    return {
      name,
      passed: false,
      failure: { line: step?.line ?? 0, step: showSoh(step?.source ?? ""), detail },
      ms: ms(),
    };
  } finally {
    // Whatever is still open is closed; data still unread is not checked (README, "Connections").
    run.closeAll();
  }
}

/** The state of one script while it runs: its connections by number. */
class ScriptRun {
  private readonly conns = new Map<number, ScriptConnection>();
  private readonly timeoutMs: number;
  private readonly patterns: FieldPatterns;
  current: Step | undefined;

  constructor(
    private readonly path: string,
    private readonly opts: RunOptions,
  ) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.patterns = patternsOf(opts);
  }

  async steps(steps: Step[]): Promise<void> {
    for (const step of steps) {
      this.current = step;
      // `I` must not await: consecutive sends go out in the same turn, back to back (README, "Connections").
      if (step.kind === StepKind.Send) this.send(step);
      else await this.waitingStep(step);
    }
  }

  closeAll(): void {
    for (const conn of this.conns.values()) conn.close();
    this.conns.clear();
  }

  private fail(step: Step, detail: string, extra: Partial<Failure> = {}): never {
    throw new StepFailure({ line: step.line, step: showSoh(step.source), detail, ...extra });
  }

  /** The connection a step names; it must have been opened and not closed by the script. */
  private open(step: Step): ScriptConnection {
    const conn = this.conns.get(step.conn);
    if (conn === undefined || conn.closedByScript) this.fail(step, `connection ${step.conn} is not open`);
    return conn;
  }

  private message(step: Step): string {
    try {
      const expanded = expandPlaceholders(step.text ?? "", { now: Date.now(), baseDir: dirname(this.path) });
      return completeMessage(expanded);
    } catch (e) {
      if (e instanceof PlaceholderFileError) this.fail(step, e.message);
      throw e;
    }
  }

  private send(step: Step): void {
    this.open(step).send(Buffer.from(this.message(step), "latin1"));
  }

  private async waitingStep(step: Step): Promise<void> {
    switch (step.kind) {
      case StepKind.Connect:
        return this.connect(step);
      case StepKind.Disconnect:
        this.open(step).close();
        return;
      case StepKind.ExpectDisconnect:
        return this.expectDisconnect(step);
      case StepKind.Expect:
        return this.expect(step);
      default:
        this.fail(step, `unexpected step kind ${step.kind}`);
    }
  }

  private async connect(step: Step): Promise<void> {
    // A script reconnects on the same number after the acceptor closed it (2i, 2k, 2o); replace the old one.
    this.conns.get(step.conn)?.close();
    this.conns.delete(step.conn);
    try {
      this.conns.set(step.conn, await ScriptConnection.open(this.opts.host, this.opts.port, this.timeoutMs));
    } catch (e) {
      this.fail(step, e instanceof Error ? e.message : String(e));
    }
  }

  private async expect(step: Step): Promise<void> {
    const conn = this.open(step);
    const expected = this.message(step);
    const got = await conn.nextMessage(this.timeoutMs);
    const shown = { expected: showSoh(expected) };
    switch (got.kind) {
      case "timeout":
        this.fail(step, `no complete message within ${this.timeoutMs} ms`, {
          ...shown,
          received: describePartial(got.partial),
        });
        break;
      case "closed":
        this.fail(step, `connection ${step.conn} closed by the acceptor${closeCause(got.error)} instead of a message`, {
          ...shown,
          received: describePartial(got.partial),
        });
        break;
      case "garbled":
        this.fail(step, got.detail, { ...shown, received: describePartial(got.partial) });
        break;
      case "message": {
        const received = got.message.toString("latin1");
        const mismatch = compareMessages(expected, received, this.patterns) ?? verifyFraming(received);
        if (mismatch !== undefined) {
          this.fail(step, mismatch.reason, { ...shown, received: showSoh(received), field: mismatch.field });
        }
      }
    }
  }

  private async expectDisconnect(step: Step): Promise<void> {
    const got = await this.open(step).nextClose(this.timeoutMs);
    if (got.kind === "timeout") {
      this.fail(step, `connection ${step.conn} still open after ${this.timeoutMs} ms`);
    } else if (got.kind === "data") {
      this.fail(step, `expected disconnect of connection ${step.conn}, received data first`, {
        received: showSoh(got.data.toString("latin1")),
      });
    }
  }
}

function describePartial(partial: Buffer): string {
  return partial.length === 0 ? "(nothing)" : showSoh(partial.toString("latin1"));
}

function closeCause(error: Error | undefined): string {
  if (error === undefined) return "";
  const code = (error as NodeJS.ErrnoException).code;
  return ` (${code ?? error.message})`;
}

/** The `.def` files of a folder, in name order. */
export function listScripts(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".def"))
    .sort()
    .map((f) => join(dir, f));
}

/** Runs a folder's scripts one after another, with a short pause between them. */
export async function runFolder(dir: string, opts: RunOptions): Promise<ScriptResult[]> {
  const scripts = listScripts(dir).filter((p) => opts.filter === undefined || scriptName(p).includes(opts.filter));
  const results: ScriptResult[] = [];
  for (let i = 0; i < scripts.length; i++) {
    if (i > 0) await sleep(opts.pauseMs ?? DEFAULT_PAUSE_MS);
    const result = await runScript(scripts[i], opts);
    results.push(result);
    opts.onResult?.(result);
  }
  return results;
}

/** Runs several version folders (under `serverDir`, default the vendored one) in parallel. */
export async function runAll(
  versions: readonly string[],
  opts: RunOptions & { serverDir?: string },
): Promise<VersionResults[]> {
  const serverDir = opts.serverDir ?? SERVER_DIR;
  return Promise.all(
    versions.map(async (version) => ({ version, results: await runFolder(join(serverDir, version), opts) })),
  );
}
