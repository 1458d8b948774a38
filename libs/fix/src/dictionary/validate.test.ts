import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Parser } from "../codec/parser.js";
import { loadDictionary } from "./dictionary.js";
import { complete, fix } from "./fixtures.js";
import { rejectFields, rejectReasonAllowed, rejectReasonText, SessionRejectReason } from "./reject.js";
import { type ValidationOptions, validate } from "./validate.js";

const FIX42 = loadDictionary("FIX.4.2");
const FIX44 = loadDictionary("FIX.4.4");

function check(dict: typeof FIX42, line: string, options?: ValidationOptions) {
  const err = validate(fix(line), dict, options);
  return err === null ? null : { reason: err.reason, refTagId: err.refTagId, text: err.text };
}

function rejected(reason: SessionRejectReason, refTagId?: number) {
  return { reason, refTagId, text: rejectReasonText(reason) };
}

// Lines from the acceptance scripts (fix42/fix44 14a–14i, 2q, 21, RejectResentMessage, ReverseRoute*).
const H42 = "8=FIX.4.2|35=0|34=2|49=TW42|52=<TIME>|56=ISLD|";
const NOS42 = "8=FIX.4.2|35=D|34=2|49=TW42|52=<TIME>|56=ISLD|";
const NOS44 = "8=FIX.4.4|35=D|34=2|49=TW44|52=<TIME>|56=ISLD|";

describe("validate: messages that pass", () => {
  test("accepts a Logon", () => {
    assert.equal(check(FIX42, "8=FIX.4.2|35=A|34=1|49=TW42|52=<TIME>|56=ISLD|98=0|108=2|"), null);
  });

  test('accepts OrderQty "002000.00" and SecurityType FUT (14e, third order)', () => {
    const line = `${NOS42}11=ID|21=1|40=1|54=1|38=002000.00|55=INTC|60=<TIME>|167=FUT|`;
    assert.equal(check(FIX42, line), null);
  });

  test("accepts header and body fields in another order, header first (15)", () => {
    const line = "8=FIX.4.2|35=D|49=TW42|34=3|56=ISLD|52=<TIME>|40=1|55=MSFT|60=<TIME>|54=1|21=3|11=id|";
    assert.equal(check(FIX42, line), null);
  });

  test("accepts NumInGroup fields of 0 (21, FIX 4.2 SecurityDefinition with 146=0 and 393=0)", () => {
    const line =
      "8=FIX.4.2|35=d|34=2|49=TW42|56=ISLD|52=<TIME>|320=JCD1091-20021011|322=1034356488676|323=6|55=TBS|22=8|" +
      "167=OPT|336=ONE_MAIN|58=No Products found for this Class Symbol|393=0|146=0|";
    assert.equal(check(FIX42, line), null);
  });

  test("accepts NoSecurityAltID=0 from a component (21, FIX 4.4)", () => {
    const line =
      "8=FIX.4.4|35=d|34=2|49=TW44|56=ISLD|52=<TIME>|320=JCD1091-20021011|322=1034356488676|323=6|55=TBS|22=8|" +
      "167=CS|336=ONE_MAIN|58=No Products found for this Class Symbol|454=0|";
    assert.equal(check(FIX44, line), null);
  });

  test("accepts an ExecutionReport the application will not handle (2r)", () => {
    const line =
      "8=FIX.4.4|35=8|34=2|49=TW44|52=<TIME>|56=ISLD|37=id|17=id|150=0|39=0|55=WLRI|54=1|151=100|14=0|6=0.0|";
    assert.equal(check(FIX44, line), null);
  });

  test("accepts a repeating group whose count matches, with nested groups", () => {
    const line = `${NOS44}11=ID|21=1|40=1|54=1|38=100|55=INTC|60=<TIME>|453=2|448=A|447=D|452=1|802=1|523=X|803=1|448=B|447=D|452=3|`;
    assert.equal(check(FIX44, line), null);
  });

  test("accepts the standard header group NoHops (FIX 4.4)", () => {
    const line = "8=FIX.4.4|35=0|34=2|49=TW44|52=<TIME>|56=ISLD|627=2|628=HOP1|629=<TIME>|628=HOP2|";
    assert.equal(check(FIX44, line), null);
  });

  test("accepts SendingTime with milliseconds and with microseconds", () => {
    assert.equal(check(FIX44, "8=FIX.4.4|35=0|34=2|49=TW44|52=20240315-10:20:30.123|56=ISLD|"), null);
    assert.equal(check(FIX44, "8=FIX.4.4|35=0|34=2|49=TW44|52=20240315-10:20:30.123456|56=ISLD|"), null);
  });

  test("accepts several values of a multiple-value field (ExecInst 1 5)", () => {
    assert.equal(check(FIX44, `${NOS44}11=ID|21=1|40=1|54=1|55=INTC|60=<TIME>|18=1 5|`), null);
  });

  test("accepts multi-character CHAR values before FIX 4.2 (ClOrdID, Symbol: QuickFIX reads CHAR as STRING)", () => {
    const d = loadDictionary("FIX.4.1");
    assert.equal(d.fieldType(11), "CHAR");
    const line = "8=FIX.4.1|35=D|34=2|49=TW41|52=<TIME>|56=ISLD|11=ORDER-1|21=1|40=1|54=1|38=100|55=INTC|";
    assert.equal(check(d, line), null);
  });

  test("rejects a multi-character CHAR value from FIX 4.2 on (Side 11: 373=6)", () => {
    const line = `${NOS42}11=ID|21=1|40=1|54=11|55=INTC|60=<TIME>|`;
    assert.deepEqual(check(FIX42, line), rejected(SessionRejectReason.IncorrectDataFormat, 54));
  });
});

