/**
 * Turns the text of an `I` or `E` line into the exact bytes of a message: placeholder expansion, then the
 * BodyLength(9)/CheckSum(10) completion rules of the conformance README ("Completing a message").
 *
 * Strings here are latin1: one character per byte, so `length` is a byte count and `charCodeAt` a byte.
 */
import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";

export const SOH = "\x01";

/** Formats a UTC instant as `YYYYMMDD-HH:MM:SS` — seconds only, as the scripts' BodyLengths assume. */
export function formatUtcSeconds(epochMs: number): string {
  const d = new Date(epochMs);
  const p2 = (n: number) => String(n).padStart(2, "0");
  return (
    `${String(d.getUTCFullYear()).padStart(4, "0")}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}` +
    `-${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`
  );
}

export interface ExpandOptions {
  /** The instant the step runs, in epoch milliseconds. One value serves every placeholder of the line. */
  now: number;
  /** Directory that relative `<FILE:path>` paths are resolved against (the script's folder). */
  baseDir?: string;
}

/** `<FILE:path>` named a file that could not be read. */
export class PlaceholderFileError extends Error {
  override readonly name = "PlaceholderFileError";
  constructor(
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(`<FILE:${path}>: cannot read the file`, options);
  }
}

const PLACEHOLDER = /<TIME>|<TIME([+-])(\d+)>|<FILE:([^>]*)>/g;

/**
 * Replaces `<TIME>`, `<TIME+N>`, `<TIME-N>` (UTC, seconds only) and `<FILE:path>` (the file, trimmed).
 * Anything else in angle brackets is left as written.
 */
export function expandPlaceholders(text: string, opts: ExpandOptions): string {
  return text.replace(PLACEHOLDER, (_all, sign: string | undefined, secs: string | undefined, file?: string) => {
    if (file !== undefined) {
      const path = isAbsolute(file) ? file : resolve(opts.baseDir ?? ".", file);
      try {
        return readFileSync(path, "latin1").trim();
      } catch (e) {
        throw new PlaceholderFileError(path, { cause: e });
      }
    }
    const offset = sign === undefined ? 0 : (sign === "-" ? -1 : 1) * Number(secs) * 1000;
    return formatUtcSeconds(opts.now + offset);
  });
}

/** Sum of the bytes of a latin1 string, modulo 256. */
export function byteSum(text: string): number {
  let sum = 0;
  for (let i = 0; i < text.length; i++) sum += text.charCodeAt(i);
  return sum % 256;
}

/** A CheckSum value: three digits, zero-padded. */
export function formatCheckSum(sum: number): string {
  return String(sum % 256).padStart(3, "0");
}

/**
 * Completes a message exactly as the README says:
 * 1. text not starting with `8=` is used verbatim (deliberately malformed messages, `2t`);
 * 2. without a `9=` field, `9=<n>` goes right after the first field, `n` counting the bytes after it up to and
 *    including the SOH in front of the trailing `10=` (or to the end) — the correct BodyLength;
 * 3. when the text does not end with a `10=` field, `10=<sum>` is appended (bytes from `8=` through the last
 *    SOH, modulo 256, three digits);
 * 4. a `9=` or `10=` written in the script is kept as written, even when wrong — that is how the scripts send
 *    bad messages (`2d`, `2m`, `3b`, `1d_InvalidLogonLengthInvalid`).
 *
 * Unlike the reference runner, the trailer is the last field only, and the BodyLength of a line that has a
 * CheckSum but no BodyLength is not one byte short (the README's "two quirks"); QuickFIX/J does the same.
 */
export function completeMessage(text: string): string {
  if (!text.startsWith("8=")) return text;
  const firstSoh = text.indexOf(SOH);
  // "8=FIX.4.2" and nothing else: there is no first field to insert after; send it as written.
  if (firstSoh < 0) return text;

  const trailerStart = trailingCheckSumStart(text);
  const head = text.slice(0, firstSoh + 1);
  const body = text.slice(firstSoh + 1, trailerStart ?? text.length);
  const trailer = trailerStart === undefined ? "" : text.slice(trailerStart);

  const hasBodyLength = text.split(SOH).some((field) => field.startsWith("9="));
  const lengthField = hasBodyLength ? "" : `9=${body.length}${SOH}`;

  if (trailerStart !== undefined) return head + lengthField + body + trailer;
  const covered = head + lengthField + body;
  return `${covered}10=${formatCheckSum(byteSum(covered))}${SOH}`;
}

/**
 * Offset of the text's last field when that field is a CheckSum (`10=…`, with or without a final SOH),
 * else undefined. The first field (BeginString) is never taken for the trailer.
 */
function trailingCheckSumStart(text: string): number | undefined {
  const end = text.endsWith(SOH) ? text.length - 1 : text.length;
  const start = text.lastIndexOf(SOH, end - 1) + 1;
  if (start === 0) return undefined;
  return text.startsWith("10=", start) ? start : undefined;
}
