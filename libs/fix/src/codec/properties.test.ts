/**
 * Property tests for the codec (fast-check): hostile bytes never crash or hang the framer and parser, and
 * encode → parse and encode → frame give back exactly what was encoded. Input sizes are bounded so the file runs
 * in a few seconds; a failure prints the seed and the shrunk counterexample to replay.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { Encoder, type FieldList } from "./encoder.js";
import { Framer, type Garbled } from "./framer.js";
import type { FixMessage } from "./message.js";
import { GarbledReason, Parser, STANDARD_DATA_FIELDS } from "./parser.js";
import { formatUtcTimestamp } from "./time.js";

const REASONS = new Set<string>(Object.values(GarbledReason));
const HEADER_TAGS = new Set([8, 9, 10, 34, 35, 49, 52, 56]);
const LENGTH_TAGS = new Set(STANDARD_DATA_FIELDS.keys());

// --- arbitraries ---------------------------------------------------------------------------------------------

/** A latin1 string without SOH. */
const value = (minLength = 0, maxLength = 24) =>
  fc
    .array(fc.oneof(fc.integer({ min: 32, max: 126 }), fc.integer({ min: 2, max: 255 })), { minLength, maxLength })
    .map((codes) => String.fromCharCode(...codes));

const msgType = fc
  .array(fc.constantFrom(..."0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"), {
    minLength: 1,
    maxLength: 2,
  })
  .map((cs) => cs.join(""));

/** A body tag: positive, not CheckSum (it ends a message) and not a length tag (it makes the next field data). */
const bodyTag = fc
  .oneof(fc.integer({ min: 1, max: 999 }), fc.integer({ min: 1, max: 999_999_999 }))
  .filter((t) => t !== 10 && !LENGTH_TAGS.has(t));

const fieldValue: fc.Arbitrary<string | number> = fc.oneof(value(), fc.nat(), fc.maxSafeNat());

interface Spec {
  beginString: string;
  sender: string;
  target: string;
  msgType: string;
  seq: number;
  sendingTime: string;
  /** Extra header fields, ascending by tag. */
  header: Array<[number, string | number]>;
  body: Array<[number, string | number | Buffer]>;
}

const spec: fc.Arbitrary<Spec> = fc.record({
  beginString: fc.constantFrom("FIX.4.2", "FIX.4.4", "FIXT.1.1"),
  sender: value(1, 12),
  target: value(1, 12),
  msgType,
  seq: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  sendingTime: fc
    .tuple(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.constantFrom(0 as const, 3 as const, 6 as const))
    .map(([t, p]) => formatUtcTimestamp(t, p)),
  header: fc
    .uniqueArray(
      fc.integer({ min: 1, max: 2000 }).filter((t) => !HEADER_TAGS.has(t) && !LENGTH_TAGS.has(t)),
      { maxLength: 6 },
    )
    .chain((tags) => fc.tuple(...tags.sort((a, b) => a - b).map((t) => fc.tuple(fc.constant(t), fieldValue)))),
  body: fc
    .tuple(
      fc.array(fc.tuple(bodyTag, fieldValue), { maxLength: 30 }),
      // sometimes RawDataLength/RawData with SOH, '=' and "10=" inside
      fc.option(fc.uint8Array({ minLength: 0, maxLength: 40 }), { nil: null }),
    )
    .map(([fields, raw]) => {
      const body: Spec["body"] = [...fields];
      if (raw !== null) body.push([95, raw.length], [96, Buffer.from(raw)]);
      return body;
    }),
});

function encode(s: Spec): Buffer {
  const body: FieldList = s.body.flat();
  const extra: FieldList = s.header.flat();
  // Copy: the encoder's output is a view of its slab.
  return Buffer.from(
    new Encoder(s.beginString, s.sender, s.target).encode(s.msgType, s.seq, s.sendingTime, body, extra),
  );
}

const asText = (v: string | number | Buffer) => (Buffer.isBuffer(v) ? v.toString("latin1") : String(v));

