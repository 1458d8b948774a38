import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  byteSum,
  completeMessage,
  expandPlaceholders,
  formatUtcSeconds,
  PlaceholderFileError,
  SOH,
} from "./complete.js";
import { parseDef, StepKind } from "./def.js";
import { ALL_VERSIONS, SERVER_DIR } from "./runner.js";

const S = (s: string) => s.replaceAll("|", SOH);
const NOW = Date.UTC(2024, 1, 29, 23, 59, 58, 765); // 2024-02-29 23:59:58.765

/** BodyLength and CheckSum computed a second way: on a Buffer, by locating the fields. */
function independent(message: string): { length: number; sum: string } {
  const buf = Buffer.from(message, "latin1");
  const afterLength = buf.indexOf("\x01", buf.indexOf("\x019=") + 1) + 1;
  const trailer = buf.lastIndexOf("\x0110=") + 1;
  let sum = 0;
  for (const b of buf.subarray(0, trailer)) sum += b;
  return { length: trailer - afterLength, sum: (sum & 0xff).toString().padStart(3, "0") };
}

function field(message: string, tag: string): string | undefined {
  return message
    .split(SOH)
    .find((f) => f.startsWith(`${tag}=`))
    ?.slice(tag.length + 1);
}

test("<TIME> is UTC, seconds only, 17 characters", () => {
  assert.equal(formatUtcSeconds(NOW), "20240229-23:59:58");
  assert.equal(expandPlaceholders("52=<TIME>|60=<TIME>|", { now: NOW }), "52=20240229-23:59:58|60=20240229-23:59:58|");
});

test("<TIME+N> and <TIME-N> shift by N seconds, across a day boundary", () => {
  assert.equal(expandPlaceholders("<TIME+121>", { now: NOW }), "20240301-00:01:59");
  assert.equal(expandPlaceholders("<TIME-121>", { now: NOW }), "20240229-23:57:57");
  assert.equal(expandPlaceholders("<TIME-1>", { now: NOW }), "20240229-23:59:57");
});

test("placeholders take the time the step runs, not a time fixed when the script was loaded", () => {
  const [step] = parseDef(S("I8=FIX.4.2|52=<TIME>|"));
  const a = expandPlaceholders(step.text ?? "", { now: NOW });
  const b = expandPlaceholders(step.text ?? "", { now: NOW + 5000 });
  assert.notEqual(a, b);
});

test("<FILE:path> becomes the file's trimmed contents, relative to the script folder", () => {
  const dir = mkdtempSync(join(tmpdir(), "fixmesh-def-"));
  writeFileSync(join(dir, "text.txt"), "  hello\n");
  assert.equal(expandPlaceholders("58=<FILE:text.txt>|", { now: NOW, baseDir: dir }), "58=hello|");
  assert.throws(() => expandPlaceholders("<FILE:missing.txt>", { now: NOW, baseDir: dir }), PlaceholderFileError);
});

test("unknown angle-bracket text is left alone", () => {
  assert.equal(expandPlaceholders("58=<NOT_A_PLACEHOLDER>|", { now: NOW }), "58=<NOT_A_PLACEHOLDER>|");
});

test("a Logon without 9 and 10 gets the correct BodyLength after 8 and the CheckSum appended", () => {
  const text = expandPlaceholders(S("8=FIX.4.2|35=A|34=1|49=TW42|52=<TIME>|56=ISLD|98=0|108=30|"), { now: NOW });
  const done = completeMessage(text);
  const { length, sum } = independent(done);
  // 35=A| 34=1| 49=TW42| 52=20240229-23:59:58| 56=ISLD| 98=0| 108=30| = 5+5+8+21+8+5+7
  assert.equal(length, 59);
  assert.equal(done, S(`8=FIX.4.2|9=59|${text.slice(text.indexOf(SOH) + 1)}10=${sum}|`));
  assert.equal(field(done, "10"), String(byteSum(done.slice(0, done.lastIndexOf("10=")))).padStart(3, "0"));
});

test("an E line without 9= (3c) gets the BodyLength the same line carries explicitly in 2d", () => {
  const line3c = S("8=FIX.4.2|35=A|34=1|49=ISLD|52=00000000-00:00:00.000|56=TW42|98=0|108=30|");
  assert.equal(field(completeMessage(line3c), "9"), "63");
  const order3b = S(
    "8=FIX.4.2|35=D|34=3|49=ISLD|52=00000000-00:00:00.000|56=TW42|11=ID|21=3|40=1|54=1|55=INTC|60=00000000-00:00:00|",
  );
  assert.equal(field(completeMessage(order3b), "9"), "101"); // 2m writes 9=101 for the same echo
});

