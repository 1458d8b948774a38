import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { SecurityConfigError } from "../errors.js";
import { ANY, grant } from "../grants.js";
import { Policy } from "./policy.js";
import { PolicyStore } from "./store.js";

const DOC = `
version: 1
roles:
  ops: { admin: [{ actions: [Logout, Logon], resources: ["*"] }], read: ["*"] }
principals:
  - match: spiffe://fixmesh.test/ns/trading/*
    trade: [{ sessions: ["FIX.4.4:A->*"], accounts: ["ACC*"] }]
  - match: cn:ops
    roles: [ops]
    audit: true
`;

describe("Policy", () => {
  it("matches principals and resources with * globs", () => {
    const p = Policy.parse(DOC);
    const desk = "spiffe://fixmesh.test/ns/trading/sa/desk";
    assert.equal(p.allows(desk, grant.trade("FIX.4.4:A->V", "ACC1")), true);
    assert.equal(p.allows(desk, grant.trade("FIX.4.4:B->V", "ACC1")), false);
    assert.equal(p.allows(desk, grant.trade("FIX.4.4:A->V", "OTHER")), false);
    assert.equal(p.allows("spiffe://fixmesh.test/ns/risk/sa/x", grant.trade("FIX.4.4:A->V", "ACC1")), false);
  });

  it("covers ANY (every account, every session) only with a pattern that is exactly *", () => {
    const p = Policy.parse(DOC);
    const desk = "spiffe://fixmesh.test/ns/trading/sa/desk";
    assert.equal(p.allows(desk, grant.trade("FIX.4.4:A->V", ANY)), false, "ACC* is not every account");
    assert.equal(p.allows("cn:ops", grant.read(ANY)), true);
  });

  it("grants through roles, and admin actions only as listed", () => {
    const p = Policy.parse(DOC);
    assert.equal(p.allows("cn:ops", grant.admin("Logout", "FIX.4.4:A->V")), true);
    assert.equal(p.allows("cn:ops", grant.admin("ResetSequence", "FIX.4.4:A->V")), false);
    assert.equal(p.allows("cn:ops", grant.audit()), true);
    assert.equal(p.allows("cn:nobody", grant.read("FIX.4.4:A->V")), false);
  });

  it("refuses a document with an unknown role, an unknown action or an unknown key, naming the path", () => {
    const bad = (text: string, re: RegExp) =>
      assert.throws(
        () => Policy.parse(text, "policy.yaml"),
        (e: unknown) => e instanceof SecurityConfigError && re.test(e.message),
      );
    bad("version: 1\nprincipals: [{ match: a, roles: [nope] }]\n", /principals\.0\.roles\.0: no role "nope"/);
    bad(
      "version: 1\nprincipals: [{ match: a, admin: [{ actions: [Reboot], resources: ['*'] }] }]\n",
      /principals\.0\.admin\.0\.actions\.0: must be one of ResetSequence/,
    );
    bad("version: 1\nprincipals: [{ match: a, tarde: [] }]\n", /principals\.0.*tarde/);
    bad("version: 2\nprincipals: []\n", /version: must be 1/);
    bad("version: 1\nprincipals: [\n", /not valid YAML/);
  });
});

describe("PolicyStore", () => {
  it("applies an edited policy on reload and keeps the old one when the edit is invalid", () => {
    const dir = mkdtempSync(join(tmpdir(), "fixmesh-policy-"));
    const path = join(dir, "policy.yaml");
    const events: string[] = [];
    writeFileSync(path, "version: 1\nprincipals: [{ match: cn:a, read: [S1] }]\n");
    const store = new PolicyStore({ path, reloadMs: 60_000, onReload: (e) => events.push(e.ok ? "ok" : e.reason) });
    try {
      assert.equal(store.current.allows("cn:a", grant.read("S2")), false);
      writeFileSync(path, "version: 1\nprincipals: [{ match: cn:a, read: [S1, S2] }]\n");
      assert.equal(store.reload(), true);
      assert.equal(store.current.allows("cn:a", grant.read("S2")), true);
      writeFileSync(path, "version: 1\nprincipals: [{ match: cn:a, read: S1 }]\n");
      assert.equal(store.reload(), false);
      assert.equal(store.current.allows("cn:a", grant.read("S2")), true, "the previous policy stays in force");
      assert.match(events.at(-1) ?? "", /principals\.0\.read: must be a list/);
      // The same bad file again is not reported twice.
      store.reload();
      assert.equal(events.length, 2);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses to start on a bad policy file", () => {
    const dir = mkdtempSync(join(tmpdir(), "fixmesh-policy-"));
    try {
      writeFileSync(join(dir, "p.yaml"), "version: 1\n");
      assert.throws(() => new PolicyStore({ path: join(dir, "p.yaml") }), /principals/);
      assert.throws(() => new PolicyStore({ path: join(dir, "missing.yaml") }), /ENOENT|no such file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
