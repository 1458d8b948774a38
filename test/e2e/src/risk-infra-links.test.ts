/**
 * The risk service on a Redis and a NATS that require a password and TLS (private servers, see
 * security-infra-servers.ts): with `passwordFile`s and the CA it starts, keeps a kill switch in that Redis and
 * audits it on that NATS; with a wrong password it does not start.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { KillSwitchScope, parseRiskConfig, startRisk } from "@fixmesh/risk";
import { Redis } from "ioredis";
import { InfraPki, type NatsServer, type RedisServer, startTlsNats, startTlsRedis } from "./security-infra-servers.js";

const REDIS_PASSWORD = "risk-redis-pw-7f3a";
const NATS_PASSWORD = "risk-nats-pw-91cd";

describe("risk on a password-protected, TLS Redis and NATS", () => {
  let pki: InfraPki;
  let redis: RedisServer;
  let nats: NatsServer;
  let dir: string;

  before(async () => {
    pki = new InfraPki();
    [redis, nats] = await Promise.all([
      startTlsRedis(pki, "fixmesh", REDIS_PASSWORD),
      startTlsNats(pki, "fixmesh-nats", NATS_PASSWORD),
    ]);
    dir = mkdtempSync(join(tmpdir(), "risk-links-"));
    writeFileSync(join(dir, "redis-password"), `${REDIS_PASSWORD}\n`);
    writeFileSync(join(dir, "nats-password"), `${NATS_PASSWORD}\n`);
    writeFileSync(join(dir, "wrong-password"), "not-the-password\n");
  });

  after(async () => {
    await redis?.stop();
    await nats?.stop();
    pki?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const config = (redisPasswordFile: string) =>
    parseRiskConfig(
      `
risk: { id: links }
grpc: { plaintext: true, port: 0 }
state:
  kind: redis
  redis: { url: "${redis.url}", username: fixmesh, passwordFile: ${redisPasswordFile}, prefix: risk-links, tls: { caFile: "${pki.server.caFile}" } }
bus:
  kind: nats
  catchUpTimeoutMs: 20000
  nats: { url: "${nats.url}", user: fixmesh-nats, passwordFile: nats-password, tls: { caFile: "${pki.server.caFile}" } }
log: { level: silent }
`,
      { env: {}, baseDir: dir },
    );

  it("starts with the passwords from files, keeps a kill switch in that Redis", { timeout: 60_000 }, async () => {
    const c = config("redis-password");
    assert.ok(!JSON.stringify(c).includes(REDIS_PASSWORD));
    const risk = await startRisk(c);
    try {
      await risk.setKillSwitch({
        scope: KillSwitchScope.Global,
        target: "",
        engaged: true,
        reason: "drill",
        operator: "test",
        cancelOpenOrders: false,
      });
      const admin = new Redis(redis.url, {
        username: "fixmesh",
        password: REDIS_PASSWORD,
        tls: { ca: readFileSync(pki.server.caFile, "utf8") },
        maxRetriesPerRequest: 1,
      });
      try {
        const stored = await admin.hgetall("risk-links:risk:kill-switches");
        assert.equal(Object.keys(stored).length, 1);
        assert.match(Object.values(stored)[0] ?? "", /"engaged":true/);
      } finally {
        admin.disconnect();
      }
    } finally {
      await risk.close();
    }
  });

  it("does not start with a wrong Redis password", { timeout: 60_000 }, async () => {
    await assert.rejects(startRisk(config("wrong-password")), (err: Error) => {
      assert.match(err.message, /^redis: authentication failed .* as "fixmesh"/);
      assert.ok(!err.message.includes("not-the-password"));
      return true;
    });
  });
});
