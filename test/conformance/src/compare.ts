/**
 * Compares an `E` line with the message the acceptor sent, by QuickFIX C++'s rules (conformance README,
 * "Comparing an E line with the received message"), and checks the received message's own framing.
 */
import { readFileSync } from "node:fs";
import { byteSum, formatCheckSum, SOH } from "./complete.js";

/** Tag → pattern the received value must contain (searched, not anchored), from `fields.fmt`. */
export type FieldPatterns = ReadonlyMap<string, RegExp>;

/** Parses `fields.fmt`: one `tag=regex` per line. */
export function parseFieldPatterns(text: string): FieldPatterns {
  const patterns = new Map<string, RegExp>();
  for (const raw of text.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") continue;
    const eq = line.indexOf("=");
    if (eq <= 0) throw new Error(`fields.fmt: line ${JSON.stringify(line)} is not tag=regex`);
    patterns.set(line.slice(0, eq), new RegExp(line.slice(eq + 1)));
  }
  return patterns;
}

export function loadFieldPatterns(path: string): FieldPatterns {
  return parseFieldPatterns(readFileSync(path, "latin1"));
}

/** Shows a message for humans: SOH as `|`. */
export function showSoh(text: string): string {
  return text.replaceAll(SOH, "|");
}

export interface Mismatch {
  /** What differs, in one line. */
  reason: string;
  /** 0-based index of the first differing field, when there is one. */
  field?: number;
}

interface Field {
  tag: string;
  /** undefined when the field has no `=`. */
  value: string | undefined;
  raw: string;
}

function splitFields(message: string): Field[] {
  const parts = message.split(SOH);
  // A message ends with SOH: the empty piece after it is not a field.
  if (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
  return parts.map((raw) => {
    const eq = raw.indexOf("=");
    return eq < 0 ? { tag: raw, value: undefined, raw } : { tag: raw.slice(0, eq), value: raw.slice(eq + 1), raw };
  });
}

/**
 * Returns undefined when `received` matches `expected`: same number of fields, same tag at every position,
 * values equal byte for byte except for the tags in `patterns`, whose received value only has to contain a
 * match. BodyLength(9) is compared literally like any other field.
 */
export function compareMessages(expected: string, received: string, patterns: FieldPatterns): Mismatch | undefined {
  const exp = splitFields(expected);
  const got = splitFields(received);
  let first = firstDifference(exp, got, patterns, 0);
  // A wrong BodyLength is nearly always the symptom of another difference further on: name that one too.
  if (first !== undefined && exp[first.field].tag === "9") {
    const next = firstDifference(exp, got, patterns, first.field + 1);
    if (next !== undefined) first = { field: first.field, reason: `${first.reason} (then ${next.reason})` };
  }
  if (exp.length !== got.length) {
    const where = first === undefined ? "" : `; first difference at field ${first.field + 1}: ${first.reason}`;
    return {
      reason: `expected ${exp.length} fields, received ${got.length}${where}`,
      field: first?.field ?? Math.min(exp.length, got.length),
    };
  }
  return first;
}

function firstDifference(
  exp: Field[],
  got: Field[],
  patterns: FieldPatterns,
  from: number,
): { reason: string; field: number } | undefined {
  const n = Math.min(exp.length, got.length);
  for (let i = from; i < n; i++) {
    const e = exp[i];
    const g = got[i];
    if (e.tag !== g.tag) return { field: i, reason: `expected tag ${e.tag}, received tag ${g.tag}` };
    const pattern = patterns.get(e.tag);
    if (pattern !== undefined) {
      if (g.value === undefined || !pattern.test(g.value)) {
        return {
          field: i,
          reason: `tag ${e.tag}: received ${JSON.stringify(g.raw)} does not match /${pattern.source}/`,
        };
      }
    } else if (e.raw !== g.raw) {
      return { field: i, reason: `tag ${e.tag}: expected ${JSON.stringify(e.raw)}, received ${JSON.stringify(g.raw)}` };
    }
  }
  return undefined;
}

/**
 * Checks a received message's own BodyLength and CheckSum (stricter than the reference runner, which never
 * looks at the real CheckSum). Returns undefined when both are right.
 */
export function verifyFraming(message: string): Mismatch | undefined {
  const firstSoh = message.indexOf(SOH);
  if (!message.startsWith("8=") || firstSoh < 0) return { reason: "received message does not begin with 8=", field: 0 };
  if (!message.startsWith("9=", firstSoh + 1)) {
    return { reason: "received message has no BodyLength(9) as its second field", field: 1 };
  }
  const lengthEnd = message.indexOf(SOH, firstSoh + 1);
  const declared = message.slice(firstSoh + 3, lengthEnd);
  if (!/^\d+$/.test(declared))
    return { reason: `received BodyLength ${JSON.stringify(declared)} is not a number`, field: 1 };
  const trailer = message.lastIndexOf(SOH, message.length - 2) + 1;
  if (!message.endsWith(SOH) || trailer <= lengthEnd || !message.startsWith("10=", trailer)) {
    return { reason: "received message does not end with a CheckSum(10) field" };
  }
  const actualLength = trailer - (lengthEnd + 1);
  if (Number(declared) !== actualLength) {
    return { reason: `received BodyLength is ${declared} but the body has ${actualLength} bytes`, field: 1 };
  }
  const declaredSum = message.slice(trailer + 3, -1);
  const actualSum = formatCheckSum(byteSum(message.slice(0, trailer)));
  if (declaredSum !== actualSum) {
    return { reason: `received CheckSum is ${declaredSum} but the bytes sum to ${actualSum}` };
  }
  return undefined;
}

/**
 * A readable diff for a failed `E`: the two messages with SOH as `|`, and a caret under the first differing
 * field of each.
 */
export function formatDiff(expected: string, received: string, field: number | undefined, indent = "  "): string[] {
  const lines = [`${indent}expected: ${showSoh(expected)}`];
  if (field !== undefined) lines.push(`${indent}          ${" ".repeat(fieldOffset(expected, field))}^`);
  lines.push(`${indent}received: ${showSoh(received)}`);
  if (field !== undefined) lines.push(`${indent}          ${" ".repeat(fieldOffset(received, field))}^`);
  return lines;
}

/**
 * Character offset of field `index` (0-based) in a message, or its length when it has fewer fields. Works on
 * raw text and on text already shown with `|` (same length); a `|` inside a value only moves the caret.
 */
function fieldOffset(message: string, index: number): number {
  const separator = message.includes(SOH) ? SOH : "|";
  let offset = 0;
  for (let i = 0; i < index; i++) {
    const next = message.indexOf(separator, offset);
    if (next < 0) return message.length;
    offset = next + 1;
  }
  return offset;
}
