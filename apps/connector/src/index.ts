/**
 * @fixmesh/connector — the process that owns FIX sessions (initiator or acceptor), their sockets and their
 * sequence state. Read its configuration with `loadConfig`, run it with `startConnector`.
 */

// The in-process event bus, for embedded callers (`fixmesh start`) that give one bus to every service.
export { InProcessBus } from "@fixmesh/bus";
// Built-in applications
export { acceptanceApp } from "./apps/acceptance.js";
// Configuration
export {
  ConnectorConfigError,
  ENV_OVERRIDES,
  type EnvOverride,
  type LoadOptions,
  loadConfig,
  parseConfig,
} from "./config/load.js";
export {
  type AcceptorConfig,
  APPLICATIONS,
  type ApplicationName,
  type ClientTlsConfig,
  type ConnectorConfig,
  connectorSchema,
  ELECTION_KINDS,
  type ElectionConfig,
  type ElectionKindName,
  type InitiatorConfig,
  type LeaseElectionConfig,
  LOG_LEVELS,
  type LogLevel,
  type NatsConfig,
  type RedisConfig,
  type RedisElectionConfig,
  type SchemaContext,
  SESSION_DEFAULTS,
  type ServerTlsConfig,
  type SessionConfig,
  STORE_KINDS,
  type StoreConfig,
  type StoreKind,
} from "./config/schema.js";
export { Secret } from "./config/secret.js";
// Running a connector
export { type Connector, type ConnectorOptions, startConnector } from "./connector.js";
// Leadership under election
export type { Leadership, LeadershipTransition } from "./election/elected-session.js";
export { leaseNameOf, redisLockKeyOf } from "./election/electors.js";
export { LEADER_HEALTH_SERVICE } from "./grpc/server.js";

// Logging
export { createLogger, type Logger, type LoggerOptions, loggerFor, secretGuard } from "./log/logger.js";
// What the gRPC server reads the sessions through (a Connector is one)
export type { SessionRegistry } from "./registry.js";
// Stores
export { SessionStore, type SessionStoreOptions, Stores } from "./store/store.js";
