import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { DefSyntaxError, parseDef, StepKind } from "./def.js";
import { ALL_VERSIONS, SERVER_DIR } from "./runner.js";

const S = (s: string) => s.replaceAll("|", "\x01");

test("every vendored script (467 files in 8 folders) parses without a syntax error", () => {
  let files = 0;
  const kinds = new Map<string, number>();
  for (const version of ALL_VERSIONS) {
    for (const f of readdirSync(join(SERVER_DIR, version)).filter((n) => n.endsWith(".def"))) {
      const path = join(SERVER_DIR, version, f);
      const steps = parseDef(readFileSync(path), path);
      assert.ok(steps.length > 0, `${path} has steps`);
      for (const s of steps) kinds.set(s.kind, (kinds.get(s.kind) ?? 0) + 1);
      files++;
    }
  }
  assert.equal(files, 467);
  // Totals from the kit: 1,938 E lines, 2,245 I lines.
  assert.equal(kinds.get(StepKind.Expect), 1938 + 24);
  assert.equal(kinds.get(StepKind.Send), 2205 + 24 + 16);
});

test("a line without a number is for connection 1; I2, and e1, name the connection", () => {
  const steps = parseDef(S("iCONNECT\ni2,CONNECT\nI2,8=FIX.4.4|35=A|\nE8=FIX.4.4|\ne1,DISCONNECT\ni2,DISCONNECT"));
  assert.deepEqual(
    steps.map((s) => [s.kind, s.conn, s.text, s.line]),
    [
      [StepKind.Connect, 1, undefined, 1],
      [StepKind.Connect, 2, undefined, 2],
      [StepKind.Send, 2, S("8=FIX.4.4|35=A|"), 3],
      [StepKind.Expect, 1, S("8=FIX.4.4|"), 4],
      [StepKind.ExpectDisconnect, 1, undefined, 5],
      [StepKind.Disconnect, 2, undefined, 6],
    ],
  );
});

test("comments and empty lines are skipped and line numbers count them", () => {
  const steps = parseDef("# comment\n\niCONNECT\n# another\neDISCONNECT\n");
  assert.deepEqual(
    steps.map((s) => [s.kind, s.line]),
    [
      [StepKind.Connect, 3],
      [StepKind.ExpectDisconnect, 5],
    ],
  );
});

test("one trailing CR is dropped (CRLF files), the last line may lack its LF", () => {
  const steps = parseDef(S("iCONNECT\r\nI8=FIX.4.4|35=0|\r\neDISCONNECT"));
  assert.deepEqual(
    steps.map((s) => [s.kind, s.text]),
    [
      [StepKind.Connect, undefined],
      [StepKind.Send, S("8=FIX.4.4|35=0|")],
      [StepKind.ExpectDisconnect, undefined],
    ],
  );
});

test("a message beginning with a digit is not taken for a connection number", () => {
  const [step] = parseDef(S("I8=FIX.4.2|35=0|"));
  assert.equal(step.conn, 1);
  assert.equal(step.text, S("8=FIX.4.2|35=0|"));
});

test("a message whose text does not start with 8= is kept as written (2t)", () => {
  const [step] = parseDef(S("I35=0|8=FIX.4.2|9=29|"));
  assert.equal(step.text, S("35=0|8=FIX.4.2|9=29|"));
});

for (const [line, reason] of [
  ["X8=FIX.4.2|", /unknown command/],
  ["iCONNECTED", /"i" takes CONNECT or DISCONNECT/],
  ["eCONNECT", /eCONNECT/],
  ["eFOO", /"e" takes DISCONNECT/],
  ["1iCONNECT", /unknown command/],
  [" iCONNECT", /unknown command/],
] as const) {
  test(`${JSON.stringify(line)} is a syntax error with its line number`, () => {
    assert.throws(
      () => parseDef(`# header\niCONNECT\n${line}\n`, "x.def"),
      (e: unknown) =>
        e instanceof DefSyntaxError && e.line === 3 && reason.test(e.reason) && /x\.def:3/.test(e.message),
    );
  });
}
