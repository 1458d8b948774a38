import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { loadDictionary } from "./dictionary.js";
import { DictionaryError, DictionaryErrorCode } from "./errors.js";
import { parseDictionaryExtension } from "./extension.js";
import { loadDictionaryExtension } from "./extension-file.js";
import { EXAMPLES_DIR, fix } from "./fixtures.js";
import { SessionRejectReason } from "./reject.js";
import { validate } from "./validate.js";

const VENUE = join(EXAMPLES_DIR, "venue-dialect.yaml");
const NOS44 = "8=FIX.4.4|35=D|34=2|49=TW44|52=<TIME>|56=ISLD|11=ID|21=1|40=1|54=1|55=INTC|60=<TIME>|";

describe("the venue dialect example (examples/venue-dialect.yaml)", () => {
  const base = loadDictionary("FIX.4.4");
  const venue = base.extend(loadDictionaryExtension(VENUE));

  test("adds user-defined fields with their types and values", () => {
    assert.equal(venue.fieldName(5001), "VenueTag");
    assert.equal(venue.fieldType(5005), "QTY");
    assert.equal(venue.enumDescription(5002, "A"), "AUCTION");
  });

  test("adds a venue value to OrdType and keeps the standard ones", () => {
    assert.equal(venue.enumDescription(40, "w"), "VENUE_PEG");
    assert.ok(venue.isEnumValue(40, "2"));
  });

  test("leaves the standard dictionary unchanged", () => {
    assert.equal(base.fieldName(5001), undefined);
    assert.ok(!base.isEnumValue(40, "w"));
    assert.equal(loadDictionary("FIX.4.4"), base);
  });

  test("accepts VenueTag on an order, which the standard dictionary rejects as an invalid tag", () => {
    const msg = fix(`${NOS44}5001=ABC|`);
    assert.equal(validate(msg, venue), null);
    assert.equal(validate(msg, base)?.reason, SessionRejectReason.InvalidTagNumber);
  });

  test("accepts the venue's OrdType w (ReverseRoute's order), which the standard rejects", () => {
    const msg = fix(
      "8=FIX.4.4|35=D|34=2|49=TW44|52=<TIME>|56=ISLD|115=JCD|11=ID|21=3|38=100|40=w|54=1|55=INTC|60=<TIME>|",
    );
    assert.equal(validate(msg, venue), null);
    assert.equal(validate(msg, base)?.reason, SessionRejectReason.ValueIsIncorrect);
  });

  test("still rejects VenueTag on a message it was not added to (373=2)", () => {
    const err = validate(fix("8=FIX.4.4|35=0|34=2|49=TW44|52=<TIME>|56=ISLD|5001=ABC|"), venue);
    assert.equal(err?.reason, SessionRejectReason.TagNotDefinedForMessageType);
    assert.equal(err?.refTagId, 5001);
  });

  test("checks a user-defined enum (VenueSessionType X: 373=5)", () => {
    const err = validate(fix(`${NOS44}5002=X|`), venue);
    assert.equal(err?.reason, SessionRejectReason.ValueIsIncorrect);
    assert.equal(err?.refTagId, 5002);
  });

  test("adds a repeating group to the order and counts its entries", () => {
    assert.equal(validate(fix(`${NOS44}5003=2|5004=L1|5005=1|5004=L2|5005=2|`), venue), null);
    const err = validate(fix(`${NOS44}5003=3|5004=L1|5004=L2|`), venue);
    assert.equal(err?.reason, SessionRejectReason.IncorrectNumInGroupCount);
  });

  test("adds a header field", () => {
    assert.ok(venue.isHeaderField(5010));
    assert.equal(validate(fix("8=FIX.4.4|35=0|34=2|49=TW44|52=<TIME>|56=ISLD|5010=GW1|"), venue), null);
  });

  test("adds a new message with its required fields", () => {
    assert.equal(venue.messageName("U1"), "VenueStatus");
    assert.deepEqual(venue.requiredFields("U1"), [5001, 5002]);
    assert.equal(validate(fix("8=FIX.4.4|35=U1|34=2|49=TW44|52=<TIME>|56=ISLD|5001=A|5002=C|58=hi|"), venue), null);
    const err = validate(fix("8=FIX.4.4|35=U1|34=2|49=TW44|52=<TIME>|56=ISLD|5001=A|"), venue);
    assert.equal(err?.refTagId, 5002);
  });

  test("applies to FIXT 1.1: header fields to the transport, order fields to the application dictionary", () => {
    const fixt = loadDictionary("FIXT.1.1", "FIX.5.0SP2").extend(loadDictionaryExtension(VENUE));
    assert.ok(fixt.isHeaderField(5010));
    assert.ok(fixt.isMessageField("D", 5001));
    const line =
      "8=FIXT.1.1|35=D|34=2|49=TW|52=<TIME>|56=ISLD|5010=GW|11=ID|21=1|40=w|54=1|38=1|55=X|60=<TIME>|5001=T|";
    assert.equal(validate(fix(line), fixt), null);
  });
});

