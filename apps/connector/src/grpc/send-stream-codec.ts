import { fromBinary } from "@bufbuild/protobuf";
import type { CorrelatedSend, Field, SendRequest, SendStreamRequest } from "@fixmesh/contracts";
import { SendStreamRequestSchema } from "@fixmesh/contracts";

/**
 * The SendStream request decoder the connector serves with: a frame carries up to a few hundred orders of about
 * ten fields each, and protobuf-es's reflective `fromBinary` built them at about a fifth of the heap the connector
 * allocated per order. This one reads the wire format of exactly the fields `SendStreamRequest` declares into the
 * same plain message objects (`$typeName` and every field set, as protobuf-es makes them). Anything it does not
 * expect — an unknown field, another wire type, a non-ASCII string, a correlation id of 2^49 or more, a `send`
 * given twice (protobuf merges those) — sends the whole frame to `fromBinary` instead, so the answer never
 * differs from protobuf-es's.
 */
export function decodeSendStreamRequest(bytes: Buffer): SendStreamRequest {
  return fastFrame(bytes) ?? fromBinary(SendStreamRequestSchema, bytes);
}

/** Returned by the readers when the fast path does not apply. */
const NO = null;

class Reader {
  p: number;
  constructor(
    readonly b: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.p = start;
  }

  /** A varint of at most 7 bytes (49 bits, exact in a double), or -1 (longer, or truncated). */
  varint(): number {
    const b = this.b;
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 7; i++) {
      if (this.p >= this.end) return -1;
      const c = b[this.p++];
      n += (c & 0x7f) * mul;
      if (c < 0x80) return n;
      mul *= 128;
    }
    return -1;
  }

  /** The end of a length-delimited value starting here, or -1. */
  lengthEnd(): number {
    const n = this.varint();
    if (n < 0 || this.p + n > this.end) return -1;
    return this.p + n;
  }

  /** An ASCII string up to `end`, or null when a byte is not ASCII (UTF-8 decoding is left to protobuf-es). */
  ascii(end: number): string | null {
    const b = this.b;
    for (let i = this.p; i < end; i++) if (b[i] >= 0x80) return NO;
    const s = b.toString("latin1", this.p, end);
    this.p = end;
    return s;
  }
}

function fastFrame(bytes: Buffer): SendStreamRequest | null {
  const r = new Reader(bytes, 0, bytes.length);
  const sends: CorrelatedSend[] = [];
  while (r.p < r.end) {
    const key = r.varint();
    if (key !== (1 << 3) + 2) return NO;
    const end = r.lengthEnd();
    if (end < 0) return NO;
    const s = correlatedSend(r, end);
    if (s === NO) return NO;
    sends.push(s);
  }
  return { $typeName: "fixmesh.v1.SendStreamRequest", sends };
}

function correlatedSend(r: Reader, end: number): CorrelatedSend | null {
  let correlationId = 0;
  let send: SendRequest | undefined;
  while (r.p < end) {
    const key = r.varint();
    if (key === (1 << 3) + 0) {
      correlationId = r.varint();
      if (correlationId < 0 || r.p > end) return NO;
    } else if (key === (2 << 3) + 2) {
      if (send !== undefined) return NO;
      const e = r.lengthEnd();
      if (e < 0 || e > end) return NO;
      const s = sendRequest(r, e);
      if (s === NO) return NO;
      send = s;
    } else return NO;
  }
  const out: CorrelatedSend = { $typeName: "fixmesh.v1.CorrelatedSend", correlationId: BigInt(correlationId) };
  if (send !== undefined) out.send = send;
  return out;
}

function sendRequest(r: Reader, end: number): SendRequest | null {
  let sessionId = "";
  let msgType = "";
  const fields: Field[] = [];
  const headerFields: Field[] = [];
  let idempotencyKey = "";
  let traceparent = "";
  while (r.p < end) {
    const key = r.varint();
    if ((key & 7) !== 2) return NO;
    const e = r.lengthEnd();
    if (e < 0 || e > end) return NO;
    switch (key >>> 3) {
      case 1: {
        const s = r.ascii(e);
        if (s === NO) return NO;
        sessionId = s;
        break;
      }
      case 2: {
        const s = r.ascii(e);
        if (s === NO) return NO;
        msgType = s;
        break;
      }
      case 3:
      case 4: {
        const f = field(r, e);
        if (f === NO) return NO;
        (key >>> 3 === 3 ? fields : headerFields).push(f);
        break;
      }
      case 5: {
        const s = r.ascii(e);
        if (s === NO) return NO;
        idempotencyKey = s;
        break;
      }
      case 6: {
        const s = r.ascii(e);
        if (s === NO) return NO;
        traceparent = s;
        break;
      }
      default:
        return NO;
    }
  }
  return { $typeName: "fixmesh.v1.SendRequest", sessionId, msgType, fields, headerFields, idempotencyKey, traceparent };
}

function field(r: Reader, end: number): Field | null {
  let tag = 0;
  let value: Field["value"] = { case: undefined };
  while (r.p < end) {
    const key = r.varint();
    if (key === (1 << 3) + 0) {
      tag = r.varint();
      // uint32: protobuf-es keeps the low 32 bits of a longer varint; such a tag is refused anyway.
      if (tag < 0 || tag > 0xffffffff || r.p > end) return NO;
    } else if (key === (2 << 3) + 2) {
      const e = r.lengthEnd();
      if (e < 0 || e > end) return NO;
      const s = r.ascii(e);
      if (s === NO) return NO;
      value = { case: "stringValue", value: s };
    } else if (key === (3 << 3) + 2) {
      const e = r.lengthEnd();
      if (e < 0 || e > end) return NO;
      // A view, as protobuf-es's reader returns (a plain Uint8Array over the frame's bytes).
      value = { case: "bytesValue", value: new Uint8Array(r.b.buffer, r.b.byteOffset + r.p, e - r.p) };
      r.p = e;
    } else return NO;
  }
  return { $typeName: "fixmesh.v1.Field", tag, value };
}
