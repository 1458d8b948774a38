/**
 * The risk service served through @fixmesh/security: mutual TLS with certificates made by openssl (TestPki), a
 * policy file, the audit on risk's bus. A principal without `trade` on an account is refused CheckOrder (and a
 * CheckOrderStream frame) naming the grant; SetKillSwitch / SetLimits without the admin grant are refused and
 * audited as denied; with it the operator is the caller's principal whatever the request says; the risk CLI
 * with --tls-* flags works, and without a certificate it is refused with a readable error; bad gRPC security
 * settings fail the configuration naming the field.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { AuditEvent, Delivered } from "@fixmesh/bus";
import { InProcessBus } from "@fixmesh/bus";
import {
  checkHealth,
  createGrpcClient,
  type GrpcClientOf,
  KillSwitchScope,
  RiskService,
  RpcError,
} from "@fixmesh/contracts";
import { clientTls } from "@fixmesh/security";
import { type Issued, TestPki } from "@fixmesh/security/testing";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { runRiskCli } from "./cli/cli.js";
import { parseRiskConfig } from "./config/config.js";
import { RiskConfigError } from "./config/errors.js";
import { SESSION } from "./engine/testkit.js";
import { checkRequest } from "./grpc/testkit.js";
import { type RiskHandle, startRisk } from "./service.js";

const T = { timeout: 30_000 };
const SERVER_NAME = "risk.fixmesh.test";
const ORDER_ENTRY = "spiffe://fixmesh.test/ns/trading/sa/order-entry";
const DESK = "spiffe://fixmesh.test/ns/trading/sa/desk";
const quiet = pino({ level: "silent" });

const POLICY = `version: 1
principals:
  - match: ${ORDER_ENTRY}
    trade: [{ sessions: ["${SESSION}"], accounts: ["ACC1"] }]
  - match: ${DESK}
    read: ["*"]
  - match: cn:ops
    read: ["*"]
    admin: [{ actions: [SetKillSwitch, SetLimits], resources: ["*"] }]
`;

const check = (account: string) => checkRequest({ account, quantity: "10" });

async function refusal(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    return RpcError.from(e);
  }
  return assert.fail("the call succeeded");
}

/** Runs the risk CLI in process; returns its exit code, stdout lines and stderr text. */
async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string }> {
  const out: string[] = [];
  let err = "";
  const orig = console.error;
  console.error = (...a: unknown[]) => {
    err += `${a.map(String).join(" ")}\n`;
  };
  try {
    const code = await runRiskCli(args, (l) => out.push(l));
    return { code, out, err };
  } finally {
    console.error = orig;
  }
}

