/**
 * @fixmesh/venue-sim — a FIX 4.2/4.4 venue on our own session engine: acks, fills (immediate, partial, a
 * price-time book), cancels, replaces, rejects, an optional drop copy, and venue-side fault knobs for tests.
 */

// Running it
export { runVenueSimCli, type VenueSimCliIo } from "./cli.js";
// Configuration
export {
  type FillPolicy,
  type LatencyRange,
  loadVenueSimConfig,
  parseVenueSimConfig,
  policyFor,
  type SessionConfig,
  type StoreConfig,
  type SymbolOverride,
  type SymbolPolicy,
  type VenueSimConfig,
  type VenueSimConfigInput,
} from "./config.js";
export { CONTROL_HELP, runControlCommand } from "./control.js";
// What it reports
export {
  type CancelRejectEvent,
  type CxlRejReason,
  type ExecEvent,
  ExecKind,
  type OrderSnapshot,
  OrderState,
  type OrdRejReason,
  type ReportStatus,
} from "./order.js";

// Sessions and their fault knobs
export { type ResentExecution, type SessionRole, VenueSession } from "./session.js";
export { type ExecutionNotice, startVenueSim, type VenueSim, type VenueSimOptions } from "./sim.js";
export type { BookLevelEntry, BookSnapshot } from "./venue.js";
