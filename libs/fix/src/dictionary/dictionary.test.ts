import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Tag } from "../gen/tags.js";
import { applVerIdToBeginString, DICTIONARY_VERSIONS, Dictionary, loadDictionary } from "./dictionary.js";
import { DictionaryError, DictionaryErrorCode } from "./errors.js";
import type { SpecData } from "./spec.js";

describe("loadDictionary", () => {
  for (const [version, messages, fields] of [
    ["FIX.4.0", 27, 138],
    ["FIX.4.1", 28, 206],
    ["FIX.4.2", 46, 405],
    ["FIX.4.3", 68, 635],
    ["FIX.4.4", 93, 912],
  ] as const) {
    test(`loads ${version} with its ${messages} messages and ${fields} fields`, () => {
      const d = loadDictionary(version);
      assert.equal(d.beginString, version);
      assert.equal(d.applVerBeginString, version);
      assert.equal(d.isFixt, false);
      assert.equal(d.app.messages.size, messages);
      assert.equal(d.app.fields.size, fields);
      assert.ok(d.isMessageDefined("D"));
      assert.ok(d.isMessageDefined("A"));
    });
  }

  for (const applVer of ["FIX.5.0", "FIX.5.0SP1", "FIX.5.0SP2"]) {
    test(`loads FIXT.1.1 with ${applVer}: session messages from FIXT, the rest from ${applVer}`, () => {
      const d = loadDictionary("FIXT.1.1", applVer);
      assert.equal(d.beginString, "FIXT.1.1");
      assert.equal(d.applVerBeginString, applVer);
      assert.equal(d.isFixt, true);
      assert.equal(d.message("A")?.name, "Logon");
      assert.equal(d.message("D")?.name, "NewOrderSingle");
      assert.equal(d.modelFor("A"), d.transport);
      assert.equal(d.modelFor("D"), d.app);
      assert.ok(d.isHeaderField(Tag.ApplVerID));
    });
  }

  test("returns the same dictionary for the same version (cached)", () => {
    assert.equal(loadDictionary("FIX.4.4"), loadDictionary("FIX.4.4"));
    assert.equal(loadDictionary("FIXT.1.1", "FIX.5.0SP2"), loadDictionary("FIXT.1.1", "FIX.5.0SP2"));
  });

  test("lists the versions it knows", () => {
    assert.deepEqual(DICTIONARY_VERSIONS, [
      "FIX.4.0",
      "FIX.4.1",
      "FIX.4.2",
      "FIX.4.3",
      "FIX.4.4",
      "FIXT.1.1",
      "FIX.5.0",
      "FIX.5.0SP1",
      "FIX.5.0SP2",
    ]);
  });

  test("throws UnknownVersion for FIX.3.9", () => {
    assert.throws(
      () => loadDictionary("FIX.3.9"),
      (e: unknown) => e instanceof DictionaryError && e.code === DictionaryErrorCode.UnknownVersion,
    );
  });

  test("throws UnknownVersion for FIXT.1.1 without an application version", () => {
    assert.throws(
      () => loadDictionary("FIXT.1.1"),
      (e: unknown) => e instanceof DictionaryError && e.code === DictionaryErrorCode.UnknownVersion,
    );
  });

  test("maps ApplVerID values to versions", () => {
    assert.equal(applVerIdToBeginString("9"), "FIX.5.0SP2");
    assert.equal(applVerIdToBeginString("6"), "FIX.4.4");
    assert.equal(applVerIdToBeginString("1"), undefined);
  });
});

