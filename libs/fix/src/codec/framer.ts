import type { FixMessage } from "./message.js";
import { GarbledReason, Parser, type ParserOptions } from "./parser.js";

const SOH = 1;
const EQ = 61;
const B0 = 48;
const B1 = 49;
const B8 = 56;
const B9 = 57;

export interface FramerOptions extends ParserOptions {
  /**
   * Largest message accepted, in bytes from `8=` through the CheckSum's SOH; a larger one is reported as TooLarge
   * (as soon as its BodyLength shows it) and skipped. Default 1 MiB.
   */
  maxMessageSize?: number;
}

/** A discarded stretch of input and why. `bytes` is a view; copy it to keep it. */
export interface Garbled {
  reason: GarbledReason;
  bytes: Buffer;
}

/** "SOH 10=": where QuickFIX ends a frame. */
const CHECKSUM_TAG = Buffer.from("\x0110=", "latin1");

/**
 * Turns arbitrary TCP chunks (split or coalesced messages) into whole, parsed messages.
 *
 * Framing follows QuickFIX (`Parser::readFixMessage`), whose rule the acceptance scripts pin down
 * (2m_BodyLengthValueNotCorrect): a message starts at `8=`; after `8=<BeginString> SOH 9=<BodyLength> SOH` and
 * BodyLength more bytes, it ends at the first `SOH 10=` found from the byte before that point on, and then at the
 * next SOH. So a BodyLength that is too short still ends the frame at the message's own CheckSum (the message is
 * dropped, the next one is read), while one that is too long runs into the next message and ends at that one's
 * CheckSum (both are dropped). A frame that then fails to parse (bad CheckSum, BodyLength not landing on `10=`,
 * garbled tag) is dropped whole, and bytes that start no message are skipped up to the next `8=` (see
 * `nextBeginString`).
 */
export class Framer {
  private readonly parser: Parser;
  private readonly maxMessageSize: number;
  // Bytes held back for the next push: pending[pendingStart, pendingEnd). Later chunks are appended in place while
  // they fit, and the buffer grows geometrically, so a large message arriving in small chunks is copied a bounded
  // number of times instead of once per chunk. Bytes before pendingStart may back messages already delivered and
  // are never written again.
  private pending: Buffer | null = null;
  private pendingStart = 0;
  private pendingEnd = 0;
  /** The last byte of the previous push was discarded and was a digit (see `nextBeginString`). */
  private afterDigit = false;

  constructor(opts: FramerOptions = {}) {
    this.parser = new Parser(opts);
    this.maxMessageSize = opts.maxMessageSize ?? 1024 * 1024;
  }

  /** Bytes held back waiting for the rest of a message. */
  get buffered(): number {
    return this.pendingEnd - this.pendingStart;
  }

  /** Drops any partial message (after a disconnect). */
  reset(): void {
    this.pending = null;
    this.pendingStart = 0;
    this.pendingEnd = 0;
    this.afterDigit = false;
  }

