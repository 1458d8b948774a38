/**
 * A Redis store that cannot be reached answers its callers UNAVAILABLE / STORE_UNAVAILABLE (retry), not INTERNAL:
 * ioredis's connection failures — the connection closed, refused or reset, or a command that used up its retries
 * while reconnecting — become a `StoreUnavailableError` at the store's surface.
 */
import { type ConvertsToRpcError, RpcError } from "@fixmesh/contracts";
import { status as Code } from "@grpc/grpc-js";

export class StoreUnavailableError extends Error implements ConvertsToRpcError {
  override readonly name = "StoreUnavailableError";

  toRpcError(): RpcError {
    return new RpcError(
      Code.UNAVAILABLE,
      "STORE_UNAVAILABLE",
      `order-entry's store cannot be reached (${this.message}); retry (with the same idempotency key for a submit)`,
      { cause: this },
    );
  }
}

const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENOTFOUND"]);

/** ioredis's ways of saying the server could not be reached (not a script's or a command's own error). */
export function isUnreachable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return (
    err.name === "MaxRetriesPerRequestError" ||
    err.message === "Connection is closed." ||
    /enableOfflineQueue|Stream isn't writeable/.test(err.message) ||
    (typeof code === "string" && UNREACHABLE_CODES.has(code))
  );
}

function converted(err: unknown): unknown {
  return isUnreachable(err) ? new StoreUnavailableError((err as Error).message, { cause: err }) : err;
}

/**
 * `store` with every method's connection failure turned into a `StoreUnavailableError` (other errors unchanged).
 * The methods run on the store itself, so its internal calls are not wrapped twice.
 */
export function guardUnreachable<T extends object>(store: T): T {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      let w = wrapped.get(prop);
      if (w === undefined) {
        const fn = value as (...args: unknown[]) => unknown;
        w = (...args: unknown[]) => {
          let r: unknown;
          try {
            r = fn.apply(target, args);
          } catch (err) {
            throw converted(err);
          }
          return r instanceof Promise
            ? r.catch((err: unknown) => {
                throw converted(err);
              })
            : r;
        };
        wrapped.set(prop, w);
      }
      return w;
    },
  });
}
