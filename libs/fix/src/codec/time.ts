/**
 * UTC timestamps in FIX's UTCTimestamp format: `YYYYMMDD-HH:MM:SS[.sss[sss[sss]]]`.
 * Precision 0 (seconds, FIX 4.0/4.1), 3 (milliseconds, the default), 6 or 9 (FIX 4.2+ peers that accept them).
 */
export type TimestampPrecision = 0 | 3 | 6 | 9;

let cachedDay = -1;
let cachedDate = "";

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

/** Formats epoch milliseconds (fractional part used for precision 6 and 9). */
export function formatUtcTimestamp(epochMs: number, precision: TimestampPrecision = 3): string {
  const whole = Math.floor(epochMs);
  const day = Math.floor(whole / 86_400_000);
  if (day !== cachedDay) {
    const d = new Date(day * 86_400_000);
    cachedDate = `${d.getUTCFullYear()}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}-`;
    cachedDay = day;
  }
  const msOfDay = whole - day * 86_400_000;
  const h = Math.floor(msOfDay / 3_600_000);
  const m = Math.floor((msOfDay % 3_600_000) / 60_000);
  const s = Math.floor((msOfDay % 60_000) / 1000);
  const base = `${cachedDate}${pad2(h)}:${pad2(m)}:${pad2(s)}`;
  if (precision === 0) return base;
  const ms = msOfDay % 1000;
  const msStr = ms < 10 ? `00${ms}` : ms < 100 ? `0${ms}` : `${ms}`;
  if (precision === 3) return `${base}.${msStr}`;
  const frac = epochMs - whole; // 0 ≤ frac < 1 ms
  if (precision === 6) return `${base}.${msStr}${String(Math.floor(frac * 1000)).padStart(3, "0")}`;
  return `${base}.${msStr}${String(Math.floor(frac * 1_000_000)).padStart(6, "0")}`;
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
