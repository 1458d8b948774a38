import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type FakeAcceptor, sessionLike, startFakeAcceptor } from "./fake-acceptor.js";
import { parseKnownGaps } from "./known-gaps.js";

const MAIN = fileURLToPath(new URL("./main.js", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "fixmesh-cli-"));

const LOGON = "I8=FIX.4.2|35=A|34=1|49=TW42|52=<TIME>|56=ISLD|98=0|108=30|";
const ANSWER = "E8=FIX.4.2|9=63|35=A|34=1|49=ISLD|52=00000000-00:00:00.000|56=TW42|98=0|108=30|10=0|";

function script(folder: string, name: string, lines: string[]): void {
  mkdirSync(join(root, folder), { recursive: true });
  writeFileSync(join(root, folder, `${name}.def`), Buffer.from(lines.join("\n").replaceAll("|", "\x01"), "latin1"));
}

/** Runs the CLI without blocking this process's event loop (the fake acceptor lives here). */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

let acceptor: FakeAcceptor;
before(async () => {
  acceptor = await startFakeAcceptor(sessionLike);
  script("fixA", "1_Good", ["iCONNECT", LOGON, ANSWER]);
  script("fixA", "2_Bad", ["iCONNECT", LOGON, ANSWER.replace("108=30", "108=99")]);
  script("fixB", "3_Gap", ["iCONNECT", LOGON, ANSWER.replace("98=0", "98=1")]);
  script("fixC", "4_Listed", ["iCONNECT", LOGON, ANSWER]);
  writeFileSync(
    join(root, "KNOWN_GAPS.md"),
    "# Known gaps\n\n| script | why |\n| --- | --- |\n| `fixB/3_Gap` | on purpose |\n| `fixC/4_Listed` | fixed since |\n",
  );
});
after(() => acceptor.close());

const base = () => [
  "--definitions",
  root,
  "--port",
  String(acceptor.port),
  "--known-gaps",
  join(root, "KNOWN_GAPS.md"),
];

test("the CLI prints a line per script, a summary per version and `N passed, M failed`; exit 1 on failures", async () => {
  const r = await cli([...base(), "--versions", "fixA,fixB", "--timeout", "1000"]);
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  assert.match(lines.find((l) => l.includes("1_Good")) ?? "", /^PASS fixA\/1_Good \(\d+ ms\)$/);
  assert.match(lines.find((l) => l.includes("2_Bad")) ?? "", /^FAIL fixA\/2_Bad line 3: tag 108: expected "108=99"/);
  assert.match(lines.find((l) => l.includes("3_Gap")) ?? "", /^FAIL \(known gap\) fixB\/3_Gap line 3: /);
  assert.ok(lines.some((l) => l.startsWith("    expected: 8=FIX.4.2|9=63|35=A|")));
  assert.ok(lines.some((l) => l.startsWith("    received: 8=FIX.4.2|9=63|35=A|")));
  assert.ok(lines.includes("fixA: 1 passed, 1 failed"));
  assert.ok(lines.includes("fixB: 0 passed, 1 failed (1 known gap)"));
  assert.equal(lines.at(-1), "1 passed, 2 failed");
});

test("the CLI exits 0 when every script passes, and notes a listed gap that now passes", async () => {
  const r = await cli([...base(), "--versions", "fixA,fixC", "--filter", "_Good"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.stdout.trimEnd().split("\n").at(-1), "1 passed, 0 failed");
  const listed = await cli([...base(), "--versions", "fixC"]);
  assert.match(listed.stdout, /note: fixC\/4_Listed passes; remove it from KNOWN_GAPS\.md/);
});

test("--json prints one JSON document with the results", async () => {
  const r = await cli([...base(), "--versions", "fixA", "--json"]);
  assert.equal(r.code, 1);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.passed, 1);
  assert.equal(doc.failed, 1);
  assert.deepEqual(
    doc.versions[0].results.map((x: { name: string; passed: boolean }) => [x.name, x.passed]),
    [
      ["fixA/1_Good", true],
      ["fixA/2_Bad", false],
    ],
  );
  assert.equal(doc.versions[0].results[1].failure.line, 3);
});

test("bad options exit 2 with the usage", async () => {
  for (const args of [["--timeout", "soon"], ["--versions", "fix99"], ["--nope"]]) {
    const r = await cli([...base(), ...args]);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, /usage:/);
  }
});

test("KNOWN_GAPS.md entries are the fixNN/Name cells of its tables", () => {
  const gaps = parseKnownGaps(
    [
      "Text mentioning fix42/NotInATable is ignored.",
      "| script | reason |",
      "| --- | --- |",
      "| `fix42/14a_BadField` | x |",
      "| fix50sp1/2o_SendingTimeValueOutOfRange.def | y |",
      "| reason first | `fix44/SessionReset` |",
    ].join("\n"),
  );
  assert.deepEqual([...gaps].sort(), [
    "fix42/14a_BadField",
    "fix44/SessionReset",
    "fix50sp1/2o_SendingTimeValueOutOfRange",
  ]);
});