test("2d/3c: an explicit wrong 9= and 10=0 are kept as written", () => {
  const garbled = S("8=FIX.4.2|9=52|35=0|34=2|4garbled9=TW|52=20240229-23:59:58|56=ISLD|10=0|");
  assert.equal(completeMessage(garbled), garbled);
  const garbled2 = S("8=FIX.4.2|9=81|35=D|34=3|49garbled=TW|52=x|56=ISLD|11=ID|21=3|40=1|54=1|55=INTC|10=0|");
  assert.equal(completeMessage(garbled2), garbled2);
});

test("2m: an explicit BodyLength (too short or too long) is kept and a correct CheckSum appended", () => {
  for (const declared of ["30", "111"]) {
    const text = S(`8=FIX.4.2|9=${declared}|35=D|34=2|49=TW42|52=20240229-23:59:58|56=ISLD|11=ID|21=3|40=1|54=1|`);
    const done = completeMessage(text);
    assert.equal(field(done, "9"), declared);
    assert.ok(done.startsWith(text));
    assert.equal(field(done, "10"), independent(done).sum);
  }
});

test("3b: an explicit 10=256 is kept and the BodyLength inserted is the correct one (not one short)", () => {
  const text = S("8=FIX.4.2|35=0|34=2|49=TW42|52=20240229-23:59:58|56=ISLD|10=256|");
  const done = completeMessage(text);
  // 35=0| 34=2| 49=TW42| 52=20240229-23:59:58| 56=ISLD| = 5+5+8+21+8 (the reference runner would write 46)
  assert.equal(done, S("8=FIX.4.2|9=47|35=0|34=2|49=TW42|52=20240229-23:59:58|56=ISLD|10=256|"));
  assert.equal(independent(done).length, 47);
});

test("1d: an explicit BodyLength 40 on a Logon is kept", () => {
  const text = S("8=FIX.4.2|9=40|35=A|34=1|49=TW42|52=20240229-23:59:58|56=ISLD|98=0|108=30|");
  assert.equal(field(completeMessage(text), "9"), "40");
});

test("2t: text not starting with 8= is used verbatim, even without 10=", () => {
  const text = S("35=0|8=FIX.4.2|9=29|34=2|49=TW42|52=20240229-23:59:58|56=ISLD|10=121|");
  assert.equal(completeMessage(text), text);
  assert.equal(completeMessage("hello"), "hello");
});

test("a CheckSum is the byte sum modulo 256 as three digits, zero-padded", () => {
  const printable = (n: number) => String.fromCharCode(0x21 + (n % 94));
  let padded = 0;
  for (let a = 0; a < 94; a++) {
    for (let b = 0; b < 94; b += 3) {
      const done = completeMessage(S(`8=FIX.4.2|35=0|58=${printable(a)}${printable(b)}${printable(a + b)}|`));
      const sum = field(done, "10") ?? "";
      assert.equal(sum, independent(done).sum);
      if (sum.startsWith("00")) padded++;
    }
  }
  assert.ok(padded > 0, "sums below 10 were exercised");
});

test("every explicit BodyLength of the kit's E lines equals the one computed without it", () => {
  // The E lines hold placeholder timestamps of any width; the acceptor's real ones are what the explicit
  // BodyLengths count: SendingTime/OrigSendingTime with milliseconds from FIX 4.2 on, whole seconds for 4.0/4.1,
  // TransactTime/OrigTime echoed as the script sent them (seconds).
  let checked = 0;
  for (const version of ALL_VERSIONS) {
    const sendingTime = version === "fix40" || version === "fix41" ? "20240229-23:59:58" : "20240229-23:59:58.765";
    for (const f of readdirSync(join(SERVER_DIR, version)).filter((n) => n.endsWith(".def"))) {
      for (const step of parseDef(readFileSync(join(SERVER_DIR, version, f)))) {
        if (step.kind !== StepKind.Expect || step.text === undefined) continue;
        const text = expandPlaceholders(step.text, { now: NOW });
        const explicit = field(text, "9");
        if (explicit === undefined) continue;
        const asSent = text
          .split(SOH)
          .filter((x) => !x.startsWith("9=") && !x.startsWith("10="))
          .map((x) => x.replace(/^(52|122)=.*/, `$1=${sendingTime}`).replace(/^(60|42)=.*/, "$1=20240229-23:59:58"))
          .join(SOH);
        assert.equal(field(completeMessage(asSent), "9"), explicit, `${version}/${f}:${step.line}`);
        checked++;
      }
    }
  }
  assert.ok(checked > 1900, `checked ${checked}`);
});
