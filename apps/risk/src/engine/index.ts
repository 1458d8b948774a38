/** The pure risk engine: rules, limits, kill switches, exposure. No I/O, no clock. */
export { type CheckInput, type CheckKind, type HealthName, RiskEngine, type RiskEngineOptions } from "./engine.js";
export { type ApplyOutcome, ExposureBook, type PositionView } from "./exposure.js";
export {
  covers,
  describeKillSwitch,
  KillSwitchBook,
  KillSwitchScope,
  type KillSwitchState,
  killSwitchKey,
} from "./kill-switches.js";
export {
  describeScope,
  type EffectiveLimits,
  LimitBook,
  type LimitScope,
  type LimitSet,
  type Limits,
  type ResolvedLimits,
  scopeKey,
} from "./limits.js";
export { type Allowed, type Decision, type LimitSetName, type Refused, Rule } from "./rules.js";