describe("extension files", () => {
  function withFile(name: string, content: string, run: (path: string) => void): void {
    const dir = mkdtempSync(join(tmpdir(), "fixmesh-ext-"));
    try {
      const path = join(dir, name);
      writeFileSync(path, content);
      run(path);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test("reads JSON as well as YAML", () => {
    const json = JSON.stringify({
      fields: [{ number: 6000, name: "VenueDeskCode", type: "STRING" }],
      messages: { D: { fields: [{ name: "VenueDeskCode", required: true }] } },
    });
    withFile("desk.json", json, (path) => {
      const d = loadDictionary("FIX.4.2").extend(loadDictionaryExtension(path));
      assert.ok(d.isRequiredField("D", 6000));
    });
  });

  test("makes an existing optional field required", () => {
    const d = loadDictionary("FIX.4.4").extend({ messages: { D: { fields: [{ name: "Account", required: true }] } } });
    assert.ok(d.isRequiredField("D", 1));
    const err = validate(fix(NOS44), d);
    assert.equal(err?.refTagId, 1);
  });

  test("reports the path of a field the extension does not define", () => {
    assert.throws(
      () => loadDictionary("FIX.4.4").extend({ messages: { D: { fields: [{ name: "NoSuchField" }] } } }),
      (e: unknown) =>
        e instanceof DictionaryError && e.code === DictionaryErrorCode.InvalidSpec && e.path === "messages.D.fields[0]",
    );
  });

  test("rejects a field number reused under another name", () => {
    assert.throws(
      () => loadDictionary("FIX.4.4").extend({ fields: [{ number: 40, name: "VenueOrdType" }] }),
      /field 40 is OrdType, not VenueOrdType/,
    );
  });

  test("rejects an unknown type with the path of the field", () => {
    assert.throws(
      () => parseDictionaryExtension({ fields: [{ number: 5001, name: "X", type: "STRNG" }] }),
      (e: unknown) => e instanceof DictionaryError && e.path === "fields[0].type",
    );
  });

  test("rejects unknown keys (a typo is not silently ignored)", () => {
    assert.throws(() => parseDictionaryExtension({ feilds: [] }), /unknown key "feilds"/);
  });

  test("reports a file that is not YAML with its name", () => {
    withFile("bad.yaml", "fields: [\n", (path) => {
      assert.throws(
        () => loadDictionaryExtension(path),
        (e: unknown) => e instanceof DictionaryError && e.code === DictionaryErrorCode.ExtensionFile,
      );
    });
  });

  test("reports a missing file", () => {
    assert.throws(
      () => loadDictionaryExtension("/nonexistent/venue.yaml"),
      (e: unknown) => e instanceof DictionaryError && e.code === DictionaryErrorCode.ExtensionFile,
    );
  });
});
