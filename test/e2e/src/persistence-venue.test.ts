/**
 * Persistence end to end with real traffic: the venue simulator (immediate fills), a connector (memory store,
 * FIX password from the environment) publishing its FIX events on a JetStream stream of this test's own, and the
 * persistence service storing them in a PostgreSQL database of its own. Then: every message either side sent is
 * stored byte for byte (the Logon's Password excepted: redacted), the stored sequence has no gap, the password
 * is in no row, and a reconciliation against the venue's own record finds the execution the venue repeated
 * without PossDupFlag (held twice) and a fill the venue reports that never reached us.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Connector, parseConfig, startConnector } from "@fixmesh/connector";
import {
  AuditService,
  createGrpcClient,
  type GrpcClientOf,
  MessageDirection,
  type SendStreamResponse,
  SessionHealth,
  SessionService,
} from "@fixmesh/contracts";
import { formatUtcTimestamp, MsgType, Tag } from "@fixmesh/fix";
import { openDb, type PersistenceHandle, startPersistence } from "@fixmesh/persistence";
import type { VenueSim } from "@fixmesh/venue-sim";
import * as grpc from "@grpc/grpc-js";
import {
  connectorYaml,
  deleteTestStream,
  NATS_URL,
  rand,
  SESSION,
  startVenue,
  testNames,
  waitFor,
} from "./trace-harness.js";

const PG_ADMIN = process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const ORDERS = 200;
const str = (tag: number, value: string) => ({ tag, value: { case: "stringValue" as const, value } });

async function admin(sql: string): Promise<void> {
  const db = await openDb({ engine: "postgres", url: PG_ADMIN, poolSize: 1 });
  try {
    await db.query(sql);
  } finally {
    await db.close();
  }
}

describe("persistence with the venue simulator and a connector", { timeout: 110_000 }, () => {
  const names = testNames();
  const dbName = `fixmesh_e2e_${rand()}`;
  const password = `pw-${rand()}${rand()}`;
  const passwordEnv = `FIXMESH_E2E_PW_${rand().toUpperCase()}`;
  let venue: VenueSim;
  let connector: Connector;
  let persistence: PersistenceHandle;
  let sessionConn: grpc.Client;
  let auditConn: grpc.Client;
  let rpc: GrpcClientOf<typeof SessionService>;
  let audit: GrpcClientOf<typeof AuditService>;

  before(async () => {
    await admin(`CREATE DATABASE ${dbName}`);
    const url = new URL(PG_ADMIN);
    url.pathname = `/${dbName}`;
    persistence = await startPersistence({
      database: { engine: "postgres", url: url.toString() },
      nats: { url: NATS_URL },
      streams: {
        fix: { stream: names.stream, filter: `${names.subjectPrefix}.>`, durable: "persistence-fix" },
        orders: { enabled: false, stream: "ORDERS", filter: "orders.>", durable: "persistence-orders" },
        audit: { enabled: false, stream: "AUDIT", filter: "audit.>", durable: "persistence-audit" },
      },
      grpc: { plaintext: true, host: "127.0.0.1", port: 0 },
      log: { level: "warn" },
    });
    await persistence.ready();
    venue = await startVenue();
    const yaml = connectorYaml({ venuePort: venue.port, nats: names }).replace(
      "    ReconnectInterval: 1\n",
      `    ReconnectInterval: 1\n    PasswordEnv: ${passwordEnv}\n    Username: trader\n`,
    );
    connector = await startConnector(parseConfig(yaml, { env: { [passwordEnv]: password } }));
    sessionConn = new grpc.Client(`127.0.0.1:${connector.grpcPort}`, grpc.credentials.createInsecure());
    rpc = createGrpcClient(SessionService, sessionConn);
    auditConn = new grpc.Client(`127.0.0.1:${persistence.grpcPort}`, grpc.credentials.createInsecure());
    audit = createGrpcClient(AuditService, auditConn);
    const end = Date.now() + 15_000;
    for (;;) {
      const { session } = await rpc.getSession({ sessionId: SESSION }, { deadline: Date.now() + 2000 });
      if (session?.health === SessionHealth.LIVE) break;
      if (Date.now() > end) throw new Error("the connector's session never became LIVE");
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    sessionConn?.close();
    auditConn?.close();
    await connector?.stop();
    await venue?.stop();
    await persistence?.close();
    await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await deleteTestStream(names.stream);
  });

  it("stores every message both sides sent, byte for byte, and reconciles against the venue", async () => {
    const call = rpc.sendStream();
    let answered = 0;
    const done = new Promise<void>((resolve, reject) => {
      call.on("data", (f: SendStreamResponse) => {
        answered += f.results.length;
        if (answered === ORDERS) call.end();
      });
      call.on("end", resolve);
      call.on("error", reject);
    });
    for (let i = 0; i < ORDERS; i += 50) {
      call.write({
        sends: Array.from({ length: 50 }, (_, k) => ({
          correlationId: BigInt(i + k),
          send: {
            sessionId: SESSION,
            msgType: MsgType.NewOrderSingle,
            fields: [
              str(Tag.ClOrdID, `P-${i + k}`),
              str(Tag.Symbol, "IBM"),
              str(Tag.Side, "1"),
              str(Tag.TransactTime, formatUtcTimestamp(Date.now())),
              str(Tag.OrderQty, "100"),
              str(Tag.OrdType, "2"),
              str(Tag.Price, "100"),
            ],
          },
        })),
      });
    }
    await done;
    const runner = connector.get(SESSION);
    assert.ok(runner);
    // The venue repeats 3 executions without PossDupFlag: new MsgSeqNums, same ExecIDs.
    const venueSession = venue.session("CLIENT");
    await waitFor(() => runner.state.nextTargetSeq >= 2 + 2 * ORDERS, 20_000, "every ExecutionReport at the connector");
    await venueSession.duplicateExecutionsWithoutPossDup(3);
    await waitFor(() => runner.state.nextTargetSeq >= 2 + 2 * ORDERS + 3, 20_000, "the repeated executions");

    const venueSent = await venueSession.runner.messageStore.getRange(1, venueSession.nextSenderSeq - 1);
    const weSent = await runner.messageStore.getRange(1, runner.state.nextSenderSeq - 1);
    const expected = venueSent.length + weSent.length;
    const deadline = Date.now() + 30_000;
    let stored: Array<{ direction: MessageDirection; seq: number; raw: Buffer }> = [];
    for (;;) {
      stored = [];
      const it = audit.streamStoredMessages({ filter: { sessionId: SESSION } });
      await new Promise<void>((resolve, reject) => {
        it.on("data", (c: { messages: Array<{ direction: MessageDirection; msgSeqNum: bigint; raw: Uint8Array }> }) => {
          for (const m of c.messages)
            stored.push({ direction: m.direction, seq: Number(m.msgSeqNum), raw: Buffer.from(m.raw) });
        });
        it.on("end", resolve);
        it.on("error", reject);
      });
      if (stored.length >= expected || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(stored.length, expected, "one row per message either side sent");
    const inBySeq = new Map(stored.filter((m) => m.direction === MessageDirection.IN).map((m) => [m.seq, m.raw]));
    const outBySeq = new Map(stored.filter((m) => m.direction === MessageDirection.OUT).map((m) => [m.seq, m.raw]));
    for (const m of venueSent) {
      assert.ok(inBySeq.get(m.seq)?.equals(m.bytes), `venue message ${m.seq} (${m.msgType}) stored byte for byte`);
    }
    for (const m of weSent) {
      const row = outBySeq.get(m.seq);
      assert.ok(row, `our message ${m.seq} stored`);
      if (m.msgType === MsgType.Logon) {
        assert.match(row.toString("latin1"), /\x01554=\*{8}\x01/, "the Logon's password redacted");
      } else {
        assert.ok(row.equals(m.bytes), `our message ${m.seq} (${m.msgType}) stored byte for byte`);
      }
    }

    const seq = await audit.checkSequence({ sessionId: SESSION });
    assert.equal(seq.ok, true, JSON.stringify(seq.checks.map((c) => c.gaps)));

    const rows = await persistence.db.query<{ t: string }>("SELECT t::text AS t FROM fix_messages t");
    const hex = Buffer.from(password).toString("hex");
    for (const r of rows.rows) assert.ok(!r.t.includes(password) && !r.t.includes(hex), "the password is in a row");

    // The venue's record of its fills (from its own store), plus one it says it sent and we never received.
    const fills = venueSent
      .filter((m) => m.msgType === MsgType.ExecutionReport)
      .map(
        (m) =>
          new Map(
            m.bytes
              .toString("latin1")
              .split("\x01")
              .map((f) => f.split("=") as [string, string]),
          ),
      )
      .filter((f) => f.get("150") === "F")
      .map((f) => ({
        execId: f.get("17") ?? "",
        symbol: f.get("55") ?? "",
        side: f.get("54") ?? "",
        lastQty: f.get("32") ?? "",
        lastPx: f.get("31") ?? "",
      }));
    const unique = [...new Map(fills.map((f) => [f.execId, f])).values()];
    assert.equal(unique.length, ORDERS);
    const r = await audit.reconcile({
      sessionId: SESSION,
      venue: {
        case: "venueExecutions",
        value: {
          executions: [
            ...unique,
            { execId: "NEVER-RECEIVED", symbol: "IBM", side: "1", lastQty: "100", lastPx: "100" },
          ],
        },
      },
    });
    assert.deepEqual(
      r.missing.map((x) => x.execId),
      ["NEVER-RECEIVED"],
    );
    assert.equal(r.duplicated.length, fills.length - unique.length, "each repeated fill is held twice");
    assert.ok(r.duplicated.length >= 1);
    for (const d of r.duplicated) assert.equal(d.msgSeqNums.length, 2);
    assert.deepEqual(r.extra, []);
    assert.deepEqual(r.mismatched, []);
    assert.equal(r.matched, ORDERS);
  });
});
