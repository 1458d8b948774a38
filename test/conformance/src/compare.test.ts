import assert from "node:assert/strict";
import { test } from "node:test";
import {
  compareMessages,
  formatDiff,
  loadFieldPatterns,
  parseFieldPatterns,
  showSoh,
  verifyFraming,
} from "./compare.js";
import { SOH } from "./complete.js";
import { encode } from "./fake-acceptor.js";
import { FIELDS_FMT } from "./runner.js";

const S = (s: string) => s.replaceAll("|", SOH);
const patterns = loadFieldPatterns(FIELDS_FMT);

const EXPECTED_LOGON = S("8=FIX.4.2|9=63|35=A|34=1|49=ISLD|52=00000000-00:00:00.000|56=TW42|98=0|108=30|10=0|");
const logon = (body = "35=A|34=1|49=ISLD|52=20240229-23:59:58.765|56=TW42|98=0|108=30|") => encode("FIX.4.2", S(body));

test("fields.fmt gives patterns for 10, 42, 52, 60 and 122", () => {
  assert.deepEqual([...patterns.keys()].sort(), ["10", "122", "42", "52", "60"]);
});

test("a received Logon matches the E line: timestamps and CheckSum by pattern, BodyLength literally", () => {
  assert.equal(compareMessages(EXPECTED_LOGON, logon(), patterns), undefined);
});

test("BodyLength is compared literally: a 20-character SendingTime makes 9=62 and fails", () => {
  const got = logon("35=A|34=1|49=ISLD|52=20240229-23:59:58.76|56=TW42|98=0|108=30|");
  const m = compareMessages(EXPECTED_LOGON, got, patterns);
  assert.equal(m?.field, 1);
  assert.equal(m?.reason, 'tag 9: expected "9=63", received "9=62"');
});

test("a BodyLength difference also names the next difference, usually its cause", () => {
  const got = logon("35=A|34=1|49=ISLD|52=20240229-23:59:58.765|56=TW42|98=0|108=300|");
  const m = compareMessages(EXPECTED_LOGON, got, patterns);
  assert.equal(m?.field, 1);
  assert.equal(
    m?.reason,
    'tag 9: expected "9=63", received "9=64" (then tag 108: expected "108=30", received "108=300")',
  );
});

test("52 matches with or without milliseconds; 122, 60 and 42 match by search (milliseconds too)", () => {
  const exp = S("8=FIX.4.2|52=x|122=x|60=x|42=x|10=0|");
  for (const ts of ["20240229-23:59:58", "20240229-23:59:58.765"]) {
    assert.equal(
      compareMessages(exp, S(`8=FIX.4.2|52=${ts}|122=${ts}|60=${ts}|42=${ts}|10=123|`), patterns),
      undefined,
    );
  }
  const bad = compareMessages(exp, S("8=FIX.4.2|52=2024-02-29|122=x|60=x|42=x|10=123|"), patterns);
  assert.equal(bad?.field, 1);
  assert.match(bad?.reason ?? "", /tag 52: received "52=2024-02-29" does not match/);
});

test("10 only has to hold three digits; the expected value (10=0, 10=7) is never compared", () => {
  assert.equal(compareMessages(S("8=FIX.4.2|10=7|"), S("8=FIX.4.2|10=201|"), patterns), undefined);
  assert.match(compareMessages(S("8=FIX.4.2|10=0|"), S("8=FIX.4.2|10=21|"), patterns)?.reason ?? "", /tag 10/);
});

test("any other value must be equal to the byte", () => {
  const m = compareMessages(S("8=FIX.4.2|58=Invalid MsgType|"), S("8=FIX.4.2|58=Invalid msgtype|"), patterns);
  assert.deepEqual(m, { field: 1, reason: 'tag 58: expected "58=Invalid MsgType", received "58=Invalid msgtype"' });
  assert.ok(compareMessages(S("8=FIX.4.2|56=|"), S("8=FIX.4.2|56|"), patterns), "empty value differs from no '='");
});

test("a different field count fails, naming the counts and the first extra field", () => {
  const m = compareMessages(S("8=FIX.4.2|35=5|10=0|"), S("8=FIX.4.2|35=5|58=bye|10=000|"), patterns);
  assert.equal(m?.field, 2);
  assert.match(m?.reason ?? "", /^expected 3 fields, received 4; first difference at field 3: expected tag 10/);
});

test("a different field order fails at the first position whose tag differs", () => {
  const m = compareMessages(S("8=FIX.4.2|45=2|58=x|372=0|"), S("8=FIX.4.2|45=2|372=0|58=x|"), patterns);
  assert.deepEqual(m, { field: 2, reason: "expected tag 58, received tag 372" });
});

test("verifyFraming accepts a correctly framed message", () => {
  assert.equal(verifyFraming(logon()), undefined);
});

test("verifyFraming reports a wrong CheckSum and a wrong BodyLength", () => {
  const good = logon();
  const badSum = `${good.slice(0, -4)}${good.slice(-4, -1) === "000" ? "001" : "000"}${SOH}`;
  assert.match(verifyFraming(badSum)?.reason ?? "", /CheckSum is \d{3} but the bytes sum to \d{3}/);
  const badLength = good.replace("9=63", "9=64");
  assert.match(verifyFraming(badLength)?.reason ?? "", /BodyLength is 64 but the body has 63 bytes/);
  assert.match(verifyFraming(S("8=FIX.4.2|35=0|10=000|"))?.reason ?? "", /no BodyLength/);
  assert.match(verifyFraming(S("8=FIX.4.2|9=5|35=0|"))?.reason ?? "", /CheckSum\(10\)/);
});

test("the diff shows SOH as | and points at the first differing field of each message", () => {
  const lines = formatDiff(S("8=FIX.4.2|9=63|35=A|"), S("8=FIX.4.2|9=651|35=A|"), 1, "");
  assert.deepEqual(lines, [
    "expected: 8=FIX.4.2|9=63|35=A|",
    "                    ^",
    "received: 8=FIX.4.2|9=651|35=A|",
    "                    ^",
  ]);
  assert.deepEqual(formatDiff("8=FIX.4.2|9=63|35=A|", "8=FIX.4.2|9=63|35=0|", 2, ""), [
    "expected: 8=FIX.4.2|9=63|35=A|",
    "                         ^",
    "received: 8=FIX.4.2|9=63|35=0|",
    "                         ^",
  ]);
  assert.equal(showSoh(S("a|b|")), "a|b|");
});

test("parseFieldPatterns reads tag=regex lines, CRLF or LF", () => {
  const p = parseFieldPatterns("10=\\d{3}\r\n52=a|b\n\n");
  assert.deepEqual([...p.keys()], ["10", "52"]);
  assert.ok(p.get("52")?.test("xbx"));
  assert.throws(() => parseFieldPatterns("no pattern here\n"));
});
