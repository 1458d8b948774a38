import type { GrpcServiceImplOf, UnaryImpl } from "@fixmesh/contracts";
import type { handleBidiStreamingCall, handleClientStreamingCall, handleServerStreamingCall } from "@grpc/grpc-js";
import type { AdminAction, Grant } from "../grants.js";

/** What `protect` reads of a generated service descriptor (protobuf-es `GenService`). */
export interface ServiceLike {
  readonly typeName: string;
  readonly methods: readonly { readonly name: string; readonly localName: string }[];
}

/**
 * An admin method: needs `admin <action> resource=<resource(req)>`, a deadline on the call, and is audited
 * (principal, action, resource, the reason the request gives, outcome) whether it succeeds, fails or is denied.
 */
export interface AdminRule<Req> {
  readonly admin: AdminAction | string;
  readonly resource: (req: Req) => string;
  readonly reason?: (req: Req) => string;
}

/**
 * What a method needs, from each request message it receives (every frame of a client or bidi stream is
 * checked): grants from a function, or an admin rule. A rule may throw an RpcError for a request it cannot read.
 */
export type MethodRule<Req> = ((req: Req) => Grant | readonly Grant[]) | AdminRule<Req>;

export function isAdminRule<Req>(r: MethodRule<Req>): r is AdminRule<Req> {
  return typeof r === "object" && r !== null && "admin" in r;
}

/** `admin("ResetSequence", (r) => r.sessionId, (r) => r.reason)`. */
export function adminRule<Req>(
  action: AdminAction | string,
  resource: (req: Req) => string,
  reason?: (req: Req) => string,
): AdminRule<Req> {
  return { admin: action, resource, ...(reason !== undefined && { reason }) };
}

/** The request message type of a handler of a generated service (unary or streaming). */
type RequestOf<H> =
  H extends handleBidiStreamingCall<infer R, infer _A>
    ? R
    : H extends handleClientStreamingCall<infer R, infer _B>
      ? R
      : H extends handleServerStreamingCall<infer R, infer _C>
        ? R
        : H extends UnaryImpl<infer _D>
          ? Parameters<H>[0]
          : never;

/** One rule per method of a generated service, typed with its request messages. */
export type RulesOf<T> = { [K in keyof GrpcServiceImplOf<T>]: MethodRule<RequestOf<GrpcServiceImplOf<T>[K]>> };
