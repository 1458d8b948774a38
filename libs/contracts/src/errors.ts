import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { anyPack, anyUnpack } from "@bufbuild/protobuf/wkt";
import { status as Code, Metadata, type ServiceError } from "@grpc/grpc-js";
import { ErrorReason } from "./gen/fixmesh/v1/errors_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import { type Status, StatusSchema } from "./gen/google/rpc/status_pb.js";

/** ErrorInfo.domain of every error a fixmesh service raises. */
export const ERROR_DOMAIN = "fixmesh";

/** The trailer that carries a binary google.rpc.Status (the gRPC "richer error model"). */
export const STATUS_DETAILS_KEY = "grpc-status-details-bin";

/** The name of an ErrorReason without its ERROR_REASON_ prefix, as it travels in ErrorInfo.reason. */
export type ErrorReasonName = keyof typeof ErrorReason;

export interface FieldViolation {
  /** Path of the field in the request, e.g. `fields[2].tag`. */
  field: string;
  description: string;
}

export interface RpcErrorOptions {
  /** ErrorInfo.metadata: `session_id`, `field`, … */
  metadata?: Record<string, string>;
  /** For INVALID_ARGUMENT: every bad field (a BadRequest detail). */
  fieldViolations?: FieldViolation[];
  cause?: unknown;
}

/**
 * An error as fixmesh services raise and clients see it: a gRPC status code, a machine-readable reason (an
 * ErrorReason name) and its metadata. On the wire it is the status code and message plus a google.rpc.Status
 * in the `grpc-status-details-bin` trailer, holding an ErrorInfo (and a BadRequest for bad fields); inside a
 * stream's result it is that same google.rpc.Status. `RpcError.from` turns whatever a call failed with back
 * into one, so a client switches on `err.reason`, never on the message text.
 */
export class RpcError extends Error {
  override readonly name = "RpcError";
  readonly code: Code;
  /** An ErrorReason name (`SESSION_NOT_FOUND`, …), or "" when the peer sent none. */
  readonly reason: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly fieldViolations: readonly FieldViolation[];

  constructor(code: Code, reason: ErrorReason | string, message: string, opts: RpcErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.reason = typeof reason === "string" ? reason : ErrorReason[reason];
    this.metadata = opts.metadata ?? {};
    this.fieldViolations = opts.fieldViolations ?? [];
  }

  /** INVALID_ARGUMENT / INVALID_FIELD naming one field (by its path in the request). */
  static invalidField(field: string, description: string, metadata: Record<string, string> = {}): RpcError {
    return new RpcError(Code.INVALID_ARGUMENT, ErrorReason.INVALID_FIELD, `${field}: ${description}`, {
      metadata: { ...metadata, field },
      fieldViolations: [{ field, description }],
    });
  }

  /** The google.rpc.Status this error travels as. */
  toStatus(): Status {
    const details = [
      anyPack(
        ErrorInfoSchema,
        create(ErrorInfoSchema, { reason: this.reason, domain: ERROR_DOMAIN, metadata: { ...this.metadata } }),
      ),
    ];
    if (this.fieldViolations.length > 0) {
      details.push(
        anyPack(
          BadRequestSchema,
          create(BadRequestSchema, {
            fieldViolations: this.fieldViolations.map((v) => ({ field: v.field, description: v.description })),
          }),
        ),
      );
    }
    return create(StatusSchema, { code: this.code, message: this.message, details });
  }

  /** What a grpc-js handler passes to its callback (or emits on a stream) to fail the call with this error. */
  toServiceError(): Partial<ServiceError> & Error {
    const trailer = new Metadata();
    trailer.set(STATUS_DETAILS_KEY, Buffer.from(toBinary(StatusSchema, this.toStatus())));
    return Object.assign(new Error(this.message), { code: this.code, details: this.message, metadata: trailer });
  }

  /** Reads a google.rpc.Status (from a trailer or a stream result). */
  static fromStatus(st: Status): RpcError {
    let reason = "";
    let metadata: Record<string, string> = {};
    const fieldViolations: FieldViolation[] = [];
    for (const d of st.details) {
      const info = anyUnpack(d, ErrorInfoSchema);
      if (info !== undefined) {
        reason = info.reason;
        metadata = { ...info.metadata };
        continue;
      }
      const bad = anyUnpack(d, BadRequestSchema);
      if (bad !== undefined) {
        for (const v of bad.fieldViolations) fieldViolations.push({ field: v.field, description: v.description });
      }
    }
    return new RpcError(st.code as Code, reason, st.message, { metadata, fieldViolations });
  }

  /**
   * Normalises anything a call failed with: an RpcError as it is; a grpc-js error with its details trailer
   * decoded (code and message only when there is none); anything else as INTERNAL, the original in `cause`.
   */
  static from(err: unknown): RpcError {
    if (err instanceof RpcError) return err;
    if (hasRpcError(err)) return err.toRpcError();
    if (isServiceError(err)) {
      const bin = err.metadata?.get(STATUS_DETAILS_KEY)[0];
      if (Buffer.isBuffer(bin)) {
        try {
          const e = RpcError.fromStatus(fromBinary(StatusSchema, bin));
          return new RpcError(err.code, e.reason, err.details || e.message, {
            metadata: { ...e.metadata },
            fieldViolations: [...e.fieldViolations],
            cause: err,
          });
        } catch (decodeErr) {
          // A trailer we cannot read: keep the status code, say why the reason is missing.
          return new RpcError(err.code, "", `${err.details} (unreadable ${STATUS_DETAILS_KEY}: ${decodeErr})`, {
            cause: err,
          });
        }
      }
      return new RpcError(err.code, "", err.details ?? err.message, { cause: err });
    }
    const message = err instanceof Error ? err.message : String(err);
    return new RpcError(Code.INTERNAL, ErrorReason.INTERNAL, message, { cause: err });
  }
}

/**
 * An error that knows the status a caller should get (a store that cannot be reached is UNAVAILABLE, not INTERNAL):
 * `RpcError.from` answers with what `toRpcError` says.
 */
export interface ConvertsToRpcError {
  toRpcError(): RpcError;
}

function hasRpcError(err: unknown): err is ConvertsToRpcError {
  return err instanceof Error && typeof (err as Partial<ConvertsToRpcError>).toRpcError === "function";
}

function isServiceError(err: unknown): err is ServiceError {
  return (
    err instanceof Error &&
    typeof (err as Partial<ServiceError>).code === "number" &&
    // Duck-typed: a second copy of grpc-js in the tree would fail an instanceof check.
    typeof (err as Partial<ServiceError>).metadata?.get === "function"
  );
}
