import { readFileSync } from "node:fs";
import { resolve } from "node:path";

const REDACTED = "[REDACTED]";

/** What a link needs of a secret: its value, on demand. The connector's own `Secret` is one too. */
export interface SecretLike {
  reveal(): string;
}

/**
 * A password, token or key read from a file or the environment. It prints as `[REDACTED]` through
 * `JSON.stringify`, string conversion and `util.inspect` (a logged configuration object cannot leak it);
 * `reveal()` is the one way to the value, used where it is handed to a socket.
 */
export class Secret implements SecretLike {
  readonly #value: string;
  /** Where the value came from (`file /run/secrets/redis`, `env REDIS_PASSWORD`); never the value. */
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

/** Where files named in a configuration are, and the environment `…Env` keys read from. */
export interface SecretContext {
  env: Readonly<Record<string, string | undefined>>;
  /** Relative paths resolve against this. */
  baseDir: string;
}

/** A configuration mistake, with the field it is about (`redis.passwordFile`) and why; never a secret value. */
export class InfraConfigError extends Error {
  override readonly name = "InfraConfigError";
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/**
 * A secret from a file or an environment variable (one of the two, or neither: undefined). A file's one trailing
 * newline is dropped (`echo pw > file` writes one). Errors name the field and the file or variable, not the value.
 */
export function readSecret(
  ctx: SecretContext,
  field: string,
  given: { file?: string | undefined; env?: string | undefined },
  keys: { file: string; env: string } = { file: "passwordFile", env: "passwordEnv" },
): Secret | undefined {
  if (given.file !== undefined && given.env !== undefined) {
    throw new InfraConfigError(`${field}.${keys.env}`, `give ${keys.file} or ${keys.env}, not both`);
  }
  if (given.file !== undefined) {
    const p = resolve(ctx.baseDir, given.file);
    const v = readText(p, `${field}.${keys.file}`).replace(/\r?\n$/, "");
    if (v === "") throw new InfraConfigError(`${field}.${keys.file}`, `${p} is empty`);
    return new Secret(v, `file ${p}`);
  }
  if (given.env !== undefined) {
    const v = ctx.env[given.env];
    if (v === undefined || v === "") {
      throw new InfraConfigError(`${field}.${keys.env}`, `environment variable ${given.env} is not set`);
    }
    return new Secret(v, `env ${given.env}`);
  }
  return undefined;
}

/** A file's text; a failure names the field and says why in words (`no such file`). */
export function readText(path: string, field: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new InfraConfigError(field, describeFileError(path, e));
  }
}

/**
 * The contents of a secret file. One trailing newline is dropped: `echo pw > file` and most secret tools write
 * one, and a password never ends in it.
 */
export function readSecretFile(path: string): string {
  return readFileSync(path, "utf8").replace(/\r?\n$/, "");
}

/** `ENOENT` → "cannot read PATH: no such file", for a reason a user reads. */
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
