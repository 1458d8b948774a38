/**
 * @fixmesh/fix — the FIX codec and data dictionaries. Pure: no I/O, no clocks.
 */

export { Encoder, type FieldList, type FieldValue } from "./codec/encoder.js";
export { Framer, type FramerOptions, type Garbled } from "./codec/framer.js";
export { FixMessage } from "./codec/message.js";
export { GarbledReason, type ParseResult, Parser, type ParserOptions, STANDARD_DATA_FIELDS } from "./codec/parser.js";
export { formatUtcTimestamp, parseUtcTimestamp, type TimestampPrecision } from "./codec/time.js";
export { MsgType, Tag } from "./gen/tags.js";

// Data dictionaries and validation. Imported, then exported, so that Biome's import sorting leaves the
// export lines above untouched.
import {
  type EnumSet,
  type FieldContainer,
  type FieldDef,
  type GroupDef,
  type MessageDef,
  SpecModel,
} from "./dictionary/compile.js";
import { applVerIdToBeginString, DICTIONARY_VERSIONS, Dictionary, loadDictionary } from "./dictionary/dictionary.js";
import { DictionaryError, DictionaryErrorCode } from "./dictionary/errors.js";
import {
  type DictionaryExtension,
  type ExtensionEntry,
  type ExtensionField,
  type ExtensionMessage,
  parseDictionaryExtension,
} from "./dictionary/extension.js";
import { loadDictionaryExtension } from "./dictionary/extension-file.js";
import {
  type EchoFields,
  encodeGroup,
  GroupEntry,
  type GroupEntryValues,
  type GroupInstance,
  readGroups,
  sortFieldsForEcho,
} from "./dictionary/groups.js";
import {
  rejectFields,
  rejectReasonAllowed,
  rejectReasonText,
  SessionRejectReason,
  type ValidationError,
} from "./dictionary/reject.js";
import type { SpecData, SpecEntry } from "./dictionary/spec.js";
import { type ValidationOptions, validate } from "./dictionary/validate.js";

export {
  applVerIdToBeginString,
  DICTIONARY_VERSIONS,
  Dictionary,
  DictionaryError,
  DictionaryErrorCode,
  type DictionaryExtension,
  type EchoFields,
  type EnumSet,
  type ExtensionEntry,
  type ExtensionField,
  type ExtensionMessage,
  encodeGroup,
  type FieldContainer,
  type FieldDef,
  type GroupDef,
  GroupEntry,
  type GroupEntryValues,
  type GroupInstance,
  loadDictionary,
  loadDictionaryExtension,
  type MessageDef,
  parseDictionaryExtension,
  readGroups,
  rejectFields,
  rejectReasonAllowed,
  rejectReasonText,
  SessionRejectReason,
  type SpecData,
  type SpecEntry,
  SpecModel,
  sortFieldsForEcho,
  type ValidationError,
  type ValidationOptions,
  validate,
};
