import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { addGrpcService, createGrpcClient, type GrpcClientOf, RpcError, SessionService } from "@fixmesh/contracts";
import * as grpc from "@grpc/grpc-js";
import { exportJWK, generateKeyPair, SignJWT } from "jose";

type KeyLike = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

import { SecurityConfigError } from "../errors.js";
import { grant } from "../grants.js";
import { type Issued, TestPki } from "../testing/pki.js";
import { clientTls } from "../tls/credentials.js";
import type { AuditEvent } from "./audit.js";
import { createGrpcSecurity, type GrpcSecurity, type GrpcSecurityOptions } from "./security.js";
import { sessionServiceRules } from "./service-rules.js";

const Code = grpc.status;
const T = { timeout: 20_000 };
const SERVER_NAME = "connector.test";
const A = "FIX.4.4:A->V";
const B = "FIX.4.4:B->V";

const POLICY = `
version: 1
roles:
  reader: { read: ["*"] }
principals:
  - match: spiffe://fixmesh.test/ns/trading/sa/desk-a
    roles: [reader]
    trade: [{ sessions: ["${A}"], accounts: ["ACC-A"] }]
    stream: ["${A}"]
  - match: spiffe://fixmesh.test/ns/trading/sa/desk-b
    trade: [{ sessions: ["${B}"], accounts: ["ACC-B"] }]
  - match: cn:ops
    roles: [reader]
    admin: [{ actions: [ResetSequence, Logout], resources: ["*"] }]
  - match: jwt:alice
    read: ["${A}"]
  - match: cn:limited-rate
    limits: { requestsPerSecond: 0.001, burst: 2 }
    read: ["*"]
  - match: cn:limited-streams
    limits: { maxStreams: 1 }
    stream: ["*"]
`;

async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Served {
  port: number;
  sec: GrpcSecurity;
  audits: AuditEvent[];
  /** Principal ids the handlers saw, by method. */
  seen: string[];
  close(): Promise<void>;
}

