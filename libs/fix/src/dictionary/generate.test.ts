import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "./fixtures.js";

const GENERATOR = join(REPO_ROOT, "libs/fix/scripts/generate-dictionaries.mjs");
const GEN_DIR = join(REPO_ROOT, "libs/fix/src/gen");

function generate(out: string): void {
  const r = spawnSync(process.execPath, [GENERATOR, "--out", out], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
}

test("regenerating the dictionaries gives the committed files byte for byte, twice over", () => {
  const a = mkdtempSync(join(tmpdir(), "fixmesh-gen-a-"));
  const b = mkdtempSync(join(tmpdir(), "fixmesh-gen-b-"));
  try {
    generate(a);
    generate(b);
    const files = readdirSync(a).sort();
    assert.deepEqual(files, [
      "fix40.ts",
      "fix41.ts",
      "fix42.ts",
      "fix43.ts",
      "fix44.ts",
      "fix50.ts",
      "fix50sp1.ts",
      "fix50sp2.ts",
      "fixt11.ts",
      "tags.ts",
    ]);
    for (const f of files) {
      const first = readFileSync(join(a, f));
      assert.ok(first.equals(readFileSync(join(b, f))), `${f} differs between two runs`);
      assert.ok(first.equals(readFileSync(join(GEN_DIR, f))), `${f} differs from src/gen (run pnpm gen:dictionaries)`);
    }
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test("keeps every generated dictionary under 1 MiB", () => {
  for (const f of readdirSync(GEN_DIR)) {
    const size = readFileSync(join(GEN_DIR, f)).length;
    assert.ok(size < 1024 * 1024, `${f}: ${size} bytes`);
  }
});