describe("validate: each reason", () => {
  test("rejects tag 999 as an invalid tag number (373=0, 371=999)", () => {
    assert.deepEqual(check(FIX42, `${H42}999=HI|`), rejected(SessionRejectReason.InvalidTagNumber, 999));
  });

  test("rejects tag 0 as an invalid tag number (373=0, 371=0)", () => {
    assert.deepEqual(check(FIX42, `${H42}0=HI|`), rejected(SessionRejectReason.InvalidTagNumber, 0));
  });

  test("rejects tag -1 as an invalid tag number (373=0, 371=-1)", () => {
    assert.deepEqual(check(FIX42, `${H42}-1=HI|`), rejected(SessionRejectReason.InvalidTagNumber, -1));
  });

  test("rejects user-defined tag 5000 as an invalid tag number while ValidateUserDefinedFields=Y (373=0)", () => {
    assert.deepEqual(check(FIX42, `${H42}5000=HI|`), rejected(SessionRejectReason.InvalidTagNumber, 5000));
  });

  test("rejects a Heartbeat without TargetCompID as required tag missing (373=1, 371=56)", () => {
    assert.deepEqual(
      check(FIX42, "8=FIX.4.2|35=0|34=2|49=TW42|52=<TIME>|"),
      rejected(SessionRejectReason.RequiredTagMissing, 56),
    );
  });

  test("rejects a FIX 4.2 order without Symbol (373=1, 371=55)", () => {
    const line = "8=FIX.4.2|35=D|49=TW42|34=3|56=ISLD|52=<TIME>|40=1|60=<TIME>|54=1|21=3|11=id|";
    assert.deepEqual(check(FIX42, line), rejected(SessionRejectReason.RequiredTagMissing, 55));
  });

  test("rejects a FIX 4.4 order without ClOrdID before its missing Symbol (373=1, 371=11)", () => {
    const line = "8=FIX.4.4|35=D|49=TW44|34=3|56=ISLD|52=<TIME>|40=1|60=<TIME>|54=1|21=3|";
    assert.deepEqual(check(FIX44, line), rejected(SessionRejectReason.RequiredTagMissing, 11));
  });

  test("rejects a group entry without a required member (NewOrderList entry without ListSeqNo: 371=67)", () => {
    const line =
      "8=FIX.4.4|35=E|34=2|49=TW44|52=<TIME>|56=ISLD|66=L1|394=1|68=2|73=2|11=A|67=1|55=X|54=1|11=B|55=Y|54=2|";
    assert.deepEqual(check(FIX44, line), rejected(SessionRejectReason.RequiredTagMissing, 67));
  });

  test("rejects Symbol on a Heartbeat as not defined for the message type (373=2, 371=55)", () => {
    assert.deepEqual(check(FIX42, `${H42}55=MSFT|`), rejected(SessionRejectReason.TagNotDefinedForMessageType, 55));
  });

  test('rejects "56=" as tag specified without a value (373=4, 371=56)', () => {
    assert.deepEqual(
      check(FIX42, "8=FIX.4.2|35=0|34=2|49=TW42|52=<TIME>|56=|"),
      rejected(SessionRejectReason.TagSpecifiedWithoutValue, 56),
    );
  });

  test("rejects an empty OnBehalfOfCompID before the bad OrdType (ReverseRouteWithEmptyRoutingTags: 371=145)", () => {
    const line = `${NOS42.replace("56=ISLD|", "56=ISLD|128=JCD|129=CS|145=|")}11=ID|21=3|38=100|40=w|54=1|55=INTC|60=<TIME>|`;
    assert.deepEqual(check(FIX42, line), rejected(SessionRejectReason.TagSpecifiedWithoutValue, 145));
  });

  test("rejects HandlInst 4 as value incorrect (373=5, 371=21)", () => {
    const line = `${NOS42}11=ID|21=4|40=1|54=1|38=002000.00|55=INTC|60=<TIME>|`;
    assert.deepEqual(check(FIX42, line), rejected(SessionRejectReason.ValueIsIncorrect, 21));
  });

  test("rejects SecurityType BOO as value incorrect (373=5, 371=167)", () => {
    const line = `${NOS42}11=ID|21=1|40=1|54=1|38=002000.00|55=INTC|60=<TIME>|167=BOO|`;
    assert.deepEqual(check(FIX42, line), rejected(SessionRejectReason.ValueIsIncorrect, 167));
  });

  test("rejects OrdType w as value incorrect (ReverseRoute: 373=5, 371=40)", () => {
    const line = `${NOS44.replace("56=ISLD|", "56=ISLD|115=JCD|")}11=ID|21=3|38=100|40=w|54=1|55=INTC|60=<TIME>|`;
    assert.deepEqual(check(FIX44, line), rejected(SessionRejectReason.ValueIsIncorrect, 40));
  });

  test("rejects a multiple-value field with one unknown word (ExecInst 1 !: 373=5, 371=18)", () => {
    const line = `${NOS44}11=ID|21=1|40=1|54=1|55=INTC|60=<TIME>|18=1 !|`;
    assert.deepEqual(check(FIX44, line), rejected(SessionRejectReason.ValueIsIncorrect, 18));
  });

  test('rejects OrderQty "+200.00" as incorrect data format (373=6, 371=38)', () => {
    const line = `${NOS42}11=ID|21=1|40=1|54=1|38=+200.00|55=INTC|60=<TIME>|`;
    assert.deepEqual(check(FIX42, line), rejected(SessionRejectReason.IncorrectDataFormat, 38));
  });

  test('rejects ExpireTime "20040415" as incorrect data format (RejectResentMessage: 373=6, 371=126)', () => {
    const line =
      "8=FIX.4.2|35=D|34=2|43=Y|49=TW42|52=<TIME>|56=ISLD|122=<TIME>|11=ID|21=3|38=100|40=1|54=1|55=IVP|60=<TIME>|126=20040415|";
    assert.deepEqual(check(FIX42, line), rejected(SessionRejectReason.IncorrectDataFormat, 126));
  });

  test("rejects MsgType * as an invalid MsgType (373=11, no RefTagID)", () => {
    assert.deepEqual(
      check(FIX42, "8=FIX.4.2|35=*|34=2|49=TW42|52=<TIME>|56=ISLD|"),
      rejected(SessionRejectReason.InvalidMsgType),
    );
  });

  test("rejects OrdType twice as a tag appearing more than once (373=13, 371=40)", () => {
    const line = `${NOS42}11=ID|21=1|40=1|40=2|54=1|38=200.00|55=INTC|60=<TIME>|`;
    assert.deepEqual(check(FIX42, line), rejected(SessionRejectReason.TagAppearsMoreThanOnce, 40));
  });

  test("rejects header fields after the body as out of order, naming the first (373=14, 371=34)", () => {
    const line = "8=FIX.4.2|35=D|11=id|21=3|40=1|54=1|55=MSFT|60=<TIME>|34=2|49=TW42|52=<TIME>|56=ISLD|";
    assert.deepEqual(check(FIX42, line), rejected(SessionRejectReason.TagSpecifiedOutOfRequiredOrder, 34));
  });

  test("rejects one body field between header fields as out of order (373=14, 371=34)", () => {
    const line = "8=FIX.4.2|35=D|55=MSFT|34=3|49=TW42|52=<TIME>|56=ISLD|11=id|21=3|40=1|54=1|60=<TIME>|";
    assert.deepEqual(check(FIX42, line), rejected(SessionRejectReason.TagSpecifiedOutOfRequiredOrder, 34));
  });

  test("rejects a body field after the trailer as out of order (373=14)", () => {
    const line = `${H42}93=3|89=abc|112=X|`;
    assert.deepEqual(check(FIX42, line), rejected(SessionRejectReason.TagSpecifiedOutOfRequiredOrder, 112));
  });

  test("rejects NoTradingSessions=3 with two entries (373=16, 371=386)", () => {
    const line = `${NOS42}11=ID|21=1|40=1|54=1|38=200.00|55=INTC|386=3|336=PRE-OPEN|336=AFTER-HOURS|60=<TIME>|`;
    assert.deepEqual(check(FIX42, line), rejected(SessionRejectReason.IncorrectNumInGroupCount, 386));
  });

  test("rejects a NumInGroup of 0 followed by an entry (373=16)", () => {
    const line = `${NOS44}11=ID|21=1|40=1|54=1|55=INTC|60=<TIME>|386=0|336=X|`;
    assert.deepEqual(check(FIX44, line), rejected(SessionRejectReason.IncorrectNumInGroupCount, 386));
  });

  test("rejects SOH inside a non-data value announced by a length field (373=17)", () => {
    // A parser told that RawDataLength(95) announces Text(58) lets SOH into Text, a STRING.
    const parser = new Parser({ dataFields: new Map([[95, 58]]) });
    const msg = parser.parse(
      complete(`${H42}95=3|58=a\x01b|`.replace("35=0", "35=3").replace("56=ISLD|", "56=ISLD|45=1|")),
    );
    assert.ok(typeof msg !== "string", String(msg));
    const err = validate(msg, FIX42);
    assert.equal(err?.reason, SessionRejectReason.NonDataValueIncludesFieldDelimiter);
    assert.equal(err?.refTagId, 58);
  });
});

