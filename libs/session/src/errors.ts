/** Errors a caller can act on, each with a stable `name`. */

/** A write carried an epoch lower than the session's: this writer has been deposed and must stop sending. */
export class StaleEpochError extends Error {
  override readonly name = "StaleEpochError";
  constructor(
    readonly session: string,
    readonly epoch: number,
    readonly currentEpoch: number,
  ) {
    super(`session ${session}: epoch ${epoch} is stale (current ${currentEpoch}); this writer was deposed`);
  }
}

/** The store's data could not be read back as written (corruption beyond a torn last record). */
export class StoreCorruptError extends Error {
  override readonly name = "StoreCorruptError";
  constructor(
    readonly path: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`store ${path} is corrupt: ${detail}`, options);
  }
}

/** A setting is missing or invalid; `field` is its path in the configuration. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`config ${field}: ${reason}`);
  }
}

/**
 * Another writer appended to the store behind this one's back, with an epoch no lower than this writer's
 * (two instances on one file store without fencing). Fatal for this writer, like `StaleEpochError`: stop
 * sending, then `fence` with a higher epoch or reopen to take over.
 */
export class StoreConflictError extends Error {
  override readonly name = "StoreConflictError";
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(`store ${path}: ${detail}`);
  }
}
