import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runDemo } from "./demo.js";

const dir = mkdtempSync(join(tmpdir(), "fixmesh-demo-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("fixmesh demo (the scripted demo)", () => {
  it("fills every order and recovers the gap it forces on the wire", async () => {
    const lines: string[] = [];
    const r = await runDemo({ dataDir: join(dir, "a"), orders: 3, chaos: "gap", print: (l) => lines.push(l) });
    assert.deepEqual(r, { orders: 3, fills: 3, recovered: true, duplicatesDropped: 0, converged: true });
    assert.ok(lines.some((l) => l.includes("gap detected")));
    assert.ok(lines.some((l) => l.includes("PossDupFlag=Y")));
  });

  it("continues the sequence numbers of the previous run (file stores)", async () => {
    const lines: string[] = [];
    const data = join(dir, "b");
    await runDemo({ dataDir: data, orders: 1, chaos: "none", print: () => undefined });
    await runDemo({ dataDir: data, orders: 1, chaos: "none", print: (l) => lines.push(l) });
    const logon = lines.find((l) => l.includes("LIVE: next outbound seq"));
    assert.ok(logon);
    const m = /next outbound seq (\d+)/.exec(logon);
    assert.ok(m && Number(m[1]) > 2, `outbound numbers restarted: ${logon}`);
  });

  it("runs from the command line and exits 0", () => {
    const main = fileURLToPath(new URL("../main.js", import.meta.url));
    const r = spawnSync(process.execPath, [main, "demo", "--orders", "2", "--data", join(dir, "c")], {
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /2 orders, \d+ fills, duplicates dropped 0, ours == venue's: yes, gap recovered/);
  });

  it("applies a repeated execution once, with and without PossDupFlag", async () => {
    const r = await runDemo({ dataDir: join(dir, "d"), orders: 2, chaos: "dup", print: () => undefined });
    assert.equal(r.converged, true);
    assert.ok(r.duplicatesDropped >= 2, `dropped ${r.duplicatesDropped}`);
  });

  it("recovers from a cut connection with nothing lost", async () => {
    const r = await runDemo({ dataDir: join(dir, "e"), orders: 3, chaos: "cut", print: () => undefined });
    assert.equal(r.fills, 3);
    assert.equal(r.converged, true);
  });

  it("refuses a bad option with a clear message", () => {
    const main = fileURLToPath(new URL("../main.js", import.meta.url));
    const r = spawnSync(process.execPath, [main, "demo", "--orders", "zero"], { encoding: "utf8", timeout: 10_000 });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--orders: must be a whole number/);
  });
});
