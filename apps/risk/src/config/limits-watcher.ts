import { type FSWatcher, readFileSync, watch } from "node:fs";
import { basename, dirname } from "node:path";
import type { LimitSet } from "../engine/limits.js";
import { RiskConfigError } from "./errors.js";
import { parseLimitsFile } from "./limits-file.js";

export interface LimitsWatcherOptions {
  file: string;
  /** A new, valid file was read. */
  onLoad(sets: LimitSet[], loadedAt: number): void;
  /** The file changed but cannot be used: the old limits stay. */
  onReject(err: RiskConfigError): void;
  /** Wait this long after the last change event before reading (editors write in several steps). Default 100 ms. */
  debounceMs?: number;
  now?: () => number;
}

/** Reads the limits file; throws RiskConfigError (the file cannot be read, or a field is wrong). */
export function readLimitsFile(file: string): LimitSet[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new RiskConfigError(`limits file ${file}`, [
      { field: "(file)", reason: code === "ENOENT" ? "no such file" : `cannot be read (${code ?? String(e)})` },
    ]);
  }
  return parseLimitsFile(text, `limits file ${file}`);
}

/**
 * Hot reload of the limits file. Watches the file's directory (an editor or `kubectl` replacing the file by a
 * rename would end a watch on the file itself) and rereads the file after each burst of changes. A file that
 * does not parse is refused as a whole: the limits in force stay, and `onReject` says which field and why.
 */
export class LimitsWatcher {
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastText: string | null = null;

  constructor(private readonly opts: LimitsWatcherOptions) {}

  /** Reads the file once (throws RiskConfigError when it is bad: a bad file at start is a start failure). */
  load(): LimitSet[] {
    const sets = readLimitsFile(this.opts.file);
    this.lastText = safeRead(this.opts.file);
    return sets;
  }

  start(): void {
    if (this.watcher) return;
    const name = basename(this.opts.file);
    this.watcher = watch(dirname(this.opts.file), { persistent: false }, (_event, file) => {
      if (file !== null && file !== name) return;
      this.schedule();
    });
    this.watcher.on("error", () => undefined);
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.reload();
    }, this.opts.debounceMs ?? 100);
    this.timer.unref();
  }

  /** Rereads now; unchanged text is not a reload. */
  reload(): void {
    const text = safeRead(this.opts.file);
    if (text !== null && text === this.lastText) return;
    try {
      const sets = readLimitsFile(this.opts.file);
      this.lastText = text;
      this.opts.onLoad(sets, (this.opts.now ?? Date.now)());
    } catch (e) {
      if (!(e instanceof RiskConfigError)) throw e;
      this.lastText = text;
      this.opts.onReject(e);
    }
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = null;
  }
}

function safeRead(file: string): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return null;
  }
}
