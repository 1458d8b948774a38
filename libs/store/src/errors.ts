/**
 * Redis did not confirm an operation: the connection is down or refused, the command timed out
 * (`commandTimeout`), or Redis refused it (OOM, a READONLY replica after a failover…). For a write the outcome
 * is unknown — like a crash between the write and the send — so the engine sends nothing of the batch, drops
 * the socket, and commits again once Redis answers. The ioredis error is the `cause`.
 */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
  constructor(
    readonly session: string,
    /** The store operation: `open`, `commit`, `getRange`, … */
    readonly op: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`redis store ${session}: ${op} failed: ${detail}`, options);
  }
}
