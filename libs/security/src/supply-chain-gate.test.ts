/**
 * The supply-chain gate of .ci/run (`.ci/audit.mjs`), fed `pnpm audit --json` reports: the registry this project is
 * built against refuses the advisory endpoints, so the gate's own rules are proven here on reports of that shape.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const GATE = fileURLToPath(new URL("../../../.ci/audit.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "fixmesh-audit-"));

function advisory(id: number, ghsa: string, severity: string, module: string) {
  return {
    id,
    github_advisory_id: ghsa,
    severity,
    module_name: module,
    title: `${module} does something bad`,
    url: `https://github.com/advisories/${ghsa}`,
    vulnerable_versions: "<2.0.0",
    patched_versions: ">=2.0.0",
    findings: [{ version: "1.0.0", paths: [`apps__connector>${module}`] }],
  };
}

function gate(report: unknown, exceptions: unknown[], env: Record<string, string> = {}) {
  const file = join(dir, `exceptions-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ exceptions }));
  const r = spawnSync(process.execPath, [GATE, file], {
    input: typeof report === "string" ? report : JSON.stringify(report),
    env: { ...process.env, FIXMESH_AUDIT_ALLOW_UNAVAILABLE: "0", ...env },
    encoding: "utf8",
  });
  return { code: r.status, out: r.stdout };
}

const report = (...advisories: ReturnType<typeof advisory>[]) => ({
  advisories: Object.fromEntries(advisories.map((a) => [String(a.id), a])),
  metadata: { vulnerabilities: { high: advisories.length } },
});

describe("the supply-chain gate (.ci/audit.mjs)", () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("fails on a high or critical advisory without an exception, naming it; moderate ones pass", () => {
    const high = gate(report(advisory(1, "GHSA-aaaa-bbbb-cccc", "high", "left-pad")), []);
    assert.equal(high.code, 1);
    assert.match(high.out, /AUDIT FAIL: high GHSA-aaaa-bbbb-cccc in left-pad <2\.0\.0: .* fixed in >=2\.0\.0/);
    assert.equal(gate(report(advisory(2, "GHSA-cccc-dddd-eeee", "critical", "x")), []).code, 1);
    assert.equal(gate(report(advisory(3, "GHSA-eeee-ffff-gggg", "moderate", "y")), []).code, 0);
  });

  it("passes an advisory accepted with a reason, for its package, until the exception expires", () => {
    const a = report(advisory(1, "GHSA-aaaa-bbbb-cccc", "high", "left-pad"));
    const reason = "only reached by the build, never at run time";
    const ok = gate(a, [{ id: "GHSA-aaaa-bbbb-cccc", package: "left-pad", reason, expires: "2999-01-01" }]);
    assert.equal(ok.code, 0);
    assert.match(ok.out, /accepted high GHSA-aaaa-bbbb-cccc in left-pad: only reached by the build/);
    assert.equal(gate(a, [{ id: "GHSA-aaaa-bbbb-cccc", package: "other", reason }]).code, 1, "another package");
    assert.equal(gate(a, [{ id: "GHSA-aaaa-bbbb-cccc", reason: "ok" }]).code, 1, "a reason too short");
    const expired = gate(a, [{ id: "GHSA-aaaa-bbbb-cccc", reason, expires: "2020-01-01" }]);
    assert.equal(expired.code, 1);
    assert.match(expired.out, /expired on 2020-01-01/);
  });

  it("an audit that could not run fails, unless allowed, which is a warning and not a pass (exit 3)", () => {
    const refused = { error: { code: "ERR_PNPM_AUDIT_BAD_RESPONSE", message: "responded with 405" } };
    assert.equal(gate(refused, []).code, 1);
    assert.equal(gate("", []).code, 1, "no output at all");
    const allowed = gate(refused, [], { FIXMESH_AUDIT_ALLOW_UNAVAILABLE: "1" });
    assert.equal(allowed.code, 3);
    assert.match(allowed.out, /WARNING: pnpm audit could not run: ERR_PNPM_AUDIT_BAD_RESPONSE responded with 405/);
  });
});
