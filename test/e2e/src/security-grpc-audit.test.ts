/**
 * The persistence service as a process (`fixmesh persistence --config FILE`) with AuditService on mutual TLS and a
 * policy, PostgreSQL through the link settings (its own database; the password from an environment variable,
 * which the local trust-auth server does not ask for but which must never be printed), its events and its own
 * denials on NATS streams of the test's own; and `fixmesh audit` as a process with --tls-* flags. A principal
 * without the `audit` grant is refused naming it, and the denial is stored as an audit row in PostgreSQL; with the
 * grant QueryMessages works over mTLS; the CLI without a certificate is refused with a readable line; a start on
 * 0.0.0.0 without TLS is refused naming grpc.tls. Certificates are made by the test (openssl).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { JetStreamBus } from "@fixmesh/bus";
import { AuditService, createGrpcClient, type GrpcClientOf, RpcError } from "@fixmesh/contracts";
import { type Db, openDb } from "@fixmesh/persistence";
import { clientTls } from "@fixmesh/security";
import { type Issued, TestPki } from "@fixmesh/security/testing";
import * as grpc from "@grpc/grpc-js";
import { CLI, NATS_URL, rand, ServiceProcess, tempFiles } from "./trace-harness.js";

const T = { timeout: 90_000 };
const SESSION = "FIX.4.4:CLIENT->VENUE";
const SERVER_NAME = "audit.fixmesh.test";
const DESK = "spiffe://fixmesh.test/ns/trading/sa/desk";
const PG_ADMIN = process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

const POLICY = `version: 1
principals:
  - match: ${DESK}
    read: ["*"]
  - match: cn:auditor
    audit: true
`;

async function admin(sql: string): Promise<void> {
  const db = await openDb({ engine: "postgres", url: PG_ADMIN, poolSize: 1 });
  try {
    await db.query(sql);
  } finally {
    await db.close();
  }
}

/** A FIX NewOrderSingle event as the connector publishes it (libs/engine FixMessageEvent). */
function fixEvent(prefix: string, seq: number) {
  const at = Date.now();
  const body = `35=D\x0149=CLIENT\x0156=VENUE\x0134=${seq}\x0152=20261127-08:00:00.000\x0111=E${seq}\x01`;
  const head = `8=FIX.4.4\x019=${Buffer.byteLength(body, "latin1")}\x01`;
  let sum = 0;
  for (const b of Buffer.from(head + body, "latin1")) sum += b;
  const raw = Buffer.from(`${head}${body}10=${String(sum % 256).padStart(3, "0")}\x01`, "latin1");
  const payload = {
    session: SESSION,
    cycle: "c1",
    dir: "out",
    seq,
    msgType: "D",
    possDup: false,
    sendingTime: "20261127-08:00:00.000",
    at,
    clOrdId: `E${seq}`,
    raw: raw.toString("base64"),
  };
  return {
    id: `sec-audit-${seq}`,
    subject: `${prefix}.CLIENT_VENUE.out.D`,
    payload: Buffer.from(JSON.stringify(payload)),
  };
}

