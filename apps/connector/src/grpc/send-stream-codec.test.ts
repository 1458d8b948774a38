import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type SendStreamRequest, SendStreamRequestSchema } from "@fixmesh/contracts";
import { decodeSendStreamRequest } from "./send-stream-codec.js";

/** The message with every byte array as a plain array: protobuf-es returns Buffer views, the decoder Uint8Arrays. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return Array.from(v);
  if (typeof v === "bigint") return `${v}n`;
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

/** The decoder answers what protobuf-es answers: the same message, or a failure for both. */
function assertSame(bytes: Buffer, what: string): void {
  let expected: SendStreamRequest | Error;
  try {
    expected = fromBinary(SendStreamRequestSchema, bytes);
  } catch (e) {
    expected = e as Error;
  }
  let got: SendStreamRequest | Error;
  try {
    got = decodeSendStreamRequest(bytes);
  } catch (e) {
    got = e as Error;
  }
  if (expected instanceof Error) {
    assert.ok(got instanceof Error, `${what}: protobuf-es failed (${expected.message}) and the decoder did not`);
    return;
  }
  assert.ok(!(got instanceof Error), `${what}: the decoder failed: ${String(got)}`);
  assert.deepEqual(plain(got), plain(expected), what);
  // And it serialises back to the same bytes (the idempotency fingerprint is taken that way).
  assert.deepEqual(toBinary(SendStreamRequestSchema, got), toBinary(SendStreamRequestSchema, expected), what);
}

const str = (tag: number, value: string) => ({ tag, value: { case: "stringValue" as const, value } });

function frame(init: Parameters<typeof create<typeof SendStreamRequestSchema>>[1]): Buffer {
  return Buffer.from(toBinary(SendStreamRequestSchema, create(SendStreamRequestSchema, init)));
}

const order = frame({
  sends: [1, 2, 3].map((i) => ({
    correlationId: BigInt(1_000_000 + i),
    send: {
      sessionId: "FIX.4.4:CLIENT->VENUE",
      msgType: "D",
      fields: [str(11, `ORD-${i}`), str(55, "AAPL"), str(54, "1"), str(38, "100"), str(40, "2"), str(44, "1.5")],
    },
  })),
});

describe("decodeSendStreamRequest", () => {
  it("decodes a frame of orders as protobuf-es does", () => {
    assertSame(order, "orders");
  });

  it("decodes every field of SendRequest: header fields, bytes values, idempotency key, traceparent", () => {
    assertSame(
      frame({
        sends: [
          {
            correlationId: 7n,
            send: {
              sessionId: "S",
              msgType: "AE",
              fields: [
                str(95, "3"),
                { tag: 96, value: { case: "bytesValue", value: Uint8Array.from([1, 0, 0xff]) } },
                { tag: 58, value: { case: undefined } },
              ],
              headerFields: [str(115, "DESK"), str(128, "X")],
              idempotencyKey: "key-1",
              traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            },
          },
          { correlationId: 0n },
          { correlationId: 8n, send: {} },
        ],
      }),
      "all fields",
    );
  });

  it("gives anything it does not read itself to protobuf-es: non-ASCII text, a large correlation id, unknown fields", () => {
    assertSame(frame({ sends: [{ correlationId: 1n, send: { sessionId: "S", fields: [str(58, "é ✓")] } }] }), "utf-8");
    assertSame(frame({ sends: [{ correlationId: 2n ** 63n + 5n, send: { sessionId: "S" } }] }), "uint64");
    // Field 9 of SendRequest (unknown here): protobuf-es keeps it in $unknown, and writes it back.
    const unknown = Buffer.concat([order, Buffer.from([0x0a, 0x05, 0x12, 0x03, 0x4a, 0x01, 0x41])]);
    assertSame(unknown, "unknown field");
    assert.ok(decodeSendStreamRequest(unknown).sends[3].send?.$unknown !== undefined);
    assertSame(Buffer.alloc(0), "empty frame");
  });

  it("agrees with protobuf-es on every truncation and on random damage of a frame", () => {
    for (let n = 0; n <= order.length; n++) assertSame(order.subarray(0, n), `first ${n} bytes`);
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let k = 0; k < 2000; k++) {
      const b = Buffer.from(order);
      for (let j = 0; j < 1 + (k % 3); j++) b[rand() % b.length] = rand() & 0xff;
      assertSame(b, `damaged frame ${k}`);
    }
  });
});
