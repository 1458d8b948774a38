import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { AuditEvent, Delivered } from "@fixmesh/bus";
import { InProcessBus } from "@fixmesh/bus";
import { Decimal } from "@fixmesh/orders";
import { pino } from "pino";
import { runRiskService } from "../cli/cli.js";
import { SESSION } from "../engine/testkit.js";
import { startRisk } from "../service.js";
import { parseRiskConfig } from "./config.js";
import { RiskConfigError } from "./errors.js";
import { parseLimitsFile } from "./limits-file.js";

/** gRPC in plaintext on loopback must be said (`grpc.plaintext`): the tests' files say it unless they set grpc. */
function parseSaid(text: string, opts: Parameters<typeof parseRiskConfig>[1]) {
  return parseRiskConfig(/^grpc:/m.test(text) ? text : `${text}\ngrpc: { plaintext: true }\n`, opts);
}

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof RiskConfigError) return e.issues.map((i) => `${i.field}: ${i.reason}`);
    throw e;
  }
  assert.fail("expected a RiskConfigError");
}

describe("limits file", () => {
  it("reads scopes, both sets and reference prices as exact decimals", () => {
    const sets = parseLimitsFile(`
limits:
  - normal: { maxOrderQty: 1000, maxNotional: "1000000.50", priceCollarPct: 2.5, restrictedSymbols: [GME] }
    degraded: { maxOrderQty: 100 }
    referencePrices: { IBM: "187.25" }
  - scope: { session: "${SESSION}", account: ACC1 }
    normal: { maxOpenOrders: 5, maxOrdersPerSec: 10, duplicateWindowMs: 500, maxPosition: 0 }
`);
    assert.equal(sets.length, 2);
    assert.equal(sets[0].normal.maxNotional?.toString(), "1000000.5");
    assert.equal(sets[0].normal.priceCollarPct?.toString(), "2.5");
    assert.equal(sets[0].referencePrices.get("IBM")?.toString(), "187.25");
    assert.deepEqual(sets[1].scope, { sessionId: SESSION, account: "ACC1" });
    assert.ok(sets[1].normal.maxPosition?.eq(Decimal.ZERO), "0 is a limit (no position allowed), not unset");
  });

  it("names every bad field and the reason", () => {
    assert.deepEqual(
      issuesOf(() =>
        parseLimitsFile(`
limits:
  - normal: { maxOrderQty: ten, maxOpenOrders: 2.5, maxQty: 3 }
    degraded: { priceCollarPct: 0 }
    referencePrices: { IBM: -1 }
  - scope: {}
`),
      ),
      [
        'limits[0].normal.maxOrderQty: must be a decimal of 0 or more, got "ten"',
        "limits[0].normal.maxOpenOrders: must be a whole number of orders from 1 to 1000000",
        "limits[0].normal.maxQty: unknown setting",
        "limits[0].degraded.priceCollarPct: must be a decimal greater than 0, got 0",
        "limits[0].referencePrices.IBM: must be a decimal greater than 0, got -1",
      ],
    );
    assert.deepEqual(
      issuesOf(() => parseLimitsFile("limits:\n  - {}\n  - scope: {}\n")),
      ["limits[1].scope: the same scope as limits[0]"],
    );
    assert.deepEqual(issuesOf(() => parseLimitsFile("limits: [\n")).length, 1);
  });
});