describe("validate: order of checks (QuickFIX's)", () => {
  test("reports fields out of order before an invalid MsgType", () => {
    const line = "8=FIX.4.2|35=*|112=X|34=2|49=TW42|52=<TIME>|56=ISLD|";
    assert.deepEqual(check(FIX42, line), rejected(SessionRejectReason.TagSpecifiedOutOfRequiredOrder, 34));
  });

  test("reports an invalid MsgType before an unknown tag", () => {
    assert.deepEqual(
      check(FIX42, "8=FIX.4.2|35=*|34=2|49=TW42|52=<TIME>|56=ISLD|999=X|"),
      rejected(SessionRejectReason.InvalidMsgType),
    );
  });

  test("reports a missing required body field before a bad value", () => {
    const line = "8=FIX.4.2|35=D|49=TW42|34=3|56=ISLD|52=<TIME>|40=1|60=<TIME>|54=1|21=4|11=id|";
    assert.deepEqual(check(FIX42, line), rejected(SessionRejectReason.RequiredTagMissing, 55));
  });

  test("reports the missing required fields in ascending tag order", () => {
    const line = "8=FIX.4.4|35=D|49=TW44|34=3|56=ISLD|52=<TIME>|21=3|";
    assert.deepEqual(check(FIX44, line), rejected(SessionRejectReason.RequiredTagMissing, 11));
  });

  test("checks header fields before body fields", () => {
    const line = `${NOS42.replace("56=ISLD|", "56=ISLD|115=|")}11=ID|21=4|40=1|54=1|55=INTC|60=<TIME>|`;
    assert.deepEqual(check(FIX42, line), rejected(SessionRejectReason.TagSpecifiedWithoutValue, 115));
  });

  test("checks body fields in ascending tag order, not wire order", () => {
    const line = `${NOS42}167=BOO|11=ID|21=4|40=1|54=1|55=INTC|60=<TIME>|`;
    assert.deepEqual(check(FIX42, line), rejected(SessionRejectReason.ValueIsIncorrect, 21));
  });

  test("checks the first of two repeated tags before reporting the repetition", () => {
    const line = `${NOS42}11=ID|21=1|40=X|40=1|54=1|55=INTC|60=<TIME>|`;
    assert.deepEqual(check(FIX42, line), rejected(SessionRejectReason.ValueIsIncorrect, 40));
  });

  test("reports a field not in the message before a higher unknown tag", () => {
    assert.deepEqual(
      check(FIX42, `${H42}999=X|55=MSFT|`),
      rejected(SessionRejectReason.TagNotDefinedForMessageType, 55),
    );
  });

  test("reports body field problems before a missing SendingTime (QuickFIX checks 52 after validation)", () => {
    assert.deepEqual(
      check(FIX42, "8=FIX.4.2|35=0|34=2|49=TW42|56=ISLD|55=MSFT|"),
      rejected(SessionRejectReason.TagNotDefinedForMessageType, 55),
    );
  });
});

