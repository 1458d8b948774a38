/**
 * The connector as a process whose gRPC server asks for a client certificate but also takes bearer JWTs
 * (`clientCert: optional` + `auth.jwt.jwksFile`): a caller without a certificate is identified by a token signed
 * with a key of the JWKS, and refused with a forged or expired one. Tokens are signed here with node:crypto.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createGrpcClient, type GrpcClientOf, RpcError, SessionService } from "@fixmesh/contracts";
import { clientTls } from "@fixmesh/security";
import { TestPki } from "@fixmesh/security/testing";
import * as grpc from "@grpc/grpc-js";
import { ServiceProcess, tempFiles } from "./trace-harness.js";

const T = { timeout: 60_000 };
const SESSION = "FIX.4.4:CLIENT->VENUE";
const SERVER_NAME = "connector.fixmesh.test";

const b64 = (v: object | Buffer) => (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v))).toString("base64url");

/** An ES256 JWT (signature in the JOSE r||s form). */
function jwt(key: KeyObject, claims: Record<string, unknown>): string {
  const head = `${b64({ alg: "ES256", kid: "k1", typ: "JWT" })}.${b64(claims)}`;
  return `${head}.${b64(sign("sha256", Buffer.from(head), { key, dsaEncoding: "ieee-p1363" }))}`;
}

describe("connector gRPC with bearer JWTs from a JWKS file (a real process)", () => {
  const files = tempFiles();
  let connector: ServiceProcess;
  let rpc: GrpcClientOf<typeof SessionService>;
  let close: () => void;
  const good = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const forged = generateKeyPairSync("ec", { namedCurve: "P-256" });

  before(async () => {
    const pki = new TestPki(join(files.dir, "pki"));
    const tlsDir = join(files.dir, "tls");
    pki.folder(tlsDir, { dns: [SERVER_NAME] });
    const jwk = { ...good.publicKey.export({ format: "jwk" }), kid: "k1", alg: "ES256", use: "sig" };
    const jwks = files.write("jwks.json", JSON.stringify({ keys: [jwk] }));
    const policy = files.write(
      "policy.yaml",
      `version: 1\nprincipals:\n  - match: jwt:ops-bot\n    read: ["${SESSION}"]\n`,
    );
    const config = files.write(
      "connector.yaml",
      `store: { kind: memory }
sessions:
  - { BeginString: FIX.4.4, SenderCompID: CLIENT, TargetCompID: VENUE, ConnectionType: initiator, ReconnectInterval: 30, initiator: { hosts: [{ host: 127.0.0.1, port: 9 }] } }
grpc:
  host: 127.0.0.1
  port: 0
  tls: { certFile: ${tlsDir}/tls.crt, keyFile: ${tlsDir}/tls.key, caFile: ${tlsDir}/ca.crt, clientCert: optional }
  auth:
    policyFile: ${policy}
    jwt: { jwksFile: ${jwks}, issuer: "https://idp.fixmesh.test", audience: fixmesh-connector }
metrics: { host: 127.0.0.1, port: 0 }
log: { level: warn }
`,
    );
    connector = ServiceProcess.start("connector", ["connector", "--config", config], {});
    const { grpc: port } = await connector.line<{ grpc: number }>("listening");
    // Server-authenticated TLS only: this client has no certificate of its own.
    const t = clientTls({ caFile: pki.caFile, serverName: SERVER_NAME });
    const conn = new grpc.Client(`127.0.0.1:${port}`, t.credentials, t.options);
    rpc = createGrpcClient(SessionService, conn);
    close = () => {
      conn.close();
      t.files.close();
    };
  });

  after(async () => {
    close?.();
    await connector?.stop();
    files.remove();
  });

  const sent: string[] = [];
  const call = (token: string | null) => {
    if (token !== null) sent.push(token);
    const metadata = new grpc.Metadata();
    if (token !== null) metadata.set("authorization", `Bearer ${token}`);
    return rpc.getSession({ sessionId: SESSION }, { metadata, deadline: Date.now() + 5000 });
  };
  const claims = (o: Record<string, unknown> = {}) => ({
    sub: "ops-bot",
    iss: "https://idp.fixmesh.test",
    aud: "fixmesh-connector",
    iat: Math.floor(Date.now() / 1000),
    exp: Math.floor(Date.now() / 1000) + 300,
    ...o,
  });
  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => assert.fail("the call succeeded"),
      (e: unknown) => RpcError.from(e),
    );

  it("accepts a token signed by a key of the JWKS", T, async () => {
    const r = await call(jwt(good.privateKey, claims()));
    assert.equal(r.session?.id, SESSION);
  });

  it("refuses a forged token, an expired one, one for another audience, and no token at all", T, async () => {
    for (const [what, token] of [
      ["forged", jwt(forged.privateKey, claims())],
      ["expired", jwt(good.privateKey, claims({ exp: Math.floor(Date.now() / 1000) - 600 }))],
      ["other audience", jwt(good.privateKey, claims({ aud: "someone-else" }))],
      ["none", null],
    ] as const) {
      const err = await refusal(call(token));
      assert.equal(err.code, grpc.status.UNAUTHENTICATED, `${what}: ${err.message}`);
      assert.equal(err.reason, "UNAUTHENTICATED", what);
    }
    // No token sent (nor its signature) appears in what the connector wrote.
    const all = connector.stdout.join("\n") + connector.stderr;
    assert.ok(sent.length >= 4);
    for (const t of sent) assert.ok(!all.includes(t.split(".")[2]), "a token's signature is in the connector's output");
  });
});
