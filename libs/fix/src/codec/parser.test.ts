import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { FixMessage } from "./message.js";
import { GarbledReason, type ParseResult, Parser } from "./parser.js";
import { frame, message, show, wire } from "./testing.js";

const TS = "20240105-14:30:15.123";

function parsed(r: ParseResult): FixMessage {
  assert.ok(typeof r !== "string", `expected a message, got ${r}`);
  return r;
}

/** [tag, value] pairs of a parsed message, in wire order. */
function pairs(m: FixMessage): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (let i = 0; i < m.count; i++) out.push([m.tagAt(i), m.valueAt(i)]);
  return out;
}

describe("Parser: fields", () => {
  test("records each field's tag and value offsets in wire order", () => {
    const bytes = frame("35=D|34=2|49=CLIENT|11=A1|");
    const m = parsed(new Parser().parse(bytes));
    // 8=FIX.4.4|9=26|35=D|34=2|49=CLIENT|11=A1|10=nnn|
    // 0         10   15   20   25        35    41
    const cs = show(bytes).slice(-4, -1);
    assert.equal(m.count, 7);
    assert.deepEqual([...m.fields], [8, 2, 9, 9, 12, 14, 35, 18, 19, 34, 23, 24, 49, 28, 34, 11, 38, 40, 10, 44, 47]);
    assert.deepEqual(pairs(m), [
      [8, "FIX.4.4"],
      [9, "26"],
      [35, "D"],
      [34, "2"],
      [49, "CLIENT"],
      [11, "A1"],
      [10, cs],
    ]);
    assert.equal(m.msgType, "D");
    assert.equal(m.raw, bytes, "raw is the input itself, not a copy");
  });

  test("parses a frame inside a larger buffer, with offsets relative to the frame", () => {
    const inner = message("0", 5);
    const outer = Buffer.concat([wire("junk|"), inner, wire("8=more")]);
    const m = parsed(new Parser().parse(outer, 5, 5 + inner.length));
    assert.deepEqual(m.raw, inner);
    assert.equal(m.raw.buffer, outer.buffer, "raw is a view of the input");
    assert.equal(m.get(34), "5");
    assert.equal(m.fields[1], 2, "BeginString's value starts at offset 2 of raw");
  });

  test("reads values with get, getInt, intAt, flag, has, indexOf and bytesAt", () => {
    const m = parsed(
      new Parser().parse(message("D", 42, "11=ORD-1|38=1500|44=12.5|43=Y|97=N|453=2|448=P1|448=P2|58=|")),
    );
    assert.equal(m.get(11), "ORD-1");
    assert.equal(m.get(999), undefined);
    assert.equal(m.getInt(34), 42);
    assert.equal(m.getInt(38), 1500);
    assert.ok(Number.isNaN(m.getInt(44)!), "a decimal is not an int");
    assert.equal(m.getInt(999), undefined);
    assert.equal(m.flag(43), true);
    assert.equal(m.flag(97), false);
    assert.equal(m.flag(999), false);
    assert.equal(m.has(453), true);
    const first = m.indexOf(448);
    assert.equal(m.valueAt(first), "P1");
    assert.equal(m.valueAt(m.indexOf(448, first + 1)), "P2");
    assert.equal(m.get(58), "", "an empty value is kept for validation to reject");
    assert.deepEqual(m.bytesAt(m.indexOf(11)), Buffer.from("ORD-1"));
    assert.ok(Number.isNaN(m.intAt(m.indexOf(58))), "an empty value is not an int");
  });

  test("decodes values of every length as latin1", () => {
    const values = ["Y", "AB", "XYZ", "AAPL", "12.50", "café!", "ABCDEFG", "ABCDEFGH", "ABCDEFGHI", `${TS}é`];
    const fields = values.map((v, i) => `${5000 + i}=${v}|`).join("");
    const m = parsed(new Parser().parse(message("B", 1, fields)));
    for (const [i, v] of values.entries()) assert.equal(m.get(5000 + i), v);
  });

  test("accepts negative and zero tags: they are Rejects for validation, not garbled", () => {
    const m = parsed(new Parser().parse(message("D", 1, "-5=neg|0=zero|11=X|")));
    assert.equal(m.get(-5), "neg");
    assert.equal(m.get(0), "zero");
    assert.equal(m.get(11), "X");
  });

  test("accepts a tag of 9 digits and reports one of 10 digits as garbled", () => {
    const m = parsed(new Parser().parse(message("D", 1, "123456789=x|")));
    assert.equal(m.get(123456789), "x");
    assert.equal(new Parser().parse(message("D", 1, "1234567890=x|")), GarbledReason.GarbledField);
  });

  test("takes RawData (96) as exactly RawDataLength (95) bytes, SOH and '=' included", () => {
    const m = parsed(new Parser().parse(message("B", 1, "95=9|96=a|b=c|10=|58=after|")));
    assert.deepEqual(m.bytesAt(m.indexOf(96)), wire("a|b=c|10="));
    assert.equal(m.get(58), "after");
    assert.equal(m.tagAt(m.count - 1), 10);
  });

  test("takes XmlData (213) as XmlDataLen (212) bytes", () => {
    const m = parsed(new Parser().parse(message("n", 1, "212=6|213=<a|/b>|")));
    assert.equal(m.get(213), "<a\x01/b>");
  });

  test("honours custom data field pairs, including tags above 65535", () => {
    const dataFields = new Map([
      [5000, 5001],
      [70000, 70001],
    ]);
    const p = new Parser({ dataFields });
    const m = parsed(p.parse(message("B", 1, "5000=3|5001=x|y|70000=1|70001=||95=1|96=z|")));
    assert.equal(m.get(5001), "x\x01y");
    assert.equal(m.get(70001), "\x01");
    assert.equal(m.get(96), "z", "95/96 are not data fields with a custom map");
  });

  test("reads the field after a length tag normally when the length is not a number", () => {
    const m = parsed(new Parser().parse(message("B", 1, "95=abc|96=x|")));
    assert.equal(m.get(96), "x");
  });

  test("keeps each message's fields intact while later messages are parsed", () => {
    const p = new Parser();
    const kept: FixMessage[] = [];
    for (let seq = 1; seq <= 5000; seq++) {
      kept.push(parsed(p.parse(message("D", seq, `11=ORD-${seq}|${"58=x|".repeat(seq % 40)}`))));
      if (seq % 7 === 0) p.parse(wire("8=FIX.4.4|9=5|35=D|10=000|")); // garbled ones in between
    }
    kept.forEach((m, i) => {
      assert.equal(m.getInt(34), i + 1);
      assert.equal(m.get(11), `ORD-${i + 1}`);
      assert.equal(m.count, 9 + ((i + 1) % 40));
    });
  });

  test("parses messages with thousands of fields", () => {
    const p = new Parser({ maxFields: 10_000 });
    p.parse(message("D", 1, "11=A|")); // the slab is partly used
    const fields = Array.from({ length: 6000 }, (_, i) => `${1000 + i}=v${i}|`).join("");
    const m = parsed(p.parse(message("8", 2, fields)));
    assert.equal(m.count, 6008);
    assert.equal(m.get(6999), "v5999");
    assert.equal(m.tagAt(m.count - 1), 10);
  });
});

