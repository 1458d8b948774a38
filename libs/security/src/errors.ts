import { ErrorReason, RpcError } from "@fixmesh/contracts";
import { status as Code } from "@grpc/grpc-js";

/**
 * A security setting that cannot work: a missing or unreadable certificate, a key that does not match its
 * certificate, plaintext on a non-loopback address, a policy file that does not validate. `field` is the path of
 * the setting (`grpc.tls.certFile`), so a start fails naming what to fix.
 */
export class SecurityConfigError extends Error {
  override readonly name = "SecurityConfigError";
  constructor(
    readonly field: string,
    readonly reason: string,
    opts?: { cause?: unknown },
  ) {
    super(`${field}: ${reason}`, opts);
  }
}

/** UNAUTHENTICATED / UNAUTHENTICATED: no verifiable identity (no certificate, no or a bad token). */
export function unauthenticated(why: string): RpcError {
  return new RpcError(Code.UNAUTHENTICATED, ErrorReason.UNAUTHENTICATED, `unauthenticated: ${why}`);
}

/** PERMISSION_DENIED / NOT_AUTHORIZED naming the missing grant (metadata `grant`, `principal`). */
export function notAuthorized(principal: string, grant: string, method: string): RpcError {
  return new RpcError(
    Code.PERMISSION_DENIED,
    ErrorReason.NOT_AUTHORIZED,
    `${principal} may not call ${method}: missing grant ${grant}`,
    { metadata: { grant, principal, method } },
  );
}

/** RESOURCE_EXHAUSTED / THROTTLED: a per-principal rate or concurrent-stream limit. */
export function throttled(principal: string, limit: string, value: number): RpcError {
  return new RpcError(
    Code.RESOURCE_EXHAUSTED,
    ErrorReason.THROTTLED,
    `${principal}: ${limit} limit of ${value} reached`,
    {
      metadata: { principal, limit, value: String(value) },
    },
  );
}

/** INVALID_ARGUMENT / DEADLINE_REQUIRED: an admin call without a deadline. */
export function deadlineRequired(method: string): RpcError {
  return new RpcError(
    Code.INVALID_ARGUMENT,
    ErrorReason.DEADLINE_REQUIRED,
    `${method} is an admin action: set a deadline on the call`,
    { metadata: { method } },
  );
}