  /**
   * Feeds a chunk. Calls `onMessage` for each whole valid message and `onGarbled` for each discarded
   * stretch, in stream order. Messages are views of the chunk, or of the framer's own buffer when a message
   * spans chunks (no copy per message); they stay valid after later pushes.
   */
  push(chunk: Buffer, onMessage: (m: FixMessage) => void, onGarbled: (g: Garbled) => void): void {
    const held = this.pending !== null;
    const data = held ? this.append(chunk) : chunk;
    const n = data.length;
    const max = this.maxMessageSize;
    // An "8=" at the very start of a chunk ends a longer tag if the previous chunk ended in a digit.
    const startAfterDigit = !held && this.afterDigit;
    let p = 0;
    while (p < n) {
      if (data[p] !== B8 || (p + 1 < n && data[p + 1] !== EQ) || (p === 0 && startAfterDigit)) {
        // A trailing "8" that may begin the next "8=" counts as found, and is then held below.
        const q = nextBeginString(data, p + 1);
        onGarbled({ reason: GarbledReason.NoBeginString, bytes: data.subarray(p, q < 0 ? n : q) });
        p = q < 0 ? n : q;
        continue;
      }
      if (p + 1 >= n) break;
      // "8=" at p. Find the end of BeginString.
      let s1 = p + 2;
      const s1Limit = Math.min(n, p + 34);
      while (s1 < s1Limit && data[s1] !== SOH) s1++;
      if (s1 >= n) break; // need more bytes
      if (data[s1] !== SOH) {
        p = this.skip(data, p, GarbledReason.NoBeginString, onGarbled);
        continue;
      }
      if (s1 + 2 >= n) break;
      if (data[s1 + 1] !== B9 || data[s1 + 2] !== EQ) {
        p = this.skip(data, p, GarbledReason.BadBodyLength, onGarbled);
        continue;
      }
      let q = s1 + 3;
      let bodyLength = 0;
      let bad = false;
      while (q < n && data[q] !== SOH) {
        const d = data[q] - 48;
        if (d < 0 || d > 9 || q - s1 >= 12) {
          // Not a digit, or a 10th digit: no message is a gigabyte long.
          bad = true;
          break;
        }
        bodyLength = bodyLength * 10 + d;
        q++;
      }
      if (bad || (q < n && q === s1 + 3)) {
        p = this.skip(data, p, GarbledReason.BadBodyLength, onGarbled);
        continue;
      }
      if (q >= n) break;
      // Where "10=" starts if BodyLength is right; a valid message is "10=nnn SOH" longer.
      const bodyEnd = q + 1 + bodyLength;
      if (bodyEnd + 7 - p > max) {
        p = this.skip(data, p, GarbledReason.TooLarge, onGarbled);
        continue;
      }
      if (bodyEnd + 2 >= n) break;
      let t = bodyEnd - 1;
      if (data[t] !== SOH || data[t + 1] !== B1 || data[t + 2] !== B0 || data[t + 3] !== EQ) {
        t = data.indexOf(CHECKSUM_TAG, t);
        if (t < 0) {
          if (n - p <= max) break; // the CheckSum may still be arriving
          p = this.skip(data, p, GarbledReason.TooLarge, onGarbled);
          continue;
        }
      }
      let e = t + 4;
      while (e < n && data[e] !== SOH) e++;
      if (e >= n && n - p <= max) break;
      const end = e + 1;
      if (end - p > max) {
        p = this.skip(data, p, GarbledReason.TooLarge, onGarbled);
        continue;
      }
      const r = this.parser.parse(data, p, end);
      if (typeof r === "string") onGarbled({ reason: r, bytes: data.subarray(p, end) });
      else onMessage(r);
      p = end;
    }
    this.hold(data, p, held, onGarbled);
    this.afterDigit = this.pending === null && n > 0 && isDigit(data[n - 1]);
  }

  /** Appends a chunk to the held bytes; returns all the bytes not yet framed. */
  private append(chunk: Buffer): Buffer {
    let buf = this.pending!;
    if (this.pendingEnd + chunk.length > buf.length) {
      const heldBytes = this.pendingEnd - this.pendingStart;
      const grown = Buffer.allocUnsafe(Math.max(4096, 2 * (heldBytes + chunk.length)));
      buf.copy(grown, 0, this.pendingStart, this.pendingEnd);
      buf = this.pending = grown;
      this.pendingStart = 0;
      this.pendingEnd = heldBytes;
    }
    chunk.copy(buf, this.pendingEnd);
    this.pendingEnd += chunk.length;
    return buf.subarray(this.pendingStart, this.pendingEnd);
  }

  /** Keeps data[p, n) for the next push. `held` says whether data is the framer's own buffer or the caller's chunk. */
  private hold(data: Buffer, p: number, held: boolean, onGarbled: (g: Garbled) => void): void {
    const n = data.length;
    if (p < n && n - p > this.maxMessageSize) {
      onGarbled({ reason: GarbledReason.TooLarge, bytes: data.subarray(p, n) });
      p = n;
    }
    if (p >= n) {
      this.reset();
    } else if (held) {
      this.pendingStart += p;
    } else {
      // Copy the tail so a retained partial does not pin the caller's (possibly large) chunk.
      const tail = n - p;
      this.pending = Buffer.allocUnsafe(Math.max(1024, 2 * tail));
      data.copy(this.pending, 0, p, n);
      this.pendingStart = 0;
      this.pendingEnd = tail;
    }
  }

  private skip(data: Buffer, p: number, reason: GarbledReason, onGarbled: (g: Garbled) => void): number {
    let q = nextBeginString(data, p + 1);
    if (q < 0) q = data.length;
    onGarbled({ reason, bytes: data.subarray(p, q) });
    return q;
  }
}

/**
 * Offset of the next "8=" at or after `from` that could begin a message (a lone "8" at the very end counts), or -1.
 * Like QuickFIX, an "8=" right after stray bytes (a newline, noise) counts, not only one after SOH; but an "8=" that
 * ends a longer tag (58=, 448=, 128=) does not, so skipping the rest of a bad message does not stop at each of them.
 */
function nextBeginString(data: Buffer, from: number): number {
  let i = from;
  for (;;) {
    i = data.indexOf(B8, i);
    if (i < 0) return -1;
    if (!isDigit(data[i - 1]) && (i + 1 >= data.length || data[i + 1] === EQ)) return i;
    i++;
  }
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
