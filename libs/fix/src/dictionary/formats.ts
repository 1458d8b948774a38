/**
 * Value formats as QuickFIX checks them (FieldConvertors.h), on the bytes of a value: no strings, no regexes.
 * A type QuickFIX does not know (DATE, LOCALMKTTIME, TAGNUM, XID, …) or keeps as a string is not checked.
 */

export const Format = {
  /** Not checked (STRING and its kin, unknown types). */
  None: 0,
  /** Exactly one byte. */
  Char: 1,
  /** Optional `-`, then digits. */
  Int: 2,
  /** Optional `-`, digits, optional `.` and digits; at least one digit; no `+`, no exponent. */
  Float: 3,
  /** `Y` or `N`. */
  Boolean: 4,
  /** `YYYYMMDD-HH:MM:SS[.f…]`, 1 to 9 fraction digits. */
  UtcTimestamp: 5,
  /** `YYYYMMDD`. */
  UtcDate: 6,
  /** `HH:MM:SS[.f…]`, 1 to 9 fraction digits. */
  UtcTimeOnly: 7,
} as const;
export type Format = (typeof Format)[keyof typeof Format];

const TYPE_FORMATS: ReadonlyMap<string, Format> = new Map<string, Format>([
  ["CHAR", Format.Char],
  ["INT", Format.Int],
  ["NUMINGROUP", Format.Int],
  ["SEQNUM", Format.Int],
  ["LENGTH", Format.Int],
  ["PRICE", Format.Float],
  ["AMT", Format.Float],
  ["QTY", Format.Float],
  ["FLOAT", Format.Float],
  ["PRICEOFFSET", Format.Float],
  ["PERCENTAGE", Format.Float],
  ["BOOLEAN", Format.Boolean],
  ["UTCTIMESTAMP", Format.UtcTimestamp],
  ["TIME", Format.UtcTimestamp],
  ["UTCDATE", Format.UtcDate],
  ["UTCDATEONLY", Format.UtcDate],
  ["UTCTIMEONLY", Format.UtcTimeOnly],
]);

/**
 * The format checked for a spec type. Before FIX 4.2 QuickFIX reads CHAR as a string (FIX 4.0/4.1 CHAR
 * fields such as ExecInst hold several characters).
 */
export function formatOfType(type: string, beginString: string): Format {
  if (type === "CHAR" && beginString < "FIX.4.2") return Format.None;
  return TYPE_FORMATS.get(type) ?? Format.None;
}

// The same as plain constants for the switch below (no property reads on the hot path).
const CHAR = 1;
const INT = 2;
const FLOAT = 3;
const BOOLEAN = 4;
const UTC_TIMESTAMP = 5;
const UTC_DATE = 6;
const UTC_TIME_ONLY = 7;

/** Whether `b[s, e)` is a valid value of format `f`. */
export function isValidFormat(b: Uint8Array, s: number, e: number, f: number): boolean {
  switch (f) {
    case CHAR:
      return e - s === 1;
    case INT:
      return isInt(b, s, e);
    case FLOAT:
      return isFloat(b, s, e);
    case BOOLEAN:
      return e - s === 1 && (b[s] === 89 || b[s] === 78); // Y, N
    case UTC_TIMESTAMP:
      return isUtcTimestamp(b, s, e);
    case UTC_DATE:
      return e - s === 8 && isDate(b, s);
    case UTC_TIME_ONLY:
      return isTimeWithFraction(b, s, e);
    default:
      return true;
  }
}

function digit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isInt(b: Uint8Array, s: number, e: number): boolean {
  let p = s;
  if (p < e && b[p] === 45) p++; // '-'
  if (p === e) return false;
  for (; p < e; p++) if (!digit(b[p])) return false;
  return true;
}

// Mirrors DoubleConvertor::convert: "1." is accepted, "." and "+1" are not.
function isFloat(b: Uint8Array, s: number, e: number): boolean {
  let p = s;
  if (p === e) return false;
  if (b[p] === 45) {
    p++;
    if (p === e) return false;
  }
  let haveDigit = false;
  if (digit(b[p])) {
    haveDigit = true;
    while (p < e && digit(b[p])) p++;
  }
  if (p < e && b[p] === 46) {
    p++;
    if (p < e && digit(b[p])) {
      haveDigit = true;
      while (p < e && digit(b[p])) p++;
    }
  }
  return p === e && haveDigit;
}

/** The two-digit number at p, or -1 when either byte is not a digit. */
function two(b: Uint8Array, p: number): number {
  const h = b[p] - 48;
  const l = b[p + 1] - 48;
  return h >= 0 && h <= 9 && l >= 0 && l <= 9 ? h * 10 + l : -1;
}

/** YYYYMMDD at p: eight digits, month 1–12, day 1–31. */
function isDate(b: Uint8Array, p: number): boolean {
  if (two(b, p) < 0 || two(b, p + 2) < 0) return false;
  const month = two(b, p + 4);
  const day = two(b, p + 6);
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

/** HH:MM:SS, optionally `.` and 1–9 digits, exactly filling [p, e): hour ≤ 23, minute ≤ 59, second ≤ 60. */
function isTimeWithFraction(b: Uint8Array, p: number, e: number): boolean {
  const n = e - p;
  if (n !== 8 && (n < 10 || n > 18)) return false;
  if (b[p + 2] !== 58 || b[p + 5] !== 58) return false;
  const h = two(b, p);
  const m = two(b, p + 3);
  const sec = two(b, p + 6);
  if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60) return false;
  if (n === 8) return true;
  if (b[p + 8] !== 46) return false;
  for (let i = p + 9; i < e; i++) {
    const c = b[i] - 48;
    if (c < 0 || c > 9) return false;
  }
  return true;
}

function isUtcTimestamp(b: Uint8Array, s: number, e: number): boolean {
  if (e - s < 17 || e - s > 27) return false;
  return b[s + 8] === 45 && isDate(b, s) && isTimeWithFraction(b, s + 9, e);
}
