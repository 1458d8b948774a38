/**
 * A parsed FIX message: a view over the bytes it came from. Parsing records each field's tag and the offsets
 * of its value in one pass; values are decoded only when asked for. `raw` keeps the exact bytes for storage
 * and resend.
 */
export class FixMessage {
  /** The whole message, `8=` through the CheckSum's SOH. */
  readonly raw: Buffer;
  /**
   * Field triples: tag, value start, value end (offsets into `raw`). A view of the parser's shared slab: read it,
   * do not write to it.
   */
  readonly fields: Int32Array;
  /** Number of fields, 8, 9 and 10 included. */
  readonly count: number;
  /** MsgType(35), decoded eagerly: every consumer needs it. */
  readonly msgType: string;

  constructor(raw: Buffer, fields: Int32Array, count: number, msgType: string) {
    this.raw = raw;
    this.fields = fields;
    this.count = count;
    this.msgType = msgType;
  }

  /** Tag of the i-th field (0-based, in wire order). */
  tagAt(i: number): number {
    return this.fields[i * 3];
  }

  /** Value of the i-th field as a latin1 string. */
  valueAt(i: number): string {
    return latin1(this.raw, this.fields[i * 3 + 1], this.fields[i * 3 + 2]);
  }

  /** Value bytes of the i-th field (a view, not a copy). */
  bytesAt(i: number): Buffer {
    return this.raw.subarray(this.fields[i * 3 + 1], this.fields[i * 3 + 2]);
  }

  valueLengthAt(i: number): number {
    return this.fields[i * 3 + 2] - this.fields[i * 3 + 1];
  }

  /** Index of the first field with this tag at or after `from`, or -1. */
  indexOf(tag: number, from = 0): number {
    const f = this.fields;
    for (let i = from, n = this.count; i < n; i++) if (f[i * 3] === tag) return i;
    return -1;
  }

  has(tag: number): boolean {
    return this.indexOf(tag) >= 0;
  }

  /** The first value of `tag` as a string, or undefined when absent. */
  get(tag: number): string | undefined {
    const i = this.indexOf(tag);
    return i < 0 ? undefined : this.valueAt(i);
  }

  /**
   * The first value of `tag` as a non-negative integer, or undefined when absent. NaN when present but not
   * made of digits only (the caller decides whether that is a format error).
   */
  getInt(tag: number): number | undefined {
    const i = this.indexOf(tag);
    if (i < 0) return undefined;
    return this.intAt(i);
  }

  /** The i-th value as a non-negative integer; NaN when it is empty or not all digits. */
  intAt(i: number): number {
    const b = this.raw;
    let p = this.fields[i * 3 + 1];
    const e = this.fields[i * 3 + 2];
    if (p === e || e - p > 15) return Number.NaN;
    let n = 0;
    for (; p < e; p++) {
      const c = b[p] - 48;
      if (c < 0 || c > 9) return Number.NaN;
      n = n * 10 + c;
    }
    return n;
  }

  /** True when `tag` is present with the value `Y`. */
  flag(tag: number): boolean {
    const i = this.indexOf(tag);
    return i >= 0 && this.valueLengthAt(i) === 1 && this.raw[this.fields[i * 3 + 1]] === 89; // 'Y'
  }

  /** The message as text with SOH shown as `|` (for logs and test failures). */
  toString(): string {
    return this.raw.toString("latin1", 0, this.raw.length).replaceAll("\x01", "|");
  }
}

/**
 * `b[s, e)` as a latin1 string. Most FIX values are short (MsgType, sides, quantities, symbols), and for up to 8
 * bytes `String.fromCharCode` is about four times faster than `Buffer.toString`, which crosses into C++.
 */
export function latin1(b: Buffer, s: number, e: number): string {
  switch (e - s) {
    case 0:
      return "";
    case 1:
      return String.fromCharCode(b[s]);
    case 2:
      return String.fromCharCode(b[s], b[s + 1]);
    case 3:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2]);
    case 4:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3]);
    case 5:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4]);
    case 6:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5]);
    case 7:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6]);
    case 8:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7]);
    default:
      return b.toString("latin1", s, e);
  }
}
