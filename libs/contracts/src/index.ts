/**
 * @fixmesh/contracts — the gRPC contracts of fixmesh (protobuf-es v2 types generated from proto/ by
 * `pnpm gen:proto`) and the adapter that serves and calls them with @grpc/grpc-js.
 */

// Errors: status code + ErrorInfo reason, on the wire and in stream results.
export {
  type ConvertsToRpcError,
  ERROR_DOMAIN,
  type ErrorReasonName,
  type FieldViolation,
  RpcError,
  type RpcErrorOptions,
  STATUS_DETAILS_KEY,
} from "./errors.js";

// Generated messages, enums and service descriptors (src/gen, never edited by hand).
export * from "./gen/fixmesh/v1/audit_pb.js";
export * from "./gen/fixmesh/v1/errors_pb.js";
export * from "./gen/fixmesh/v1/fix_pb.js";
export * from "./gen/fixmesh/v1/orders_pb.js";
export * from "./gen/fixmesh/v1/risk_pb.js";
export * from "./gen/fixmesh/v1/session_pb.js";
export * from "./gen/google/rpc/error_details_pb.js";
export * from "./gen/google/rpc/status_pb.js";

// grpc-js adapter: serve and call protobuf-es services.
export {
  addGrpcService,
  addReflection,
  type ClientStreamingCall,
  createGrpcClient,
  type GrpcCallOptions,
  type GrpcClient,
  type GrpcClientConstructor,
  type GrpcClientOf,
  type GrpcImplementationOptions,
  type GrpcServiceImpl,
  type GrpcServiceImplOf,
  grpcClientConstructor,
  grpcImplementation,
  grpcServiceDefinition,
  type UnaryImpl,
} from "./grpc.js";

// grpc.health.v1 (Check and Watch), hand-encoded: served by risk and persistence, and a client check for tests.
export { checkHealth, HealthService, type ServingStatus } from "./health.js";

// Binding a service's server and its plaintext health-only listener (kubelet probes).
export { type Listening, type ListenOptions, listenWithHealth } from "./listen.js";
export { reflectedServiceNames } from "./reflection-client.js";
