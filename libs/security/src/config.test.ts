import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { z } from "zod";
import { grpcSecurityFields, resolveGrpcSecurity, toSecurityOptions } from "./config.js";
import { TestPki } from "./testing/pki.js";

const schema = z.strictObject({ host: z.string().default("127.0.0.1"), ...grpcSecurityFields });

function resolve(raw: unknown, baseDir: string) {
  const issues: string[] = [];
  const parsed = schema.parse(raw);
  const cfg = resolveGrpcSecurity(parsed, {
    host: parsed.host,
    baseDir,
    at: ["grpc"],
    issue: (p, m) => issues.push(`${p.join(".")}: ${m}`),
  });
  return { cfg, issues };
}

describe("the grpc security section", () => {
  let pki: TestPki;
  before(() => {
    pki = new TestPki();
    pki.folder(join(pki.dir, "srv"), { dns: ["x.test"] });
    writeFileSync(join(pki.dir, "policy.yaml"), "version: 1\nprincipals: []\n");
  });
  after(() => pki.remove());

  it("plaintext must be said: on loopback, neither tls nor plaintext: true is refused naming grpc.plaintext", () => {
    const { issues } = resolve({}, pki.dir);
    assert.deepEqual(issues, [
      "grpc.plaintext: give tls, or plaintext: true to serve gRPC without TLS on 127.0.0.1 (allowed on a loopback address only)",
    ]);
    const said = resolve({ plaintext: true }, pki.dir);
    assert.deepEqual(said.issues, []);
    assert.deepEqual(said.cfg, { plaintext: true });
    assert.equal(toSecurityOptions(said.cfg, { service: "s", host: "127.0.0.1" }).plaintext, true);
    // Resolved without the key (a caller that skipped the check): not plaintext, so the server refuses to start.
    assert.equal(toSecurityOptions({}, { service: "s", host: "127.0.0.1" }).plaintext, false);
  });

  it("refuses plaintext on a network address even when said, naming grpc.tls", () => {
    const { issues } = resolve({ host: "0.0.0.0", plaintext: true }, pki.dir);
    assert.equal(issues.length, 1);
    assert.match(issues[0], /^grpc\.tls: is required: gRPC binds 0\.0\.0\.0/);
  });

  it("refuses plaintext on a network address, naming grpc.tls", () => {
    const { issues } = resolve({ host: "0.0.0.0" }, pki.dir);
    assert.equal(issues.length, 1);
    assert.match(issues[0], /^grpc\.tls: is required: gRPC binds 0\.0\.0\.0/);
  });

  it("needs a policy with tls, resolves relative paths against the file's directory, and checks the files", () => {
    const tls = { certFile: "srv/tls.crt", keyFile: "srv/tls.key", caFile: "srv/ca.crt" };
    const noPolicy = resolve({ host: "0.0.0.0", tls }, pki.dir);
    assert.deepEqual(noPolicy.issues, [
      "grpc.auth.policyFile: is required when gRPC serves TLS: the policy says which principal may do what",
    ]);
    const ok = resolve({ host: "0.0.0.0", tls, auth: { policyFile: "policy.yaml" } }, pki.dir);
    assert.deepEqual(ok.issues, []);
    assert.equal(ok.cfg.tls?.certFile, join(pki.dir, "srv/tls.crt"));
    assert.equal(ok.cfg.tls?.clientCert, "require");
    const swapped = resolve(
      { host: "0.0.0.0", tls: { ...tls, keyFile: "missing.key" }, auth: { policyFile: "policy.yaml" } },
      pki.dir,
    );
    assert.equal(swapped.issues.length, 1);
    assert.match(swapped.issues[0], /^grpc\.tls\.keyFile: .*missing\.key does not exist/);
  });

  it("refuses plaintext: true together with tls, and jwt without a policy", () => {
    const tls = { certFile: "srv/tls.crt", keyFile: "srv/tls.key", caFile: "srv/ca.crt" };
    const both = resolve({ plaintext: true, tls, auth: { policyFile: "policy.yaml" } }, pki.dir);
    assert.deepEqual(both.issues, ["grpc.plaintext: cannot be true together with tls"]);
    const jwt = resolve({ plaintext: true, auth: { jwt: { jwksFile: "jwks.json" } } }, pki.dir);
    assert.deepEqual(jwt.issues, ["grpc.auth.policyFile: is required with auth.jwt"]);
  });
});
