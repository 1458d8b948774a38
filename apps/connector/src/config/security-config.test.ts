/**
 * The FIX and infrastructure security keys of the connector's YAML: acceptor allow-lists and connection limits,
 * session Logon checks (hashes only, never a password), TLS pins, and NATS token/nkey/creds — each mistake named
 * by field and reason, no secret in any message.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { hashPassword, verifyPassword } from "@fixmesh/security";
import { ConnectorConfigError, parseConfig } from "./load.js";

const dir = mkdtempSync(join(tmpdir(), "fixmesh-secconfig-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const SESSION = "{ BeginString: FIX.4.4, SenderCompID: VENUE, TargetCompID: CLIENT, ConnectionType: acceptor";

/** The tests' files serve gRPC in plaintext on loopback, which a file must say (`grpc.plaintext`); added when absent. */
const plaintextGrpc = (text: string) => (/^grpc:/m.test(text) ? text : `${text}\ngrpc: { plaintext: true }\n`);

function parse(text: string, env: Record<string, string> = {}) {
  return parseConfig(plaintextGrpc(text), { env, cwd: dir, baseDir: dir } as Parameters<typeof parseConfig>[1]);
}

function problems(text: string, env: Record<string, string> = {}): string[] {
  try {
    parse(text, env);
  } catch (e) {
    assert.ok(e instanceof ConnectorConfigError, `expected ConnectorConfigError, got ${String(e)}`);
    return e.issues.map((i) => `${i.field}: ${i.reason}`);
  }
  assert.fail("the configuration was accepted");
}

describe("config: FIX acceptor security", () => {
  it("reads allowFrom, maxConnectionsPerAddress and a session's auth (hash from a file)", async () => {
    const hash = await hashPassword("pw-for-client", { ln: 10, r: 8, p: 1 });
    writeFileSync(join(dir, "client.hash"), `${hash}\n`);
    const c = parse(`
acceptors:
  - { host: 127.0.0.1, port: 0, allowFrom: [10.0.0.0/8, "::1"], maxConnectionsPerAddress: 3 }
sessions:
  - ${SESSION}, auth: { username: trader, passwordHashFile: client.hash, allowFrom: [10.1.0.0/16], certificateSubject: client-a } }
`);
    const a = c.acceptors[0];
    assert.equal(a.maxConnectionsPerAddress, 3);
    assert.equal(a.allowFrom?.allows("10.2.3.4"), true);
    assert.equal(a.allowFrom?.allows("::1"), true);
    assert.equal(a.allowFrom?.allows("192.168.0.1"), false);
    const auth = c.sessions[0].auth;
    assert.equal(auth?.username, "trader");
    assert.equal(auth?.certificateSubject, "client-a");
    assert.equal(auth?.allowFrom?.allows("10.2.3.4"), false);
    assert.ok(auth?.passwordHash);
    assert.equal(await verifyPassword("pw-for-client", auth.passwordHash), true);
  });

  it("refuses a literal password and a bad connection limit (shape), naming the field, echoing no secret", () => {
    const p = problems(`
acceptors:
  - { port: 0, maxConnectionsPerAddress: 0 }
sessions:
  - ${SESSION}, auth: { password: hunter2 } }
`).join("\n");
    assert.match(p, /acceptors\[0\]\.maxConnectionsPerAddress: must be a whole number of at least 1/);
    assert.match(p, /sessions\[0\]\.auth\.password: a password is not kept in the config: give passwordHash/);
    assert.equal(p.includes("hunter2"), false);
  });

  it("refuses a malformed hash (not echoed), bad CIDRs and auth on an initiator", () => {
    const p = problems(`
acceptors:
  - { port: 0, allowFrom: [10.1.2.3/8, nonsense] }
sessions:
  - ${SESSION}, auth: { passwordHash: not-a-hash-hunter3, allowFrom: ["2001:db8::/129"] } }
  - { BeginString: FIX.4.4, SenderCompID: A, TargetCompID: B, ConnectionType: initiator, initiator: { hosts: [{ host: h, port: 1 }] }, auth: { username: x } }
`).join("\n");
    assert.match(p, /acceptors\[0\]\.allowFrom\[0\]: has host bits set: did you mean 10\.0\.0\.0\/8\?/);
    assert.match(p, /acceptors\[0\]\.allowFrom\[1\]: is not an IPv4 or IPv6 address or CIDR/);
    assert.match(p, /sessions\[0\]\.auth\.passwordHash: is not a scrypt hash/);
    assert.match(p, /sessions\[0\]\.auth\.allowFrom\[0\]: has a prefix length out of 0\.\.128/);
    assert.match(p, /sessions\[1\]\.auth: is only for acceptor sessions/);
    assert.equal(p.includes("hunter3"), false);
  });
});

describe("config: infrastructure links", () => {
  it("takes TLS pins on an initiator and on Redis, and refuses a pin that is not a base64 SHA-256", () => {
    const pin = "zrIlpiYD6pxWft4ocvCTulWOtmBHacDrnh+G2y2QQZY=";
    const c = parse(`
store: { kind: redis, redis: { url: "rediss://127.0.0.1:6390", tls: { pinSha256: ["${pin}"] } } }
sessions:
  - { BeginString: FIX.4.4, SenderCompID: A, TargetCompID: B, ConnectionType: initiator, initiator: { hosts: [{ host: h, port: 1 }], tls: { pinSha256: ["${pin}"] } } }
`);
    assert.deepEqual(c.store.redis.tls?.pinSha256, [pin]);
    assert.deepEqual(c.sessions[0].initiator?.tls?.pinSha256, [pin]);
    const p = problems(`
sessions:
  - { BeginString: FIX.4.4, SenderCompID: A, TargetCompID: B, ConnectionType: initiator, initiator: { hosts: [{ host: h, port: 1 }], tls: { pinSha256: [abc] } } }
`);
    assert.match(p.join("\n"), /sessions\[0\]\.initiator\.tls\.pinSha256\[0\]: must be a base64 SHA-256/);
  });

  it("NATS: a token from the environment; two ways to authenticate at once, or a literal token, are refused", () => {
    const c = parse(
      `
nats: { url: "tls://127.0.0.1:4333", tokenEnv: NATS_TOKEN }
sessions:
  - ${SESSION} }
acceptors: [{ port: 0 }]
`,
      { NATS_TOKEN: "t0ken-value" },
    );
    assert.equal(c.nats.token?.reveal(), "t0ken-value");
    assert.equal(JSON.stringify(c).includes("t0ken-value"), false);
    const p = problems(
      `
nats: { url: "nats://127.0.0.1:4333", user: u, passwordEnv: NATS_PW, tokenEnv: NATS_TOKEN }
sessions:
  - ${SESSION} }
acceptors: [{ port: 0 }]
`,
      { NATS_TOKEN: "t", NATS_PW: "p" },
    ).join("\n");
    assert.match(p, /nats: give one way to authenticate, got user\/password and tokenFile\/tokenEnv/);
    const literal = problems(`
nats: { url: "nats://127.0.0.1:4333", token: literal-tok }
sessions:
  - ${SESSION} }
acceptors: [{ port: 0 }]
`).join("\n");
    assert.match(literal, /nats\.token: a literal secret is not allowed in the config file: give tokenFile/);
    assert.equal(literal.includes("literal-tok"), false);
  });
});
