import type { FieldList } from "../codec/encoder.js";
import { Tag } from "../gen/tags.js";
import { loadSpecModel } from "./dictionary.js";

/** SessionRejectReason(373) codes. */
export const SessionRejectReason = {
  InvalidTagNumber: 0,
  RequiredTagMissing: 1,
  TagNotDefinedForMessageType: 2,
  UndefinedTag: 3,
  TagSpecifiedWithoutValue: 4,
  ValueIsIncorrect: 5,
  IncorrectDataFormat: 6,
  DecryptionProblem: 7,
  SignatureProblem: 8,
  CompIdProblem: 9,
  SendingTimeAccuracyProblem: 10,
  InvalidMsgType: 11,
  XmlValidationError: 12,
  TagAppearsMoreThanOnce: 13,
  TagSpecifiedOutOfRequiredOrder: 14,
  RepeatingGroupFieldsOutOfOrder: 15,
  IncorrectNumInGroupCount: 16,
  NonDataValueIncludesFieldDelimiter: 17,
} as const;
export type SessionRejectReason = (typeof SessionRejectReason)[keyof typeof SessionRejectReason];

/** Text(58) QuickFIX writes for each reason; the acceptance scripts compare it byte for byte. */
const TEXTS: readonly string[] = [
  "Invalid tag number",
  "Required tag missing",
  "Tag not defined for this message type",
  "Undefined Tag",
  "Tag specified without a value",
  "Value is incorrect (out of range) for this tag",
  "Incorrect data format for value",
  "Decryption problem",
  "Signature problem",
  "CompID problem",
  "SendingTime accuracy problem",
  "Invalid MsgType",
  "XML Validation error",
  "Tag appears more than once",
  "Tag specified out of required order",
  "Repeating group fields out of order",
  "Incorrect NumInGroup count for repeating group",
  "Non Data value includes field delimiter (SOH character)",
];

/** The standard Text(58) for a reason. */
export function rejectReasonText(reason: SessionRejectReason): string {
  return TEXTS[reason];
}

/** A message that fails data-dictionary validation, and why. */
export interface ValidationError {
  readonly reason: SessionRejectReason;
  /** The field at fault: RefTagID(371). Absent for an invalid MsgType. */
  readonly refTagId?: number;
  readonly text: string;
}

/**
 * Whether a Reject(3) of this version may carry SessionRejectReason(373) = `reason`: the version's dictionary
 * must define field 373 with that value. FIX 4.0 and 4.1 have no 373; FIX 4.2 knows 0–11 only, so its
 * Rejects for a repeated tag (13), a field out of order (14) or a wrong NumInGroup (16) carry no 373.
 */
export function rejectReasonAllowed(beginString: string, reason: number): boolean {
  // Reject(3) belongs to the transport dictionary (FIXT.1.1 for FIX 5.0 and later).
  const m = loadSpecModel(beginString);
  if (!m.fields.has(Tag.SessionRejectReason)) return false;
  const values = m.enums.get(Tag.SessionRejectReason);
  return values === undefined || values.has(String(reason));
}

/**
 * The fields QuickFIX puts in a Reject(3) body after RefSeqNum(45), in its order (Session::generateReject):
 * from FIX 4.2 on, `58=<text>`, `371=<tag>` (when a field is at fault), `372=<MsgType>` and `373=<reason>` when
 * the version knows that reason; before FIX 4.2 only `58=<text> (<tag>)`.
 */
export function rejectFields(beginString: string, msgType: string, err: ValidationError): FieldList {
  if (beginString < "FIX.4.2") {
    return [Tag.Text, err.refTagId === undefined ? err.text : `${err.text} (${err.refTagId})`];
  }
  const out: FieldList = [Tag.Text, err.text];
  if (err.refTagId !== undefined) out.push(Tag.RefTagID, String(err.refTagId));
  out.push(Tag.RefMsgType, msgType);
  if (rejectReasonAllowed(beginString, err.reason)) out.push(Tag.SessionRejectReason, err.reason);
  return out;
}
