import assert from "node:assert/strict";
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { SecurityConfigError } from "./errors.js";
import { JwtVerifier } from "./jwt.js";

type Key = Awaited<ReturnType<typeof generateKeyPair>>;

const sign = (k: Key, kid: string, sub = "svc") =>
  new SignJWT({})
    .setProtectedHeader({ alg: "ES256", kid })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(k.privateKey);

const jwks = async (...keys: Array<[Key, string]>) => ({
  keys: await Promise.all(keys.map(async ([k, kid]) => ({ ...(await exportJWK(k.publicKey)), kid, alg: "ES256" }))),
});

describe("JwtVerifier", () => {
  let k1: Key;
  let k2: Key;
  let dir: string;
  let server: Server;
  let fetches = 0;
  let url: string;

  before(async () => {
    k1 = await generateKeyPair("ES256");
    k2 = await generateKeyPair("ES256");
    dir = mkdtempSync(join(tmpdir(), "fixmesh-jwks-"));
    const body = JSON.stringify(await jwks([k1, "k1"]));
    server = createServer((_req, res) => {
      fetches++;
      res.setHeader("content-type", "application/json");
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });

  after(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it("fetches a JWKS URL once and verifies tokens against the cached set", async () => {
    const v = new JwtVerifier({ jwksUrl: url });
    assert.equal((await v.verify(await sign(k1, "k1", "a"))).id, "jwt:a");
    assert.equal((await v.verify(await sign(k1, "k1", "b"))).id, "jwt:b");
    assert.equal(fetches, 1);
    await assert.rejects(v.verify(await sign(k2, "k1")), /signature does not verify/);
  });

  it("picks up a rotated JWKS file (a key added) and keeps the old keys when the file goes bad", async () => {
    const path = join(dir, "jwks.json");
    writeFileSync(path, JSON.stringify(await jwks([k1, "k1"])));
    const v = new JwtVerifier({ jwksFile: path });
    await assert.rejects(v.verify(await sign(k2, "k2")), /no key of the JWKS matches/);
    writeFileSync(path, JSON.stringify(await jwks([k1, "k1"], [k2, "k2"])));
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    assert.equal((await v.verify(await sign(k2, "k2", "new"))).id, "jwt:new");
    writeFileSync(path, "{ not json");
    utimesSync(path, new Date(), new Date(Date.now() + 10_000));
    assert.equal((await v.verify(await sign(k1, "k1", "still"))).id, "jwt:still");
  });

  it("refuses a plain-http JWKS URL that is not loopback, and a missing file, at construction", () => {
    assert.throws(
      () => new JwtVerifier({ jwksUrl: "http://idp.example/jwks.json" }),
      (e: unknown) => e instanceof SecurityConfigError && e.field === "auth.jwt.jwksUrl",
    );
    assert.throws(
      () => new JwtVerifier({ jwksFile: join(dir, "missing.json") }),
      (e: unknown) => e instanceof SecurityConfigError && e.field === "auth.jwt.jwksFile",
    );
  });
});