/** The [tag, value] pairs the parser must find, in wire order, BodyLength and CheckSum excepted. */
function expectedFields(s: Spec): Array<[number, string]> {
  const standard: Array<[number, string]> = [
    [34, String(s.seq)],
    [49, s.sender],
    [52, s.sendingTime],
    [56, s.target],
  ];
  const header = [...standard, ...s.header.map(([t, v]): [number, string] => [t, asText(v)])];
  // Extras go before the first standard field with a larger tag: a stable sort by tag gives that order.
  header.sort((a, b) => a[0] - b[0]);
  return [[8, s.beginString], [35, s.msgType], ...header, ...s.body.map(([t, v]): [number, string] => [t, asText(v)])];
}

/** Bytes biased towards what the framer and parser look for. */
const hostileBytes = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: fc.uint8Array({ maxLength: 16 }) },
      {
        weight: 2,
        arbitrary: fc
          .constantFrom("\x01", "=", "8=", "9=", "10=", "35=", "8=FIX.4.4\x019=", "\x0110=", "95=", "96=", "0", "12")
          .map((t) => Buffer.from(t, "latin1")),
      },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 2000 }).map((n) => Buffer.from(String(n))) },
    ),
    { maxLength: 120 },
  )
  .map((parts) => Buffer.concat(parts));

/** Cut points turning a buffer into chunks. */
function chunked(data: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => (data.length === 0 ? 0 : c % (data.length + 1))))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let prev = 0;
  for (const c of at) {
    chunks.push(data.subarray(prev, c));
    prev = c;
  }
  chunks.push(data.subarray(prev));
  return chunks;
}

type Event = ["message" | "garbled", string];

/** Pushes the chunks through one framer; returns the events (adjacent garbled stretches merged) and what is held. */
function frameAll(chunks: Buffer[], maxMessageSize?: number): { events: Event[]; bytes: number; buffered: number } {
  const framer = new Framer({ maxMessageSize });
  const events: Event[] = [];
  let bytes = 0;
  const onMessage = (m: FixMessage) => {
    bytes += m.raw.length;
    events.push(["message", m.raw.toString("latin1")]);
  };
  const onGarbled = (g: Garbled) => {
    assert.ok(REASONS.has(g.reason), g.reason);
    assert.ok(g.bytes.length > 0, "an empty garbled stretch");
    bytes += g.bytes.length;
    const last = events[events.length - 1];
    if (last?.[0] === "garbled") last[1] += g.bytes.toString("latin1");
    else events.push(["garbled", g.bytes.toString("latin1")]);
  };
  for (const chunk of chunks) framer.push(chunk, onMessage, onGarbled);
  return { events, bytes, buffered: framer.buffered };
}

/** The checks every framing of hostile input must pass. */
function checkFraming(data: Buffer, cuts: number[], maxMessageSize?: number): void {
  const whole = frameAll([data], maxMessageSize);
  const split = frameAll(chunked(data, cuts), maxMessageSize);
  // Every byte is accounted for: delivered, reported as garbled, or held for the next push.
  assert.equal(whole.bytes + whole.buffered, data.length);
  assert.equal(split.bytes + split.buffered, data.length);
  // How the stream is cut into chunks changes nothing.
  assert.deepEqual(split.events, whole.events);
  assert.equal(split.buffered, whole.buffered);
  // What is delivered is a valid message.
  for (const [kind, text] of whole.events) {
    if (kind === "message") assert.equal(typeof new Parser().parse(Buffer.from(text, "latin1")), "object");
  }
}

// --- properties ----------------------------------------------------------------------------------------------