describe("validate: options", () => {
  test("ValidateUserDefinedFields=N lets tag 5000 through", () => {
    assert.equal(check(FIX42, `${H42}5000=HI|`, { validateUserDefinedFields: false }), null);
  });

  test("ValidateUserDefinedFields=N still reports a repeated user-defined tag", () => {
    assert.deepEqual(
      check(FIX42, `${H42}5000=A|5000=B|`, { validateUserDefinedFields: false }),
      rejected(SessionRejectReason.TagAppearsMoreThanOnce, 5000),
    );
  });

  test("AllowUnknownMsgFields=Y lets tag 999 and Symbol on a Heartbeat through", () => {
    assert.equal(check(FIX42, `${H42}999=HI|55=MSFT|`, { allowUnknownMsgFields: true }), null);
  });

  test("AllowUnknownMsgFields=Y still checks a known field's value", () => {
    assert.deepEqual(
      check(FIX42, `${H42}54=Z|`, { allowUnknownMsgFields: true }),
      rejected(SessionRejectReason.ValueIsIncorrect, 54),
    );
  });

  test("ValidateFieldsHaveValues=N lets an empty string value through", () => {
    assert.equal(check(FIX42, `${H42}112=|`, { validateFieldsHaveValues: false }), null);
  });

  test("ValidateFieldsHaveValues=N still reports an empty number as incorrect data format", () => {
    assert.deepEqual(
      check(FIX42, "8=FIX.4.2|35=A|34=1|49=TW42|52=<TIME>|56=ISLD|98=0|108=|", { validateFieldsHaveValues: false }),
      rejected(SessionRejectReason.IncorrectDataFormat, 108),
    );
  });

  test("ValidateFieldsOutOfOrder=N accepts header fields after the body", () => {
    const line = "8=FIX.4.2|35=D|11=id|21=3|40=1|54=1|55=MSFT|60=<TIME>|34=2|49=TW42|52=<TIME>|56=ISLD|";
    assert.equal(check(FIX42, line, { validateFieldsOutOfOrder: false }), null);
  });

  test("validateHeaderRequired=false leaves a missing TargetCompID to the session layer", () => {
    assert.equal(check(FIX42, "8=FIX.4.2|35=0|34=2|49=TW42|52=<TIME>|", { validateHeaderRequired: false }), null);
  });

  test("does not look inside repeating groups by default (as QuickFIX)", () => {
    const line = `${NOS44}11=ID|21=1|40=1|54=1|55=INTC|60=<TIME>|453=1|448=A|447=?|`;
    assert.equal(check(FIX44, line), null);
  });

  test("validateGroupFields reports a bad value inside a group (373=5, 371=447)", () => {
    const line = `${NOS44}11=ID|21=1|40=1|54=1|55=INTC|60=<TIME>|453=1|448=A|447=?|`;
    assert.deepEqual(
      check(FIX44, line, { validateGroupFields: true }),
      rejected(SessionRejectReason.ValueIsIncorrect, 447),
    );
  });

  test("validateGroupFields reports a nested NumInGroup that does not match (373=16, 371=802)", () => {
    const line = `${NOS44}11=ID|21=1|40=1|54=1|55=INTC|60=<TIME>|453=1|448=A|802=2|523=X|`;
    assert.deepEqual(
      check(FIX44, line, { validateGroupFields: true }),
      rejected(SessionRejectReason.IncorrectNumInGroupCount, 802),
    );
  });
});

