/**
 * The risk service as a process (`fixmesh risk-service`) with its gRPC server on mutual TLS and a policy, its
 * audit on NATS (subject `<auditPrefix>.risk.<action>`), and the `fixmesh risk` CLI as a process with --tls-*
 * flags and FIXMESH_TLS_* variables: a principal without `trade` on an account is refused CheckOrder naming the
 * grant; a kill switch engaged without the admin grant is refused and audited as denied; with it the operator is
 * the certificate's identity; a CLI without a certificate is refused with a readable line; a start on 0.0.0.0
 * without TLS is refused naming the field. Certificates are made by the test (openssl).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { JetStreamBus } from "@fixmesh/bus";
import {
  createGrpcClient,
  type GrpcClientOf,
  OrderType,
  RiskCheckKind,
  RiskService,
  RpcError,
  SessionHealth,
  Side,
} from "@fixmesh/contracts";
import { clientTls } from "@fixmesh/security";
import { type Issued, TestPki } from "@fixmesh/security/testing";
import * as grpc from "@grpc/grpc-js";
import { type NatsConnection, connect as natsConnect, type Subscription } from "@nats-io/transport-node";
import { CLI, NATS_URL, rand, ServiceProcess, tempFiles, waitFor } from "./trace-harness.js";

const T = { timeout: 60_000 };
const SESSION = "FIX.4.4:CLIENT->VENUE";
const SERVER_NAME = "risk.fixmesh.test";
const ORDER_ENTRY = "spiffe://fixmesh.test/ns/trading/sa/order-entry";
const DESK = "spiffe://fixmesh.test/ns/trading/sa/desk";

const POLICY = `version: 1
principals:
  - match: ${ORDER_ENTRY}
    trade: [{ sessions: ["${SESSION}"], accounts: ["ACC1"] }]
  - match: ${DESK}
    read: ["*"]
  - match: cn:ops
    read: ["*"]
    admin: [{ actions: [SetKillSwitch], resources: ["*"] }]
`;

function check(account: string) {
  return {
    kind: RiskCheckKind.NEW,
    sessionId: SESSION,
    account,
    symbol: "IBM",
    side: Side.BUY,
    quantity: "10",
    orderType: OrderType.LIMIT,
    price: "100",
    sessionHealth: SessionHealth.LIVE,
  };
}

/** `fixmesh risk …` as a child process (bounded): exit code, stdout, stderr. */
function riskCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, "risk", ...args], {
      env: { ...process.env, FIXMESH_TLS_CA: "", FIXMESH_TLS_CERT: "", FIXMESH_TLS_KEY: "", ...env },
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

describe("risk gRPC on mutual TLS with a policy (a real process)", () => {
  const files = tempFiles();
  const r = rand();
  const names = {
    orders: [`RISKSEC_O_${r}`, `rso_${r}`],
    fix: [`RISKSEC_F_${r}`, `rsf_${r}`],
    audit: [`RISKSEC_A_${r}`, `rsa_${r}`],
  } as const;
  const id: Record<string, Issued> = {};
  const open: Array<() => void> = [];
  const busAudits: Array<Record<string, string>> = [];
  let pki: TestPki;
  let risk: ServiceProcess;
  let address = "";
  let nc: NatsConnection;
  let sub: Subscription;

  function client(who: Issued): GrpcClientOf<typeof RiskService> {
    const t = clientTls({ ...who, serverName: SERVER_NAME });
    const conn = new grpc.Client(address, t.credentials, t.options);
    open.push(() => {
      conn.close();
      t.files.close();
    });
    return createGrpcClient(RiskService, conn);
  }

  const tlsFlags = () => ["--address", address, "--tls-ca", pki.caFile, "--tls-server-name", SERVER_NAME];

  before(async () => {
    pki = new TestPki(join(files.dir, "pki"));
    pki.folder(join(files.dir, "grpc-tls"), { dns: [SERVER_NAME] });
    id.orderEntry = pki.issue("order-entry", { uris: [ORDER_ENTRY] });
    id.desk = pki.issue("desk", { uris: [DESK] });
    id.ops = pki.issue("ops", { cn: "ops" });
    files.write("policy.yaml", POLICY);
    nc = await natsConnect({ servers: NATS_URL });
    sub = nc.subscribe(`${names.audit[1]}.risk.>`);
    void (async () => {
      for await (const m of sub) busAudits.push(JSON.parse(new TextDecoder().decode(m.data)));
    })();
    const config = files.write(
      "risk.yaml",
      `risk: { id: risk-sec-${r} }
grpc:
  host: 127.0.0.1
  port: 0
  tls: { certFile: grpc-tls/tls.crt, keyFile: grpc-tls/tls.key, caFile: grpc-tls/ca.crt, clientCert: require }
  auth: { policyFile: policy.yaml }
state: { kind: memory }
bus:
  kind: nats
  nats: { url: "${NATS_URL}", ordersStream: ${names.orders[0]}, ordersPrefix: ${names.orders[1]},
          fixStream: ${names.fix[0]}, fixPrefix: ${names.fix[1]}, auditStream: ${names.audit[0]}, auditPrefix: ${names.audit[1]} }
  catchUpTimeoutMs: 20000
log: { level: warn }
`,
    );
    risk = ServiceProcess.start("risk", ["risk-service", "--config", config], { OTEL_TRACES_EXPORTER: "none" });
    const { grpc: port } = await risk.line<{ grpc: number }>("listening", 30_000);
    address = `127.0.0.1:${port}`;
  });

  after(async () => {
    for (const c of open) c();
    await risk?.stop();
    sub?.unsubscribe();
    await nc?.close();
    for (const [stream, prefix] of Object.values(names)) {
      try {
        const bus = await JetStreamBus.connect({ servers: NATS_URL, stream, subjects: [`${prefix}.>`] });
        await bus.deleteStream();
        await bus.close();
      } catch {
        // never created
      }
    }
    files.remove();
  });

  it(
    "CheckOrder needs `trade` on the account: ACC1 allowed, ACC2 refused naming the grant, audited on NATS",
    T,
    async () => {
      const oe = client(id.orderEntry);
      assert.equal((await oe.checkOrder(check("ACC1"), { deadline: Date.now() + 5000 })).allowed, true);
      const e = await oe.checkOrder(check("ACC2"), { deadline: Date.now() + 5000 }).then(
        () => assert.fail("ACC2 was checked"),
        (err: unknown) => RpcError.from(err),
      );
      assert.equal(e.code, grpc.status.PERMISSION_DENIED);
      assert.equal(e.reason, "NOT_AUTHORIZED");
      assert.match(e.metadata.grant ?? "", /^trade .*ACC2/);
      await waitFor(() => busAudits.some((a) => a.action === "CheckOrder"), 10_000, "the denial on NATS");
      const ev = busAudits.find((a) => a.action === "CheckOrder");
      assert.deepEqual([ev?.service, ev?.principal, ev?.outcome], ["risk", ORDER_ENTRY, "denied"]);
    },
  );

  it("the CLI engaging a kill switch without the admin grant: refused naming it, audited as denied", T, async () => {
    const r1 = await riskCli([
      "kill-switch",
      "engage",
      "--scope",
      "account",
      "--target",
      "ACC1",
      "--reason",
      "not mine",
      ...tlsFlags(),
      "--tls-cert",
      id.desk.certFile,
      "--tls-key",
      id.desk.keyFile,
    ]);
    assert.equal(r1.code, 1, r1.stderr);
    assert.match(r1.stderr, /missing grant admin SetKillSwitch resource=ACC1/);
    await waitFor(
      () => busAudits.some((a) => a.action === "SetKillSwitch" && a.outcome === "denied"),
      10_000,
      "the denied SetKillSwitch on NATS",
    );
    const ev = busAudits.find((a) => a.action === "SetKillSwitch" && a.outcome === "denied");
    assert.deepEqual([ev?.principal, ev?.resource, ev?.reason], [DESK, "ACC1", "not mine"]);
    // Nothing engaged: the order-entry identity's check of ACC1 is still allowed.
    assert.equal(
      (await client(id.orderEntry).checkOrder(check("ACC1"), { deadline: Date.now() + 5000 })).allowed,
      true,
    );
  });

  it(
    "with the grant (FIXMESH_TLS_* variables): engaged with the certificate's identity as operator, audited",
    T,
    async () => {
      const env = { FIXMESH_TLS_CA: pki.caFile, FIXMESH_TLS_CERT: id.ops.certFile, FIXMESH_TLS_KEY: id.ops.keyFile };
      const r2 = await riskCli(
        [
          "kill-switch",
          "engage",
          "--scope",
          "account",
          "--target",
          "ACC1",
          "--reason",
          "fat finger",
          "--operator",
          "somebody-else",
          "--json",
          "--address",
          address,
          "--tls-server-name",
          SERVER_NAME,
        ],
        env,
      );
      assert.equal(r2.code, 0, r2.stderr);
      assert.equal(JSON.parse(r2.stdout).operator, "cn:ops");
      const checked = await client(id.orderEntry).checkOrder(check("ACC1"), { deadline: Date.now() + 5000 });
      assert.deepEqual([checked.allowed, checked.rule], [false, "KILL_SWITCH"]);
      await waitFor(
        () => busAudits.some((a) => a.action === "SetKillSwitch" && a.outcome === "ok"),
        10_000,
        "the SetKillSwitch on NATS",
      );
      const ok = busAudits.filter((a) => a.action === "SetKillSwitch" && a.outcome === "ok");
      assert.deepEqual(
        ok.map((a) => [a.principal, a.resource, a.reason]),
        [["cn:ops", "account ACC1", "fat finger"]],
      );
      const listed = await riskCli(["kill-switch", "--address", address, "--tls-server-name", SERVER_NAME], env);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /ACCOUNT\s+ACC1\s+ENGAGED\s+cn:ops/);
    },
  );

  it("the CLI without a client certificate, or in plaintext: refused with a readable line", T, async () => {
    const noCert = await riskCli(["limits", ...tlsFlags()]);
    assert.equal(noCert.code, 1);
    assert.match(
      noCert.stderr,
      /^fixmesh risk: 127\.0\.0\.1:\d+: the server requires a client certificate \(mutual TLS\): give --tls-cert and --tls-key/,
    );
    const plain = await riskCli(["limits", "--address", address]);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /give --tls-ca/);
    const missing = await riskCli([
      "limits",
      ...tlsFlags(),
      "--tls-cert",
      join(files.dir, "no.crt"),
      "--tls-key",
      id.ops.keyFile,
    ]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--tls-cert: no such file .*no\.crt/);
  });

  it("a start on 0.0.0.0 without TLS is refused naming grpc.tls (exit 2)", T, async () => {
    const config = files.write(
      "open.yaml",
      "grpc: { plaintext: true, host: 0.0.0.0, port: 0 }\nlog: { level: warn }\n",
    );
    const p = ServiceProcess.start("risk-open", ["risk-service", "--config", config], { OTEL_TRACES_EXPORTER: "none" });
    const timer = setTimeout(() => p.proc.kill("SIGKILL"), 20_000);
    const code = await p.exited;
    clearTimeout(timer);
    assert.equal(code, 2);
    assert.match(p.stderr, /grpc\.tls: is required: gRPC binds 0\.0\.0\.0/);
  });
});
