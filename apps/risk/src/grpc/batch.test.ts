/**
 * CheckOrderStream batch frames, over real gRPC on loopback: a frame of mixed items (allowed, malformed, refused by
 * a limit, without a check) is answered by one frame of results in the items' order, each with its correlation id
 * and its own result or error; a frame that sets both the single fields and `batch` gets every item refused naming
 * the field. On mutual TLS with a policy, every item is authorized: a batch with one item for an account outside the
 * caller's grants is refused as a whole (PERMISSION_DENIED naming the grant ends the stream, no item answered).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { InProcessBus } from "@fixmesh/bus";
import {
  type CheckOrderStreamResponse,
  createGrpcClient,
  type GrpcClientOf,
  RiskService,
  RpcError,
  Side,
} from "@fixmesh/contracts";
import { clientTls } from "@fixmesh/security";
import { type Issued, TestPki } from "@fixmesh/security/testing";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { parseRiskConfig } from "../config/config.js";
import { SESSION } from "../engine/testkit.js";
import { type RiskHandle, startRisk } from "../service.js";
import { checkRequest } from "./testkit.js";

const T = { timeout: 30_000 };
const quiet = pino({ level: "silent" });
const SERVER_NAME = "risk.fixmesh.test";
const ORDER_ENTRY = "spiffe://fixmesh.test/ns/trading/sa/order-entry";

const check = (over: Record<string, unknown> = {}) => checkRequest({ quantity: "10", ...over });

type Stream = ReturnType<GrpcClientOf<typeof RiskService>["checkOrderStream"]>;

/** The next `n` frames of a stream (bounded), or the error that ended it. */
function frames(stream: Stream, n: number): Promise<CheckOrderStreamResponse[]> {
  return new Promise((resolve, reject) => {
    const got: CheckOrderStreamResponse[] = [];
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${n} frames within 5 s`)), 5000);
    const onData = (f: CheckOrderStreamResponse) => {
      got.push(f);
      if (got.length === n) {
        clearTimeout(timer);
        stream.off("data", onData);
        resolve(got);
      }
    };
    stream.on("data", onData);
    stream.once("error", (e: unknown) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

const fieldOf = (r: CheckOrderStreamResponse | undefined) =>
  r?.error ? RpcError.fromStatus(r.error as never).metadata.field : undefined;

describe("CheckOrderStream batch frames (embedded)", () => {
  const bus = new InProcessBus();
  let risk: RiskHandle;
  let conn: grpc.Client;
  let client: GrpcClientOf<typeof RiskService>;

  before(async () => {
    const config = parseRiskConfig("grpc: { plaintext: true, port: 0 }\nlog: { level: silent }\n", { env: {} });
    risk = await startRisk(config, { buses: { orders: bus, fix: bus, audit: bus }, logger: quiet });
    conn = new grpc.Client(`127.0.0.1:${risk.port}`, grpc.credentials.createInsecure());
    client = createGrpcClient(RiskService, conn);
    await client.setLimits(
      { limitSet: { normal: { maxOrderQty: "1000" }, referencePrices: { IBM: "100" } }, reason: "test setup" },
      { deadline: Date.now() + 5000 },
    );
  });

  after(async () => {
    conn.close();
    await risk.close();
    await bus.close();
  });

  it("answers a mixed batch with one frame of results, item by item in order; the stream goes on", T, async () => {
    const stream = client.checkOrderStream();
    const next = frames(stream, 2);
    stream.write({
      batch: [
        { correlationId: "good-1", check: check() },
        { correlationId: "bad-side", check: check({ side: Side.UNSPECIFIED }) },
        { correlationId: "too-big", check: check({ quantity: "2000" }) },
        { correlationId: "no-check" },
        { correlationId: "nested", check: check(), batch: [{ correlationId: "x", check: check() }] },
        { correlationId: "good-2", check: check({ quantity: "5" }) },
      ],
    });
    stream.write({ correlationId: "single", check: check() });
    const [batch, single] = await next;
    stream.end();
    const r = batch?.results ?? [];
    assert.deepEqual(
      r.map((x) => x.correlationId),
      ["good-1", "bad-side", "too-big", "no-check", "nested", "good-2"],
    );
    assert.equal(batch?.correlationId, "");
    assert.equal(r[0]?.result?.allowed, true);
    assert.equal(r[1]?.result, undefined);
    assert.equal(r[1]?.error?.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(fieldOf(r[1]), "batch[1].check.side");
    assert.deepEqual([r[2]?.result?.allowed, r[2]?.result?.rule], [false, "MAX_ORDER_QTY"]);
    assert.equal(fieldOf(r[3]), "batch[3].check");
    assert.equal(fieldOf(r[4]), "batch[4].batch");
    assert.equal(r[5]?.result?.allowed, true);
    // A single frame is still answered as one.
    assert.deepEqual([single?.correlationId, single?.result?.allowed, single?.results.length], ["single", true, 0]);
  });

  it("refuses every item of a frame that sets both a single check and a batch, naming `check`", T, async () => {
    const stream = client.checkOrderStream();
    const next = frames(stream, 1);
    stream.write({
      correlationId: "outer",
      check: check(),
      batch: [
        { correlationId: "a", check: check() },
        { correlationId: "b", check: check() },
      ],
    });
    const [f] = await next;
    stream.end();
    assert.deepEqual(
      f?.results.map((x) => [x.correlationId, fieldOf(x)]),
      [
        ["a", "check"],
        ["b", "check"],
      ],
    );
  });
});

describe("CheckOrderStream batch frames on mutual TLS with a policy", () => {
  const dir = mkdtempSync(join(tmpdir(), "fixmesh-risk-batch-"));
  const bus = new InProcessBus();
  const open: Array<() => void> = [];
  let orderEntry: Issued;
  let risk: RiskHandle;

  function client(): GrpcClientOf<typeof RiskService> {
    const t = clientTls({ ...orderEntry, serverName: SERVER_NAME });
    const conn = new grpc.Client(`127.0.0.1:${risk.port}`, t.credentials, t.options);
    open.push(() => {
      conn.close();
      t.files.close();
    });
    return createGrpcClient(RiskService, conn);
  }

  before(async () => {
    const pki = new TestPki(join(dir, "pki"));
    pki.folder(join(dir, "tls"), { dns: [SERVER_NAME] });
    orderEntry = pki.issue("order-entry", { uris: [ORDER_ENTRY] });
    writeFileSync(
      join(dir, "policy.yaml"),
      `version: 1
principals:
  - match: ${ORDER_ENTRY}
    trade: [{ sessions: ["${SESSION}"], accounts: ["ACC1"] }]
`,
    );
    const config = parseRiskConfig(
      `grpc:
  host: 127.0.0.1
  port: 0
  tls: { certFile: tls/tls.crt, keyFile: tls/tls.key, caFile: tls/ca.crt, clientCert: require }
  auth: { policyFile: policy.yaml }
log: { level: silent }
`,
      { env: {}, baseDir: dir },
    );
    risk = await startRisk(config, { buses: { orders: bus, fix: bus, audit: bus }, logger: quiet });
  });

  after(async () => {
    for (const c of open) c();
    await risk.close();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("checks a batch inside the grants; refuses a batch with one foreign item as a whole", T, async () => {
    const stream = client().checkOrderStream({ deadline: Date.now() + 10_000 });
    const answers: string[] = [];
    stream.on("data", (f: CheckOrderStreamResponse) => {
      for (const r of f.results) answers.push(r.correlationId);
    });
    const ended = new Promise<RpcError>((resolve) => stream.on("error", (e: unknown) => resolve(RpcError.from(e))));
    const first = frames(stream, 1);
    stream.write({
      batch: [
        { correlationId: "ok-1", check: check() },
        { correlationId: "ok-2", check: check() },
      ],
    });
    await first;
    stream.write({
      batch: [
        { correlationId: "ok-3", check: check() },
        { correlationId: "foreign", check: check({ account: "ACC2" }) },
        { correlationId: "ok-4", check: check() },
      ],
    });
    const e = await ended;
    assert.equal(e.code, grpc.status.PERMISSION_DENIED);
    assert.equal(e.reason, "NOT_AUTHORIZED");
    assert.match(e.metadata.grant ?? "", /^trade .*ACC2/);
    assert.deepEqual(answers, ["ok-1", "ok-2"]);
  });
});
