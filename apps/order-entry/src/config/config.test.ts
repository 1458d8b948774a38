import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { OrderEntryConfigError, parseOrderEntryConfig } from "./load.js";

const ok = {
  grpc: { plaintext: true },
  sessions: [{ id: "FIX.4.4:CLIENT->VENUE", connector: "127.0.0.1:50051" }],
  risk: { address: "127.0.0.1:50071" },
};

function fieldOf(input: unknown, env: Record<string, string> = {}): string {
  return errorOf(input, env).field;
}

function errorOf(input: unknown, env: Record<string, string> = {}, baseDir?: string): OrderEntryConfigError {
  try {
    parseOrderEntryConfig(input, { env, ...(baseDir !== undefined && { baseDir }) });
  } catch (e) {
    assert.ok(e instanceof OrderEntryConfigError);
    return e;
  }
  assert.fail("no error");
}

describe("order-entry configuration", () => {
  it("fills the defaults: memory store, port 50061, risk deadline 250 ms", () => {
    const c = parseOrderEntryConfig(ok);
    assert.equal(c.store.kind, "memory");
    assert.equal(c.grpc.port, 50061);
    assert.equal(c.risk.deadlineMs, 250);
    assert.equal(c.nats, undefined);
  });

  it("serves metrics only with a metrics section (default port 9464), and checks the health poll", () => {
    assert.equal(parseOrderEntryConfig(ok).metrics, undefined);
    assert.deepEqual(parseOrderEntryConfig({ ...ok, metrics: {} }).metrics, { host: "127.0.0.1", port: 9464 });
    assert.equal(fieldOf({ ...ok, metrics: { port: 70000 } }), "metrics.port");
    assert.equal(parseOrderEntryConfig({ ...ok, connector: { healthPollMs: 600000 } }).connector?.healthPollMs, 600000);
    assert.equal(fieldOf({ ...ok, connector: { healthPollMs: 10 } }), "connector.healthPollMs");
  });

  it("names the field of each mistake", () => {
    assert.equal(fieldOf({ sessions: ok.sessions }), "risk");
    assert.equal(fieldOf({ ...ok, sessions: [] }), "sessions");
    assert.equal(fieldOf({ ...ok, sessions: [{ id: "nope", connector: "x:1" }] }), "sessions[0].id");
    assert.equal(fieldOf({ ...ok, sessions: [{ id: "FIX.4.4:A->B", connector: "nohost" }] }), "sessions[0].connector");
    assert.equal(fieldOf({ ...ok, store: { kind: "mongo" } }), "store.kind");
    assert.equal(fieldOf({ ...ok, risk: { address: "127.0.0.1:1", deadlineMs: 0 } }), "risk.deadlineMs");
    assert.equal(fieldOf({ ...ok, typo: 1 }), "(root)");
  });

  it("takes overrides from the environment", () => {
    const c = parseOrderEntryConfig(
      { ...ok, store: { kind: "redis", redis: { url: "redis://a:1" } } },
      {
        env: { REDIS_URL: "redis://b:2", FIXMESH_GRPC_PORT: "0", NATS_URL: "nats://n:4222" },
      },
    );
    assert.equal(c.store.kind === "redis" && c.store.redis.url, "redis://b:2");
    assert.equal(c.grpc.port, 0);
    assert.equal(c.nats?.url, "nats://n:4222");
  });
});

