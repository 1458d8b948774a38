import { FixMessage } from "./message.js";

const SOH = 1;
const EQ = 61;
const MINUS = 45;

/** Why a frame was discarded. Per FIX, such a message is dropped without consuming a sequence number. */
export const GarbledReason = {
  /** Bytes before the next `8=` that belong to no message. */
  NoBeginString: "NoBeginString",
  /** The second field is not BodyLength(9) or its value is not a number. */
  BadBodyLength: "BadBodyLength",
  /** MsgType(35) is not the third field. */
  MsgTypeNotThird: "MsgTypeNotThird",
  /** A tag that is not a number, or a field without `=`. */
  GarbledField: "GarbledField",
  /** CheckSum(10) is not where BodyLength says, or is not the last field. */
  BodyLengthMismatch: "BodyLengthMismatch",
  /** CheckSum(10) value is not three digits or does not match the bytes. */
  BadCheckSum: "BadCheckSum",
  /** Larger than the configured maximum message size. */
  TooLarge: "TooLarge",
  /** More fields than the configured maximum. */
  TooManyFields: "TooManyFields",
} as const;
export type GarbledReason = (typeof GarbledReason)[keyof typeof GarbledReason];

export interface ParserOptions {
  /** Maximum fields in one message (a hostile peer cannot make us allocate more). Default 2048. */
  maxFields?: number;
  /**
   * Length fields that announce a data field whose value may contain SOH: length tag → data tag.
   * Default: the standard pairs (RawDataLength 95 → RawData 96, XmlDataLen 212 → XmlData 213, …).
   */
  dataFields?: ReadonlyMap<number, number>;
}

/** The length/data field pairs of FIX 4.0–5.0 SP2 (type LENGTH followed by its DATA field). */
export const STANDARD_DATA_FIELDS: ReadonlyMap<number, number> = new Map([
  [90, 91], // SecureDataLen → SecureData
  [95, 96], // RawDataLength → RawData
  [212, 213], // XmlDataLen → XmlData
  [348, 349], // EncodedIssuerLen → EncodedIssuer
  [350, 351], // EncodedSecurityDescLen
  [352, 353], // EncodedListExecInstLen
  [354, 355], // EncodedTextLen
  [356, 357], // EncodedSubjectLen
  [358, 359], // EncodedHeadlineLen
  [360, 361], // EncodedAllocTextLen
  [362, 363], // EncodedUnderlyingIssuerLen
  [364, 365], // EncodedUnderlyingSecurityDescLen
  [445, 446], // EncodedListStatusTextLen
  [618, 619], // EncodedLegIssuerLen
  [621, 622], // EncodedLegSecurityDescLen
]);

/** Outcome of parsing one frame: a message, or the reason it is garbled. */
export type ParseResult = FixMessage | GarbledReason;

/**
 * Parses one framed message in a single pass over its bytes: records tag and value offsets, sums the
 * CheckSum, and checks the FIX framing rules (8, 9, 35 first; 10 last, where BodyLength puts it).
 * Structural problems that FIX answers with a Reject (unknown or repeated tags, empty values, order) are
 * left to validation; only problems that make the bytes untrustworthy are reported here.
 */
export class Parser {
  private readonly maxFields: number;
  private readonly dataFields: ReadonlyMap<number, number>;
  private scratch: Int32Array;

  constructor(opts: ParserOptions = {}) {
    this.maxFields = opts.maxFields ?? 2048;
    this.dataFields = opts.dataFields ?? STANDARD_DATA_FIELDS;
    this.scratch = new Int32Array(Math.min(this.maxFields, 64) * 3);
  }

  /** Parses `buf[start, end)` (one whole frame). The message's `raw` is a view of those bytes, not a copy. */
  parse(buf: Buffer, start = 0, end = buf.length): ParseResult {
    const raw = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
    const len = raw.length;
    let f = this.scratch;
    let count = 0;
    let pos = 0;
    let sum = 0;
    let pendingDataTag = -1;
    let pendingDataLen = 0;
    let checkSumAt = -1;
    const dataFields = this.dataFields;
    while (pos < len) {
      const fieldStart = pos;
      // tag: optional '-' then digits, up to '='
      let tag = 0;
      let neg = false;
      let c = raw[pos];
      if (c === MINUS) {
        neg = true;
        sum += c;
        pos++;
        c = raw[pos];
      }
      const digitsStart = pos;
      while (pos < len) {
        c = raw[pos];
        if (c === EQ) break;
        const d = c - 48;
        if (d < 0 || d > 9 || pos - digitsStart > 9) return GarbledReason.GarbledField;
        tag = tag * 10 + d;
        sum += c;
        pos++;
      }
      if (pos >= len || pos === digitsStart) return GarbledReason.GarbledField;
      if (neg) tag = -tag;
      sum += EQ;
      pos++;
      const valStart = pos;
      if (tag === 10) checkSumAt = fieldStart;
      if (tag === pendingDataTag) {
        // A data field may hold SOH: take exactly the announced length.
        pos += pendingDataLen;
        if (pos >= len || raw[pos] !== SOH) return GarbledReason.GarbledField;
        for (let i = valStart; i < pos; i++) sum += raw[i];
      } else {
        while (pos < len && raw[pos] !== SOH) sum += raw[pos++];
        if (pos >= len) return GarbledReason.GarbledField;
      }
      pendingDataTag = -1;
      if (count >= this.maxFields) return GarbledReason.TooManyFields;
      if ((count + 1) * 3 > f.length) {
        const g = new Int32Array(Math.min(f.length * 2, this.maxFields * 3));
        g.set(f);
        f = this.scratch = g;
      }
      const k = count * 3;
      f[k] = tag;
      f[k + 1] = valStart;
      f[k + 2] = pos;
      count++;
      if (checkSumAt < 0) sum += SOH;
      pos++;
      const dataTag = dataFields.get(tag);
      if (dataTag !== undefined) {
        pendingDataTag = dataTag;
        pendingDataLen = intOf(raw, valStart, f[k + 2]);
        if (pendingDataLen < 0) pendingDataTag = -1;
      }
      if (checkSumAt >= 0) break;
    }
    if (count < 4 || f[0] !== 8) return GarbledReason.NoBeginString;
    if (f[3] !== 9) return GarbledReason.BadBodyLength;
    if (f[6] !== 35) return GarbledReason.MsgTypeNotThird;
    if (checkSumAt < 0 || pos !== len) return GarbledReason.BodyLengthMismatch;
    const bodyLength = intOf(raw, f[4], f[5]);
    if (bodyLength < 0 || f[5] + 1 + bodyLength !== checkSumAt) return GarbledReason.BodyLengthMismatch;
    // CheckSum is the sum of every byte before "10=", modulo 256; the loop above added the "10=" bytes too.
    const csStart = f[(count - 1) * 3 + 1];
    const csEnd = f[(count - 1) * 3 + 2];
    if (csEnd - csStart !== 3) return GarbledReason.BadCheckSum;
    const declared = intOf(raw, csStart, csEnd);
    const actual = (sum - 49 - 48 - 61 - raw[csStart] - raw[csStart + 1] - raw[csStart + 2]) & 255;
    if (declared !== actual) return GarbledReason.BadCheckSum;
    const msgType = raw.toString("latin1", f[7], f[8]);
    return new FixMessage(raw, f.slice(0, count * 3), count, msgType);
  }
}

/** Digits only → the number; anything else (or empty) → -1. */
function intOf(b: Buffer, s: number, e: number): number {
  if (s === e || e - s > 15) return -1;
  let n = 0;
  for (let p = s; p < e; p++) {
    const d = b[p] - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}
