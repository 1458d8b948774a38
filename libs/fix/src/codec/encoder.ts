/** A field value as given to the encoder: a string (latin1), a number, or bytes written as they are. */
export type FieldValue = string | number | Buffer;

/**
 * Fields as a flat list — tag, value, tag, value, … — in wire order. Flat so that building a message
 * allocates one array, not one object per field.
 */
export type FieldList = Array<number | FieldValue>;

const SOH = 1;
const EQ = 61;
const RESERVE = 48; // room in front of the body for "8=<BeginString>|9=<len>|"
const SLAB = 64 * 1024;
/** Messages longer than this get a buffer of their own rather than a slice of the slab. */
const LARGE = SLAB / 4;

/**
 * Encodes messages of one session: `8`, `9`, `35`, the standard header fields (34, 49, 52, 56) merged in
 * ascending tag order with any extra header fields, the body as given, and `10`. BodyLength and CheckSum
 * are computed while writing.
 *
 * Messages are written straight into a shared slab and returned as slices of it (no per-message allocation
 * or copy), the body first and then "8=…|9=<len>|" right-aligned in the room left in front of it. A returned
 * Buffer stays valid: later messages only use the slab beyond it, or a new slab.
 */
export class Encoder {
  readonly beginString: string;
  /** "49=<SenderCompID>|" and "56=<TargetCompID>|", written as they are, and their byte sums. */
  private readonly senderField: Buffer;
  private readonly senderSum: number;
  private readonly targetField: Buffer;
  private readonly targetSum: number;
  private readonly prefix: Buffer;
  private readonly prefixSum: number;
  /** The slab being written; the message in progress starts at `base` (its RESERVE bytes of room first). */
  private buf: Buffer = Buffer.allocUnsafe(SLAB);
  private base = 0;
  private pos = 0;
  private sum = 0;

  constructor(beginString: string, senderCompID: string, targetCompID: string) {
    if (beginString.length > 32) throw new RangeError(`BeginString too long: ${beginString}`);
    this.beginString = beginString;
    this.senderField = Buffer.from(`49=${senderCompID}\x01`, "latin1");
    this.senderSum = byteSum(this.senderField);
    this.targetField = Buffer.from(`56=${targetCompID}\x01`, "latin1");
    this.targetSum = byteSum(this.targetField);
    this.prefix = Buffer.from(`8=${beginString}\x019=`, "latin1");
    this.prefixSum = byteSum(this.prefix);
  }

  /**
   * Encodes one message.
   * @param extraHeader header fields other than 8, 9, 35, 34, 49, 52, 56, in ascending tag order
   * @param body the body fields, or pre-encoded body bytes (each field ending in SOH)
   */
  encode(
    msgType: string,
    seqNum: number,
    sendingTime: string,
    body: FieldList | Buffer | null,
    extraHeader?: FieldList | null,
  ): Buffer {
    this.begin();
    this.tagStr(35, msgType);
    // Standard header fields merged with the extras so the header is in ascending tag order.
    let x = 0;
    const ex = extraHeader ?? EMPTY;
    x = this.extrasBelow(ex, x, 34);
    this.tagInt(34, seqNum);
    x = this.extrasBelow(ex, x, 49);
    this.bytes(this.senderField, this.senderSum);
    x = this.extrasBelow(ex, x, 52);
    this.tagStr(52, sendingTime);
    x = this.extrasBelow(ex, x, 56);
    this.bytes(this.targetField, this.targetSum);
    this.extrasBelow(ex, x, Number.MAX_SAFE_INTEGER);
    if (body !== null) {
      if (Buffer.isBuffer(body)) this.bytes(body, -1);
      else this.fields(body);
    }
    return this.finish();
  }

  /**
   * Encodes a message whose whole header after 35 is given by the caller (used to replay stored messages
   * and by tests that need full control). `fields` must include 34, 49, 52, 56 in the desired order.
   */
  encodeRaw(msgType: string, fields: FieldList | Buffer): Buffer {
    this.begin();
    this.tagStr(35, msgType);
    if (Buffer.isBuffer(fields)) this.bytes(fields, -1);
    else this.fields(fields);
    return this.finish();
  }

  private begin(): void {
    if (this.buf.length - this.base < RESERVE + 1024) {
      this.buf = Buffer.allocUnsafe(SLAB);
      this.base = 0;
    }
    this.pos = this.base + RESERVE;
    this.sum = 0;
  }

