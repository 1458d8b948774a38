/**
 * @fixmesh/orders — the order state machine driven by our requests, ExecutionReports and OrderCancelRejects
 * (FIX 4.2 and 4.4), applied once per (session, ExecID). Pure: no I/O, no clock.
 *
 * - The state machine: `apply`, `OrderStore`, the inputs (`OrderInput`, our requests) and what comes back
 *   (`ApplyResult`, `Outcome`, `RejectCode`, `DiscrepancyCode`).
 * - The model: `Order` and its evidence (`OrderFacts`, `OrderRequest`), `OrdStatus` and its precedence.
 * - Reading the venue's messages: `executionReportFrom`, `cancelRejectFrom`, `kindOf`, `ExecType`, `ExecTransType`.
 * - Exact arithmetic and the fill set (`Decimal`, `fillTotals`), for callers that compute positions or check figures
 *   the same way.
 *
 * (Listed by module in Biome's order.)
 */

export {
  type ApplyResult,
  apply,
  CHANGE_FIELDS,
  type ChangeField,
  type Discrepancy,
  DiscrepancyCode,
  type OrderChange,
  type OrderInput,
  Outcome,
} from "./apply.js";
export { CxlRejResponseTo, cancelRejectFrom, type OrderCancelReject } from "./cancel-reject.js";
export { canonical, Decimal } from "./decimal.js";
export { MalformedMessageError } from "./errors.js";
export {
  ExecTransType,
  ExecType,
  type ExecutionReport,
  executionReportFrom,
  kindOf,
  ReportKind,
} from "./execution-report.js";
export { AVG_PX_DIGITS, type Execution, ExecutionKind, type FillTotals, fillTotals } from "./fills.js";
export type {
  ConditionFact,
  FinalFact,
  HeldReport,
  Order,
  OrderFacts,
  OrderRequest,
  RestatementFact,
} from "./order.js";
export { RequestKind, RequestState } from "./order.js";
export type { CancelRequest, NewOrderRequest, OrderRequestInput, ReplaceRequest } from "./requests.js";
export { deriveStatus, isDone, isFinal, OrdStatus, OrdStatusPrecedence, type StatusFacts } from "./status.js";
export { type OrderCounters, OrderStore, type OrderStoreOptions, type UnmatchedEntry } from "./store.js";
export { RejectCode, type Rejection } from "./transitions.js";