/** `fixmesh audit …` as a child process (bounded): exit code, stdout, stderr. */
function auditCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, "audit", ...args], {
      env: { ...process.env, FIXMESH_TLS_CA: "", FIXMESH_TLS_CERT: "", FIXMESH_TLS_KEY: "", FIXMESH_TOKEN_FILE: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    p.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => p.kill("SIGKILL"), 30_000);
    p.on("error", reject);
    p.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("persistence AuditService on mutual TLS with a policy (a real process)", () => {
  const files = tempFiles();
  const r = rand();
  const dbName = `fixmesh_auditsec_${r}`;
  const password = `pg-planted-${rand()}${rand()}`;
  const names = { fix: [`AUDSEC_F_${r}`, `asf_${r}`], audit: [`AUDSEC_A_${r}`, `asa_${r}`] } as const;
  const id: Record<string, Issued> = {};
  const open: Array<() => void> = [];
  let pki: TestPki;
  let service: ServiceProcess;
  let address = "";
  let db: Db;

  function client(who: Issued): GrpcClientOf<typeof AuditService> {
    const t = clientTls({ ...who, serverName: SERVER_NAME });
    const conn = new grpc.Client(address, t.credentials, t.options);
    open.push(() => {
      conn.close();
      t.files.close();
    });
    return createGrpcClient(AuditService, conn);
  }
  const tlsFlags = () => ["--address", address, "--tls-ca", pki.caFile, "--tls-server-name", SERVER_NAME];

  before(async () => {
    pki = new TestPki(join(files.dir, "pki"));
    pki.folder(join(files.dir, "grpc-tls"), { dns: [SERVER_NAME] });
    id.desk = pki.issue("desk", { uris: [DESK] });
    id.auditor = pki.issue("auditor", { cn: "auditor" });
    files.write("policy.yaml", POLICY);
    await admin(`CREATE DATABASE ${dbName}`);
    const url = new URL(PG_ADMIN);
    url.pathname = `/${dbName}`;
    db = await openDb({ engine: "postgres", url: url.toString(), poolSize: 1 });
    const config = files.write(
      "persistence.yaml",
      `database: { engine: postgres, url: "${url.toString()}", passwordEnv: FIXMESH_AUDITSEC_PG_PW }
nats: { url: "${NATS_URL}" }
streams:
  fix: { stream: ${names.fix[0]}, filter: "${names.fix[1]}.>", durable: persistence-fix }
  orders: { enabled: false, stream: ORDERS, filter: "orders.>", durable: persistence-orders }
  audit: { stream: ${names.audit[0]}, filter: "${names.audit[1]}.>", durable: persistence-audit }
grpc:
  host: 127.0.0.1
  port: 0
  tls: { certFile: grpc-tls/tls.crt, keyFile: grpc-tls/tls.key, caFile: grpc-tls/ca.crt, clientCert: require }
  auth: { policyFile: policy.yaml }
log: { level: info }
`,
    );
    service = ServiceProcess.start("persistence", ["persistence", "--config", config], {
      FIXMESH_AUDITSEC_PG_PW: password,
      OTEL_TRACES_EXPORTER: "none",
    });
    const port = await service.line<number>("grpcPort", 60_000);
    address = `127.0.0.1:${port}`;
    const bus = await JetStreamBus.connect({
      servers: NATS_URL,
      stream: names.fix[0],
      subjects: [`${names.fix[1]}.>`],
    });
    try {
      await bus.publish([1, 2].map((s) => fixEvent(names.fix[1], s)));
    } finally {
      await bus.close();
    }
    await until("2 stored messages", async () => {
      const n = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM fix_messages")).rows[0]?.n;
      return n === 2 ? n : undefined;
    });
  });

  after(async () => {
    for (const c of open) c();
    await service?.stop();
    await db?.close();
    for (const [stream, prefix] of Object.values(names)) {
      try {
        const bus = await JetStreamBus.connect({ servers: NATS_URL, stream, subjects: [`${prefix}.>`] });
        await bus.deleteStream();
        await bus.close();
      } catch {
        // never created
      }
    }
    await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    files.remove();
  });

  it(
    "without the `audit` grant: PERMISSION_DENIED naming it; the denial is an audit row in PostgreSQL",
    T,
    async () => {
      const e = await client(id.desk)
        .queryMessages({ filter: { sessionId: SESSION } }, { deadline: Date.now() + 10_000 })
        .then(
          () => assert.fail("the query was answered"),
          (err: unknown) => RpcError.from(err),
        );
      assert.equal(e.code, grpc.status.PERMISSION_DENIED);
      assert.equal(e.reason, "NOT_AUTHORIZED");
      assert.equal(e.metadata.grant, "audit");
      // On NATS (`<audit prefix>.persistence.QueryMessages`), consumed back by the service and stored.
      const row = await until("the stored denial", async () => {
        const q = await db.query<{ kind: string; outcome: string }>(
          "SELECT kind, outcome FROM session_events WHERE operator = $1",
          [DESK],
        );
        return q.rows[0];
      });
      assert.deepEqual([row.kind, row.outcome], ["admin.QueryMessages", "denied"]);
    },
  );

  it("with the grant: QueryMessages over mTLS, and `fixmesh audit` with --tls-* flags", T, async () => {
    const res = await client(id.auditor).queryMessages(
      { filter: { sessionId: SESSION }, pageSize: 10 },
      { deadline: Date.now() + 10_000 },
    );
    assert.deepEqual(
      res.messages.map((m) => m.clOrdId),
      ["E1", "E2"],
    );
    const ok = await auditCli([
      "messages",
      "--session",
      SESSION,
      "--json",
      ...tlsFlags(),
      "--tls-cert",
      id.auditor.certFile,
      "--tls-key",
      id.auditor.keyFile,
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(
      ok.stdout
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { clOrdId: string }).clOrdId),
      ["E1", "E2"],
    );
  });

  it("`fixmesh audit` without a client certificate: refused with a readable line, exit 1", T, async () => {
    const res = await auditCli(["messages", "--session", SESSION, ...tlsFlags()]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /audit: 127\.0\.0\.1:\d+: .*(certificate|--tls-cert)/);
  });

  it("the PostgreSQL password from the environment appears in no output of the service", T, async () => {
    const text = service.stdout.join("\n") + service.stderr;
    assert.ok(text.includes("persistence started"), "the service logged its start");
    assert.ok(!text.includes(password), "the planted PostgreSQL password was printed");
  });

  it("a start on 0.0.0.0 without TLS is refused naming grpc.tls (exit 2)", T, async () => {
    const config = files.write(
      "open.yaml",
      "database: { engine: pglite }\ngrpc: { plaintext: true, host: 0.0.0.0, port: 0 }\n",
    );
    const p = ServiceProcess.start("persistence-open", ["persistence", "--config", config], {});
    const code = await Promise.race([
      p.exited,
      new Promise<"timeout">((res) => setTimeout(() => res("timeout"), 30_000)),
    ]);
    if (code === "timeout") await p.stop();
    assert.equal(code, 2);
    assert.match(p.stderr, /grpc\.tls: is required: gRPC binds 0\.0\.0\.0/);
  });
});
