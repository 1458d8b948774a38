/** The connector's gRPC surface: SessionService (plus health and reflection) over a SessionRegistry. */
export type { IdempotencyOptions } from "./idempotency.js";
export { type GrpcServerHandle, type GrpcServerOptions, LEADER_HEALTH_SERVICE, startGrpcServer } from "./server.js";
