import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Encoder, type FieldList, type FieldValue } from "../codec/encoder.js";
import { Parser } from "../codec/parser.js";
import { loadDictionary } from "./dictionary.js";
import { DictionaryError, DictionaryErrorCode } from "./errors.js";
import { fix } from "./fixtures.js";
import { encodeGroup, type GroupEntryValues, readGroups, sortFieldsForEcho } from "./groups.js";
import { validate } from "./validate.js";

const FIX42 = loadDictionary("FIX.4.2");
const FIX44 = loadDictionary("FIX.4.4");
const NOS44 = "8=FIX.4.4|35=D|34=2|49=TW44|52=<TIME>|56=ISLD|";

/** A FieldList as `tag=value|…` text. */
function text(list: FieldList): string {
  let out = "";
  for (let i = 0; i < list.length; i += 2) {
    const v = list[i + 1];
    out += `${list[i]}=${Buffer.isBuffer(v) ? v.toString("latin1") : String(v)}|`;
  }
  return out;
}

describe("readGroups", () => {
  test("reads nested groups: parties with their sub-IDs", () => {
    const msg = fix(
      `${NOS44}11=ID|453=2|448=A|447=D|452=1|802=2|523=S1|803=1|523=S2|803=2|448=B|447=D|452=3|21=1|40=1|54=1|55=X|60=<TIME>|`,
    );
    const groups = readGroups(msg, FIX44);
    assert.equal(groups.length, 1);
    const parties = groups[0];
    assert.equal(parties.tag, 453);
    assert.equal(parties.declared, 2);
    assert.equal(parties.entries.length, 2);
    assert.equal(parties.entries[0].get(448), "A");
    assert.equal(parties.entries[1].get(448), "B");
    assert.equal(parties.entries[1].get(452), "3");
    const sub = parties.entries[0].group(802);
    assert.equal(sub?.entries.length, 2);
    assert.equal(sub?.entries[1].get(523), "S2");
    assert.equal(parties.entries[0].get(523), undefined, "nested fields belong to the nested entries");
    assert.equal(parties.entries[1].group(802), undefined);
  });

  test("starts a new entry when a member repeats without the delimiter (14i: two entries, count 3)", () => {
    const msg = fix(
      "8=FIX.4.2|35=D|34=2|49=TW42|52=<TIME>|56=ISLD|11=ID|21=1|40=1|54=1|38=200.00|55=INTC|386=3|336=PRE-OPEN|336=AFTER-HOURS|60=<TIME>|",
    );
    const [sessions] = readGroups(msg, FIX42);
    assert.equal(sessions.declared, 3);
    assert.deepEqual(
      sessions.entries.map((e) => e.get(336)),
      ["PRE-OPEN", "AFTER-HOURS"],
    );
  });

  test("reads the header group NoHops", () => {
    const msg = fix("8=FIX.4.4|35=0|34=2|49=TW44|52=<TIME>|56=ISLD|627=1|628=HOP|630=REF|");
    const [hops] = readGroups(msg, FIX44);
    assert.equal(hops.tag, 627);
    assert.equal(hops.entries[0].get(630), "REF");
  });

  test("reads a NumInGroup of 0 as a group with no entries", () => {
    const msg = fix(`${NOS44}11=ID|21=1|40=1|54=1|55=X|60=<TIME>|454=0|`);
    const [alt] = readGroups(msg, FIX44);
    assert.equal(alt.tag, 454);
    assert.equal(alt.entries.length, 0);
  });
});