/** A SessionService whose handlers answer trivially and record the principal they were given. */
async function serve(opts: Omit<GrpcSecurityOptions, "service" | "audit">): Promise<Served> {
  const audits: AuditEvent[] = [];
  const seen: string[] = [];
  const sec = createGrpcSecurity({ service: "test", audit: (e) => audits.push(e), ...opts });
  const server = new grpc.Server(sec.serverOptions);
  const see = (call: { metadata: grpc.Metadata }) => seen.push(sec.principalOf(call).id);
  addGrpcService(
    server,
    SessionService,
    sec.protect(SessionService, sessionServiceRules, {
      listSessions: (_r, call) => {
        see(call);
        return { sessions: [] };
      },
      getSession: (r, call) => {
        see(call);
        // As order-entry does for a cancel by order id: the account is known only after a lookup.
        if (r.sessionId === "ORDER-LOOKUP") sec.authorize(call, grant.trade(A, "ACC-HIDDEN"));
        return { session: { id: r.sessionId, healthReason: sec.principalOf(call).id } };
      },
      send: (_r, call) => {
        see(call);
        return { msgSeqNum: 7 };
      },
      sendStream: (call) => {
        call.on("data", (f: { sends: { correlationId: bigint }[] }) => {
          call.write({
            results: f.sends.map((s) => ({
              correlationId: s.correlationId,
              result: { case: "ok" as const, value: { msgSeqNum: 1 } },
            })),
          });
        });
        call.on("end", () => call.end());
      },
      streamMessages: (call) => {
        see(call);
        call.write({ messages: [] });
        // Open until the client cancels.
      },
      logout: () => ({}),
      logon: () => ({}),
      resetSequence: (r) => {
        if (r.force) throw new RpcError(Code.FAILED_PRECONDITION, "INSIDE_TRADING_WINDOW", "inside the window");
        return {};
      },
    }),
  );
  // A service added without rules: the security must refuse it (fail closed), not serve it.
  const raw = (b: Buffer) => b;
  server.addService(
    {
      ping: {
        path: "/test.Unprotected/Ping",
        requestStream: false,
        responseStream: false,
        requestSerialize: raw,
        requestDeserialize: raw,
        responseSerialize: raw,
        responseDeserialize: raw,
      },
    },
    { ping: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from("pong")) },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:0`, sec.credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    sec,
    audits,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        sec.close();
        resolve();
      }),
  };
}

type Rpc = GrpcClientOf<typeof SessionService>;

function client(port: number, creds: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}) {
  const conn = new grpc.Client(`127.0.0.1:${port}`, creds, options);
  return { rpc: createGrpcClient(SessionService, conn) as Rpc, close: () => conn.close() };
}

function tlsClient(port: number, id: Partial<Issued> & { caFile: string }) {
  const t = clientTls({ ...id, serverName: SERVER_NAME });
  const c = client(port, t.credentials, t.options);
  return {
    ...c,
    close: () => {
      c.close();
      t.files.close();
    },
  };
}

const deadline = () => ({ deadline: Date.now() + 5000 });

async function refusal(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    return RpcError.from(e);
  }
  assert.fail("the call succeeded");
}

describe("gRPC security over mutual TLS", () => {
  let pki: TestPki;
  let otherCa: TestPki;
  let dir: string;
  let served: Served;
  const id: Record<string, Issued> = {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "fixmesh-sec-"));
    pki = new TestPki(join(dir, "pki"));
    otherCa = new TestPki(join(dir, "other"), "another CA");
    id.server = pki.issue("server", { dns: [SERVER_NAME] });
    id.a = pki.issue("desk-a", { uris: ["spiffe://fixmesh.test/ns/trading/sa/desk-a"], cn: "desk-a" });
    id.b = pki.issue("desk-b", { uris: ["spiffe://fixmesh.test/ns/trading/sa/desk-b"] });
    id.ops = pki.issue("ops", { cn: "ops" });
    id.rate = pki.issue("rate", { cn: "limited-rate" });
    id.streams = pki.issue("streams", { cn: "limited-streams" });
    id.expired = pki.issue("expired", { uris: ["spiffe://fixmesh.test/ns/trading/sa/desk-a"], days: -1 });
    id.foreign = otherCa.issue("foreign", { uris: ["spiffe://fixmesh.test/ns/trading/sa/desk-a"] });
    writeFileSync(join(dir, "policy.yaml"), POLICY);
    served = await serve({
      host: "127.0.0.1",
      tls: { ...id.server, caFile: pki.caFile },
      policyFile: join(dir, "policy.yaml"),
      limits: { maxMessageBytes: 64 * 1024 },
    });
  });

  after(async () => {
    await served?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("accepts a client certificate of the CA and names the caller by its URI SAN", T, async () => {
    const c = tlsClient(served.port, id.a);
    try {
      const r = await c.rpc.getSession({ sessionId: A }, deadline());
      assert.equal(r.session?.healthReason, "spiffe://fixmesh.test/ns/trading/sa/desk-a");
    } finally {
      c.close();
    }
  });

  it("refuses the handshake of a client without a certificate", T, async () => {
    const c = tlsClient(served.port, { caFile: pki.caFile });
    try {
      const err = await refusal(c.rpc.getSession({ sessionId: A }, deadline()));
      assert.equal(err.code, Code.UNAVAILABLE, err.message);
    } finally {
      c.close();
    }
  });

  it("refuses a client certificate signed by another CA", T, async () => {
    const c = tlsClient(served.port, { ...id.foreign, caFile: pki.caFile });
    try {
      const err = await refusal(c.rpc.getSession({ sessionId: A }, deadline()));
      assert.equal(err.code, Code.UNAVAILABLE, err.message);
    } finally {
      c.close();
    }
  });

  it("refuses an expired client certificate", T, async () => {
    // CertificateFiles refuses to present an expired identity itself, so the expired pair goes in raw.
    const creds = grpc.credentials.createSsl(
      readFileSync(pki.caFile),
      readFileSync(id.expired.keyFile),
      readFileSync(id.expired.certFile),
    );
    const c = client(served.port, creds, { "grpc.ssl_target_name_override": SERVER_NAME });
    try {
      const err = await refusal(c.rpc.getSession({ sessionId: A }, deadline()));
      assert.equal(err.code, Code.UNAVAILABLE, err.message);
    } finally {
      c.close();
    }
  });

  it("refuses a server whose certificate does not carry the expected name", T, async () => {
    const t = clientTls({ ...id.a, serverName: "not-the-connector.test" });
    const c = client(served.port, t.credentials, t.options);
    try {
      const err = await refusal(c.rpc.getSession({ sessionId: A }, deadline()));
      assert.equal(err.code, Code.UNAVAILABLE, err.message);
    } finally {
      c.close();
      t.files.close();
    }
  });

  it("lets desk A trade its account on its session and refuses account B, naming the grant", T, async () => {
    const c = tlsClient(served.port, id.a);
    try {
      const ok = await c.rpc.send(
        { sessionId: A, msgType: "D", fields: [{ tag: 1, value: { case: "stringValue", value: "ACC-A" } }] },
        deadline(),
      );
      assert.equal(ok.msgSeqNum, 7);
      const err = await refusal(
        c.rpc.send(
          { sessionId: B, msgType: "D", fields: [{ tag: 1, value: { case: "stringValue", value: "ACC-B" } }] },
          deadline(),
        ),
      );
      assert.equal(err.code, Code.PERMISSION_DENIED);
      assert.equal(err.reason, "NOT_AUTHORIZED");
      assert.equal(err.metadata.grant, `trade session=${B} account=ACC-B`);
      const denied = served.audits.find((e) => e.outcome === "denied" && e.action === "Send");
      assert.ok(denied, "the denial is audited");
      assert.equal(denied.principal, "spiffe://fixmesh.test/ns/trading/sa/desk-a");
      assert.equal(denied.resource, `${B}/ACC-B`);
    } finally {
      c.close();
    }
  });

  it("refuses in the handler what only the handler can check (authorize), audited", T, async () => {
    const c = tlsClient(served.port, id.a);
    try {
      const err = await refusal(c.rpc.getSession({ sessionId: "ORDER-LOOKUP" }, deadline()));
      assert.equal(err.code, Code.PERMISSION_DENIED);
      assert.equal(err.metadata.grant, `trade session=${A} account=ACC-HIDDEN`);
      assert.ok(served.audits.some((e) => e.action === "GetSession" && e.resource === `${A}/ACC-HIDDEN`));
    } finally {
      c.close();
    }
  });

  it("refuses a raw send without Account unless the grant covers every account", T, async () => {
    const c = tlsClient(served.port, id.a);
    try {
      const err = await refusal(c.rpc.send({ sessionId: A, msgType: "D", fields: [] }, deadline()));
      assert.equal(err.metadata.grant, `trade session=${A} account=*`);
    } finally {
      c.close();
    }
  });

  it("ends a SendStream at the first frame that acts on a session the caller may not trade", T, async () => {
    const c = tlsClient(served.port, id.a);
    try {
      const s = c.rpc.sendStream(deadline());
      const frames: unknown[] = [];
      const ended = new Promise<RpcError>((resolve) => s.on("error", (e) => resolve(RpcError.from(e))));
      s.on("data", (f) => frames.push(f));
      const acc = (a: string) => [{ tag: 1, value: { case: "stringValue" as const, value: a } }];
      s.write({ sends: [{ correlationId: 1n, send: { sessionId: A, msgType: "D", fields: acc("ACC-A") } }] });
      await waitFor(() => frames.length === 1, 5000, "the first frame's results");
      s.write({ sends: [{ correlationId: 2n, send: { sessionId: B, msgType: "D", fields: acc("ACC-B") } }] });
      const err = await ended;
      assert.equal(err.code, Code.PERMISSION_DENIED);
      assert.equal(err.metadata.grant, `trade session=${B} account=ACC-B`);
      assert.equal(frames.length, 1);
    } finally {
      c.close();
    }
  });

  it("refuses an admin action without its grant and audits the denial with the reason given", T, async () => {
    const c = tlsClient(served.port, id.a);
    try {
      const err = await refusal(c.rpc.resetSequence({ sessionId: A, reason: "venue asked" }, deadline()));
      assert.equal(err.code, Code.PERMISSION_DENIED);
      assert.equal(err.metadata.grant, `admin ResetSequence resource=${A}`);
      const ev = served.audits.find((e) => e.action === "ResetSequence" && e.outcome === "denied");
      assert.ok(ev);
      assert.equal(ev.principal, "spiffe://fixmesh.test/ns/trading/sa/desk-a");
      assert.equal(ev.reason, "venue asked");
      assert.equal(ev.detail, `admin ResetSequence resource=${A}`);
      assert.equal(ev.service, "test");
    } finally {
      c.close();
    }
  });

  it("audits an admin action that ran (ok) and one that failed, with the principal", T, async () => {
    const c = tlsClient(served.port, id.ops);
    try {
      await c.rpc.resetSequence({ sessionId: A, reason: "start of day" }, deadline());
      const ok = served.audits.find((e) => e.principal === "cn:ops" && e.outcome === "ok");
      assert.deepEqual(
        { action: ok?.action, resource: ok?.resource, reason: ok?.reason },
        { action: "ResetSequence", resource: A, reason: "start of day" },
      );
      await refusal(c.rpc.resetSequence({ sessionId: A, reason: "forced", force: true }, deadline()));
      const failed = served.audits.find((e) => e.principal === "cn:ops" && e.outcome === "failed");
      assert.match(failed?.detail ?? "", /FAILED_PRECONDITION/);
    } finally {
      c.close();
    }
  });

  it("refuses an admin call without a deadline (DEADLINE_REQUIRED)", T, async () => {
    const c = tlsClient(served.port, id.ops);
    try {
      const err = await refusal(c.rpc.logout({ sessionId: A, reason: "eod" }));
      assert.equal(err.code, Code.INVALID_ARGUMENT);
      assert.equal(err.reason, "DEADLINE_REQUIRED");
    } finally {
      c.close();
    }
  });

  it("throttles a principal over its request rate (THROTTLED)", T, async () => {
    const c = tlsClient(served.port, id.rate);
    try {
      await c.rpc.listSessions({}, deadline());
      await c.rpc.listSessions({}, deadline());
      const err = await refusal(c.rpc.listSessions({}, deadline()));
      assert.equal(err.code, Code.RESOURCE_EXHAUSTED);
      assert.equal(err.reason, "THROTTLED");
      assert.equal(err.metadata.limit, "requestsPerSecond");
    } finally {
      c.close();
    }
  });

  it("limits the streams one principal holds open, and frees the slot when one ends", T, async () => {
    const c = tlsClient(served.port, id.streams);
    try {
      const first = c.rpc.streamMessages({ sessionId: A });
      first.on("error", () => {});
      await new Promise((r) => first.once("data", r));
      const second = c.rpc.streamMessages({ sessionId: A });
      const err = await new Promise<RpcError>((resolve) => second.on("error", (e) => resolve(RpcError.from(e))));
      assert.equal(err.code, Code.RESOURCE_EXHAUSTED);
      assert.equal(err.metadata.limit, "maxStreams");
      first.cancel();
      await waitFor(
        async () => {
          const third = c.rpc.streamMessages({ sessionId: A });
          const got = await new Promise<boolean>((resolve) => {
            third.once("data", () => resolve(true));
            third.once("error", () => resolve(false));
          });
          third.on("error", () => {});
          third.cancel();
          return got;
        },
        5000,
        "a stream slot after the first stream ended",
      );
    } finally {
      c.close();
    }
  });

  it("refuses a request larger than maxMessageBytes", T, async () => {
    const c = tlsClient(served.port, id.a);
    try {
      const big = "x".repeat(100 * 1024);
      const err = await refusal(
        c.rpc.send(
          { sessionId: A, msgType: "D", fields: [{ tag: 58, value: { case: "stringValue", value: big } }] },
          deadline(),
        ),
      );
      assert.equal(err.code, Code.RESOURCE_EXHAUSTED, err.message);
    } finally {
      c.close();
    }
  });

  it("refuses a method that has no rule (fail closed), naming it", T, async () => {
    const t = clientTls({ ...id.a, serverName: SERVER_NAME });
    const c = new grpc.Client(`127.0.0.1:${served.port}`, t.credentials, t.options);
    try {
      const err = await refusal(
        new Promise((resolve, reject) => {
          c.makeUnaryRequest(
            "/test.Unprotected/Ping",
            (b: Buffer) => b,
            (b: Buffer) => b,
            Buffer.from("ping"),
            new grpc.Metadata(),
            { deadline: Date.now() + 5000 },
            (e, v) => (e ? reject(e) : resolve(v)),
          );
        }),
      );
      assert.equal(err.code, Code.PERMISSION_DENIED);
      assert.equal(err.metadata.grant, "a rule for /test.Unprotected/Ping");
    } finally {
      c.close();
      t.files.close();
    }
  });
});

describe("certificate rotation", () => {
  it(
    "serves the rotated certificate to new connections without a restart, and keeps the old one on a bad rotation",
    T,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "fixmesh-rot-"));
      const pki = new TestPki(join(dir, "pki"));
      const folder = join(dir, "grpc-tls");
      const v1 = pki.folder(folder, { dns: [SERVER_NAME] });
      const fp1 = new X509Certificate(readFileSync(v1.certFile)).fingerprint256;
      writeFileSync(join(dir, "policy.yaml"), POLICY);
      const reloads: string[] = [];
      const served = await serve({
        host: "127.0.0.1",
        tls: {
          ...v1,
          reloadMs: 100,
          onReload: (e) => reloads.push(e.ok ? `ok ${e.fingerprint}` : `refused ${e.reason}`),
        },
        policyFile: join(dir, "policy.yaml"),
      });
      const a = pki.issue("desk-a", { uris: ["spiffe://fixmesh.test/ns/trading/sa/desk-a"] });
      const peerFingerprint = () =>
        new Promise<string>((resolve, reject) => {
          const s = tlsConnect({
            host: "127.0.0.1",
            port: served.port,
            servername: SERVER_NAME,
            ca: readFileSync(pki.caFile),
            cert: readFileSync(a.certFile),
            key: readFileSync(a.keyFile),
            ALPNProtocols: ["h2"],
          });
          s.once("secureConnect", () => {
            const fp = s.getPeerCertificate().fingerprint256;
            s.destroy();
            resolve(fp);
          });
          s.once("error", reject);
        });
      try {
        assert.equal(await peerFingerprint(), fp1);
        // Rotate in place, as cert-manager renews a Secret.
        const v2 = pki.folder(folder, { dns: [SERVER_NAME] });
        const fp2 = new X509Certificate(readFileSync(v2.certFile)).fingerprint256;
        assert.notEqual(fp1, fp2);
        await waitFor(
          async () => (await peerFingerprint()) === fp2,
          5000,
          "the rotated certificate on a new connection",
        );
        const c = tlsClient(served.port, a);
        try {
          const r = await c.rpc.getSession({ sessionId: A }, deadline());
          assert.equal(r.session?.id, A, "calls work over the rotated certificate");
        } finally {
          c.close();
        }
        // A half-done rotation: a new certificate whose key has not arrived yet. Refused; v2 stays in use.
        const stray = pki.issue("stray", { dns: [SERVER_NAME] }, join(dir, "stray"));
        writeFileSync(v2.certFile, readFileSync(stray.certFile));
        await waitFor(() => reloads.some((r) => r.startsWith("refused")), 5000, "the refused rotation");
        assert.match(reloads.find((r) => r.startsWith("refused")) ?? "", /is not the private key of the certificate/);
        assert.equal(await peerFingerprint(), fp2);
      } finally {
        await served.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe("bearer JWT principals", () => {
  let dir: string;
  let served: Served;
  let good: KeyLike;
  let forged: KeyLike;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "fixmesh-jwt-"));
    const kp = await generateKeyPair("ES256");
    good = kp.privateKey;
    forged = (await generateKeyPair("ES256")).privateKey;
    const jwk = { ...(await exportJWK(kp.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    writeFileSync(join(dir, "jwks.json"), JSON.stringify({ keys: [jwk] }));
    writeFileSync(join(dir, "policy.yaml"), POLICY);
    served = await serve({
      host: "127.0.0.1",
      plaintext: true,
      policyFile: join(dir, "policy.yaml"),
      jwt: { jwksFile: join(dir, "jwks.json"), issuer: "https://idp.test", audience: "fixmesh" },
    });
  });

  after(async () => {
    await served?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const token = (key: KeyLike, o: { sub?: string; exp?: string | number } = {}) =>
    new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setSubject(o.sub ?? "alice")
      .setIssuer("https://idp.test")
      .setAudience("fixmesh")
      .setIssuedAt()
      .setExpirationTime(o.exp ?? "5m")
      .sign(key);

  const withToken = (t: string) => {
    const md = new grpc.Metadata();
    md.set("authorization", `Bearer ${t}`);
    return { metadata: md, deadline: Date.now() + 5000 };
  };

  it(
    "accepts a token signed by a key of the JWKS; the principal is jwt:<sub>; handlers never see the token",
    T,
    async () => {
      const c = client(served.port, grpc.credentials.createInsecure());
      try {
        const r = await c.rpc.getSession({ sessionId: A }, withToken(await token(good)));
        assert.equal(r.session?.healthReason, "jwt:alice");
        const err = await refusal(c.rpc.getSession({ sessionId: B }, withToken(await token(good))));
        assert.equal(err.code, Code.PERMISSION_DENIED);
      } finally {
        c.close();
      }
    },
  );

  it("refuses a forged token (same kid, another key) as UNAUTHENTICATED and audits it", T, async () => {
    const c = client(served.port, grpc.credentials.createInsecure());
    try {
      const err = await refusal(c.rpc.getSession({ sessionId: A }, withToken(await token(forged))));
      assert.equal(err.code, Code.UNAUTHENTICATED);
      assert.equal(err.reason, "UNAUTHENTICATED");
      assert.match(err.message, /signature/);
      assert.ok(served.audits.some((e) => e.principal === "unauthenticated" && e.outcome === "denied"));
    } finally {
      c.close();
    }
  });

  it("refuses an expired token and a call with no identity at all", T, async () => {
    const c = client(served.port, grpc.credentials.createInsecure());
    try {
      const expired = await token(good, { exp: Math.floor(Date.now() / 1000 - 3600) });
      const e1 = await refusal(c.rpc.getSession({ sessionId: A }, withToken(expired)));
      assert.equal(e1.code, Code.UNAUTHENTICATED);
      assert.match(e1.message, /expired/);
      const e2 = await refusal(c.rpc.getSession({ sessionId: A }, deadline()));
      assert.equal(e2.code, Code.UNAUTHENTICATED);
    } finally {
      c.close();
    }
  });
});

describe("transport rules at start", () => {
  it("refuses plaintext on an address reachable from the network, naming grpc.tls", () => {
    assert.throws(
      () => createGrpcSecurity({ service: "t", host: "0.0.0.0", plaintext: true }),
      (e: unknown) => e instanceof SecurityConfigError && e.field === "grpc.tls" && /0\.0\.0\.0/.test(e.message),
    );
  });

  it("refuses plaintext on loopback unless it is asked for explicitly", () => {
    assert.throws(
      () => createGrpcSecurity({ service: "t", host: "127.0.0.1" }),
      (e: unknown) => e instanceof SecurityConfigError && e.field === "grpc.plaintext",
    );
  });

  it("refuses TLS without a policy file", () => {
    const pki = new TestPki();
    try {
      const s = pki.issue("s", { dns: ["x"] });
      assert.throws(
        () => createGrpcSecurity({ service: "t", host: "0.0.0.0", tls: s }),
        (e: unknown) => e instanceof SecurityConfigError && e.field === "grpc.auth.policyFile",
      );
    } finally {
      pki.remove();
    }
  });

  it(
    "lets everything through as `anonymous` in plaintext loopback mode without a policy, auditing admin actions",
    T,
    async () => {
      const s = await serve({ host: "127.0.0.1", plaintext: true });
      const c = client(s.port, grpc.credentials.createInsecure());
      try {
        assert.equal(s.sec.mode, "open");
        await c.rpc.resetSequence({ sessionId: A, reason: "dev" });
        const r = await c.rpc.getSession({ sessionId: A });
        assert.equal(r.session?.healthReason, "anonymous");
        assert.deepEqual(
          s.audits.map((e) => [e.principal, e.action, e.resource, e.reason, e.outcome]),
          [["anonymous", "ResetSequence", A, "dev", "ok"]],
          "admin actions are audited even with authorization off",
        );
      } finally {
        c.close();
        await s.close();
      }
    },
  );
});
