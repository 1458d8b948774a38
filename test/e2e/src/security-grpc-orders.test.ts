/**
 * order-entry secured, every service its own process: venue-sim, the connector and the real risk service on
 * mutual TLS with one policy, order-entry on mutual TLS with that policy, dialling risk (CheckOrderStream) and the
 * connector (SendStream, GetSession) with its own client certificate and the servers' names checked. Desk A may
 * trade ACC-A, desk B ACC-B; ops may MassCancel. What a user sees: A's order for ACC-B refused naming the grant;
 * A cannot cancel or read B's order; A's lists and update stream hold only A's orders; A's MassCancel refused and
 * audited on the AUDIT stream, ops' done and audited; `fixmesh order` with --tls-* works and without a
 * certificate is refused with a readable line; a start on 0.0.0.0 without TLS is refused naming grpc.tls.
 * Certificates are made by the test (openssl, TestPki).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { JetStreamBus } from "@fixmesh/bus";
import {
  createGrpcClient,
  type GrpcClientOf,
  type OrderResponseFrame,
  OrderStatus,
  OrderType,
  type OrderUpdate,
  RpcError,
  SessionHealth,
  SessionService,
  Side,
  TimeInForce,
} from "@fixmesh/contracts";
import { type OrderEntryClient, orderEntryClient, parseOrderEntryConfig, startOrderEntry } from "@fixmesh/order-entry";
import { clientTls, LinkError } from "@fixmesh/security";
import { type Issued, TestPki } from "@fixmesh/security/testing";
import * as grpc from "@grpc/grpc-js";
import {
  CLI,
  eventually,
  NATS_URL,
  OrdersStack,
  REDIS_URL,
  rand,
  SESSION,
  spawnFixmesh,
  startVenue,
} from "./orders-harness.js";
import { InfraPki, type NatsServer, type RedisServer, startTlsNats, startTlsRedis } from "./security-infra-servers.js";

const T = { timeout: 90_000 };
const OE = "spiffe://fixmesh.test/ns/trading/sa/order-entry";
const DESK_A = "spiffe://fixmesh.test/ns/trading/sa/desk-a";
const DESK_B = "spiffe://fixmesh.test/ns/trading/sa/desk-b";
const NAMES = { connector: "connector.fixmesh.test", risk: "risk.fixmesh.test", oe: "order-entry.fixmesh.test" };

// One policy file for the three servers: each service checks the grants its own methods need.
const POLICY = `version: 1
principals:
  - match: ${OE}
    trade: [{ sessions: ["${SESSION}"], accounts: ["*"] }]
    read: ["*"]
    stream: ["*"]
  - match: ${DESK_A}
    trade: [{ sessions: ["${SESSION}"], accounts: ["ACC-A"] }]
  - match: ${DESK_B}
    trade: [{ sessions: ["${SESSION}"], accounts: ["ACC-B"] }]
  - match: cn:ops
    read: ["*"]
    admin: [{ actions: [MassCancel], resources: ["*"] }]
`;

function submitReq(account: string, symbol: string, price = "100") {
  return {
    idempotencyKey: `k-${rand()}`,
    sessionId: SESSION,
    account,
    symbol,
    side: Side.BUY,
    quantity: "10",
    orderType: OrderType.LIMIT,
    price,
    timeInForce: TimeInForce.DAY,
  };
}

const deadline = () => ({ deadline: Date.now() + 10_000 });

async function refusal(p: Promise<unknown>): Promise<RpcError> {
  return p.then(
    () => assert.fail("the call was allowed"),
    (e: unknown) => RpcError.from(e),
  );
}

/** `fixmesh order …` as a child process (bounded): exit code, stdout, stderr. */
function orderCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, "order", ...args], {
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

describe("order-entry on mutual TLS with a policy, dialling risk and the connector on mTLS", () => {
  const stack = new OrdersStack();
  const n = stack.names;
  const id: Record<string, Issued> = {};
  const open: Array<() => void> = [];
  let pki: TestPki;
  let address = "";
  let sessionRpc: GrpcClientOf<typeof SessionService>;

  const dir = (f: string) => join(stack.dir, f);

  function client(who: Issued): OrderEntryClient {
    const t = clientTls({ ...who, serverName: NAMES.oe });
    const c = orderEntryClient(address, t.credentials, t.options);
    open.push(() => {
      c.close();
      t.files.close();
    });
    return c;
  }

  /** A gRPC server section on mutual TLS with the shared policy. */
  const grpcTls = (folder: string) =>
    `grpc:
  host: 127.0.0.1
  port: 0
  tls: { certFile: ${dir(`${folder}/tls.crt`)}, keyFile: ${dir(`${folder}/tls.key`)}, caFile: ${dir(`${folder}/ca.crt`)} }
  auth: { policyFile: ${dir("policy.yaml")} }`;
  /** order-entry's client side: its own certificate, the server's name checked. */
  const dialTls = (name: string) =>
    `tls: { caFile: ${pki.caFile}, certFile: ${id.oe.certFile}, keyFile: ${id.oe.keyFile}, serverName: ${name} }`;

  before(async () => {
    pki = new TestPki(dir("pki"));
    pki.folder(dir("connector-tls"), { dns: [NAMES.connector] });
    pki.folder(dir("risk-tls"), { dns: [NAMES.risk] });
    pki.folder(dir("oe-tls"), { dns: [NAMES.oe] });
    id.oe = pki.issue("order-entry", { uris: [OE] });
    id.a = pki.issue("desk-a", { uris: [DESK_A] });
    id.b = pki.issue("desk-b", { uris: [DESK_B] });
    id.ops = pki.issue("ops", { cn: "ops" });
    writeFileSync(dir("policy.yaml"), POLICY);

    stack.venue = await startVenue();
    writeFileSync(
      dir("connector.yaml"),
      `connector: { id: oe-sec-${n.fixPrefix} }
store: { kind: redis, redis: { url: "${REDIS_URL}", prefix: ${n.redisPrefix}-conn } }
sessions:
  - BeginString: FIX.4.4
    SenderCompID: CLIENT
    TargetCompID: VENUE
    ConnectionType: initiator
    HeartBtInt: 30
    NonStopSession: Y
    ReconnectInterval: 1
    initiator: { hosts: [{ host: 127.0.0.1, port: ${stack.venue.port} }] }
${grpcTls("connector-tls")}
metrics: { host: 127.0.0.1, port: 0 }
nats: { url: "${NATS_URL}", stream: ${n.fixStream}, subjectPrefix: ${n.fixPrefix} }
log: { level: warn }
`,
    );
    stack.connector = await spawnFixmesh("connector", ["connector", "--config", dir("connector.yaml")]);
    const connectorPort = (stack.connector.listening as { grpc: number }).grpc;
    const ct = clientTls({ ...id.oe, serverName: NAMES.connector });
    const sconn = new grpc.Client(`127.0.0.1:${connectorPort}`, ct.credentials, ct.options);
    open.push(() => {
      sconn.close();
      ct.files.close();
    });
    sessionRpc = createGrpcClient(SessionService, sconn);
    await eventually(
      async () =>
        (await sessionRpc.getSession({ sessionId: SESSION }, { deadline: Date.now() + 2000 })).session?.health ===
        SessionHealth.LIVE,
      20_000,
      "session LIVE",
    );

    writeFileSync(
      dir("risk.yaml"),
      `risk: { id: risk-oe-sec }
${grpcTls("risk-tls")}
state: { kind: memory }
log: { level: warn }
`,
    );
    stack.riskProc = await spawnFixmesh("risk", ["risk-service", "--config", dir("risk.yaml")]);
    const riskPort = (stack.riskProc.listening as { grpc: number }).grpc;

    writeFileSync(
      dir("order-entry.yaml"),
      `orderEntry: { id: oe-sec }
${grpcTls("oe-tls")}
sessions:
  - { id: "${SESSION}", connector: "127.0.0.1:${connectorPort}" }
connector: { ${dialTls(NAMES.connector)} }
risk: { address: "127.0.0.1:${riskPort}", deadlineMs: 2000, killSwitchPollMs: 200, ${dialTls(NAMES.risk)} }
store: { kind: redis, redis: { url: "${REDIS_URL}", prefix: ${n.redisPrefix}-oe } }
nats: { url: "${NATS_URL}", fixStream: ${n.fixStream}, fixSubjectPrefix: ${n.fixPrefix}, ordersStream: ${n.ordersStream}, ordersSubjectPrefix: ${n.ordersPrefix}, auditStream: AUDTEST_${n.fixPrefix}, auditSubjectPrefix: a_${n.fixPrefix} }
log: { level: warn }
`,
    );
    const oe = await spawnFixmesh("order-entry", ["order-entry", "--config", dir("order-entry.yaml")]);
    stack.orderEntries.push(oe);
    address = `127.0.0.1:${oe.listening as number}`;
  });

  after(async () => {
    for (const c of open) c();
    await stack.stop();
  });

  it(
    "A's order for ACC-A goes through risk and the connector on mTLS and fills; for ACC-B it is refused",
    T,
    async () => {
      const a = client(id.a);
      const r = await a.rpc.submitOrder(submitReq("ACC-A", "IBM"), deadline());
      const orderId = r.order?.orderId ?? "";
      await eventually(
        async () => (await a.rpc.getOrder({ orderId }, deadline())).order?.status === OrderStatus.FILLED,
        20_000,
        "A's order FILLED",
      );
      const e = await refusal(a.rpc.submitOrder(submitReq("ACC-B", "IBM"), deadline()));
      assert.equal(e.code, grpc.status.PERMISSION_DENIED);
      assert.equal(e.reason, "NOT_AUTHORIZED");
      assert.equal(e.metadata.grant, `trade session=${SESSION} account=ACC-B`);
    },
  );

  it(
    "a SubmitOrderStream batch frame from A with one item for ACC-B is refused whole; nothing of it is placed",
    T,
    async () => {
      const a = client(id.a);
      const mine = submitReq("ACC-A", "IBM");
      const stream = a.rpc.submitOrderStream();
      const ended = new Promise<Error | null>((resolve) => {
        stream.on("data", () => undefined);
        stream.on("error", (e: Error) => resolve(e));
        stream.on("end", () => resolve(null));
      });
      stream.write({
        batch: [
          { correlationId: "a", request: { case: "submit", value: mine } },
          { correlationId: "b", request: { case: "submit", value: submitReq("ACC-B", "IBM") } },
        ],
      });
      const e = RpcError.from(await ended);
      assert.equal(e.code, grpc.status.PERMISSION_DENIED);
      assert.equal(e.metadata.grant, `trade session=${SESSION} account=ACC-B`);
      // A's own item rode in the refused frame: not placed either.
      const listed = await a.rpc.listOrders(
        { sessionId: "", account: "", symbol: "", openOnly: false, pageSize: 1000, pageToken: "" },
        deadline(),
      );
      assert.equal(listed.orders.filter((o) => o.idempotencyKey === mine.idempotencyKey).length, 0);
      // The same frame with A's item alone is answered in `results`.
      const ok = a.rpc.submitOrderStream();
      const frame = new Promise<OrderResponseFrame>((resolve, reject) => {
        ok.once("data", resolve);
        ok.once("error", reject);
      });
      ok.write({ batch: [{ correlationId: "a", request: { case: "submit", value: mine } }] });
      const answer = await frame;
      ok.end();
      assert.equal(answer.results[0]?.correlationId, "a");
      assert.equal(answer.results[0]?.result.case, "order");
    },
  );

  it("A may not cancel, replace or get B's order; B may", T, async () => {
    const a = client(id.a);
    const b = client(id.b);
    const bo = (await b.rpc.submitOrder(submitReq("ACC-B", "BOOK", "90"), deadline())).order;
    const orderId = bo?.orderId ?? "";
    await eventually(
      async () => (await b.rpc.getOrder({ orderId }, deadline())).order?.status === OrderStatus.NEW,
      20_000,
      "B's order NEW",
    );
    for (const call of [
      () => a.rpc.cancelOrder({ orderId, sessionId: "", clOrdId: "", idempotencyKey: "" }, deadline()),
      () =>
        a.rpc.replaceOrder(
          { orderId, sessionId: "", clOrdId: "", quantity: "5", price: "", idempotencyKey: "" },
          deadline(),
        ),
      () => a.rpc.getOrder({ orderId }, deadline()),
    ]) {
      const e = await refusal(call());
      assert.equal(e.code, grpc.status.PERMISSION_DENIED);
      assert.equal(e.metadata.grant, `trade session=${SESSION} account=ACC-B`);
    }
    // The same cancel as a SubmitOrderStream frame: answered with the refusal, the stream stays open.
    const stream = a.rpc.submitOrderStream();
    const frame = new Promise<OrderResponseFrame>((resolve, reject) => {
      stream.once("data", resolve);
      stream.once("error", reject);
    });
    stream.write({
      correlationId: "c1",
      request: { case: "cancel", value: { orderId, sessionId: "", clOrdId: "", idempotencyKey: "" } },
    });
    const answer = await frame;
    stream.end();
    assert.equal(answer.correlationId, "c1");
    assert.equal(answer.result.case, "error");
    assert.equal(answer.result.case === "error" && answer.result.value.code, grpc.status.PERMISSION_DENIED);
    assert.match(answer.result.case === "error" ? answer.result.value.message : "", /missing grant trade .*ACC-B/);
    // Nothing was sent for A's attempts: the order is still NEW with no request outstanding.
    const still = (await b.rpc.getOrder({ orderId }, deadline())).order;
    assert.deepEqual([still?.status, still?.pending], [OrderStatus.NEW, false]);
    const cancelled = await b.rpc.cancelOrder({ orderId, sessionId: "", clOrdId: "", idempotencyKey: "" }, deadline());
    assert.equal(cancelled.order?.orderId, orderId);
  });

  it("ListOrders and StreamOrderUpdates show A only A's orders", T, async () => {
    const a = client(id.a);
    const b = client(id.b);
    await a.rpc.submitOrder(submitReq("ACC-A", "IBM"), deadline());
    await b.rpc.submitOrder(submitReq("ACC-B", "IBM"), deadline());
    const listed = await a.rpc.listOrders(
      { sessionId: "", account: "", symbol: "", openOnly: false, pageSize: 1000, pageToken: "" },
      deadline(),
    );
    assert.ok(listed.orders.length >= 2, "A's orders are listed");
    assert.deepEqual([...new Set(listed.orders.map((o) => o.account))], ["ACC-A"]);
    const ops = client(id.ops);
    const all = await ops.rpc.listOrders(
      { sessionId: "", account: "", symbol: "", openOnly: false, pageSize: 1000, pageToken: "" },
      deadline(),
    );
    assert.deepEqual([...new Set(all.orders.map((o) => o.account))].sort(), ["ACC-A", "ACC-B"]);

    // The whole log from position 1: B's updates are in it, A's stream must not carry them.
    const seen: OrderUpdate[] = [];
    const call = a.rpc.streamOrderUpdates({ account: "", sessionId: "", fromPosition: 1n });
    call.on("data", (u: OrderUpdate) => seen.push(u));
    call.on("error", () => undefined);
    try {
      await eventually(() => seen.filter((u) => u.order?.symbol === "IBM").length >= 4, 20_000, "A's updates");
      // A marker after everything so far: when A sees it, every earlier update was offered to A's stream.
      const marker = await a.rpc.submitOrder(submitReq("ACC-A", "BOOK", "80"), deadline());
      await eventually(
        () => seen.some((u) => u.order?.orderId === marker.order?.orderId),
        20_000,
        "the marker on A's stream",
      );
      assert.deepEqual([...new Set(seen.map((u) => u.order?.account))], ["ACC-A"]);
    } finally {
      call.cancel();
    }
  });

  it("MassCancel without the admin grant is refused and audited; with it, done and audited", T, async () => {
    const a = client(id.a);
    const e = await refusal(
      a.rpc.massCancel({ sessionId: "", account: "ACC-A", symbol: "", reason: "desk A tidy-up" }, deadline()),
    );
    assert.equal(e.code, grpc.status.PERMISSION_DENIED);
    assert.equal(e.metadata.grant, "admin MassCancel resource=ACC-A");
    const ops = client(id.ops);
    const done = await ops.rpc.massCancel(
      { sessionId: "", account: "ACC-A", symbol: "", reason: "end of day" },
      deadline(),
    );
    assert.ok(done.orderIds.length >= 1, "the resting ACC-A order is cancelled");
    let events: Array<Record<string, unknown>> = [];
    await eventually(
      async () => {
        events = (await stack.auditEvents()).filter((x) => x.action === "MassCancel");
        return events.some((x) => x.outcome === "denied") && events.filter((x) => x.principal === "cn:ops").length >= 2;
      },
      20_000,
      "MassCancel audit events",
    );
    const denied = events.find((x) => x.outcome === "denied");
    assert.deepEqual(
      [denied?.service, denied?.principal, denied?.resource, denied?.reason],
      ["order-entry", DESK_A, "ACC-A", "desk A tidy-up"],
    );
    // The security layer's admin outcome and order-entry's own record (what was cancelled), both under ops.
    const byOps = events.filter((x) => x.principal === "cn:ops");
    assert.ok(byOps.every((x) => x.outcome === "ok" && x.reason === "end of day"));
  });

  it("`fixmesh order` with --tls-* lists A's orders; without a certificate it is refused readably", T, async () => {
    const flags = ["--address", address, "--tls-ca", pki.caFile, "--tls-server-name", NAMES.oe];
    const ok = await orderCli(["list", "--json", ...flags, "--tls-cert", id.a.certFile, "--tls-key", id.a.keyFile]);
    assert.equal(ok.code, 0, ok.stderr);
    const accounts = ok.stdout
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { account: string }).account);
    assert.ok(accounts.length >= 2);
    assert.deepEqual([...new Set(accounts)], ["ACC-A"]);

    const noCert = await orderCli(["list", ...flags]);
    assert.equal(noCert.code, 1);
    assert.match(
      noCert.stderr,
      /^fixmesh order list: 127\.0\.0\.1:\d+: the server requires a client certificate \(mutual TLS\): give --tls-cert and --tls-key/,
    );
    const denied = await orderCli([
      "mass-cancel",
      "--account",
      "ACC-A",
      "--reason",
      "cli",
      ...flags,
      "--tls-cert",
      id.a.certFile,
      "--tls-key",
      id.a.keyFile,
    ]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /PERMISSION_DENIED\/NOT_AUTHORIZED: .*missing grant admin MassCancel resource=ACC-A/);
  });

  it("a start on 0.0.0.0 without TLS is refused naming grpc.tls (exit 2)", T, async () => {
    writeFileSync(
      dir("open.yaml"),
      `grpc: { plaintext: true, host: 0.0.0.0, port: 0 }
sessions: [{ id: "${SESSION}", connector: "127.0.0.1:1" }]
risk: { address: "127.0.0.1:1" }
log: { level: warn }
`,
    );
    const p = spawnFixmesh("order-entry-open", ["order-entry", "--config", dir("open.yaml")]);
    const err = await p.then(
      (x) => {
        void x.kill();
        return assert.fail("it started");
      },
      (e: unknown) => String(e),
    );
    assert.match(err, /exited \(2\)/);
    assert.match(err, /grpc\.tls: is required: gRPC binds 0\.0\.0\.0/);
  });
});

