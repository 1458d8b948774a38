import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Encoder } from "./encoder.js";
import { Parser } from "./parser.js";
import { checkSumOf, frame, show, wire } from "./testing.js";

const TS = "20240105-14:30:15.123";

function encoder(beginString = "FIX.4.4"): Encoder {
  return new Encoder(beginString, "CLIENT", "VENUE");
}

describe("Encoder", () => {
  test("encodes a Heartbeat to the exact bytes, BodyLength 54 and CheckSum 010", () => {
    const out = encoder().encode("0", 2, TS, null);
    // BodyLength and CheckSum worked out by hand (and cross-checked in Python) for this exact text.
    assert.equal(show(out), "8=FIX.4.4|9=54|35=0|34=2|49=CLIENT|52=20240105-14:30:15.123|56=VENUE|10=010|");
  });

  test("encodes a Logon to the exact bytes, BodyLength 72 and CheckSum 094", () => {
    const out = encoder("FIX.4.2").encode("A", 1, TS, [98, 0, 108, 30, 141, "Y"]);
    assert.equal(
      show(out),
      "8=FIX.4.2|9=72|35=A|34=1|49=CLIENT|52=20240105-14:30:15.123|56=VENUE|98=0|108=30|141=Y|10=094|",
    );
  });

  test("BodyLength counts the bytes from after 9='s SOH to 10=, and CheckSum sums the bytes before 10=", () => {
    const out = encoder().encode("D", 7, TS, [11, "ORD-1", 55, "AAPL", 54, "1", 38, 100, 40, "2", 44, "12.5"]);
    const text = show(out);
    const bodyStart = text.indexOf("|35=") + 1;
    const checkSumAt = text.lastIndexOf("10=");
    assert.equal(text.slice(0, bodyStart), `8=FIX.4.4|9=${checkSumAt - bodyStart}|`);
    const declared = Number(text.slice(checkSumAt + 3, checkSumAt + 6));
    assert.equal(declared, checkSumOf(out.subarray(0, checkSumAt)));
    assert.equal(text.slice(checkSumAt + 6), "|");
  });

  test("puts extra header fields 43, 97, 115, 122, 128 in ascending tag order around 34, 49, 52, 56", () => {
    const out = encoder().encode(
      "D",
      7,
      TS,
      [11, "X"],
      [43, "Y", 97, "Y", 115, "OBO", 122, "20240105-14:00:00.000", 128, "DTC"],
    );
    assert.deepEqual(
      out,
      frame(`35=D|34=7|43=Y|49=CLIENT|52=${TS}|56=VENUE|97=Y|115=OBO|122=20240105-14:00:00.000|128=DTC|11=X|`),
    );
  });

  test("puts extra header fields between the standard ones when their tags fall between them (50, 57)", () => {
    const out = encoder().encode("0", 3, TS, null, [43, "Y", 50, "DESK", 57, "TRADER", 97, "Y"]);
    assert.deepEqual(out, frame(`35=0|34=3|43=Y|49=CLIENT|50=DESK|52=${TS}|56=VENUE|57=TRADER|97=Y|`));
  });

  test("writes non-negative integers as digits and other numbers as JavaScript prints them", () => {
    const out = encoder().encode(
      "D",
      1234567,
      TS,
      [38, 0, 14, 7, 151, 1500, 1000, 9007199254740991, 44, 123.45, 99, -5, 31, 0.5],
    );
    assert.deepEqual(
      out,
      frame(
        `35=D|34=1234567|49=CLIENT|52=${TS}|56=VENUE|38=0|14=7|151=1500|1000=9007199254740991|44=123.45|99=-5|31=0.5|`,
      ),
    );
  });

  test("writes string values one byte per character (latin1)", () => {
    const out = encoder().encode("B", 1, TS, [148, "café ±5"]);
    assert.deepEqual(out, frame(`35=B|34=1|49=CLIENT|52=${TS}|56=VENUE|148=café ±5|`));
  });

  test("writes Buffer values verbatim, SOH included, and RawData parses back whole", () => {
    const raw = Buffer.from("a\x01b=\x01c", "latin1");
    const out = encoder().encode("B", 1, TS, [95, raw.length, 96, raw, 58, "after"]);
    assert.deepEqual(out, frame(`35=B|34=1|49=CLIENT|52=${TS}|56=VENUE|95=6|96=a|b=|c|58=after|`));
    const m = new Parser().parse(Buffer.from(out));
    assert.ok(typeof m !== "string", m as string);
    assert.deepEqual(m.bytesAt(m.indexOf(96)), raw);
    assert.equal(m.get(58), "after");
  });

  test("writes a pre-encoded body Buffer as it is", () => {
    const out = encoder().encode("D", 5, TS, wire("11=ORD-9|55=MSFT|"));
    assert.deepEqual(out, frame(`35=D|34=5|49=CLIENT|52=${TS}|56=VENUE|11=ORD-9|55=MSFT|`));
  });

  test("encodeRaw writes the fields after 35 exactly in the order given", () => {
    const out = encoder().encodeRaw("4", [
      34,
      9,
      43,
      "Y",
      52,
      TS,
      49,
      "CLIENT",
      56,
      "VENUE",
      122,
      TS,
      123,
      "Y",
      36,
      12,
    ]);
    assert.deepEqual(out, frame(`35=4|34=9|43=Y|52=${TS}|49=CLIENT|56=VENUE|122=${TS}|123=Y|36=12|`));
  });

  test("writes a negative tag with its minus sign", () => {
    const out = encoder().encodeRaw("D", [34, 1, 49, "CLIENT", 52, TS, 56, "VENUE", -5, "x"]);
    assert.deepEqual(out, frame(`35=D|34=1|49=CLIENT|52=${TS}|56=VENUE|-5=x|`));
  });

  test("encodes messages larger than 16 KiB (own buffer) byte for byte", () => {
    const e = encoder();
    for (const size of [16 * 1024, 20_000, 100_000, 1_000_000]) {
      const text = "x".repeat(size);
      const out = e.encode("B", 1, TS, [58, text]);
      assert.deepEqual(out, frame(`35=B|34=1|49=CLIENT|52=${TS}|56=VENUE|58=${text}|`), `size ${size}`);
    }
  });

  test("encodes valid messages whose end falls on any byte around the scratch buffer's growth points", () => {
    // Ending within 7 bytes of the scratch buffer's end used to lose the CheckSum field.
    const e = encoder();
    for (const around of [4096, 8192, 16384]) {
      for (let size = around - 200; size < around + 20; size++) {
        const text = "y".repeat(size);
        const out = e.encode("B", 1, TS, [58, text]);
        assert.deepEqual(out, frame(`35=B|34=1|49=CLIENT|52=${TS}|56=VENUE|58=${text}|`), `size ${size}`);
      }
    }
  });

  test("earlier outputs stay intact while later messages are encoded", () => {
    const e = encoder();
    const outs: Buffer[] = [];
    for (let seq = 1; seq <= 3000; seq++)
      outs.push(e.encode("D", seq, TS, [11, `ORD-${seq}`, 58, "z".repeat(seq % 300)]));
    outs.forEach((out, i) => {
      const seq = i + 1;
      assert.deepEqual(
        out,
        frame(`35=D|34=${seq}|49=CLIENT|52=${TS}|56=VENUE|11=ORD-${seq}|58=${"z".repeat(seq % 300)}|`),
      );
    });
  });

  test("rejects a BeginString longer than 32 characters", () => {
    assert.throws(() => new Encoder("FIX.".padEnd(33, "x"), "A", "B"), RangeError);
  });
});
