/**
 * The connector as a process with its gRPC server on mutual TLS and an authorization policy: who gets through the
 * handshake, what each principal may do, what is audited (log line and bus subject `audit.connector.<action>`),
 * a server certificate rotated and a policy edited while it runs, and a start refused for plaintext on a network
 * address. Certificates are made by the test (openssl), the venue is the simulator, NATS is the real one.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { createGrpcClient, type GrpcClientOf, RpcError, SessionService, SessionStatus } from "@fixmesh/contracts";
import { clientTls } from "@fixmesh/security";
import { type Issued, TestPki } from "@fixmesh/security/testing";
import type { VenueSim } from "@fixmesh/venue-sim";
import * as grpc from "@grpc/grpc-js";
import { type NatsConnection, connect as natsConnect, type Subscription } from "@nats-io/transport-node";
import {
  deleteTestStream,
  NATS_URL,
  ServiceProcess,
  startVenue,
  tempFiles,
  testNames,
  waitFor,
} from "./trace-harness.js";

const T = { timeout: 60_000 };
const SESSION = "FIX.4.4:CLIENT->VENUE";
const SERVER_NAME = "connector.fixmesh.test";
const DESK_A = "spiffe://fixmesh.test/ns/trading/sa/desk-a";
const DESK_B = "spiffe://fixmesh.test/ns/trading/sa/desk-b";
const str = (tag: number, value: string) => ({ tag, value: { case: "stringValue" as const, value } });

function policy(deskBReads: boolean): string {
  return `version: 1
principals:
  - match: ${DESK_A}
    read: ["*"]
    trade: [{ sessions: ["${SESSION}"], accounts: ["ACC-A"] }]
  - match: ${DESK_B}
    trade: [{ sessions: ["${SESSION}"], accounts: ["ACC-B"] }]
${deskBReads ? '    read: ["*"]\n' : ""}  - match: cn:ops-console
    read: ["*"]
    admin: [{ actions: [Logout, Logon], resources: ["${SESSION}"] }]
`;
}

function connectorYaml(o: {
  venuePort: number;
  nats: { stream: string; subjectPrefix: string };
  tlsDir: string;
  policyFile: string;
  caFile: string;
  healthPort: number;
}): string {
  return `connector: { id: sec-grpc-test }
store: { kind: memory }
sessions:
  - BeginString: FIX.4.4
    SenderCompID: CLIENT
    TargetCompID: VENUE
    ConnectionType: initiator
    HeartBtInt: 30
    NonStopSession: Y
    ReconnectInterval: 1
    initiator: { hosts: [{ host: 127.0.0.1, port: ${o.venuePort} }] }
grpc:
  host: 127.0.0.1
  port: 0
  healthPort: ${o.healthPort}
  tls:
    certFile: ${join(o.tlsDir, "tls.crt")}
    keyFile: ${join(o.tlsDir, "tls.key")}
    caFile: ${o.caFile}
    clientCert: require
    reloadSeconds: 0.2
  auth:
    policyFile: ${o.policyFile}
    reloadSeconds: 0.2
metrics: { host: 127.0.0.1, port: 0 }
nats: { url: "${NATS_URL}", stream: ${o.nats.stream}, subjectPrefix: ${o.nats.subjectPrefix} }
log: { level: warn }
`;
}

type Rpc = GrpcClientOf<typeof SessionService>;

async function refusal(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    return RpcError.from(e);
  }
  assert.fail("the call succeeded");
}

const deadline = () => ({ deadline: Date.now() + 5000 });

describe("connector gRPC on mutual TLS with a policy (a real process)", () => {
  const files = tempFiles();
  const names = testNames();
  let pki: TestPki;
  let foreign: TestPki;
  let venue: VenueSim;
  let connector: ServiceProcess;
  let port: number;
  let nc: NatsConnection;
  let auditSub: Subscription;
  const busAudits: Record<string, unknown>[] = [];
  const id: Record<string, Issued> = {};
  const open: Array<() => void> = [];
  let tlsDir: string;
  let policyFile: string;
  let healthPort: number;

  function client(who: Partial<Issued>, caFile = pki.caFile): Rpc {
    const t = clientTls({ ...who, caFile, serverName: SERVER_NAME });
    const conn = new grpc.Client(`127.0.0.1:${port}`, t.credentials, t.options);
    open.push(() => {
      conn.close();
      t.files.close();
    });
    return createGrpcClient(SessionService, conn) as Rpc;
  }

  /** The audit events the connector logged (its JSON log lines on stdout). */
  function loggedAudits(): Array<Record<string, string>> {
    const out: Array<Record<string, string>> = [];
    for (const l of connector.stdout) {
      try {
        const v = JSON.parse(l) as { audit?: Record<string, string> };
        if (v.audit !== undefined) out.push(v.audit);
      } catch {
        // not a JSON line
      }
    }
    return out;
  }

  before(async () => {
    pki = new TestPki(join(files.dir, "pki"));
    foreign = new TestPki(join(files.dir, "foreign"), "not our CA");
    tlsDir = join(files.dir, "grpc-tls");
    pki.folder(tlsDir, { dns: [SERVER_NAME] });
    id.a = pki.issue("desk-a", { uris: [DESK_A] });
    id.b = pki.issue("desk-b", { uris: [DESK_B] });
    id.ops = pki.issue("ops", { cn: "ops-console" });
    id.expired = pki.issue("expired", { uris: [DESK_A], days: -1 });
    id.foreign = foreign.issue("foreign", { uris: [DESK_A] });
    policyFile = files.write("policy.yaml", policy(false));
    nc = await natsConnect({ servers: NATS_URL });
    auditSub = nc.subscribe("audit.connector.>");
    void (async () => {
      for await (const m of auditSub) busAudits.push(JSON.parse(new TextDecoder().decode(m.data)));
    })();
    venue = await startVenue();
    healthPort = await freePort();
    const config = files.write(
      "connector.yaml",
      connectorYaml({ venuePort: venue.port, nats: names, tlsDir, policyFile, caFile: pki.caFile, healthPort }),
    );
    connector = ServiceProcess.start("connector", ["connector", "--config", config], {});
    ({ grpc: port } = await connector.line<{ grpc: number }>("listening"));
    const a = client(id.a);
    const t0 = Date.now();
    for (;;) {
      const s = await a.getSession({ sessionId: SESSION }, deadline());
      if (s.session?.status === SessionStatus.LOGGED_ON) break;
      if (Date.now() - t0 > 20_000) throw new Error("the session did not log on");
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  after(async () => {
    for (const c of open) c();
    await connector?.stop();
    await venue?.stop(0);
    auditSub?.unsubscribe();
    await nc?.close();
    await deleteTestStream(names.stream);
    files.remove();
  });

  it("refuses a client without a certificate, with one from another CA, or with an expired one", T, async () => {
    const none = await refusal(client({}).getSession({ sessionId: SESSION }, deadline()));
    assert.equal(none.code, grpc.status.UNAVAILABLE, none.message);
    const other = await refusal(client(id.foreign).getSession({ sessionId: SESSION }, deadline()));
    assert.equal(other.code, grpc.status.UNAVAILABLE, other.message);
    const expired = grpc.credentials.createSsl(
      readFileSync(pki.caFile),
      readFileSync(id.expired.keyFile),
      readFileSync(id.expired.certFile),
    );
    const conn = new grpc.Client(`127.0.0.1:${port}`, expired, { "grpc.ssl_target_name_override": SERVER_NAME });
    open.push(() => conn.close());
    const old = await refusal(createGrpcClient(SessionService, conn).getSession({ sessionId: SESSION }, deadline()));
    assert.equal(old.code, grpc.status.UNAVAILABLE, old.message);
  });

  it("answers kubelet-style plaintext health checks on grpc.healthPort, and serves nothing else there", T, async () => {
    const conn = new grpc.Client(`127.0.0.1:${healthPort}`, grpc.credentials.createInsecure());
    open.push(() => conn.close());
    const status = await new Promise<number>((resolve, reject) =>
      conn.makeUnaryRequest(
        "/grpc.health.v1.Health/Check",
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
        new grpc.Metadata(),
        { deadline: Date.now() + 5000 },
        // HealthCheckResponse { status = 1 (SERVING) } is the two bytes 08 01.
        (e, v) => (e ? reject(e) : resolve(v?.[1] ?? -1)),
      ),
    );
    assert.equal(status, 1, "SERVING");
    const err = await refusal(createGrpcClient(SessionService, conn).getSession({ sessionId: SESSION }, deadline()));
    assert.equal(err.code, grpc.status.UNIMPLEMENTED);
  });

  it("lets desk A send for its account and refuses desk A acting for account B, audited", T, async () => {
    const a = client(id.a);
    const ok = await a.send({ sessionId: SESSION, msgType: "D", fields: orderFields("ACC-A", "sec-ok-1") }, deadline());
    assert.ok(ok.msgSeqNum > 1);
    const err = await refusal(
      a.send({ sessionId: SESSION, msgType: "D", fields: orderFields("ACC-B", "sec-denied-1") }, deadline()),
    );
    assert.equal(err.code, grpc.status.PERMISSION_DENIED);
    assert.equal(err.reason, "NOT_AUTHORIZED");
    assert.equal(err.metadata.grant, `trade session=${SESSION} account=ACC-B`);
    await waitFor(
      () => loggedAudits().some((e) => e.action === "Send" && e.outcome === "denied" && e.principal === DESK_A),
      10_000,
      "the denial in the connector's log",
    );
    await waitFor(
      () => busAudits.some((e) => e.action === "Send" && e.outcome === "denied" && e.principal === DESK_A),
      10_000,
      "the denial on audit.connector.Send",
    );
  });

  it(
    "refuses Logout without the admin grant and audits it; an operator with the grant logs out and on",
    T,
    async () => {
      const b = client(id.b);
      const err = await refusal(b.logout({ sessionId: SESSION, reason: "desk B tries" }, deadline()));
      assert.equal(err.code, grpc.status.PERMISSION_DENIED);
      assert.equal(err.metadata.grant, `admin Logout resource=${SESSION}`);
      await waitFor(
        () =>
          busAudits.some(
            (e) =>
              e.action === "Logout" && e.outcome === "denied" && e.principal === DESK_B && e.reason === "desk B tries",
          ),
        10_000,
        "the denied Logout on the bus",
      );
      const ops = client(id.ops);
      const noDeadline = await refusal(ops.logout({ sessionId: SESSION, reason: "eod" }));
      assert.equal(noDeadline.reason, "DEADLINE_REQUIRED");
      await ops.logout({ sessionId: SESSION, reason: "end of day" }, deadline());
      await ops.logon({ sessionId: SESSION }, deadline());
      await waitFor(
        () =>
          busAudits.some((e) => e.action === "Logout" && e.outcome === "ok" && e.principal === "cn:ops-console") &&
          busAudits.some((e) => e.action === "Logon" && e.outcome === "ok" && e.principal === "cn:ops-console"),
        10_000,
        "the operator's Logout and Logon on the bus",
      );
      const logged = loggedAudits().find((e) => e.action === "Logout" && e.outcome === "ok");
      assert.equal(logged?.reason, "end of day");
      assert.equal(logged?.resource, SESSION);
    },
  );

  it("applies an edited policy while running", T, async () => {
    const b = client(id.b);
    const before = await refusal(b.getSession({ sessionId: SESSION }, deadline()));
    assert.equal(before.code, grpc.status.PERMISSION_DENIED);
    files.write("policy.yaml", policy(true));
    let got = false;
    const t0 = Date.now();
    while (!got) {
      got = await b.getSession({ sessionId: SESSION }, deadline()).then(
        () => true,
        () => false,
      );
      if (!got && Date.now() - t0 > 10_000) assert.fail("the edited policy was not applied");
      if (!got) await new Promise((r) => setTimeout(r, 100));
    }
    // A broken edit is refused and the policy in force stays.
    files.write("policy.yaml", "version: 1\nprincipals: nope\n");
    await waitFor(
      () => connector.stdout.some((l) => l.includes("authorization policy change refused")),
      10_000,
      "the refused policy edit in the log",
    );
    await b.getSession({ sessionId: SESSION }, deadline());
  });

  it("serves a rotated server certificate to new connections without a restart", T, async () => {
    const fingerprint = () =>
      new Promise<string>((resolve, reject) => {
        const s = tlsConnect({
          host: "127.0.0.1",
          port,
          servername: SERVER_NAME,
          ca: readFileSync(pki.caFile),
          cert: readFileSync(id.a.certFile),
          key: readFileSync(id.a.keyFile),
          ALPNProtocols: ["h2"],
        });
        s.once("secureConnect", () => {
          const fp = s.getPeerCertificate().fingerprint256;
          s.destroy();
          resolve(fp);
        });
        s.once("error", reject);
      });
    const before = await fingerprint();
    const next = pki.folder(tlsDir, { dns: [SERVER_NAME] });
    const want = new X509Certificate(readFileSync(next.certFile)).fingerprint256;
    assert.notEqual(before, want);
    const t0 = Date.now();
    while ((await fingerprint()) !== want) {
      if (Date.now() - t0 > 10_000) assert.fail("the rotated certificate was not served");
      await new Promise((r) => setTimeout(r, 100));
    }
    const s = await client(id.a).getSession({ sessionId: SESSION }, deadline());
    assert.equal(s.session?.id, SESSION);
  });
});

describe("connector gRPC transport rules at start (a real process)", () => {
  it("refuses to start with plaintext gRPC on 0.0.0.0, naming grpc.tls", T, async () => {
    const files = tempFiles();
    try {
      const config = files.write(
        "connector.yaml",
        `store: { kind: memory }
sessions:
  - { BeginString: FIX.4.4, SenderCompID: A, TargetCompID: B, ConnectionType: initiator, initiator: { hosts: [{ host: 127.0.0.1, port: 9 }] } }
grpc: { plaintext: true, host: 0.0.0.0, port: 0 }
metrics: { host: 127.0.0.1, port: 0 }
`,
      );
      const p = ServiceProcess.start("connector", ["connector", "--config", config], {});
      const code = await p.exited;
      assert.notEqual(code, 0);
      assert.match(p.stderr, /grpc\.tls: is required: gRPC binds 0\.0\.0\.0/);
    } finally {
      files.remove();
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function orderFields(account: string, clOrdId: string) {
  return [
    str(11, clOrdId),
    str(1, account),
    str(55, "ABC"),
    str(54, "1"),
    str(38, "10"),
    str(40, "2"),
    str(44, "100"),
    str(60, "20260101-00:00:00.000"),
  ];
}