describe("validate: FIXT 1.1", () => {
  const FIXT = loadDictionary("FIXT.1.1", "FIX.5.0SP2");

  test("validates an application message against FIX 5.0 SP2 and its header against FIXT 1.1", () => {
    const line = "8=FIXT.1.1|35=D|34=2|49=TW|52=<TIME>|56=ISLD|11=ID|21=1|40=1|54=1|38=100|55=INTC|60=<TIME>|";
    assert.equal(check(FIXT, line), null);
  });

  test("rejects HandlInst 4 in a FIX 5.0 SP2 order (373=5, 371=21)", () => {
    const line = "8=FIXT.1.1|35=D|34=2|49=TW|52=<TIME>|56=ISLD|11=ID|21=4|40=1|54=1|38=002000.00|55=INTC|60=<TIME>|";
    assert.deepEqual(check(FIXT, line), rejected(SessionRejectReason.ValueIsIncorrect, 21));
  });

  test("validates a session message with the transport dictionary", () => {
    assert.equal(check(FIXT, "8=FIXT.1.1|35=A|34=1|49=TW|52=<TIME>|56=ISLD|98=0|108=30|1137=9|"), null);
  });
});

describe("Reject fields per version", () => {
  const err = { reason: SessionRejectReason.InvalidTagNumber, refTagId: 999, text: "Invalid tag number" } as const;

  test("FIX 4.0 puts the tag in Text and sends no 371, 372, 373", () => {
    assert.deepEqual(rejectFields("FIX.4.0", "0", err), [58, "Invalid tag number (999)"]);
  });

  test("FIX 4.2 sends 58, 371, 372 and 373 for reasons up to 11", () => {
    assert.deepEqual(rejectFields("FIX.4.2", "0", err), [58, "Invalid tag number", 371, "999", 372, "0", 373, 0]);
  });

  test("FIX 4.2 sends no 373 for a repeated tag (13)", () => {
    const repeated = {
      reason: SessionRejectReason.TagAppearsMoreThanOnce,
      refTagId: 40,
      text: "Tag appears more than once",
    };
    assert.deepEqual(rejectFields("FIX.4.2", "D", repeated), [58, "Tag appears more than once", 371, "40", 372, "D"]);
  });

  test("an invalid MsgType has no RefTagID", () => {
    const invalid = { reason: SessionRejectReason.InvalidMsgType, text: "Invalid MsgType" };
    assert.deepEqual(rejectFields("FIX.4.4", "*", invalid), [58, "Invalid MsgType", 372, "*", 373, 11]);
    assert.deepEqual(rejectFields("FIX.4.1", "*", invalid), [58, "Invalid MsgType"]);
  });

  test("rejectReasonAllowed follows each version's SessionRejectReason values", () => {
    assert.equal(rejectReasonAllowed("FIX.4.0", 0), false);
    assert.equal(rejectReasonAllowed("FIX.4.1", 5), false);
    assert.equal(rejectReasonAllowed("FIX.4.2", 11), true);
    for (const r of [13, 14, 16]) assert.equal(rejectReasonAllowed("FIX.4.2", r), false);
    for (const r of [13, 14, 16, 17]) assert.equal(rejectReasonAllowed("FIX.4.3", r), true);
    assert.equal(rejectReasonAllowed("FIX.4.4", 16), true);
    assert.equal(rejectReasonAllowed("FIXT.1.1", 18), true);
  });

  test("every reason has QuickFIX's text", () => {
    assert.deepEqual(
      Object.values(SessionRejectReason).map((r) => rejectReasonText(r)),
      [
        "Invalid tag number",
        "Required tag missing",
        "Tag not defined for this message type",
        "Undefined Tag",
        "Tag specified without a value",
        "Value is incorrect (out of range) for this tag",
        "Incorrect data format for value",
        "Decryption problem",
        "Signature problem",
        "CompID problem",
        "SendingTime accuracy problem",
        "Invalid MsgType",
        "XML Validation error",
        "Tag appears more than once",
        "Tag specified out of required order",
        "Repeating group fields out of order",
        "Incorrect NumInGroup count for repeating group",
        "Non Data value includes field delimiter (SOH character)",
      ],
    );
  });
});