describe("service configuration", () => {
  it("refuses a file that does not say how gRPC is served, naming grpc.plaintext", () => {
    assert.deepEqual(
      issuesOf(() => parseRiskConfig("", { env: {} })),
      [
        "grpc.plaintext: give tls, or plaintext: true to serve gRPC without TLS on 127.0.0.1 (allowed on a loopback address only)",
      ],
    );
  });

  it("has defaults for an embedded run", () => {
    const c = parseSaid("", { env: {} });
    assert.deepEqual([c.state.kind, c.bus.kind, c.grpc.port, c.risk.id], ["memory", "in-process", 50071, "risk"]);
  });

  it("names bad fields, and says when the environment set them", () => {
    assert.deepEqual(
      issuesOf(() =>
        parseSaid("state: { kind: redis }\ngrpc: { plaintext: true, port: 70000 }\nrisk: { id: 'a b' }\n", {
          env: { NATS_URL: "" },
        }),
      ),
      ["risk.id: must be letters, digits, '_' or '-'", "grpc.port: must be a whole number from 0 to 65535"],
    );
    assert.deepEqual(
      issuesOf(() => parseSaid("state: { kind: redis }\n", { env: {} })),
      ["state.redis.url: is required when state.kind is redis (or set REDIS_URL)"],
    );
    assert.deepEqual(
      issuesOf(() => parseSaid("", { env: { FIXMESH_GRPC_PORT: "x" } })),
      ['grpc.port: must be a whole number from 0 to 65535, got "x" (set by FIXMESH_GRPC_PORT)'],
    );
    assert.deepEqual(
      issuesOf(() => parseSaid("bus: { kind: kafka }\n", { env: {} })),
      ['bus.kind: must be one of in-process, nats, got "kafka"'],
    );
  });

  it("gives the instance's durable a 1 h inactive threshold unless told otherwise (0: never), and no less than 1 s", () => {
    assert.equal(parseSaid("", { env: {} }).bus.durableInactiveMs, 3_600_000);
    assert.equal(parseSaid("bus: { durableInactiveMs: 0 }\n", { env: {} }).bus.durableInactiveMs, 0);
    assert.deepEqual(
      issuesOf(() => parseSaid("bus: { durableInactiveMs: 500 }\n", { env: {} })),
      ["bus.durableInactiveMs: must be 0 (never) or at least 1000"],
    );
  });
});

