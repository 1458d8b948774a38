/**
 * @fixmesh/fix — the FIX codec and data dictionaries. Pure: no I/O, no clocks.
 */

export { Encoder, type FieldList, type FieldValue } from "./codec/encoder.js";
export { Framer, type FramerOptions, type Garbled } from "./codec/framer.js";
export { FixMessage } from "./codec/message.js";
export { GarbledReason, type ParseResult, Parser, type ParserOptions, STANDARD_DATA_FIELDS } from "./codec/parser.js";
export { formatUtcTimestamp, parseUtcTimestamp, type TimestampPrecision } from "./codec/time.js";
export { MsgType, Tag } from "./gen/tags.js";
