import { FixMessage, latin1 } from "./message.js";

const SOH = 1;
const EQ = 61;
const MINUS = 45;
/** "No data field announced": below every tag the parser accepts (at most 9 digits, sign included). */
const NO_DATA_TAG = -1_073_741_824;

/** Why a frame was discarded. Per FIX, such a message is dropped without consuming a sequence number. */
export const GarbledReason = {
  /** Bytes before the next `8=` that belong to no message. */
  NoBeginString: "NoBeginString",
  /** The second field is not BodyLength(9) or its value is not a number. */
  BadBodyLength: "BadBodyLength",
  /** MsgType(35) is not the third field. */
  MsgTypeNotThird: "MsgTypeNotThird",
  /** A tag that is not a number of at most 9 digits, a field without `=`, or a frame that does not end in SOH. */
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
 * Field triples are carved out of shared slabs of this many ints (64 KiB), as Buffer carves small buffers out of
 * its pool: a typed array of its own per message costs several hundred ns, a view of a slab a few dozen.
 */
const SLAB_INTS = 16 * 1024;

/**
 * Parses one framed message in a single pass over its bytes: records tag and value offsets, sums the
 * CheckSum, and checks the FIX framing rules (8, 9, 35 first; 10 last, where BodyLength puts it).
 * Structural problems that FIX answers with a Reject (unknown or repeated tags, empty values, order) are
 * left to validation; only problems that make the bytes untrustworthy are reported here.
 *
 * A message's `fields` is a view of a slab shared with the messages parsed before and after it, so keeping one
 * message keeps its slab (64 KiB) alive, much as `raw` keeps the socket chunk it came from.
 */
export class Parser {
  private readonly maxFields: number;
  /** Data tag announced by each length tag, indexed by the length tag; 0 when the tag announces none. */
  private readonly dataTagOf: Int32Array;
  /** Length tags too large for `dataTagOf` (custom dictionaries only), or null. */
  private readonly dataTagBeyond: ReadonlyMap<number, number> | null;
  private slab: Int32Array = new Int32Array(SLAB_INTS);
  private slabPos = 0;

  constructor(opts: ParserOptions = {}) {
    this.maxFields = opts.maxFields ?? 2048;
    const dataFields = opts.dataFields ?? STANDARD_DATA_FIELDS;
    let top = 0;
    let beyond: Map<number, number> | null = null;
    for (const [lengthTag, dataTag] of dataFields) {
      if (lengthTag >= 0 && lengthTag < 65536) top = Math.max(top, lengthTag + 1);
      else {
        beyond ??= new Map();
        beyond.set(lengthTag, dataTag);
      }
    }
    this.dataTagOf = new Int32Array(top);
    for (const [lengthTag, dataTag] of dataFields) {
      if (lengthTag >= 0 && lengthTag < 65536) this.dataTagOf[lengthTag] = dataTag;
    }
    this.dataTagBeyond = beyond;
  }

  /** Parses `buf[start, end)` (one whole frame). The message's `raw` is a view of those bytes, not a copy. */
  parse(buf: Buffer, start = 0, end = buf.length): ParseResult {
    const raw = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
    const len = raw.length;
    const maxInts = this.maxFields * 3;
    const dataTagOf = this.dataTagOf;
    const dataTop = dataTagOf.length;
    // Every field ends in SOH, so a frame must too. Checking the last byte once lets the loops below stop on
    // SOH (or '=') without testing for the end of the buffer at every byte.
    if (len === 0 || raw[len - 1] !== SOH) return GarbledReason.GarbledField;
    let f = this.slab;
    // This message's triples go to f[base, k); they become its `fields` only if it parses.
    let base = this.slabPos;
    let k = base;
    let pos = 0;
    let sum = 0;
    let checkSum = -1; // sum of every byte before "10=", once that field is reached
    let checkSumAt = -1;
    let pendingDataTag = NO_DATA_TAG;
    let pendingDataLen = 0;
    while (pos < len) {
      const fieldStart = pos;
      const sumBefore = sum;
      // tag: optional '-' then at most 9 digits (so it stays a small integer), up to '='
      let c = raw[pos];
      let neg = false;
      if (c === MINUS) {
        neg = true;
        sum += c;
        pos++;
      }
      const digitsStart = pos;
      let tag = 0;
      for (;;) {
        c = raw[pos];
        if (c === EQ) break;
        const d = c - 48;
        if (d < 0 || d > 9 || pos - digitsStart >= 9) return GarbledReason.GarbledField;
        tag = tag * 10 + d;
        sum += c;
        pos++;
      }
      if (pos === digitsStart) return GarbledReason.GarbledField;
      if (neg) tag = -tag;
      sum += EQ;
      pos++;
      const valStart = pos;
      if (tag === pendingDataTag) {
        // A data field may hold SOH: take exactly the announced length.
        pos += pendingDataLen;
        if (pos >= len || raw[pos] !== SOH) return GarbledReason.GarbledField;
        for (let i = valStart; i < pos; i++) sum += raw[i];
      } else {
        for (;;) {
          c = raw[pos];
          if (c === SOH) break;
          sum += c;
          pos++;
        }
      }
      if (k - base >= maxInts) return GarbledReason.TooManyFields;
      if (k + 3 > f.length) {
        f = this.moveToNewSlab(base, k);
        k -= base;
        base = 0;
      }
      f[k] = tag;
      f[k + 1] = valStart;
      f[k + 2] = pos;
      k += 3;
      pos++;
      if (tag === 10) {
        // CheckSum ends the message; whatever follows is for the BodyLength check below to reject.
        checkSum = sumBefore & 255;
        checkSumAt = fieldStart;
        break;
      }
      sum += SOH;
      pendingDataTag = NO_DATA_TAG;
      const dataTag = tag >= 0 && tag < dataTop ? dataTagOf[tag] : this.dataTagBeyondOf(tag);
      if (dataTag > 0) {
        pendingDataLen = intOf(raw, valStart, pos - 1);
        if (pendingDataLen >= 0) pendingDataTag = dataTag;
      }
    }
    const count = (k - base) / 3;
    if (count < 4 || f[base] !== 8) return GarbledReason.NoBeginString;
    if (f[base + 3] !== 9) return GarbledReason.BadBodyLength;
    if (f[base + 6] !== 35) return GarbledReason.MsgTypeNotThird;
    if (checkSumAt < 0 || pos !== len) return GarbledReason.BodyLengthMismatch;
    // BodyLength counts from after its own SOH up to the "10=".
    const bodyLength = intOf(raw, f[base + 4], f[base + 5]);
    if (bodyLength < 0 || f[base + 5] + 1 + bodyLength !== checkSumAt) return GarbledReason.BodyLengthMismatch;
    if (f[k - 1] - f[k - 2] !== 3 || intOf(raw, f[k - 2], f[k - 1]) !== checkSum) return GarbledReason.BadCheckSum;
    const msgType = latin1(raw, f[base + 7], f[base + 8]);
    this.slabPos = k;
    return new FixMessage(raw, new Int32Array(f.buffer, base * 4, k - base), count, msgType);
  }

  private dataTagBeyondOf(tag: number): number {
    return this.dataTagBeyond === null ? 0 : (this.dataTagBeyond.get(tag) ?? 0);
  }

  /** The current slab is full: continue the message being parsed at the start of a fresh one. */
  private moveToNewSlab(base: number, k: number): Int32Array {
    const g = new Int32Array(Math.max(SLAB_INTS, (k - base) * 2 + 3));
    g.set(this.slab.subarray(base, k));
    this.slab = g;
    this.slabPos = 0;
    return g;
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