describe("Dictionary lookups (FIX 4.4)", () => {
  const d = loadDictionary("FIX.4.4");

  test("knows field names, numbers and types", () => {
    assert.equal(d.fieldName(38), "OrderQty");
    assert.equal(d.fieldTag("ClOrdID"), 11);
    assert.equal(d.fieldType(38), "QTY");
    assert.equal(d.fieldType(60), "UTCTIMESTAMP");
    assert.equal(d.isField(9999), false);
    assert.equal(d.fieldName(9999), undefined);
  });

  test("places header and trailer fields, including those QuickFIX always treats as header", () => {
    for (const t of [8, 9, 35, 34, 49, 52, 56, 115, 128, 43, 97, 122, 627]) assert.ok(d.isHeaderField(t), String(t));
    for (const t of [10, 89, 93]) assert.ok(d.isTrailerField(t), String(t));
    for (const t of [11, 55, 0, -1, 99999]) assert.ok(!d.isHeaderField(t) && !d.isTrailerField(t), String(t));
  });

  test("checks enum values and gives their descriptions", () => {
    assert.ok(d.hasEnum(54));
    assert.ok(d.isEnumValue(54, "1"));
    assert.ok(!d.isEnumValue(54, "Z"));
    assert.ok(d.isEnumValue(55, "anything"));
    assert.equal(d.enumDescription(54, "1"), "BUY");
    assert.equal(d.enumDescription(35, "D"), "NewOrderSingle");
    assert.ok(d.enumValues(40)?.includes("2"));
  });

  test("checks each word of a multiple-value field", () => {
    assert.equal(d.fieldType(18), "MULTIPLEVALUESTRING");
    assert.ok(d.isEnumValue(18, "1 5"));
    assert.ok(!d.isEnumValue(18, "1 !"));
  });

  test("knows message names, categories and fields", () => {
    assert.equal(d.messageName("D"), "NewOrderSingle");
    assert.ok(d.isAdmin("0"));
    assert.ok(d.isAdmin("A"));
    assert.ok(!d.isAdmin("D"));
    assert.ok(!d.isAdmin("*"));
    assert.ok(d.isMessageField("D", 55), "Symbol comes from the Instrument component");
    assert.ok(d.isMessageField("D", 453), "NoPartyIDs comes from the Parties component");
    assert.ok(!d.isMessageField("D", 448), "PartyID is a member of the group, not of the message");
    assert.ok(!d.isMessageField("0", 55));
  });

  test("gives the required fields of a message in ascending order", () => {
    assert.deepEqual(d.requiredFields("D"), [11, 40, 54, 60]);
    assert.ok(!d.isRequiredField("D", 55), "Symbol is optional in QuickFIX's FIX 4.4 Instrument");
    assert.ok(!d.isRequiredField("D", 38), "OrderQty is optional inside the required OrderQtyData");
    assert.deepEqual(loadDictionary("FIX.4.2").requiredFields("D"), [11, 21, 40, 54, 55, 60]);
    assert.deepEqual(d.requiredFields("0"), []);
  });

  test("describes repeating groups: delimiter, members in order, nested groups", () => {
    const parties = d.group("D", 453);
    assert.ok(parties);
    assert.equal(parties.delimiter, 448);
    assert.deepEqual(parties.order, [448, 447, 452, 802]);
    const sub = parties.groups.get(802);
    assert.equal(sub?.delimiter, 523);
    assert.deepEqual(sub?.order, [523, 803]);
    assert.equal(d.group("D", 802), sub, "nested groups are found by their NumInGroup tag too");
    assert.equal(d.group("0", 453), undefined);
  });

  test("applies QuickFIX's required rules inside groups", () => {
    // NewOrderList's NoOrders is required: its required members count.
    assert.deepEqual(d.group("E", 73)?.required, [11, 54, 67]);
    // QuoteRequest's NoRelatedSym is required, but Symbol reaches it through Instrument: not required there.
    assert.equal(d.group("R", 146)?.delimiter, 55);
    assert.deepEqual(d.group("R", 146)?.required, []);
  });

  test("describes the header group NoHops", () => {
    assert.deepEqual(d.header.groups.get(627)?.order, [628, 629, 630]);
  });
});

describe("Dictionary from spec data", () => {
  const spec: SpecData = {
    beginString: "FIX.4.4",
    types: ["STRING", "INT", "NUMINGROUP"],
    fields: [
      [8, "BeginString", 0],
      [9, "BodyLength", 1],
      [10, "CheckSum", 0],
      [35, "MsgType", 0],
      [100, "Alpha", 0, ["A", "ALPHA", "B", "BETA"]],
      [101, "NoThings", 2],
      [102, "Thing", 0],
      [103, "Weight", 1],
    ],
    header: [-8, -9, -35],
    trailer: [-10],
    components: [["Things", [[101, -102, 103]]]],
    messages: [["Test", "T", "app", [-100, "-Things"]]],
  };

  test("expands components and groups from compact data", () => {
    const d = Dictionary.fromSpec(spec);
    assert.deepEqual(d.requiredFields("T"), [100]);
    assert.deepEqual(d.group("T", 101)?.order, [102, 103]);
    assert.deepEqual(d.group("T", 101)?.required, [], "the group itself is not marked required");
  });

  test("throws InvalidSpec for a component that does not exist", () => {
    const bad: SpecData = { ...spec, messages: [["Test", "T", "app", ["Missing"]]] };
    assert.throws(
      () => Dictionary.fromSpec(bad),
      (e: unknown) => e instanceof DictionaryError && e.code === DictionaryErrorCode.InvalidSpec,
    );
  });
});
