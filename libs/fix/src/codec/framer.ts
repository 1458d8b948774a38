import type { FixMessage } from "./message.js";
import { GarbledReason, Parser, type ParserOptions } from "./parser.js";

const SOH = 1;

export interface FramerOptions extends ParserOptions {
  /** Largest message accepted, in bytes; a BodyLength beyond it is garbled. Default 1 MiB. */
  maxMessageSize?: number;
}

/** A discarded stretch of input and why. `bytes` is a view; copy it to keep it. */
export interface Garbled {
  reason: GarbledReason;
  bytes: Buffer;
}

/**
 * Turns arbitrary TCP chunks (split or coalesced messages) into whole, parsed messages.
 *
 * Framing follows QuickFIX's rule, which the acceptance scripts pin down (2m_BodyLengthValueNotCorrect): a
 * message is everything up to the first `SOH 9=`, the BodyLength digits, exactly that many bytes, then up
 * to the next SOH. A frame that then fails to parse (bad CheckSum, BodyLength not landing on `10=`, garbled
 * tag) is dropped whole, and the framer resynchronises on the next `8=` that starts a field.
 */
export class Framer {
  private readonly parser: Parser;
  private readonly maxMessageSize: number;
  private pending: Buffer | null = null;

  constructor(opts: FramerOptions = {}) {
    this.parser = new Parser(opts);
    this.maxMessageSize = opts.maxMessageSize ?? 1024 * 1024;
  }

  /** Bytes held back waiting for the rest of a message. */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }

  /** Drops any partial message (after a disconnect). */
  reset(): void {
    this.pending = null;
  }

  /**
   * Feeds a chunk. Calls `onMessage` for each whole valid message and `onGarbled` for each discarded
   * stretch, in stream order. Messages are views of the chunk (no copy).
   */
  push(chunk: Buffer, onMessage: (m: FixMessage) => void, onGarbled: (g: Garbled) => void): void {
    let data = chunk;
    if (this.pending !== null) {
      data = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    const n = data.length;
    let p = 0;
    while (p < n) {
      if (data[p] !== 56 || (p + 1 < n && data[p + 1] !== 61)) {
        const q = nextBeginString(data, p + 1);
        if (q < 0) {
          // Keep a trailing "8" that may be the start of the next "8=".
          const keep = data[n - 1] === 56 && (n - 1 === p || data[n - 2] === SOH) ? 1 : 0;
          if (n - keep > p) onGarbled({ reason: GarbledReason.NoBeginString, bytes: data.subarray(p, n - keep) });
          p = n - keep;
          break;
        }
        onGarbled({ reason: GarbledReason.NoBeginString, bytes: data.subarray(p, q) });
        p = q;
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
      if (data[s1 + 1] !== 57 || data[s1 + 2] !== 61) {
        p = this.skip(data, p, GarbledReason.BadBodyLength, onGarbled);
        continue;
      }
      let q = s1 + 3;
      let bodyLength = 0;
      let bad = false;
      while (q < n && data[q] !== SOH) {
        const d = data[q] - 48;
        if (d < 0 || d > 9 || q - s1 > 12) {
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
      const bodyEnd = q + 1 + bodyLength;
      if (bodyEnd - p > this.maxMessageSize) {
        p = this.skip(data, p, GarbledReason.TooLarge, onGarbled);
        continue;
      }
      if (bodyEnd >= n) break;
      let e = bodyEnd;
      const eLimit = Math.min(n, bodyEnd + 32);
      while (e < eLimit && data[e] !== SOH) e++;
      if (e >= eLimit) {
        if (eLimit === n && n - bodyEnd < 32) break; // the CheckSum field may still be arriving
        p = this.skip(data, p, GarbledReason.BodyLengthMismatch, onGarbled);
        continue;
      }
      const end = e + 1;
      const r = this.parser.parse(data, p, end);
      if (typeof r === "string") onGarbled({ reason: r, bytes: data.subarray(p, end) });
      else onMessage(r);
      p = end;
    }
    if (p < n) {
      if (n - p > this.maxMessageSize) {
        onGarbled({ reason: GarbledReason.TooLarge, bytes: data.subarray(p, n) });
      } else {
        // Copy the tail so a retained partial does not pin a large chunk.
        this.pending = Buffer.from(data.subarray(p, n));
      }
    }
  }

  private skip(data: Buffer, p: number, reason: GarbledReason, onGarbled: (g: Garbled) => void): number {
    let q = nextBeginString(data, p + 1);
    if (q < 0) q = data.length;
    onGarbled({ reason, bytes: data.subarray(p, q) });
    return q;
  }
}

/** Offset of the next "8=" that starts a field (after SOH) at or after `from`, or -1. */
function nextBeginString(data: Buffer, from: number): number {
  let i = from;
  for (;;) {
    i = data.indexOf(56, i); // '8'
    if (i < 0) return -1;
    if (data[i - 1] === SOH && (i + 1 >= data.length || data[i + 1] === 61)) return i;
    i++;
  }
}
