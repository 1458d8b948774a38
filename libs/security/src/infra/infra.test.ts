/**
 * Infrastructure links and FIX credentials: scrypt hashes, public-key pins against a real TLS server, and the
 * Redis/NATS/PostgreSQL link resolvers (secrets from files or the environment only, never printable).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect, createServer, type Server } from "node:tls";
import { inspect } from "node:util";
import { TestPki } from "../testing/pki.js";
import { describeLinkError, LinkFailure } from "./errors.js";
import { natsConnectOptions, resolveNatsLink } from "./nats.js";
import { hashPassword, parsePasswordHash, verifyPassword } from "./password-hash.js";
import { pgClientConfig, resolvePostgresLink } from "./postgres.js";
import { redisClientOptions, resolveRedisLink } from "./redis.js";
import { InfraConfigError } from "./secret.js";
import { publicKeyPin, tlsConnectOptions } from "./tls.js";

describe("FIX password hashes (scrypt)", () => {
  it("verifies the password it hashed and refuses any other; two hashes of one password differ (salt)", async () => {
    const a = await hashPassword("correct horse", { ln: 10, r: 8, p: 1 });
    const b = await hashPassword("correct horse", { ln: 10, r: 8, p: 1 });
    assert.match(a, /^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    assert.notEqual(a, b);
    assert.equal(await verifyPassword("correct horse", a), true);
    assert.equal(await verifyPassword("correct horsE", a), false);
    assert.equal(await verifyPassword("", a), false);
  });

  it("refuses a string that is not a scrypt hash without echoing it", () => {
    assert.throws(
      () => parsePasswordHash("plain-text-password"),
      (e: Error) => /not a scrypt hash/.test(e.message) && !e.message.includes("plain-text-password"),
    );
    assert.throws(() => parsePasswordHash("$scrypt$ln=40,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"), /out of range/);
  });
});

describe("TLS public-key pins", () => {
  let pki: TestPki;
  let server: Server;
  let port: number;
  let serverCert: string;
  before(async () => {
    pki = new TestPki();
    const s = pki.issue("server", { cn: "localhost", dns: ["localhost"], ips: ["127.0.0.1"] });
    serverCert = readFileSync(s.certFile, "utf8");
    server = createServer({ cert: serverCert, key: readFileSync(s.keyFile) }, (sock) => sock.end("hello"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.close();
    pki.remove();
  });

  const dial = (opts: ReturnType<typeof tlsConnectOptions>) =>
    new Promise<string>((resolve, reject) => {
      const s = connect({ ...opts, host: "127.0.0.1", port }, () => s.end());
      let data = "";
      s.on("data", (d) => {
        data += d;
      });
      s.on("end", () => resolve(data));
      s.on("error", reject);
    });

  it("computes the same pin as openssl (SHA-256 of the DER SubjectPublicKeyInfo)", () => {
    const dir = mkdtempSync(join(tmpdir(), "fixmesh-pin-"));
    try {
      writeFileSync(join(dir, "c.pem"), serverCert);
      const der = execFileSync("sh", [
        "-c",
        `openssl x509 -in ${dir}/c.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`,
      ]);
      assert.equal(publicKeyPin(serverCert), der.toString().trim());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("connects when the key matches a pin, and refuses a CA-signed certificate whose key matches none", async () => {
    const ca = readFileSync(pki.caFile, "utf8");
    assert.equal(
      await dial(tlsConnectOptions({ ca, servername: "localhost", pinSha256: [publicKeyPin(serverCert)] })),
      "hello",
    );
    const other = readFileSync(pki.issue("other", { cn: "other" }).certFile, "utf8");
    await assert.rejects(
      dial(tlsConnectOptions({ ca, servername: "localhost", pinSha256: [publicKeyPin(other)] })),
      (e: Error & { code?: string }) => e.code === "ERR_TLS_PIN_MISMATCH",
    );
    // Without a pin the host name is still checked: a name the certificate does not hold is refused.
    await assert.rejects(
      dial(tlsConnectOptions({ ca, servername: "venue.example" })),
      (e: Error & { code?: string }) => {
        const d = describeLinkError("redis", e);
        return d.failure === LinkFailure.Tls && /does not name the host/.test(d.message);
      },
    );
    // And the chain: without the CA the certificate is not trusted.
    await assert.rejects(dial(tlsConnectOptions({ servername: "localhost" })), (e: Error) => {
      return describeLinkError("nats", e).failure === LinkFailure.Tls;
    });
  });
});

describe("link configuration", () => {
  let dir: string;
  const ctx = () => ({ env: { NATS_TOKEN: "tok-123456" }, baseDir: dir });
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "fixmesh-links-"));
    writeFileSync(join(dir, "redis.pw"), "redis-Secret-1\n");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("Redis: reads the password from a file, prints it nowhere, and hands it to the client options", () => {
    const link = resolveRedisLink(
      { url: "rediss://127.0.0.1:6390", username: "fixmesh", passwordFile: "redis.pw" },
      "redis",
      ctx(),
    );
    assert.equal(JSON.stringify(link).includes("redis-Secret-1"), false);
    assert.equal(inspect(link, { depth: 5 }).includes("redis-Secret-1"), false);
    const o = redisClientOptions(link);
    assert.equal(o.username, "fixmesh");
    assert.equal(o.password, "redis-Secret-1");
    assert.equal(o.tls?.rejectUnauthorized, true, "rediss: means TLS with verification");
  });

  it("Redis: refuses a password in the URL, a user without a password, and a missing file, naming the field", () => {
    const fail = (input: unknown) => {
      try {
        resolveRedisLink(input, "store.redis", ctx());
        return "resolved";
      } catch (e) {
        assert.ok(e instanceof InfraConfigError);
        return e.message;
      }
    };
    const inUrl = fail({ url: "redis://u:hunter2@127.0.0.1:6379" });
    assert.match(inUrl, /^store\.redis\.url: a password in the URL is not allowed/);
    assert.equal(inUrl.includes("hunter2"), false);
    assert.match(fail({ username: "u" }), /^store\.redis\.passwordFile: is required with username "u"/);
    assert.match(
      fail({ username: "u", passwordFile: "nope" }),
      /^store\.redis\.passwordFile: cannot read .*nope: no such file/,
    );
    assert.match(fail({ username: "u", passwordEnv: "NOT_SET" }), /environment variable NOT_SET is not set/);
  });

  it("NATS: one way to authenticate; a token from the environment; nkey seeds go to the authenticator", () => {
    assert.throws(
      () => resolveNatsLink({ user: "a", passwordFile: "redis.pw", tokenEnv: "NATS_TOKEN" }, "nats", ctx()),
      /^InfraConfigError: nats: give one way to authenticate, got user\/password and token$|nats: give one way/,
    );
    const link = resolveNatsLink({ url: "tls://127.0.0.1:4333", tokenEnv: "NATS_TOKEN" }, "nats", ctx());
    const seen: Uint8Array[] = [];
    const o = natsConnectOptions(link, {
      nkeyAuthenticator: (s) => seen.push(s),
      credsAuthenticator: (c) => seen.push(c),
    });
    assert.equal(o.token, "tok-123456");
    assert.equal(o.tls?.rejectUnauthorized, true, "tls:// means TLS with verification");
    const seed = `SU${"A".repeat(56)}`;
    writeFileSync(join(dir, "seed"), seed);
    const withSeed = natsConnectOptions(resolveNatsLink({ nkeySeedFile: "seed" }, "nats", ctx()), {
      nkeyAuthenticator: (s) => new TextDecoder().decode(s),
      credsAuthenticator: () => "creds",
    });
    assert.equal(withSeed.authenticator, seed);
    assert.throws(
      () => resolveNatsLink({ nkeySeedFile: "redis.pw" }, "nats", ctx()),
      /nats\.nkeySeed: is not a user nkey seed/,
    );
  });

  it("PostgreSQL: host, database and user from the URL, password from a file, TLS verifying the host name", () => {
    const link = resolvePostgresLink(
      { url: "postgresql://fixmesh@db.internal:5544/trading", passwordFile: "redis.pw", tls: {} },
      "persistence.postgres",
      ctx(),
    );
    const c = pgClientConfig(link);
    assert.deepEqual(
      { host: c.host, port: c.port, database: c.database, user: c.user, password: c.password },
      { host: "db.internal", port: 5544, database: "trading", user: "fixmesh", password: "redis-Secret-1" },
    );
    assert.equal(c.ssl?.rejectUnauthorized, true);
    assert.equal(typeof c.ssl?.checkServerIdentity, "function");
    assert.throws(
      () => resolvePostgresLink({ url: "postgres://u:pw@h/db" }, "pg", ctx()),
      /^InfraConfigError: pg\.url: a password in the URL is not allowed|pg\.url: a password/,
    );
  });

  it("classifies server answers: a refused password, a refused connection; the password never in the reason", () => {
    const secret = { reveal: () => "hunter2" };
    const auth = describeLinkError(
      "redis",
      new Error("WRONGPASS invalid username-password pair or user is disabled."),
      {
        server: "redis://127.0.0.1:6390",
        user: "fixmesh",
        secrets: [secret],
      },
    );
    assert.equal(auth.failure, LinkFailure.Auth);
    assert.match(auth.message, /^redis: authentication failed \(redis:\/\/127\.0\.0\.1:6390\) as "fixmesh"/);
    const down = describeLinkError("nats", Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }));
    assert.equal(down.failure, LinkFailure.Unreachable);
    const other = describeLinkError("postgres", new Error("weird failure hunter2"), { secrets: [secret] });
    assert.equal(other.message.includes("hunter2"), false);
  });
});