describe("sortFieldsForEcho", () => {
  test("orders the body by tag (15: 40, 55, 60, 54, 21, 11 → 11, 21, 40, 54, 55, 60)", () => {
    const msg = fix("8=FIX.4.2|35=D|49=TW42|34=3|56=ISLD|52=<TIME>|40=1|55=MSFT|60=20240315-10:20:30|54=1|21=3|11=id|");
    const echo = sortFieldsForEcho(msg, FIX42);
    assert.equal(text(echo.body), "11=id|21=3|40=1|54=1|55=MSFT|60=20240315-10:20:30|");
    assert.equal(text(echo.header), "");
  });

  test("keeps NumInGroup 0 fields in tag order (21)", () => {
    const msg = fix(
      "8=FIX.4.2|35=d|34=2|49=TW42|56=ISLD|52=<TIME>|320=JCD1091-20021011|322=1034356488676|323=6|55=TBS|22=8|167=OPT|336=ONE_MAIN|58=No Products found for this Class Symbol|393=0|146=0|",
    );
    assert.equal(
      text(sortFieldsForEcho(msg, FIX42).body),
      "22=8|55=TBS|58=No Products found for this Class Symbol|146=0|167=OPT|320=JCD1091-20021011|322=1034356488676|323=6|336=ONE_MAIN|393=0|",
    );
  });

  test("keeps group entries after their NumInGroup, fields in the group's order", () => {
    // Each entry starts at its delimiter (448, then 523 in the nested group); the rest may come in any order.
    const msg = fix(`${NOS44}60=<TIME>|55=X|453=2|448=A|452=1|447=D|448=B|802=1|523=S|803=2|40=1|21=1|54=1|11=ID|`);
    assert.equal(
      text(sortFieldsForEcho(msg, FIX44).body),
      "11=ID|21=1|40=1|54=1|55=X|60=20240315-10:20:30|453=2|448=A|447=D|452=1|448=B|802=1|523=S|803=2|",
    );
  });

  test("gives the extra header fields ascending, without the ones the encoder writes", () => {
    const msg = fix(
      "8=FIX.4.2|35=D|34=2|97=Y|49=TW42|52=<TIME>|56=ISLD|128=JCD|115=ABC|43=Y|11=id|21=3|40=1|54=1|55=MSFT|60=<TIME>|",
    );
    assert.equal(text(sortFieldsForEcho(msg, FIX42).header), "43=Y|97=Y|115=ABC|128=JCD|");
  });

  test("re-encodes an order byte for byte in QuickFIX's order", () => {
    const msg = fix("8=FIX.4.2|35=D|49=TW42|34=3|56=ISLD|52=<TIME>|40=1|55=MSFT|60=20240315-10:20:30|54=1|21=3|11=id|");
    const echo = sortFieldsForEcho(msg, FIX42);
    const out = new Encoder("FIX.4.2", "ISLD", "TW42").encode("D", 3, "20240315-10:20:31.000", echo.body, echo.header);
    assert.equal(
      out.toString("latin1").replaceAll("\x01", "|"),
      "8=FIX.4.2|9=101|35=D|34=3|49=ISLD|52=20240315-10:20:31.000|56=TW42|11=id|21=3|40=1|54=1|55=MSFT|60=20240315-10:20:30|10=001|",
    );
  });
});

describe("encodeGroup", () => {
  const parties = FIX44.group("D", 453);
  assert.ok(parties);

  test("writes NumInGroup, then each entry in the dictionary's order, delimiter first", () => {
    const out = encodeGroup(parties, [
      { 452: 1, 448: "A", 447: "D" },
      { 447: "D", 448: "B" },
    ]);
    assert.equal(text(out), "453=2|448=A|447=D|452=1|448=B|447=D|");
  });

  test("writes nested groups after their NumInGroup", () => {
    const entry = new Map<number, FieldValue | GroupEntryValues[]>([
      [802, [{ 803: 2, 523: "S" }]],
      [448, "A"],
    ]);
    const out = encodeGroup(parties, [entry]);
    assert.equal(text(out), "453=1|448=A|802=1|523=S|803=2|");
  });

  test("round-trips: encoded groups parse, validate and read back", () => {
    const body: FieldList = [11, "ID", 21, "1", 40, "1", 54, "1", 55, "X", 60, "20240315-10:20:30"];
    encodeGroup(parties, [{ 448: "A", 447: "D", 802: [{ 523: "S1" }, { 523: "S2" }] }, { 448: "B" }], body);
    const raw = new Encoder("FIX.4.4", "TW44", "ISLD").encode("D", 2, "20240315-10:20:30.000", body);
    const msg = new Parser().parse(raw);
    assert.ok(typeof msg !== "string");
    assert.equal(validate(msg, FIX44), null);
    const [g] = readGroups(msg, FIX44);
    assert.equal(g.entries.length, 2);
    assert.deepEqual(
      g.entries[0].group(802)?.entries.map((e) => e.get(523)),
      ["S1", "S2"],
    );
  });

  test("throws InvalidGroup for a field that is not a member", () => {
    assert.throws(
      () => encodeGroup(parties, [{ 448: "A", 55: "X" }]),
      (e: unknown) => e instanceof DictionaryError && e.code === DictionaryErrorCode.InvalidGroup,
    );
  });

  test("throws InvalidGroup for an entry without the delimiter", () => {
    assert.throws(
      () => encodeGroup(parties, [{ 447: "D" }]),
      (e: unknown) => e instanceof DictionaryError && /delimiter 448/.test(e.message),
    );
  });
});