describe("order-entry configuration: security", () => {
  const dir = mkdtempSync(join(tmpdir(), "oe-config-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const redis = (over: Record<string, unknown>) => ({
    ...ok,
    store: { kind: "redis", redis: { url: "redis://127.0.0.1:6379", ...over } },
  });

  it("refuses plaintext off loopback and TLS without a policy, naming the field", () => {
    const open = errorOf({ ...ok, grpc: { plaintext: true, host: "0.0.0.0" } });
    assert.equal(open.field, "grpc.tls");
    assert.match(open.message, /is required: gRPC binds 0\.0\.0\.0/);
    const noPolicy = errorOf(
      { ...ok, grpc: { tls: { certFile: "c.crt", keyFile: "c.key", caFile: "ca.crt" } } },
      {},
      dir,
    );
    assert.ok(noPolicy.issues.some((i) => i.field === "grpc.auth.policyFile" && /is required/.test(i.reason)));
    assert.equal(fieldOf({ ...ok, grpc: { plaintext: true, healthPort: 70000 } }), "grpc.healthPort");
    // The files are read at start: a missing certificate is named too.
    assert.ok(noPolicy.issues.some((i) => i.field.startsWith("grpc.tls")));
  });

  it("accepts grpc.healthPort (the plaintext health-only listener)", () => {
    assert.deepEqual(parseOrderEntryConfig({ ...ok, grpc: { plaintext: true, healthPort: 8086 } }).grpc, {
      host: "127.0.0.1",
      port: 50061,
      healthPort: 8086,
      plaintext: true,
    });
  });

  it("serves plaintext on 127.0.0.1 only when the file says so, naming grpc.plaintext otherwise", () => {
    const c = parseOrderEntryConfig(ok);
    assert.deepEqual(c.grpc, { host: "127.0.0.1", port: 50061, plaintext: true });
    assert.deepEqual(c.links, {});
    const { grpc: _, ...unsaid } = ok;
    const e = errorOf(unsaid);
    assert.equal(e.field, "grpc.plaintext");
    assert.match(e.message, /give tls, or plaintext: true/);
  });

  it("client TLS: paths resolved against the file's directory, certificate and key together", () => {
    const c = parseOrderEntryConfig(
      {
        ...ok,
        risk: { address: "127.0.0.1:1", tls: { caFile: "ca.crt", certFile: "oe.crt", keyFile: "oe.key" } },
        connector: { tls: { caFile: "/abs/ca.crt", serverName: "connector.svc" } },
      },
      { baseDir: dir },
    );
    assert.deepEqual(c.risk.tls, {
      caFile: join(dir, "ca.crt"),
      certFile: join(dir, "oe.crt"),
      keyFile: join(dir, "oe.key"),
    });
    assert.deepEqual(c.connector?.tls, { caFile: "/abs/ca.crt", serverName: "connector.svc" });
    assert.equal(
      fieldOf({ ...ok, risk: { address: "127.0.0.1:1", tls: { caFile: "a", certFile: "b" } } }),
      "risk.tls.keyFile",
    );
  });

  it("Redis and NATS secrets come from files or the environment, never the URL, and never print", () => {
    writeFileSync(join(dir, "redis.pw"), "s3cret-redis\n");
    const c = parseOrderEntryConfig(
      {
        ...redis({ username: "oe", passwordFile: "redis.pw" }),
        nats: { url: "nats://127.0.0.1:4222", user: "oe", passwordEnv: "OE_NATS_PW" },
      },
      { baseDir: dir, env: { OE_NATS_PW: "s3cret-nats" } },
    );
    assert.equal(c.links.redis?.username, "oe");
    assert.equal(c.links.redis?.password?.reveal(), "s3cret-redis");
    assert.equal(c.links.nats?.password?.reveal(), "s3cret-nats");
    assert.doesNotMatch(JSON.stringify(c), /s3cret/);

    assert.equal(fieldOf(redis({ url: "redis://oe:pw@127.0.0.1:6379" })), "store.redis.url");
    assert.equal(fieldOf(redis({ username: "oe" })), "store.redis.passwordFile");
    const missing = errorOf(redis({ passwordFile: "nope.pw" }), {}, dir);
    assert.equal(missing.field, "store.redis.passwordFile");
    assert.equal(
      fieldOf(
        { ...ok, nats: { url: "nats://127.0.0.1:4222", user: "u", passwordEnv: "P", tokenEnv: "T" } },
        {
          P: "p",
          T: "t",
        },
      ),
      "nats",
    );
  });
});