describe("order-entry's Redis and NATS links with authentication and TLS (servers started by the test)", () => {
  const REDIS_PW = `redis-pw-${rand()}`;
  const NATS_PW = `nats-pw-${rand()}`;
  const r = rand();
  let pki: InfraPki;
  let redis: RedisServer;
  let nats: NatsServer;

  const config = (over: { natsPwEnv?: string; caFile?: string } = {}) =>
    parseOrderEntryConfig(
      {
        orderEntry: { id: `oe-links-${r}` },
        grpc: { plaintext: true, host: "127.0.0.1", port: 0 },
        // Nothing listens there: order-entry starts anyway (sessions DISCONNECTED, risk fails closed).
        sessions: [{ id: SESSION, connector: "127.0.0.1:1" }],
        risk: { address: "127.0.0.1:1", killSwitchPollMs: 0 },
        store: {
          kind: "redis",
          redis: {
            url: redis.url,
            prefix: `oe-links-${r}`,
            username: redis.user,
            passwordEnv: "OE_REDIS_PW",
            tls: { caFile: over.caFile ?? pki.server.caFile },
          },
        },
        nats: {
          url: nats.url,
          user: "oe",
          passwordEnv: over.natsPwEnv ?? "OE_NATS_PW",
          tls: { caFile: pki.server.caFile },
          fixStream: `OELF_${r}`,
          fixSubjectPrefix: `oelf_${r}`,
          ordersStream: `OELO_${r}`,
          ordersSubjectPrefix: `oelo_${r}`,
          auditStream: `OELA_${r}`,
          auditSubjectPrefix: `oela_${r}`,
        },
        log: { level: "silent" },
      },
      { env: { OE_REDIS_PW: REDIS_PW, OE_NATS_PW: NATS_PW, OE_WRONG: "not-the-password" } },
    );

  before(async () => {
    pki = new InfraPki();
    redis = await startTlsRedis(pki, "oe", REDIS_PW);
    nats = await startTlsNats(pki, "oe", NATS_PW);
  });

  after(async () => {
    await redis?.stop();
    await nats?.stop();
    pki?.remove();
  });

  it(
    "starts on the authenticated TLS links: orders stored in that Redis, MassCancel audited on that NATS",
    T,
    async () => {
      const h = await startOrderEntry(config());
      try {
        assert.equal(h.repo.kind, "redis");
        const c = orderEntryClient(`127.0.0.1:${h.port}`);
        try {
          const done = await c.rpc.massCancel(
            { sessionId: "", account: "ACC-L", symbol: "", reason: "links" },
            deadline(),
          );
          assert.deepEqual(done.orderIds, []);
        } finally {
          c.close();
        }
        const bus = await JetStreamBus.connect({
          servers: nats.url,
          stream: `OELA_${r}`,
          subjects: [`oela_${r}.>`],
          connectOptions: { user: "oe", pass: NATS_PW, tls: { ca: readFileSync(pki.server.caFile, "utf8") } },
        });
        try {
          const got: Array<Record<string, unknown>> = [];
          const sub = await bus.subscribe(
            `oela_${r}.>`,
            (d) => {
              got.push(JSON.parse(Buffer.from(d.payload).toString()) as Record<string, unknown>);
            },
            { fromSeq: 1 },
          );
          try {
            await eventually(() => got.length >= 1, 10_000, "the MassCancel audit event on the TLS NATS");
          } finally {
            await sub.unsubscribe();
          }
          assert.deepEqual(
            [got[0]?.action, got[0]?.resource, got[0]?.reason],
            ["MassCancel", "account=ACC-L", "links"],
          );
          await bus.deleteStream();
        } finally {
          await bus.close();
        }
      } finally {
        await h.close();
      }
    },
  );

  it(
    "a wrong NATS password or a Redis certificate from another CA stops the start, named, without the secret",
    T,
    async () => {
      const wrong = await startOrderEntry(config({ natsPwEnv: "OE_WRONG" })).then(
        async (h) => {
          await h.close();
          return assert.fail("it started with a wrong NATS password");
        },
        (e: unknown) => e,
      );
      assert.ok(wrong instanceof LinkError, String(wrong));
      assert.deepEqual([wrong.link, wrong.failure], ["nats", "authentication"]);
      assert.doesNotMatch(wrong.message, /not-the-password|nats-pw-/);

      const otherCa = await startOrderEntry(config({ caFile: pki.otherCa.caFile })).then(
        async (h) => {
          await h.close();
          return assert.fail("it trusted a Redis certificate from another CA");
        },
        (e: unknown) => e,
      );
      assert.ok(otherCa instanceof LinkError, String(otherCa));
      assert.deepEqual([otherCa.link, otherCa.failure], ["redis", "tls"]);
      assert.doesNotMatch(otherCa.message, /redis-pw-/);
    },
  );
});
