/**
 * AuditService served through @fixmesh/security: mutual TLS with certificates made by openssl (TestPki), a policy
 * file, `auditServiceRules` (every query needs the `audit` grant). A principal without it is refused naming the
 * grant, and the denial — published on the audit bus like every service's — is stored by persistence itself as
 * an audit row; with the grant QueryMessages returns the stored messages over mTLS; the audit CLI with --tls-*
 * works, and without a certificate it is refused with a readable line. Bad security settings fail the
 * configuration naming the field (plaintext off loopback, the removed allowInsecure, a password in the URL).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { InProcessBus } from "@fixmesh/bus";
import { AuditService, checkHealth, createGrpcClient, type GrpcClientOf, RpcError } from "@fixmesh/contracts";
import { clientTls } from "@fixmesh/security";
import { type Issued, TestPki } from "@fixmesh/security/testing";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { runAuditCli } from "./cli/cli.js";
import { PersistenceConfigError, persistenceConfig } from "./config/config.js";
import { type PersistenceHandle, startPersistence } from "./service.js";
import { fixEvent } from "./testing/support.js";

const T = { timeout: 60_000 };
const SERVER_NAME = "audit.fixmesh.test";
const DESK = "spiffe://fixmesh.test/ns/trading/sa/desk";
const SESSION = "FIX.4.4:CLIENT->VENUE";
const quiet = pino({ level: "silent" });

const POLICY = `version: 1
principals:
  - match: ${DESK}
    read: ["*"]
  - match: cn:auditor
    audit: true
`;

const message = (seq: number) =>
  fixEvent({ session: SESSION, dir: "out", seq, msgType: "D", body: [[11, `A${seq}`]] }).event;

async function refusal(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    return RpcError.from(e);
  }
  return assert.fail("the call succeeded");
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string }> {
  const out: string[] = [];
  let err = "";
  const code = await runAuditCli(args, { out: (l) => out.push(l), err: (l) => (err += `${l}\n`) });
  return { code, out, err };
}

describe("AuditService on mutual TLS with a policy", () => {
  const dir = mkdtempSync(join(tmpdir(), "fixmesh-persistence-sec-"));
  const bus = new InProcessBus();
  const id: Record<string, Issued> = {};
  const open: Array<() => void> = [];
  let pki: TestPki;
  let p: PersistenceHandle;
  let address = "";

  function client(who: Issued | { caFile: string }): GrpcClientOf<typeof AuditService> {
    const t = clientTls({ ...who, serverName: SERVER_NAME });
    const conn = new grpc.Client(address, t.credentials, t.options);
    open.push(() => {
      conn.close();
      t.files.close();
    });
    return createGrpcClient(AuditService, conn);
  }
  const deadline = () => ({ deadline: Date.now() + 10_000 });

  before(async () => {
    pki = new TestPki(join(dir, "pki"));
    pki.folder(join(dir, "tls"), { dns: [SERVER_NAME] });
    id.desk = pki.issue("desk", { uris: [DESK] });
    id.auditor = pki.issue("auditor", { cn: "auditor" });
    writeFileSync(join(dir, "policy.yaml"), POLICY);
    // Relative paths resolve against baseDir (the configuration file's folder).
    const config = persistenceConfig(
      {
        database: { engine: "pglite" },
        grpc: {
          host: "127.0.0.1",
          port: 0,
          healthPort: 0,
          tls: { certFile: "tls/tls.crt", keyFile: "tls/tls.key", caFile: "tls/ca.crt", clientCert: "require" },
          auth: { policyFile: "policy.yaml" },
        },
        log: { level: "silent" },
      },
      "test",
      { baseDir: dir, env: {} },
    );
    p = await startPersistence(config, { bus, logger: quiet });
    await p.ready();
    address = `127.0.0.1:${p.grpcPort}`;
    await bus.publish([1, 2, 3].map(message));
    await until("3 stored messages", async () =>
      (await p.store.messages({ session: SESSION }, 10)).length === 3 ? true : undefined,
    );
  });

  after(async () => {
    for (const c of open) c();
    await p?.close();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves TLS with the policy enforced, and a plaintext health-only port", T, async () => {
    assert.equal(p.authorization, "enforce");
    assert.ok(typeof p.grpcHealthPort === "number" && p.grpcHealthPort > 0);
    assert.equal(await checkHealth(`127.0.0.1:${p.grpcHealthPort}`), "SERVING");
  });

  it("a principal without `audit` is refused naming the grant; the denial is stored as an audit event", T, async () => {
    const e = await refusal(client(id.desk).queryMessages({ filter: { sessionId: SESSION } }, deadline()));
    assert.equal(e.code, grpc.status.PERMISSION_DENIED);
    assert.equal(e.reason, "NOT_AUTHORIZED");
    assert.match(e.message, /missing grant audit/);
    assert.equal(e.metadata.grant, "audit");
    // Published on the audit bus as `audit.persistence.<action>`, consumed back and stored like any audit event.
    const row = await until("the stored denial", async () => {
      const r = await p.db.query<{ kind: string; operator: string; outcome: string; detail: unknown }>(
        "SELECT kind, operator, outcome, detail FROM session_events WHERE operator = $1",
        [DESK],
      );
      return r.rows[0];
    });
    assert.equal(row.kind, "admin.QueryMessages");
    assert.equal(row.outcome, "denied");
    // jsonb: decoded by the driver.
    const detail = (typeof row.detail === "string" ? JSON.parse(row.detail) : row.detail) as {
      service: string;
      detail?: string;
    };
    assert.equal(detail.service, "persistence");
    assert.match(detail.detail ?? "", /audit/);
    // A streaming query is refused the same way.
    const stream = client(id.desk).getTranscript({ sessionId: SESSION }, deadline());
    const s = await new Promise<RpcError>((resolve) => {
      stream.on("data", () => undefined);
      stream.on("error", (err: unknown) => resolve(RpcError.from(err)));
      stream.on("end", () => resolve(RpcError.from(new Error("ended without error"))));
    });
    assert.equal(s.code, grpc.status.PERMISSION_DENIED);
  });

  it("with the grant, QueryMessages returns the stored messages over mTLS", T, async () => {
    const r = await client(id.auditor).queryMessages({ filter: { sessionId: SESSION }, pageSize: 10 }, deadline());
    assert.deepEqual(
      r.messages.map((m) => [m.sessionId, Number(m.msgSeqNum), m.clOrdId]),
      [
        [SESSION, 1, "A1"],
        [SESSION, 2, "A2"],
        [SESSION, 3, "A3"],
      ],
    );
  });

  it("a client without a certificate, or with one from another CA, is refused at the handshake", T, async () => {
    const none = await refusal(
      client({ caFile: pki.caFile }).queryMessages({ filter: { sessionId: SESSION } }, deadline()),
    );
    assert.equal(none.code, grpc.status.UNAVAILABLE);
    const foreign = new TestPki(join(dir, "foreign"), "not our CA");
    const stranger = foreign.issue("stranger", { cn: "auditor" });
    const e = await refusal(
      client({ ...stranger, caFile: pki.caFile }).queryMessages({ filter: { sessionId: SESSION } }, deadline()),
    );
    assert.equal(e.code, grpc.status.UNAVAILABLE);
  });

  it("the audit CLI with --tls-* works; without a certificate it is refused with a readable line", T, async () => {
    const tls = ["--address", address, "--tls-ca", pki.caFile, "--tls-server-name", SERVER_NAME];
    const ok = await cli([
      "messages",
      "--session",
      SESSION,
      "--json",
      ...tls,
      "--tls-cert",
      id.auditor.certFile,
      "--tls-key",
      id.auditor.keyFile,
    ]);
    assert.equal(ok.code, 0, ok.err);
    assert.deepEqual(
      ok.out.map((l) => (JSON.parse(l) as { clOrdId: string }).clOrdId),
      ["A1", "A2", "A3"],
    );
    // --server is still taken as the same option.
    const alias = await cli([
      "sequence",
      "--session",
      SESSION,
      "--server",
      address,
      ...tls.slice(2),
      "--tls-cert",
      id.auditor.certFile,
      "--tls-key",
      id.auditor.keyFile,
    ]);
    assert.equal(alias.code, 0, alias.err);
    const refused = await cli(["messages", "--session", SESSION, ...tls]);
    assert.equal(refused.code, 1);
    assert.match(refused.err, new RegExp(`audit: ${address.replaceAll(".", "\\.")}: .*(certificate|--tls-cert)`));
    // Without the grant: PERMISSION_DENIED named, exit 1.
    const denied = await cli([
      "messages",
      "--session",
      SESSION,
      ...tls,
      "--tls-cert",
      id.desk.certFile,
      "--tls-key",
      id.desk.keyFile,
    ]);
    assert.equal(denied.code, 1);
    assert.match(denied.err, /missing grant audit/);
    // A bad setting is named before anything is sent.
    const bad = await cli(["messages", "--session", SESSION, ...tls, "--tls-cert", join(dir, "nope.crt")]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--tls-cert/);
  });
});

describe("persistence security configuration", () => {
  function issues(input: unknown, env: Record<string, string> = {}): string[] {
    try {
      // gRPC in plaintext on loopback must be said (grpc.plaintext); said here unless the case is about grpc.
      const said =
        typeof input === "object" && input !== null && !("grpc" in input)
          ? { ...input, grpc: { plaintext: true } }
          : input;
      persistenceConfig(said, "test", { env, baseDir: tmpdir() });
    } catch (e) {
      assert.ok(e instanceof PersistenceConfigError, String(e));
      return e.issues.map((i) => `${i.field}: ${i.reason}`);
    }
    return [];
  }

  it("plaintext gRPC only on loopback: 0.0.0.0 without tls fails naming grpc.tls", () => {
    const got = issues({ grpc: { plaintext: true, host: "0.0.0.0" } });
    assert.equal(got.length, 1, got.join("\n"));
    assert.match(got[0], /^grpc\.tls: is required: gRPC binds 0\.0\.0\.0/);
    assert.deepEqual(issues({ grpc: { plaintext: true, host: "127.0.0.1" } }), []);
    assert.deepEqual(issues({ grpc: { host: "127.0.0.1" } }), [
      "grpc.plaintext: give tls, or plaintext: true to serve gRPC without TLS on 127.0.0.1 (allowed on a loopback address only)",
    ]);
    assert.deepEqual(issues({ grpc: { host: "0.0.0.0", enabled: false } }), []);
  });

  it("the old allowInsecure switch is refused with the way to go", () => {
    const got = issues({ grpc: { host: "0.0.0.0", allowInsecure: true } });
    assert.ok(
      got.some((g) => /^grpc: allowInsecure is not a setting any more: .*grpc\.tls/.test(g)),
      got.join("\n"),
    );
  });

  it("TLS without a policy, or with certificate files that do not exist, names the field", () => {
    const got = issues({ grpc: { tls: { certFile: "no.crt", keyFile: "no.key", caFile: "no-ca.crt" } } });
    assert.ok(
      got.some((g) => g.startsWith("grpc.auth.policyFile: is required")),
      got.join("\n"),
    );
    assert.ok(
      got.some((g) => g.startsWith("grpc.tls")),
      got.join("\n"),
    );
  });

  it("PostgreSQL and NATS links: no password in a URL, secrets from files or env, never echoed", () => {
    const pw = "s3cret-Pl4nted";
    const inUrl = issues({ database: { engine: "postgres", url: `postgres://u:${pw}@db:5432/audit` } });
    assert.deepEqual(inUrl, ["database.url: a password in the URL is not allowed: give passwordFile or passwordEnv"]);
    assert.ok(!inUrl.join("").includes(pw));
    const natsUrl = issues({ nats: { url: `nats://u:${pw}@127.0.0.1:4222` } });
    assert.match(natsUrl.join("\n"), /^nats\.url: credentials in the URL are not allowed/);
    assert.ok(!natsUrl.join("").includes(pw));
    assert.match(
      issues({ database: { engine: "postgres", passwordEnv: "PGPW_UNSET" } }).join("\n"),
      /^database\.passwordEnv: environment variable PGPW_UNSET is not set/,
    );
    assert.match(
      issues({ nats: { tokenFile: "no-such-token" } }).join("\n"),
      /^nats\.tokenFile: cannot read .*no such file/,
    );
    // Given properly they pass, and the URL-only (DATABASE_URL-style) form keeps working.
    assert.deepEqual(
      issues(
        { database: { engine: "postgres", url: "postgres://u@db:5432/audit", passwordEnv: "PGPW" } },
        { PGPW: pw },
      ),
      [],
    );
    assert.deepEqual(issues({ database: { engine: "postgres", url: "postgres://postgres@127.0.0.1/x" } }), []);
  });
});