describe("Parser: garbled frames, each reason from real malformed bytes", () => {
  const good = "35=D|34=2|49=CLIENT|52=20240105-14:30:15.123|56=VENUE|11=A1|";

  test("BadCheckSum when the declared CheckSum does not match the bytes", () => {
    const bytes = frame(good);
    const declared = Number(show(bytes).slice(-4, -1));
    const wrong = String((declared + 1) % 256).padStart(3, "0");
    assert.equal(new Parser().parse(frame(good, { checkSum: wrong })), GarbledReason.BadCheckSum);
  });

  test("BadCheckSum when the CheckSum is not three digits", () => {
    const declared = show(frame(good)).slice(-4, -1);
    assert.equal(new Parser().parse(frame(good, { checkSum: declared.slice(1) })), GarbledReason.BadCheckSum);
    assert.equal(new Parser().parse(frame(good, { checkSum: `0${declared}` })), GarbledReason.BadCheckSum);
    assert.equal(new Parser().parse(frame(good, { checkSum: "1x3" })), GarbledReason.BadCheckSum);
  });

  test("BodyLengthMismatch when BodyLength is too short or too long", () => {
    const actual = wire(good).length;
    for (const bodyLength of [actual - 1, actual - 10, 0, actual + 1, actual + 7]) {
      assert.equal(
        new Parser().parse(frame(good, { bodyLength })),
        GarbledReason.BodyLengthMismatch,
        `9=${bodyLength}`,
      );
    }
  });

  test("BodyLengthMismatch when fields follow the CheckSum", () => {
    const bytes = Buffer.concat([frame(good), wire("58=after|")]);
    assert.equal(new Parser().parse(bytes), GarbledReason.BodyLengthMismatch);
  });

  test("BodyLengthMismatch when there is no CheckSum", () => {
    assert.equal(new Parser().parse(wire(`8=FIX.4.4|9=57|${good}`)), GarbledReason.BodyLengthMismatch);
  });

  test("MsgTypeNotThird when 35 is not the third field", () => {
    const bytes = frame("34=2|35=D|49=CLIENT|52=20240105-14:30:15.123|56=VENUE|");
    assert.equal(new Parser().parse(bytes), GarbledReason.MsgTypeNotThird);
  });

  test("BadBodyLength when the second field is not 9", () => {
    assert.equal(new Parser().parse(wire("8=FIX.4.4|35=D|9=5|34=2|10=000|")), GarbledReason.BadBodyLength);
  });

  test("NoBeginString when the first field is not 8", () => {
    assert.equal(new Parser().parse(wire("9=5|8=FIX.4.4|35=D|10=000|")), GarbledReason.NoBeginString);
    assert.equal(new Parser().parse(wire("8=FIX.4.4|10=000|")), GarbledReason.NoBeginString);
  });

  test("GarbledField for a tag with letters in it (4garbled9=)", () => {
    const bytes = frame("35=D|34=2|49=CLIENT|4garbled9=x|56=VENUE|");
    assert.equal(new Parser().parse(bytes), GarbledReason.GarbledField);
  });

  test("GarbledField for a field without '=', an empty tag, a lone minus and a frame not ending in SOH", () => {
    for (const body of ["35=D|34=2|novalue|", "35=D|=x|", "35=D|-=x|", "35=D|--5=x|"]) {
      assert.equal(new Parser().parse(frame(body)), GarbledReason.GarbledField, body);
    }
    assert.equal(new Parser().parse(frame(good).subarray(0, -1)), GarbledReason.GarbledField);
    assert.equal(new Parser().parse(Buffer.alloc(0)), GarbledReason.GarbledField);
  });

  test("GarbledField when a data field is shorter than its announced length", () => {
    assert.equal(new Parser().parse(message("B", 1, "95=20|96=short|")), GarbledReason.GarbledField);
    assert.equal(new Parser().parse(message("B", 1, "95=2|96=abc|")), GarbledReason.GarbledField);
  });

  test("TooManyFields beyond maxFields, and exactly maxFields is accepted", () => {
    const bytes = message("D", 1, "11=a|11=b|11=c|"); // 8, 9, 35, 34, 49, 52, 56, 11 ×3, 10 = 11 fields
    assert.equal(new Parser({ maxFields: 10 }).parse(bytes), GarbledReason.TooManyFields);
    assert.equal(parsed(new Parser({ maxFields: 11 }).parse(bytes)).count, 11);
  });
});

describe("negative tags", () => {
  test("parses tag -1 as a field (a Reject for the session layer, not a garbled frame)", () => {
    const body = "35=0\x0134=4\x0149=TW42\x0152=20261127-05:00:00\x0156=ISLD\x01-1=HI\x01";
    let full = `8=FIX.4.2\x019=${body.length}\x01${body}`;
    let sum = 0;
    for (const c of Buffer.from(full, "latin1")) sum += c;
    full += `10=${String(sum % 256).padStart(3, "0")}\x01`;
    const m = new Parser().parse(Buffer.from(full, "latin1"));
    assert.ok(typeof m !== "string", `garbled: ${String(m)}`);
    assert.equal(m.get(-1), "HI");
  });
});
