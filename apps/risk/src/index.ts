/**
 * @fixmesh/risk — pre-trade risk checks, limits, kill switches and positions.
 *
 * - The pure engine: `RiskEngine` and its parts (limits, kill switches, exposure, rules).
 * - Kill switches for other services: `KillSwitchStore` (`watch(cb)`), `RedisKillSwitchStore`,
 *   `MemoryKillSwitchStore` — order-entry watches them to mass-cancel on engage.
 * - The service: `startRisk(config, deps)`, its configuration (`loadRiskConfig`, `parseRiskConfig`) and the
 *   limits file (`parseLimitsFile`).
 * - The command line: `runRiskService` (`fixmesh risk-service`) and `runRiskCli` (`fixmesh risk …`).
 */

export { checkHealth } from "@fixmesh/contracts";
/** Limits and quantities are exact decimals (re-exported for callers that build limit sets). */
export { Decimal } from "@fixmesh/orders";
export { RISK_CLI_USAGE, RISK_SERVICE_USAGE, runRiskCli, runRiskService } from "./cli/cli.js";
export { loadRiskConfig, parseRiskConfig, RISK_ENV, type RiskConfig, riskConfigSchema } from "./config/config.js";
export { type ConfigIssue, RiskConfigError } from "./config/errors.js";
export { limitSetToPlain, parseLimitsFile } from "./config/limits-file.js";
export { LimitsWatcher, readLimitsFile } from "./config/limits-watcher.js";
export * from "./engine/index.js";
export { checkInputFrom, checkResponse } from "./grpc/convert.js";
export { type RiskGrpcHandle, type RiskGrpcOptions, startGrpcServer } from "./grpc/server.js";
export { RiskMetrics } from "./metrics.js";
export { type RiskBuses, type RiskDeps, type RiskHandle, riskLogger, startRisk } from "./service.js";
export { AuditPublisher } from "./state/audit.js";
export { applyOrderBatch, type FeedStats } from "./state/feeds.js";
export {
  type KillSwitchStore,
  MemoryKillSwitchStore,
  RedisKillSwitchStore,
  type RedisKillSwitchStoreOptions,
} from "./state/kill-switch-store.js";