describe("codec properties", () => {
  test("parse never throws on arbitrary bytes, and what it accepts is a well-formed message", () => {
    fc.assert(
      fc.property(fc.oneof(hostileBytes, fc.uint8Array({ maxLength: 400 })), (bytes) => {
        const r = new Parser({ maxFields: 64 }).parse(Buffer.from(bytes));
        if (typeof r === "string") {
          assert.ok(REASONS.has(r), r);
          return;
        }
        assert.ok(r.count >= 4);
        assert.deepEqual([r.tagAt(0), r.tagAt(1), r.tagAt(2), r.tagAt(r.count - 1)], [8, 9, 35, 10]);
        for (let i = 0; i < r.count; i++) {
          assert.ok(r.fields[i * 3 + 1] <= r.fields[i * 3 + 2] && r.fields[i * 3 + 2] < r.raw.length);
        }
      }),
      { numRuns: 5000 },
    );
  });

  test("the framer never throws on arbitrary byte streams, accounts for every byte, and ignores chunking", () => {
    fc.assert(
      fc.property(
        fc.oneof(hostileBytes, fc.uint8Array({ maxLength: 600 })),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.constantFrom(undefined, 64, 300),
        (bytes, cuts, max) => checkFraming(Buffer.from(bytes), cuts, max),
      ),
      { numRuns: 3000 },
    );
  });

  test("the framer never throws on mutated valid streams (bit flips, truncation, duplication, SOH and 8= inserted)", () => {
    const mutation = fc.oneof(
      fc.tuple(fc.constant("flip" as const), fc.nat(), fc.integer({ min: 0, max: 7 })),
      fc.tuple(fc.constant("truncate" as const), fc.nat(), fc.constant(0)),
      fc.tuple(fc.constant("duplicate" as const), fc.nat(), fc.integer({ min: 1, max: 200 })),
      fc.tuple(fc.constant("delete" as const), fc.nat(), fc.integer({ min: 1, max: 50 })),
      fc.tuple(fc.constant("soh" as const), fc.nat(), fc.constant(0)),
      fc.tuple(fc.constant("begin" as const), fc.nat(), fc.constant(0)),
    );
    fc.assert(
      fc.property(
        fc.array(spec, { minLength: 1, maxLength: 5 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.constantFrom(undefined, 256),
        (specs, mutations, cuts, max) => {
          let data = Buffer.concat(specs.map(encode));
          for (const [kind, at, arg] of mutations) {
            const i = at % (data.length + 1);
            if (kind === "flip" && i < data.length) data[i] ^= 1 << arg;
            else if (kind === "truncate") data = data.subarray(0, i);
            else if (kind === "duplicate") data = Buffer.concat([data.subarray(0, i + arg), data.subarray(i)]);
            else if (kind === "delete") data = Buffer.concat([data.subarray(0, i), data.subarray(i + arg)]);
            else if (kind === "soh") data = Buffer.concat([data.subarray(0, i), Buffer.from([1]), data.subarray(i)]);
            else if (kind === "begin") data = Buffer.concat([data.subarray(0, i), Buffer.from("8="), data.subarray(i)]);
          }
          checkFraming(Buffer.from(data), cuts, max);
        },
      ),
      { numRuns: 1500 },
    );
  });

  test("parse(encode(m)) gives back the fields and values encoded, and raw is the encoded bytes", () => {
    fc.assert(
      fc.property(spec, (s) => {
        const bytes = encode(s);
        const m = new Parser().parse(bytes);
        assert.ok(typeof m !== "string", `${m}: ${bytes.toString("latin1")}`);
        assert.equal(m.raw, bytes);
        assert.equal(m.msgType, s.msgType);
        const got: Array<[number, string]> = [];
        for (let i = 0; i < m.count; i++) {
          if (i !== 1 && i !== m.count - 1) got.push([m.tagAt(i), m.valueAt(i)]);
        }
        assert.deepEqual(got, expectedFields(s));
        assert.deepEqual([m.tagAt(1), m.tagAt(m.count - 1)], [9, 10]);
      }),
      { numRuns: 2000 },
    );
  });

  test("framing an encoded stream cut anywhere yields exactly the encoded messages", () => {
    fc.assert(
      fc.property(
        fc.array(spec, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (specs, cuts) => {
          const sent = specs.map(encode);
          const { events, buffered } = frameAll(chunked(Buffer.concat(sent), cuts));
          assert.deepEqual(
            events,
            sent.map((b): Event => ["message", b.toString("latin1")]),
          );
          assert.equal(buffered, 0);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