describe("Redis and NATS links", () => {
  const links = `
state: { kind: redis, redis: { url: "redis://127.0.0.1:6379", passwordFile: secrets/redis } }
bus: { kind: nats, nats: { url: "nats://127.0.0.1:4222", user: fixmesh, passwordFile: secrets/nats } }
`;

  it("reads passwords from files (relative to the config file) and never shows them", () => {
    const dir = mkdtempSync(join(tmpdir(), "risk-links-"));
    try {
      mkdirSync(join(dir, "secrets"));
      writeFileSync(join(dir, "secrets", "redis"), "redis-s3cret-pw\n");
      writeFileSync(join(dir, "secrets", "nats"), "nats-s3cret-pw\n");
      const c = parseSaid(links, { env: {}, baseDir: dir });
      assert.equal(c.links?.redis?.url, "redis://127.0.0.1:6379");
      assert.equal(c.links?.redis?.password?.reveal(), "redis-s3cret-pw");
      assert.equal(c.links?.nats?.user, "fixmesh");
      assert.equal(c.links?.nats?.password?.reveal(), "nats-s3cret-pw");
      const shown = JSON.stringify(c);
      assert.ok(!shown.includes("s3cret"), shown);
      // REDIS_URL and NATS_URL still override the URLs; the credentials stay.
      const e = parseSaid(links, {
        env: { REDIS_URL: "redis://10.0.0.1:6380", NATS_URL: "nats://10.0.0.2:4223" },
        baseDir: dir,
      });
      assert.equal(e.links?.redis?.url, "redis://10.0.0.1:6380");
      assert.equal(e.links?.redis?.password?.reveal(), "redis-s3cret-pw");
      assert.equal(e.links?.nats?.url, "nats://10.0.0.2:4223");
      assert.equal(e.links?.nats?.password?.reveal(), "nats-s3cret-pw");
      // A missing password file is named.
      rmSync(join(dir, "secrets", "nats"));
      const missing = issuesOf(() => parseSaid(links, { env: {}, baseDir: dir }));
      assert.equal(missing.length, 1);
      assert.match(missing[0], /^bus\.nats\.passwordFile: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("keeps a plain URL working: no credentials", () => {
    const c = parseSaid("state: { kind: redis }\nbus: { kind: nats }\n", {
      env: { REDIS_URL: "redis://127.0.0.1:6379", NATS_URL: "nats://127.0.0.1:4222" },
    });
    assert.deepEqual(c.links, { redis: { url: "redis://127.0.0.1:6379" }, nats: { url: "nats://127.0.0.1:4222" } });
  });

  it("refuses a password in a URL, naming the field and not echoing it", () => {
    const redis = issuesOf(() =>
      parseSaid("state: { kind: redis, redis: { url: 'redis://:hunter2@127.0.0.1:6379' } }\n", { env: {} }),
    );
    assert.equal(redis.length, 1);
    assert.match(redis[0], /^state\.redis\.url: a password in the URL is not allowed/);
    assert.ok(!redis[0].includes("hunter2"));
    const nats = issuesOf(() =>
      parseSaid("bus: { kind: nats }\n", { env: { NATS_URL: "nats://fixmesh:hunter2@127.0.0.1:4222" } }),
    );
    assert.equal(nats.length, 1);
    assert.match(nats[0], /^bus\.nats\.url: credentials in the URL are not allowed.*\(set by NATS_URL\)$/);
    assert.ok(!nats[0].includes("hunter2"));
  });
});

describe("fixmesh risk-service", () => {
  it("exits 2 naming the field when the configuration is bad, and when the limits file is", async () => {
    const dir = mkdtempSync(join(tmpdir(), "risk-cli-"));
    const errors: string[] = [];
    const original = console.error;
    console.error = (m: unknown) => errors.push(String(m));
    try {
      writeFileSync(join(dir, "bad.yaml"), "grpc: { plaintext: true, port: lots }\n");
      assert.equal(await runRiskService(["--config", join(dir, "bad.yaml")]), 2);
      writeFileSync(join(dir, "limits.yaml"), "limits:\n  - normal: { maxPosition: -1 }\n");
      writeFileSync(
        join(dir, "ok.yaml"),
        "limits: { file: limits.yaml }\nlog: { level: silent }\ngrpc: { plaintext: true, port: 0 }\n",
      );
      assert.equal(await runRiskService(["--config", join(dir, "ok.yaml")]), 2);
      assert.equal(await runRiskService([]), 2);
    } finally {
      console.error = original;
      rmSync(dir, { recursive: true, force: true });
    }
    assert.match(errors[0], /grpc\.port: must be a whole number from 0 to 65535, got "lots"/);
    assert.match(errors[1], /limits\[0\]\.normal\.maxPosition: must be a decimal of 0 or more, got -1/);
    assert.match(errors[2], /--config FILE is required/);
  });
});

describe("limits hot reload", () => {
  it("applies a changed file, keeps the old limits when the new file is bad (logging field and reason), audits both", async () => {
    const dir = mkdtempSync(join(tmpdir(), "risk-limits-"));
    const file = join(dir, "limits.yaml");
    const write = (text: string) => {
      // As editors and ConfigMap updates do: write aside, then rename over the file.
      writeFileSync(`${file}.tmp`, text);
      renameSync(`${file}.tmp`, file);
    };
    write("limits:\n  - normal: { maxOrderQty: 100 }\n");
    const logs: Array<Record<string, unknown>> = [];
    const logger = pino({ level: "info" }, { write: (l: string) => logs.push(JSON.parse(l)) });
    const bus = new InProcessBus();
    const audits: AuditEvent[] = [];
    await bus.subscribe("audit.>", (d: Delivered) => audits.push(JSON.parse(Buffer.from(d.payload).toString())));
    const risk = await startRisk(parseSaid(`limits: { file: "${file}" }\n`, { env: {} }), {
      buses: { orders: bus, fix: bus, audit: bus },
      logger,
      noGrpc: true,
    });
    const check = (qty: string) =>
      risk.check({
        kind: "NEW",
        sessionId: SESSION,
        account: "A",
        symbol: "IBM",
        side: "BUY",
        quantity: Decimal.of(qty),
        orderType: "MARKET",
        sessionHealth: "LIVE",
      });
    const waitFor = async (what: string, ok: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`${what}: not within 10 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      assert.equal(check("100").allowed, true);
      write("limits:\n  - normal: { maxOrderQty: 50 }\n");
      await waitFor("new limit applied", () => !check("60").allowed);
      const refused = check("60");
      assert.equal(!refused.allowed && refused.limit, "50");

      write("limits:\n  - normal: { maxOrderQty: fifty }\n");
      await waitFor("bad file logged", () => logs.some((l) => l.msg?.toString().startsWith("limits file refused")));
      const line = logs.find((l) => String(l.msg).startsWith("limits file refused"));
      assert.match(String(line?.msg), /limits\[0\]\.normal\.maxOrderQty: must be a decimal of 0 or more, got "fifty"/);
      assert.equal(check("50").allowed, true, "the old limits (50) still apply");
      assert.equal(check("51").allowed, false);
      await waitFor("audits", () => audits.length >= 2);
      assert.deepEqual(
        audits.map((a) => [a.action, a.outcome]),
        [
          ["ReloadLimits", "ok"],
          ["ReloadLimits", "failed"],
        ],
      );
    } finally {
      await risk.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
