/**
 * @fixmesh/chaos — fault injection for FIX over TCP: a proxy that cuts, stalls, delays, drops, duplicates and
 * reorders whole FIX messages, driven from tests or from the command line. Loopback only unless told otherwise.
 *
 * - The proxy: `ChaosProxy` and its per-direction controls `DirectionFaults` (`proxy.toServer`, `proxy.toClient`),
 *   with the `Rule`s they install and the stats they count.
 * - What it reports: `FaultEvent` (on "fault"), connect and disconnect (`ChaosEvents`).
 * - Errors: `NonLoopbackAddressError`, `InvalidOptionError`, `ControlCommandError`.
 * - The command line: `runChaosCli(argv)` and its line protocol, `parseControlCommand`.
 *
 * (Exports are in the order Biome sorts them.)
 */

export { type Endpoint, isLoopbackAddress } from "./address.js";
export { type ChaosCliIo, runChaosCli } from "./cli.js";
export { type ControlCommand, parseControlCommand } from "./control.js";
export { DirectionFaults, type DirectionStats } from "./direction.js";
export { ControlCommandError, InvalidOptionError, NonLoopbackAddressError } from "./errors.js";
export type { ChaosEvents, CloseReason, DirectionName, FaultEvent, FaultKind, MessageInfo } from "./events.js";
export { ChaosProxy, type ChaosProxyOptions, type ChaosStats, type ConnectionInfo } from "./proxy.js";
export type { HoldReplayOptions, ReplayOrder } from "./replay.js";
export {
  type DuplicateOptions,
  type MessageSelector,
  Rule,
  type RuleAction,
  type RuleOptions,
  type SeqRange,
} from "./rule.js";
