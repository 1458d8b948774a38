/** A field value as given to the encoder: a string (latin1), a number, or bytes written as they are. */
export type FieldValue = string | number | Buffer;

/**
 * Fields as a flat list — tag, value, tag, value, … — in wire order. Flat so that building a message
 * allocates one array, not one object per field.
 */
export type FieldList = Array<number | FieldValue>;

const SOH = 1;
const RESERVE = 48; // room in front of the body for "8=<BeginString>|9=<len>|"
const SLAB = 64 * 1024;

/**
 * Encodes messages of one session: `8`, `9`, `35`, the standard header fields (34, 49, 52, 56) merged in
 * ascending tag order with any extra header fields, the body as given, and `10`. BodyLength and CheckSum
 * are computed while writing. Output buffers are slices of a shared slab (no per-message allocation).
 */
export class Encoder {
  readonly beginString: string;
  private readonly sender: Buffer;
  private readonly target: Buffer;
  private readonly prefix: Buffer;
  private readonly prefixSum: number;
  private scratch: Buffer;
  private sum = 0;
  private pos = 0;
  private slab: Buffer = Buffer.allocUnsafe(SLAB);
  private slabPos = 0;

  constructor(beginString: string, senderCompID: string, targetCompID: string) {
    if (beginString.length > 32) throw new RangeError(`BeginString too long: ${beginString}`);
    this.beginString = beginString;
    this.sender = Buffer.from(senderCompID, "latin1");
    this.target = Buffer.from(targetCompID, "latin1");
    this.prefix = Buffer.from(`8=${beginString}\x019=`, "latin1");
    let s = 0;
    for (const b of this.prefix) s += b;
    this.prefixSum = s;
    this.scratch = Buffer.allocUnsafe(4096);
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
    this.pos = RESERVE;
    this.sum = 0;
    this.tagStr(35, msgType);
    // Standard header fields merged with the extras so the header is in ascending tag order.
    let x = 0;
    const ex = extraHeader ?? EMPTY;
    x = this.extrasBelow(ex, x, 34);
    this.tagInt(34, seqNum);
    x = this.extrasBelow(ex, x, 49);
    this.tagBuf(49, this.sender);
    x = this.extrasBelow(ex, x, 52);
    this.tagStr(52, sendingTime);
    x = this.extrasBelow(ex, x, 56);
    this.tagBuf(56, this.target);
    this.extrasBelow(ex, x, Number.MAX_SAFE_INTEGER);
    if (body !== null) {
      if (Buffer.isBuffer(body)) this.bytes(body);
      else this.fields(body);
    }
    return this.finish();
  }

  /**
   * Encodes a message whose whole header after 35 is given by the caller (used to replay stored messages
   * and by tests that need full control). `fields` must include 34, 49, 52, 56 in the desired order.
   */
  encodeRaw(msgType: string, fields: FieldList | Buffer): Buffer {
    this.pos = RESERVE;
    this.sum = 0;
    this.tagStr(35, msgType);
    if (Buffer.isBuffer(fields)) this.bytes(fields);
    else this.fields(fields);
    return this.finish();
  }

  private finish(): Buffer {
    const bodyLen = this.pos - RESERVE;
    // Prefix "8=...|9=<len>|" written right-aligned in front of the body.
    const lenStr = String(bodyLen);
    let start = RESERVE - 1;
    const s = this.scratch;
    s[start] = SOH;
    let sum = this.prefixSum + SOH;
    for (let i = lenStr.length - 1; i >= 0; i--) {
      const c = lenStr.charCodeAt(i);
      s[--start] = c;
      sum += c;
    }
    start -= this.prefix.length;
    this.prefix.copy(s, start);
    sum = (sum + this.sum) & 255;
    this.ensure(7);
    let p = this.pos;
    s[p++] = 49;
    s[p++] = 48;
    s[p++] = 61;
    s[p++] = 48 + Math.floor(sum / 100);
    s[p++] = 48 + (Math.floor(sum / 10) % 10);
    s[p++] = 48 + (sum % 10);
    s[p++] = SOH;
    const len = p - start;
    let out: Buffer;
    if (len > SLAB / 4) {
      out = Buffer.allocUnsafe(len);
    } else {
      if (this.slabPos + len > SLAB) {
        this.slab = Buffer.allocUnsafe(SLAB);
        this.slabPos = 0;
      }
      out = this.slab.subarray(this.slabPos, this.slabPos + len);
      this.slabPos += len;
    }
    s.copy(out, 0, start, p);
    return out;
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

  private ensure(n: number): void {
    if (this.pos + n <= this.scratch.length) return;
    const g = Buffer.allocUnsafe(Math.max(this.scratch.length * 2, this.pos + n + 64));
    this.scratch.copy(g, 0, 0, this.pos);
    this.scratch = g;
  }

  private tag(tag: number): void {
    this.ensure(12);
    this.int(tag);
    this.scratch[this.pos++] = 61;
    this.sum += 61;
  }

  private int(n: number): void {
    const s = this.scratch;
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
    this.scratch[this.pos++] = SOH;
    this.sum += SOH;
  }

  private tagStr(tag: number, v: string): void {
    this.tag(tag);
    const n = v.length;
    this.ensure(n + 1);
    const s = this.scratch;
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
    this.bytes(v);
    this.scratch[this.pos++] = SOH;
    this.sum += SOH;
  }

  /** Writes bytes verbatim (the caller supplies any SOH); reserves one extra byte for a following SOH. */
  private bytes(v: Buffer): void {
    const n = v.length;
    this.ensure(n + 1);
    const s = this.scratch;
    let p = this.pos;
    let sum = this.sum;
    if (n > 64) {
      v.copy(s, p);
      for (let i = 0; i < n; i++) sum += v[i];
      p += n;
    } else {
      for (let i = 0; i < n; i++) {
        const c = v[i];
        s[p++] = c;
        sum += c;
      }
    }
    this.pos = p;
    this.sum = sum;
  }
}

const EMPTY: FieldList = [];
