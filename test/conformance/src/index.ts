/**
 * @fixmesh/conformance — runner for the QuickFIX session-layer acceptance scripts (`.def`).
 * The CLI is main.ts; this entry is for code that drives the runner itself (tests, other harnesses).
 */

export {
  type CloseResult,
  ConnectError,
  FramingError,
  MessageSplitter,
  type ReadResult,
  ScriptConnection,
} from "./client.js";
export {
  compareMessages,
  type FieldPatterns,
  formatDiff,
  loadFieldPatterns,
  type Mismatch,
  parseFieldPatterns,
  showSoh,
  verifyFraming,
} from "./compare.js";
export {
  byteSum,
  completeMessage,
  type ExpandOptions,
  expandPlaceholders,
  formatCheckSum,
  formatUtcSeconds,
  PlaceholderFileError,
  SOH,
} from "./complete.js";

// The pieces, for tests and tools
export { DefSyntaxError, parseDef, readDef, type Step, StepKind } from "./def.js";
export { loadKnownGaps, parseKnownGaps } from "./known-gaps.js";
export { formatResult, formatSummary, type Totals, totalsOf } from "./report.js";
// Running scripts
export {
  ALL_VERSIONS,
  DEFINITIONS_DIR,
  type Failure,
  FIELDS_FMT,
  FIX4_VERSIONS,
  listScripts,
  type RunOptions,
  runAll,
  runFolder,
  runScript,
  type ScriptResult,
  SERVER_DIR,
  scriptName,
  type VersionResults,
} from "./runner.js";
