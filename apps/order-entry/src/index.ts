/**
 * @fixmesh/order-entry — OrderEntryService: orders over gRPC, checked by risk, sent through the connector's
 * SendStream, followed through their ExecutionReports (a durable JetStream consumer), every change logged for
 * StreamOrderUpdates and published as an ORDERS event. State in Redis (any number of instances) or memory.
 *
 * - Running it: `startOrderEntry(config)`, `runOrderEntryCli(args)`, the configuration (`parseOrderEntryConfig`,
 *   `loadOrderEntryConfig`, `orderEntrySchema`).
 * - Its parts, for embedding and tests: `OrderEntry` (the service without gRPC), the stores (`MemoryOrderStore`,
 *   `RedisOrderStore`, `OrderRepository`), the clients (`ConnectorClient`, `RiskClient`), the metrics
 *   (`OrderEntryMetrics`), and `rebuildFromStream` (what `fixmesh order-entry rebuild` runs).
 */

export { ORDER_ENTRY_USAGE, runOrderEntryCli } from "./cli.js";
export {
  GRPC_CANCELLED,
  grpcStatusName,
  type OrderEntryClient,
  orderEntryClient,
  orderJson,
  updateJson,
} from "./client.js";
export { ConnectorClient, SendOutcomeUnknownError } from "./clients/connector.js";
export { RiskClient, RiskUnavailableError } from "./clients/risk.js";
export { loadOrderEntryConfig, OrderEntryConfigError, parseOrderEntryConfig } from "./config/load.js";
export { type OrderEntryConfig, type OrderEntryConfigInput, orderEntrySchema } from "./config/schema.js";
export { type OrderRecord, snapshotOf } from "./model/record.js";
export { updateOf } from "./service/grpc.js";
export { OrderEntryMetrics } from "./service/metrics.js";
export { OrderEntry, orderProto } from "./service/order-entry.js";
export {
  type RebuildOptions,
  type RebuildSummary,
  RebuildTargetNotEmptyError,
  rebuildFromStream,
} from "./service/rebuild.js";
export { type OrderEntryHandle, type StartOptions, startOrderEntry } from "./start.js";
export { MemoryOrderStore } from "./store/memory.js";
export { RedisOrderStore } from "./store/redis.js";
export type { LogEntry, OrderRepository, StoreCounters } from "./store/types.js";
