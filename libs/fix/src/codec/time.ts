/**
 * UTC timestamps in FIX's UTCTimestamp format: `YYYYMMDD-HH:MM:SS[.sss[sss[sss]]]`.
 * Precision 0 (seconds, FIX 4.0/4.1), 3 (milliseconds, the default), 6 or 9 (FIX 4.2+ peers that accept them).
 */
export type TimestampPrecision = 0 | 3 | 6 | 9;

// "YYYYMMDD-" of the last day formatted, as char codes.
let cachedDay = Number.NaN;
const dateCodes = [0, 0, 0, 0, 0, 0, 0, 0, 0];

/**
 * Formats epoch milliseconds (fractional part used for precision 6 and 9). Precision 0 and 3 truncate; 6 and 9 round
 * to the last digit shown, because a double near 1.7e12 ms holds 123.456 ms as 123.45599…, which truncation would
 * print as 455 µs — a timestamp read with `parseUtcTimestamp` must format back to the same text.
 *
 * The string is built in one `String.fromCharCode` call: the encoder reads it char by char, which is several times
 * slower on the rope a template literal makes.
 */
export function formatUtcTimestamp(epochMs: number, precision: TimestampPrecision = 3): string {
  let whole = Math.floor(epochMs);
  let sub = 0; // µs (precision 6) or ns (precision 9) within the millisecond
  if (precision > 3) {
    const scale = precision === 6 ? 1000 : 1_000_000;
    sub = Math.round((epochMs - whole) * scale);
    if (sub === scale) {
      whole += 1;
      sub = 0;
    }
  }
  const day = Math.floor(whole / 86_400_000);
  if (day !== cachedDay) {
    const d = new Date(day * 86_400_000);
    const text = `${String(d.getUTCFullYear()).padStart(4, "0")}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}-`;
    for (let i = 0; i < 9; i++) dateCodes[i] = text.charCodeAt(i);
    cachedDay = day;
  }
  const msOfDay = whole - day * 86_400_000;
  const h = Math.floor(msOfDay / 3_600_000);
  const m = Math.floor((msOfDay % 3_600_000) / 60_000);
  const s = Math.floor((msOfDay % 60_000) / 1000);
  const c = dateCodes;
  const hh0 = 48 + Math.floor(h / 10);
  const hh1 = 48 + (h % 10);
  const mm0 = 48 + Math.floor(m / 10);
  const mm1 = 48 + (m % 10);
  const ss0 = 48 + Math.floor(s / 10);
  const ss1 = 48 + (s % 10);
  if (precision === 0) {
    // biome-ignore format: the timestamp's characters in order
    return String.fromCharCode(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], hh0, hh1, 58, mm0, mm1, 58, ss0, ss1);
  }
  const ms = msOfDay % 1000;
  // biome-ignore format: the timestamp's characters in order
  const base = String.fromCharCode(
    c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8],
    hh0, hh1, 58, mm0, mm1, 58, ss0, ss1, 46,
    48 + Math.floor(ms / 100), 48 + (Math.floor(ms / 10) % 10), 48 + (ms % 10),
  );
  if (precision === 3) return base;
  return `${base}${String(sub).padStart(precision - 3, "0")}`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/**
 * Parses a UTCTimestamp (seconds, or 1–9 fractional digits) to epoch milliseconds; NaN when malformed.
 * Used for SendingTime accuracy checks, so it is strict about the shape.
 */
export function parseUtcTimestamp(s: string): number {
  if (s.length < 17 || s.charCodeAt(8) !== 45 || s.charCodeAt(11) !== 58 || s.charCodeAt(14) !== 58) return Number.NaN;
  const year = digits(s, 0, 4);
  const month = digits(s, 4, 2);
  const day = digits(s, 6, 2);
  const h = digits(s, 9, 2);
  const m = digits(s, 12, 2);
  const sec = digits(s, 15, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || h < 0 || h > 23 || m < 0 || m > 59) {
    return Number.NaN;
  }
  if (sec < 0 || sec > 60) return Number.NaN;
  let ms = 0;
  if (s.length > 17) {
    if (s.charCodeAt(17) !== 46 || s.length < 19 || s.length > 27) return Number.NaN;
    const fracDigits = s.length - 18;
    const frac = digits(s, 18, fracDigits);
    if (frac < 0) return Number.NaN;
    ms = frac / 10 ** (fracDigits - 3);
  }
  return Date.UTC(year, month - 1, day, h, m, sec) + ms;
}

function digits(s: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}