  private finish(): Buffer {
    // Room for "10=nnn SOH" first: growing the buffer later would leave `s` below pointing at the old one.
    this.ensure(7);
    const s = this.buf;
    const bodyStart = this.base + RESERVE;
    let p = this.pos;
    // "8=<BeginString>|9=<BodyLength>|" written backwards from the body's start.
    let start = bodyStart - 1;
    s[start] = SOH;
    let sum = this.prefixSum + SOH;
    let n = p - bodyStart;
    do {
      const d = 48 + (n % 10);
      s[--start] = d;
      sum += d;
      n = Math.floor(n / 10);
    } while (n > 0);
    const prefix = this.prefix;
    start -= prefix.length;
    for (let i = 0; i < prefix.length; i++) s[start + i] = prefix[i];
    sum = (sum + this.sum) & 255;
    s[p++] = 49;
    s[p++] = 48;
    s[p++] = EQ;
    s[p++] = 48 + Math.floor(sum / 100);
    s[p++] = 48 + (Math.floor(sum / 10) % 10);
    s[p++] = 48 + (sum % 10);
    s[p++] = SOH;
    if (p - start > LARGE) {
      // A large message gets a buffer of its own, so that it does not keep a slab alive nor take most of one.
      const out = Buffer.allocUnsafe(p - start);
      s.copy(out, 0, start, p);
      if (s.length > SLAB) {
        this.buf = Buffer.allocUnsafe(SLAB);
        this.base = 0;
      }
      return out;
    }
    this.base = p;
    return s.subarray(start, p);
  }

  private extrasBelow(ex: FieldList, x: number, limit: number): number {
    while (x < ex.length && (ex[x] as number) < limit) {
      this.field(ex[x] as number, ex[x + 1] as FieldValue);
      x += 2;
    }
    return x;
  }

  private fields(list: FieldList): void {
    for (let i = 0; i < list.length; i += 2) this.field(list[i] as number, list[i + 1] as FieldValue);
  }

  private field(tag: number, v: FieldValue): void {
    if (typeof v === "string") this.tagStr(tag, v);
    else if (typeof v === "number") {
      if (Number.isSafeInteger(v) && v >= 0) this.tagInt(tag, v);
      else this.tagStr(tag, String(v));
    } else this.tagBuf(tag, v);
  }

  /** Makes room for n more bytes, moving the message in progress to a bigger buffer when the slab is full. */
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const used = this.pos - this.base;
    const g = Buffer.allocUnsafe(Math.max(SLAB, 2 * (used + n)));
    this.buf.copy(g, 0, this.base, this.pos);
    this.buf = g;
    this.base = 0;
    this.pos = used;
  }

  private tag(tag: number): void {
    this.ensure(12);
    const s = this.buf;
    let p = this.pos;
    if (tag >= 10 && tag < 1000) {
      // Most tags have 2 or 3 digits.
      let sum = EQ;
      if (tag >= 100) {
        const h = 48 + Math.floor(tag / 100);
        s[p++] = h;
        sum += h;
        tag %= 100;
      }
      const t = 48 + Math.floor(tag / 10);
      const u = 48 + (tag % 10);
      s[p] = t;
      s[p + 1] = u;
      s[p + 2] = EQ;
      this.pos = p + 3;
      this.sum += sum + t + u;
      return;
    }
    if (tag < 0) {
      // Not a valid FIX tag, but tests and conformance scripts send them to provoke a Reject.
      s[this.pos++] = 45; // '-'
      this.sum += 45;
      tag = -tag;
    }
    this.int(tag);
    s[this.pos++] = EQ;
    this.sum += EQ;
  }

  private int(n: number): void {
    const s = this.buf;
    if (n < 10) {
      s[this.pos++] = 48 + n;
      this.sum += 48 + n;
      return;
    }
    // digits backwards into place
    let digits = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
    let p = this.pos + digits;
    this.pos = p;
    let t = n;
    let sum = 0;
    do {
      const d = 48 + (t % 10);
      s[--p] = d;
      sum += d;
      t = Math.floor(t / 10);
    } while (t > 0);
    this.sum += sum;
  }

  private tagInt(tag: number, v: number): void {
    this.tag(tag);
    this.ensure(18);
    this.int(v);
    this.buf[this.pos++] = SOH;
    this.sum += SOH;
  }

  private tagStr(tag: number, v: string): void {
    this.tag(tag);
    const n = v.length;
    this.ensure(n + 1);
    const s = this.buf;
    let p = this.pos;
    let sum = this.sum;
    for (let i = 0; i < n; i++) {
      const c = v.charCodeAt(i) & 255;
      s[p++] = c;
      sum += c;
    }
    s[p++] = SOH;
    this.pos = p;
    this.sum = sum + SOH;
  }

  private tagBuf(tag: number, v: Buffer): void {
    this.tag(tag);
    this.bytes(v, -1);
    this.buf[this.pos++] = SOH;
    this.sum += SOH;
  }

  /**
   * Writes bytes verbatim (the caller supplies any SOH) and reserves one more byte for a following SOH.
   * `knownSum` is their byte sum when precomputed, else -1.
   */
  private bytes(v: Buffer, knownSum: number): void {
    const n = v.length;
    this.ensure(n + 1);
    const s = this.buf;
    let p = this.pos;
    if (n > 64) {
      v.copy(s, p);
      this.sum += knownSum >= 0 ? knownSum : byteSum(v);
      p += n;
    } else if (knownSum >= 0) {
      for (let i = 0; i < n; i++) s[p++] = v[i];
      this.sum += knownSum;
    } else {
      let sum = this.sum;
      for (let i = 0; i < n; i++) {
        const c = v[i];
        s[p++] = c;
        sum += c;
      }
      this.sum = sum;
    }
    this.pos = p;
  }
}

function byteSum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < b.length; i++) sum += b[i];
  return sum;
}

const EMPTY: FieldList = [];