describe("risk service on mutual TLS with a policy", () => {
  const dir = mkdtempSync(join(tmpdir(), "fixmesh-risk-sec-"));
  const bus = new InProcessBus();
  const audits: AuditEvent[] = [];
  const id: Record<string, Issued> = {};
  const open: Array<() => void> = [];
  let pki: TestPki;
  let risk: RiskHandle;
  let address = "";

  function client(who: Issued | { caFile: string }): GrpcClientOf<typeof RiskService> {
    const t = clientTls({ ...who, serverName: SERVER_NAME });
    const conn = new grpc.Client(address, t.credentials, t.options);
    open.push(() => {
      conn.close();
      t.files.close();
    });
    return createGrpcClient(RiskService, conn);
  }

  const deadline = () => ({ deadline: Date.now() + 5000 });

  async function auditsOf(pred: (a: AuditEvent) => boolean, n: number): Promise<AuditEvent[]> {
    const end = Date.now() + 5000;
    while (audits.filter(pred).length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return audits.filter(pred);
  }

  before(async () => {
    pki = new TestPki(join(dir, "pki"));
    pki.folder(join(dir, "tls"), { dns: [SERVER_NAME] });
    id.orderEntry = pki.issue("order-entry", { uris: [ORDER_ENTRY] });
    id.desk = pki.issue("desk", { uris: [DESK] });
    id.ops = pki.issue("ops", { cn: "ops" });
    writeFileSync(join(dir, "policy.yaml"), POLICY);
    await bus.subscribe("audit.>", (d: Delivered) => audits.push(JSON.parse(Buffer.from(d.payload).toString())));
    // Relative paths: resolved against the configuration's directory.
    const config = parseRiskConfig(
      `grpc:
  host: 127.0.0.1
  port: 0
  healthPort: 0
  tls: { certFile: tls/tls.crt, keyFile: tls/tls.key, caFile: tls/ca.crt, clientCert: require }
  auth: { policyFile: policy.yaml }
log: { level: silent }
`,
      { env: {}, baseDir: dir },
    );
    risk = await startRisk(config, { buses: { orders: bus, fix: bus, audit: bus }, logger: quiet });
    address = `127.0.0.1:${risk.port}`;
    await client(id.ops).setLimits(
      { limitSet: { normal: { maxOrderQty: "1000" }, referencePrices: { IBM: "100" } }, reason: "test setup" },
      deadline(),
    );
  });

  after(async () => {
    for (const c of open) c();
    await risk.close();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    "CheckOrder needs `trade` on the session and account: ACC1 allowed, ACC2 refused naming the grant",
    T,
    async () => {
      const oe = client(id.orderEntry);
      assert.equal((await oe.checkOrder(check("ACC1"), deadline())).allowed, true);
      const e = await refusal(oe.checkOrder(check("ACC2"), deadline()));
      assert.equal(e.code, grpc.status.PERMISSION_DENIED);
      assert.equal(e.reason, "NOT_AUTHORIZED");
      assert.match(e.message, /missing grant trade .*ACC2/);
      assert.match(e.metadata.grant ?? "", /^trade .*ACC2/);
      // A principal with no trade grant at all is refused too, and each denial is on the bus.
      assert.equal((await refusal(client(id.desk).checkOrder(check("ACC1"), deadline()))).code, 7);
      const denied = await auditsOf((a) => a.action === "CheckOrder" && a.outcome === "denied", 2);
      assert.deepEqual(
        denied.map((a) => [a.service, a.principal]),
        [
          ["risk", ORDER_ENTRY],
          ["risk", DESK],
        ],
      );
    },
  );

  it(
    "CheckOrderStream: a frame for an account outside the grant ends the stream with PERMISSION_DENIED",
    T,
    async () => {
      const stream = client(id.orderEntry).checkOrderStream(deadline());
      const answers: string[] = [];
      const ended = new Promise<RpcError>((resolve) => {
        stream.on("data", (f: { correlationId: string }) => answers.push(f.correlationId));
        stream.on("error", (e: unknown) => resolve(RpcError.from(e)));
      });
      stream.write({ correlationId: "ok-1", check: check("ACC1") });
      await new Promise<void>((resolve) => {
        const t = setInterval(() => {
          if (answers.length > 0) {
            clearInterval(t);
            resolve();
          }
        }, 10);
      });
      stream.write({ correlationId: "bad-1", check: check("ACC2") });
      const e = await ended;
      assert.equal(e.code, grpc.status.PERMISSION_DENIED);
      assert.match(e.metadata.grant ?? "", /ACC2/);
      assert.deepEqual(answers, ["ok-1"]);
    },
  );

  it(
    "SetKillSwitch without the admin grant: refused naming it, audited as denied on the bus, nothing engaged",
    T,
    async () => {
      const e = await refusal(
        client(id.desk).setKillSwitch(
          { scope: KillSwitchScope.GLOBAL, engaged: true, reason: "panic", operator: "ops" },
          deadline(),
        ),
      );
      assert.equal(e.code, grpc.status.PERMISSION_DENIED);
      assert.match(e.message, /missing grant admin SetKillSwitch/);
      const [ev] = await auditsOf((a) => a.action === "SetKillSwitch" && a.outcome === "denied", 1);
      assert.ok(ev, "a denied SetKillSwitch audit event on the bus");
      assert.deepEqual([ev.service, ev.principal, ev.reason, ev.outcome], ["risk", DESK, "panic", "denied"]);
      assert.match(ev.detail ?? "", /admin SetKillSwitch/);
      assert.deepEqual(
        risk.killSwitches.current().filter((k) => k.engaged),
        [],
      );
      // SetLimits likewise.
      const l = await refusal(
        client(id.orderEntry).setLimits({ limitSet: { normal: { maxOrderQty: "1" } }, reason: "mine" }, deadline()),
      );
      assert.match(l.message, /missing grant admin SetLimits/);
      assert.equal(
        (await auditsOf((a) => a.action === "SetLimits" && a.outcome === "denied", 1))[0]?.principal,
        ORDER_ENTRY,
      );
    },
  );

  it(
    "SetKillSwitch with the grant: the operator is the caller's principal, not the request's; audited once",
    T,
    async () => {
      const ops = client(id.ops);
      const r = await ops.setKillSwitch(
        { scope: KillSwitchScope.ACCOUNT, target: "ACC1", engaged: true, reason: "fat finger", operator: "mallory" },
        deadline(),
      );
      assert.equal(r.killSwitch?.operator, "cn:ops");
      assert.equal((await client(id.orderEntry).checkOrder(check("ACC1"), deadline())).rule, "KILL_SWITCH");
      await ops.setKillSwitch(
        { scope: KillSwitchScope.ACCOUNT, target: "ACC1", engaged: false, reason: "cleared" },
        deadline(),
      );
      const ok = await auditsOf((a) => a.action === "SetKillSwitch" && a.outcome === "ok", 2);
      assert.deepEqual(
        ok.map((a) => [a.principal, a.resource, a.reason, a.detail]),
        [
          ["cn:ops", "account ACC1", "fat finger", "engaged"],
          ["cn:ops", "account ACC1", "cleared", "released"],
        ],
      );
      // SetLimits: the principal too (the setup call in before()).
      const limits = await auditsOf((a) => a.action === "SetLimits" && a.outcome === "ok", 1);
      assert.deepEqual(
        limits.map((a) => [a.principal, a.reason]),
        [["cn:ops", "test setup"]],
      );
    },
  );

  it("an admin call without a deadline is refused (DEADLINE_REQUIRED)", T, async () => {
    const e = await refusal(
      client(id.ops).setKillSwitch({ scope: KillSwitchScope.GLOBAL, engaged: true, reason: "x" }),
    );
    assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(e.reason, "DEADLINE_REQUIRED");
  });

  it("a client without a certificate, or with one from another CA, is refused at the handshake", T, async () => {
    assert.equal((await refusal(client({ caFile: pki.caFile }).getLimits({}, deadline()))).code, 14);
    const foreign = new TestPki(join(dir, "foreign"), "not our CA");
    const stranger = foreign.issue("stranger", { cn: "ops" });
    assert.equal((await refusal(client({ ...stranger, caFile: pki.caFile }).getLimits({}, deadline()))).code, 14);
  });

  it("the health-only port answers plaintext probes", T, async () => {
    const hp = risk.healthPort;
    assert.ok(typeof hp === "number" && hp > 0, "a health port");
    assert.equal(await checkHealth(`127.0.0.1:${hp}`), "SERVING");
  });

  it(
    "the risk CLI with --tls-* flags: lists, engages as its certificate's identity; no certificate: a readable refusal",
    T,
    async () => {
      const tls = ["--address", address, "--tls-ca", pki.caFile, "--tls-server-name", SERVER_NAME];
      const mine = ["--tls-cert", id.ops.certFile, "--tls-key", id.ops.keyFile];
      const engaged = await cli([
        "kill-switch",
        "engage",
        "--scope",
        "session",
        "--target",
        SESSION,
        "--reason",
        "cli test",
        "--json",
        ...tls,
        ...mine,
      ]);
      assert.equal(engaged.code, 0, engaged.err);
      assert.equal(JSON.parse(engaged.out[0]).operator, "cn:ops");
      const listed = await cli(["kill-switch", "--json", ...tls, ...mine]);
      assert.equal(listed.code, 0, listed.err);
      assert.ok(
        (JSON.parse(listed.out[0]) as Array<{ target: string; engaged: boolean; operator: string }>).some(
          (k) => k.target === SESSION && k.engaged && k.operator === "cn:ops",
        ),
      );
      const released = await cli([
        "kill-switch",
        "release",
        "--scope",
        "session",
        "--target",
        SESSION,
        "--reason",
        "done",
        ...tls,
        ...mine,
      ]);
      assert.equal(released.code, 0, released.err);

      // Without a certificate: exit 1, one line saying the connection failed and what to give.
      const noCert = await cli(["limits", ...tls]);
      assert.equal(noCert.code, 1);
      assert.match(noCert.err, /^fixmesh risk: /);
      assert.match(noCert.err, /requires a client certificate \(mutual TLS\): give --tls-cert and --tls-key/);
      // Plaintext against the TLS port: refused, with the hint to give --tls-ca.
      const plain = await cli(["limits", "--address", address]);
      assert.equal(plain.code, 1);
      assert.match(plain.err, /give --tls-ca/);
      // A certificate of a principal without the grant: PERMISSION_DENIED naming it.
      const desk = await cli([
        "kill-switch",
        "engage",
        "--scope",
        "global",
        "--reason",
        "x",
        ...tls,
        "--tls-cert",
        id.desk.certFile,
        "--tls-key",
        id.desk.keyFile,
      ]);
      assert.equal(desk.code, 1);
      assert.match(desk.err, /missing grant admin SetKillSwitch .*\(NOT_AUTHORIZED\)/);
      // A missing file: exit 2 naming the flag.
      const missing = await cli(["limits", ...tls, "--tls-cert", join(dir, "none.crt"), "--tls-key", id.ops.keyFile]);
      assert.equal(missing.code, 2);
      assert.match(missing.err, /--tls-cert: no such file .*none\.crt/);
    },
  );
});

describe("risk gRPC security configuration", () => {
  const refused = (yaml: string): string[] => {
    try {
      parseRiskConfig(yaml, { env: {} });
    } catch (e) {
      if (e instanceof RiskConfigError) return e.issues.map((i) => `${i.field}: ${i.reason}`);
      throw e;
    }
    return assert.fail("accepted");
  };

  it("plaintext on a network address, TLS without a policy, missing files: refused naming the field", () => {
    assert.match(
      refused("grpc: { plaintext: true, host: 0.0.0.0 }\n")[0],
      /^grpc\.tls: is required: gRPC binds 0\.0\.0\.0/,
    );
    const issues = refused(
      "grpc: { host: 0.0.0.0, tls: { certFile: /nope/a.crt, keyFile: /nope/a.key, caFile: /nope/ca.crt } }\n",
    );
    assert.ok(
      issues.some((i) => i.startsWith("grpc.auth.policyFile: is required")),
      issues.join("\n"),
    );
    assert.ok(
      issues.some((i) => i.startsWith("grpc.tls.certFile: ")),
      issues.join("\n"),
    );
    assert.match(
      refused("grpc: { plaintext: true, tls: { certFile: a, keyFile: b, caFile: c } }\n").join("\n"),
      /grpc\.plaintext: cannot be true together with tls/,
    );
  });

  it("plaintext on 127.0.0.1 when the file says so (embedded)", () => {
    const c = parseRiskConfig("grpc: { plaintext: true }\n", { env: {} });
    assert.deepEqual(c.grpc, { host: "127.0.0.1", port: 50071, closeGraceMs: 2000, plaintext: true });
  });
});
