/**
 * @fixmesh/telemetry/testing — an OTLP/HTTP collector for tests, and helpers to read the traces it receives.
 */
export {
  type OtlpCollector,
  type StartCollectorOptions,
  startOtlpCollector,
  type WaitOptions,
} from "./collector.js";
export {
  type AttributeValue,
  type CollectedSpan,
  decodeJsonTraces,
  decodeProtobufTraces,
  OtlpSpanKind,
} from "./otlp.js";
export { isAncestor, parentOf, renderTrace, spanNamed } from "./trace-tree.js";
