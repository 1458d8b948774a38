import { readFileSync } from "node:fs";

const REDACTED = "[REDACTED]";

/**
 * A secret read from a file or the environment (a FIX Password, a TLS private key, a Redis password). It prints
 * as `[REDACTED]` through `JSON.stringify`, string conversion and `util.inspect`, so logging a configuration
 * object cannot leak it; `reveal()` is the one way to the value, used where it is handed to a socket or a store.
 */
export class Secret {
  readonly #value: string;
  /** Where the value came from, for messages (`file /run/secrets/fix`, `env FIX_PASSWORD`); never the value. */
  readonly source: string;

  constructor(value: string, source: string) {
    this.#value = value;
    this.source = source;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `Secret(${this.source})`;
  }
}

/**
 * The contents of a secret file. One trailing newline is dropped: `echo pw > file` and most secret tools write
 * one, and a password never ends in it.
 */
export function readSecretFile(path: string): string {
  return readFileSync(path, "utf8").replace(/\r?\n$/, "");
}

/** `ENOENT` → "no such file", for a reason a user reads. */
export function describeFileError(path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why =
    code === "ENOENT"
      ? "no such file"
      : code === "EACCES"
        ? "permission denied"
        : code === "EISDIR"
          ? "is a directory"
          : err instanceof Error
            ? err.message
            : String(err);
  return `cannot read ${path}: ${why}`;
}
