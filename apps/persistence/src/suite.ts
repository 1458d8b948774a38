/**
 * The behavioural suite (run by postgres.test.ts and pglite.test.ts), on PostgreSQL (a database of its own per test, created and dropped) and on PGlite
 * (a folder of its own): events published on real NATS JetStream (streams of its own per test) are stored by the
 * persistence service and read back through AuditService over gRPC.
 */
import assert from "node:assert/strict";
import { describe, it as test } from "node:test";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type BusEvent, JetStreamBus } from "@fixmesh/bus";
import { AuditService, createGrpcClient, type GrpcClientOf, MessageDirection, RpcError } from "@fixmesh/contracts";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import type { PersistenceConfigInput } from "./config/config.js";
import { openDb } from "./db/db.js";
import { migrate } from "./db/migrate.js";
import { type PersistenceHandle, startPersistence } from "./service.js";
import {
  createTestDatabase,
  type Engine,
  fixEvent,
  fixMessage,
  NATS_URL,
  rand,
  type TestDatabase,
  waitFor,
} from "./testing/support.js";

const quiet = pino({ level: "silent" });

interface World {
  db: TestDatabase;
  p: PersistenceHandle;
  fixBus: JetStreamBus;
  ordersBus: JetStreamBus;
  auditBus: JetStreamBus;
  prefix: string;
  rpc: GrpcClientOf<typeof AuditService>;
  close(): Promise<void>;
}

async function world(engine: Engine, extra: Partial<PersistenceConfigInput> = {}): Promise<World> {
  const db = await createTestDatabase(engine);
  const id = rand();
  const prefix = `f${id}`;
  const streams = {
    fix: { stream: `PT_${id}_FIX`, filter: `${prefix}.>`, durable: "persistence-fix" },
    orders: { stream: `PT_${id}_ORD`, filter: `o${id}.>`, durable: "persistence-orders" },
    audit: { stream: `PT_${id}_AUD`, filter: `a${id}.>`, durable: "persistence-audit" },
  };
  const fixBus = await JetStreamBus.connect({
    servers: NATS_URL,
    stream: streams.fix.stream,
    subjects: [streams.fix.filter],
  });
  const ordersBus = await JetStreamBus.connect({
    servers: NATS_URL,
    stream: streams.orders.stream,
    subjects: [streams.orders.filter],
  });
  const auditBus = await JetStreamBus.connect({
    servers: NATS_URL,
    stream: streams.audit.stream,
    subjects: [streams.audit.filter],
  });
  const p = await startPersistence(
    {
      database: db.config,
      nats: { url: NATS_URL },
      streams,
      grpc: { plaintext: true, host: "127.0.0.1", port: 0 },
      ingest: { batch: 200, ackWaitMs: 5000 },
      ...extra,
    },
    { logger: quiet, ...(engine === "pglite" && { db: await db.open() }) },
  );
  await p.ready();
  const conn = new grpc.Client(`127.0.0.1:${p.grpcPort}`, grpc.credentials.createInsecure());
  const rpc = createGrpcClient(AuditService, conn);
  return {
    db,
    p,
    fixBus,
    ordersBus,
    auditBus,
    prefix,
    rpc,
    close: async () => {
      conn.close();
      await p.close();
      for (const b of [fixBus, ordersBus, auditBus]) {
        await b.deleteStream().catch(() => undefined);
        await b.close();
      }
      await db.drop();
    },
  };
}

async function drained(w: World, what: string): Promise<void> {
  await waitFor(async () => (await w.p.lag()) === 0, what);
}

async function count(w: World, sql: string, params: unknown[] = []): Promise<number> {
  const r = await w.p.db.query<{ n: number }>(`SELECT (${sql})::float8 AS n`, params);
  return Number(r.rows[0].n);
}

function collect<T>(s: grpc.ClientReadableStream<T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    s.on("data", (d: T) => out.push(d));
    s.on("error", reject);
    s.on("end", () => resolve(out));
  });
}

const DAY = 86_400_000;

/** `part` runs every other test (1: odd, 2: even), so a slow engine's file stays within the runner's timeout. */
export function persistenceSuite(engine: Engine, part?: 1 | 2): void {
  let n = 0;
  const it = (name: string, fn: () => Promise<void>) => {
    n++;
    if (part === undefined || ((n - 1) % 2) + 1 === part) test(name, fn);
  };
  describe(`persistence on ${engine}${part ? ` (part ${part})` : ""}`, { timeout: 115_000 }, () => {
    it("applies its migrations once: a second run finds the schema current", async () => {
      // A database of its own, never migrated (PGlite: in memory, not the shared instance).
      const db = engine === "postgres" ? await createTestDatabase(engine) : null;
      const conn = db ? await db.open() : await openDb({ engine: "pglite" });
      try {
        const first = await migrate(conn);
        assert.ok(first.applied.length >= 1);
        const second = await migrate(conn);
        assert.deepEqual(second.applied, []);
        const t = await conn.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name IN ('fix_messages','executions','orders','order_events','session_events','dead_letters')",
        );
        assert.equal(Number(t.rows[0].n), 6);
      } finally {
        await conn.close();
        await db?.drop();
      }
    });

    it("stores every message byte for byte, idempotently, and pages it back over gRPC in order", async () => {
      const w = await world(engine);
      try {
        const session = "FIX.4.4:CLIENT->VENUE";
        const t0 = Date.now() - 60_000;
        const events: Array<{ event: BusEvent; raw: Buffer }> = [];
        for (let i = 1; i <= 120; i++) {
          events.push(
            fixEvent({
              session,
              prefix: w.prefix,
              dir: i % 2 ? "out" : "in",
              seq: Math.ceil(i / 2),
              msgType: i % 2 ? "D" : "8",
              at: t0 + i,
              body:
                i % 2
                  ? [
                      [11, `C${i}`],
                      [55, "EUR/USD"],
                      [54, 1],
                      [38, 100],
                      [40, 2],
                      [44, "1.1"],
                    ]
                  : [
                      [37, `O${i}`],
                      [11, `C${i - 1}`],
                      [17, `E${i}`],
                      [150, "F"],
                      [39, "2"],
                      [55, "EUR/USD"],
                      [54, 1],
                      [32, 100],
                      [31, "1.1"],
                    ],
              traceparent: `00-${"ab".repeat(16)}-${"cd".repeat(8)}-01`,
            }),
          );
        }
        await w.fixBus.publish(events.map((e) => e.event));
        await drained(w, "120 messages stored");
        // A republish under new bus ids (what a redelivery looks like to the table): no new row.
        await w.fixBus.publish(events.slice(0, 30).map((e) => ({ ...e.event, id: `${e.event.id}:again` })));
        await drained(w, "republished messages handled");
        assert.equal(await count(w, "SELECT count(*) FROM fix_messages"), 120);

        const got: Buffer[] = [];
        let token = "";
        let pages = 0;
        do {
          const page = await w.rpc.queryMessages({ filter: { sessionId: session }, pageSize: 50, pageToken: token });
          for (const m of page.messages) got.push(Buffer.from(m.raw));
          token = page.nextPageToken;
          pages++;
        } while (token !== "" && pages < 10);
        assert.equal(pages, 3);
        assert.equal(got.length, 120);
        for (const [i, raw] of got.entries()) assert.ok(raw.equals(events[i].raw), `message ${i} byte for byte`);

        const execs = await w.rpc.queryMessages({
          filter: {
            sessionId: session,
            direction: MessageDirection.IN,
            msgTypes: ["8"],
            fromSeqNum: 10n,
            toSeqNum: 12n,
          },
        });
        assert.deepEqual(
          execs.messages.map((m) => [Number(m.msgSeqNum), m.execId, m.traceId]),
          [
            [10, "E20", "ab".repeat(16)],
            [11, "E22", "ab".repeat(16)],
            [12, "E24", "ab".repeat(16)],
          ],
        );
        const byClOrd = await w.rpc.queryMessages({ filter: { clOrdId: "C7" } });
        assert.deepEqual(
          byClOrd.messages.map((m) => m.msgType),
          ["D", "8"],
        );
        const inTime = (
          await collect(
            w.rpc.streamStoredMessages({
              filter: { sessionId: session, fromTime: timestampFromMs(t0 + 11), toTime: timestampFromMs(t0 + 21) },
            }),
          )
        ).flatMap((c) => c.messages);
        assert.equal(inTime.length, 10);
        assert.equal(await count(w, "SELECT count(*) FROM executions"), 60);
      } finally {
        await w.close();
      }
    });

    it("answers a bad request with INVALID_ARGUMENT naming the field", async () => {
      const w = await world(engine);
      try {
        for (const [call, field] of [
          [() => w.rpc.queryMessages({ pageSize: 5000 }), "page_size"],
          [() => w.rpc.queryMessages({ pageToken: "garbage" }), "page_token"],
          [() => w.rpc.queryMessages({ filter: { fromSeqNum: 9n, toSeqNum: 3n } }), "filter.to_seq_num"],
          [() => w.rpc.checkSequence({}), "session_id"],
          [
            () =>
              w.rpc.reconcile({
                sessionId: "s",
                venue: { case: "venueExecutions", value: { executions: [{ execId: "E", lastQty: "x" }] } },
              }),
            "venue_executions.executions[0].last_qty",
          ],
        ] as const) {
          await assert.rejects(call(), (e: unknown) => {
            assert.ok(e instanceof RpcError);
            assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
            assert.equal(e.metadata.field, field);
            return true;
          });
        }
      } finally {
        await w.close();
      }
    });

    it("dead-letters poison events with the reason and goes on storing the rest", async () => {
      const w = await world(engine);
      try {
        const session = "S1";
        const good = (seq: number) => fixEvent({ session, prefix: w.prefix, dir: "in", seq, msgType: "0" }).event;
        await w.fixBus.publish([
          good(1),
          { id: "poison-1", subject: `${w.prefix}.S1.in.0`, payload: Buffer.from("{not json") },
          good(2),
          {
            id: "poison-2",
            subject: `${w.prefix}.S1.in.0`,
            payload: Buffer.from(
              JSON.stringify({ session, cycle: "c1", dir: "in", seq: -4, msgType: "0", at: 1, raw: "OD1GSVgu" }),
            ),
          },
          good(3),
        ]);
        // An order event whose quantity the numeric column refuses: found by the per-event retry.
        const order = {
          orderId: "ord-1",
          version: 1,
          change: "NEW_REQUEST",
          at: Date.now(),
          order: {
            orderId: "ord-1",
            sessionId: session,
            clOrdId: "A1",
            origClOrdId: "",
            account: "acc",
            symbol: "X",
            side: "BUY",
            orderType: "LIMIT",
            timeInForce: "DAY",
            quantity: "lots",
            status: "PENDING_NEW",
            cumQty: "0",
            leavesQty: "0",
            avgPx: "0",
            pending: true,
            createdAt: Date.now(),
            updatedAt: Date.now(),
          },
        };
        const okOrder = {
          ...order,
          orderId: "ord-2",
          order: { ...order.order, orderId: "ord-2", clOrdId: "A2", quantity: "5" },
        };
        await w.ordersBus.publish([
          { id: "ord-1:1", subject: `o${w.prefix.slice(1)}.S1.acc`, payload: Buffer.from(JSON.stringify(order)) },
          { id: "ord-2:1", subject: `o${w.prefix.slice(1)}.S1.acc`, payload: Buffer.from(JSON.stringify(okOrder)) },
        ]);
        await drained(w, "poison and good events handled");
        await w.fixBus.publish([good(4)]);
        await drained(w, "a later event");
        assert.equal(await count(w, "SELECT count(*) FROM fix_messages WHERE session = 'S1'"), 4);
        assert.equal(await count(w, "SELECT count(*) FROM orders WHERE order_id = 'ord-2'"), 1);
        const dead = await w.p.store.deadLetters();
        assert.deepEqual(dead.map((d) => d.stream).sort(), ["fix", "fix", "orders"]);
        assert.match(dead.find((d) => d.subject.endsWith("in.0") && /JSON/.test(d.reason))?.reason ?? "", /not JSON/);
        assert.ok(dead.some((d) => /seq: must be ≥ 0/.test(d.reason)));
        assert.ok(dead.some((d) => d.stream === "orders" && /database refused it/.test(d.reason)));
        assert.equal(w.p.metrics.stats("fix").deadLetters, 2);
      } finally {
        await w.close();
      }
    });

    it("never stores Password(554) or NewPassword(925), even when a publisher forgot to mask them", async () => {
      const w = await world(engine);
      try {
        const secret = `hunter2-${rand()}`;
        const logon = fixEvent({
          session: "S2",
          prefix: w.prefix,
          dir: "out",
          seq: 1,
          msgType: "A",
          body: [
            [98, 0],
            [108, 30],
            [553, "user"],
            [554, secret],
            [925, `${secret}-new`],
          ],
        }).event;
        const poison = {
          id: "poison-secret",
          subject: `${w.prefix}.S2.out.A`,
          payload: Buffer.from(`garbage 8=FIX.4.4\x0135=A\x01554=${secret}\x01 and |554=${secret}|`),
        };
        const poisonJson = {
          id: "poison-secret-2",
          subject: `${w.prefix}.S2.out.A`,
          payload: Buffer.from(
            JSON.stringify({
              session: "S2",
              dir: "sideways",
              raw: Buffer.from(`35=A\x01554=${secret}\x01`).toString("base64"),
            }),
          ),
        };
        await w.fixBus.publish([logon, poison, poisonJson]);
        await drained(w, "logon stored");
        const stored = await w.rpc.queryMessages({ filter: { sessionId: "S2" } });
        assert.equal(stored.messages.length, 1);
        assert.match(Buffer.from(stored.messages[0].raw).toString("latin1"), /\x01554=\*{8}\x01925=\*{8}\x01/);
        const hex = Buffer.from(secret).toString("hex");
        const b64 = Buffer.from(secret).toString("base64").slice(0, 8);
        for (const table of [
          "fix_messages",
          "executions",
          "orders",
          "order_events",
          "session_events",
          "dead_letters",
        ]) {
          const rows = await w.p.db.query<{ t: string }>(`SELECT t::text AS t FROM ${table} t`);
          for (const r of rows.rows) {
            assert.ok(!r.t.includes(secret), `${table} holds the secret`);
            assert.ok(!r.t.includes(hex), `${table} holds the secret (hex)`);
            assert.ok(!r.t.includes(b64), `${table} holds the secret (base64)`);
          }
        }
        assert.equal(await count(w, "SELECT count(*) FROM dead_letters"), 2);
      } finally {
        await w.close();
      }
    });

    it("gives a readable transcript with tag names and enum meanings, and an order's whole ClOrdID chain", async () => {
      const w = await world(engine);
      try {
        const s = "FIX.4.4:A->B";
        const t = Date.now() - 10_000;
        const ev = (dir: "in" | "out", seq: number, msgType: string, body: Array<[number, string | number]>) =>
          fixEvent({ session: s, prefix: w.prefix, dir, seq, msgType, body, at: t + seq * 10 + (dir === "in" ? 5 : 0) })
            .event;
        await w.fixBus.publish([
          ev("out", 1, "D", [
            [11, "A1"],
            [55, "IBM"],
            [54, 1],
            [38, 100],
            [40, 2],
            [44, 10],
          ]),
          ev("in", 1, "8", [
            [37, "V1"],
            [11, "A1"],
            [17, "X1"],
            [150, 0],
            [39, 0],
            [55, "IBM"],
            [54, 1],
          ]),
          ev("out", 2, "G", [
            [11, "A2"],
            [41, "A1"],
            [37, "V1"],
            [55, "IBM"],
            [54, 1],
            [38, 200],
            [40, 2],
            [44, 10],
          ]),
          ev("in", 2, "8", [
            [37, "V1"],
            [11, "A2"],
            [41, "A1"],
            [17, "X2"],
            [150, 5],
            [39, 0],
            [55, "IBM"],
            [54, 1],
          ]),
          ev("out", 3, "F", [
            [11, "A3"],
            [41, "A2"],
            [37, "V1"],
            [55, "IBM"],
            [54, 1],
          ]),
          ev("in", 3, "8", [
            [37, "V1"],
            [11, "A3"],
            [41, "A2"],
            [17, "X3"],
            [150, 4],
            [39, 4],
            [55, "IBM"],
            [54, 1],
          ]),
          ev("out", 4, "D", [
            [11, "B1"],
            [55, "MSFT"],
            [54, 2],
            [38, 1],
            [40, 1],
          ]),
        ]);
        await drained(w, "messages stored");
        const entries = (await collect(w.rpc.getTranscript({ sessionId: s, withFields: true }))).flatMap(
          (c) => c.entries,
        );
        assert.equal(entries.length, 7);
        assert.equal(entries[0].msgTypeName, "NewOrderSingle");
        assert.match(entries[0].text, /ClOrdID\(11\)=A1/);
        assert.match(entries[0].text, /Side\(54\)=1 \(BUY\)/);
        const side = entries[0].fields.find((f) => f.tag === 54);
        assert.deepEqual([side?.name, side?.meaning], ["Side", "BUY"]);
        assert.equal(entries[3].msgTypeName, "ExecutionReport");
        assert.match(entries[3].text, /ExecType\(150\)=5 \(REPLACED\)/);
        assert.deepEqual(
          entries.map((e) => `${e.message?.direction === MessageDirection.IN ? "in" : "out"}${e.message?.msgSeqNum}`),
          ["out1", "in1", "out2", "in2", "out3", "in3", "out4"],
        );

        const h = await w.rpc.getOrderHistory({ clOrdId: "A2" });
        assert.deepEqual(h.clOrdIds, ["A1", "A2", "A3"]);
        assert.deepEqual(h.orderIds, ["V1"]);
        assert.deepEqual(
          h.messages.map((m) => m.msgType),
          ["D", "8", "G", "8", "F", "8"],
        );
      } finally {
        await w.close();
      }
    });

    it("finds a gap and reports none where a GapFill covers the sequence", async () => {
      const w = await world(engine);
      try {
        const ev = (seq: number, msgType = "0", body: Array<[number, string | number]> = []) =>
          fixEvent({ session: "S3", prefix: w.prefix, dir: "in", seq, msgType, body }).event;
        // in: 1..4, a GapFill at 5 to 8, 8..9, then 11 (10 is missing).
        await w.fixBus.publish([
          ...[1, 2, 3, 4].map((s) => ev(s)),
          ev(5, "4", [
            [123, "Y"],
            [36, 8],
          ]),
          ev(8),
          ev(9),
          ev(11),
        ]);
        await drained(w, "stored");
        const r = await w.rpc.checkSequence({ sessionId: "S3" });
        assert.equal(r.ok, false);
        assert.equal(r.checks.length, 1);
        assert.deepEqual(
          r.checks[0].gaps.map((g) => [Number(g.begin), Number(g.end)]),
          [[10, 10]],
        );
        assert.equal(Number(r.checks[0].stored), 8);
        assert.deepEqual(r.checks[0].duplicates, []);
      } finally {
        await w.close();
      }
    });

    it("reconciles: a fill the venue reported that we never received, one we hold twice, one it does not know", async () => {
      const w = await world(engine);
      try {
        const fill = (session: string, seq: number, execId: string, qty: number, px = "10.5") =>
          fixEvent({
            session,
            prefix: w.prefix,
            dir: "in",
            seq,
            msgType: "8",
            body: [
              [37, "V9"],
              [11, "Q1"],
              [17, execId],
              [150, "F"],
              [39, 1],
              [55, "IBM"],
              [54, 1],
              [32, qty],
              [31, px],
            ],
          }).event;
        await w.fixBus.publish([
          fill("OURS", 1, "E1", 10),
          fill("OURS", 2, "E2", 20),
          // The venue's fill E2 again under a new MsgSeqNum: we hold it twice.
          fill("OURS", 3, "E2", 20),
          fill("OURS", 4, "E4", 5),
          fill("OURS", 5, "E5", 7, "11"),
          // The drop copy: E1, E2, E3 (which we never received), E5 at another price.
          fill("DROP", 1, "E1", 10),
          fill("DROP", 2, "E2", 20),
          fill("DROP", 3, "E3", 30),
          fill("DROP", 4, "E5", 7, "11.25"),
        ]);
        await drained(w, "fills stored");
        const r = await w.rpc.reconcile({ sessionId: "OURS", venue: { case: "dropCopySessionId", value: "DROP" } });
        assert.equal(r.clean, false);
        assert.deepEqual(
          r.missing.map((x) => x.execId),
          ["E3"],
        );
        assert.deepEqual(
          r.duplicated.map((x) => [x.execId, x.msgSeqNums.map(Number)]),
          [["E2", [2, 3]]],
        );
        assert.deepEqual(
          r.extra.map((x) => x.execId),
          ["E4"],
        );
        assert.deepEqual(
          r.mismatched.map((m) => [m.execId, m.differences.map((d) => `${d.field}:${d.ours}/${d.venue}`)]),
          [["E5", ["last_px:11/11.25"]]],
        );
        assert.equal(r.matched, 2);
        const file = await w.rpc.reconcile({
          sessionId: "OURS",
          venue: {
            case: "venueExecutions",
            value: {
              executions: [
                { execId: "E1", lastQty: "10.0", lastPx: "10.50" },
                { execId: "E2", lastQty: "20", lastPx: "10.5" },
                { execId: "E4", lastQty: "5", lastPx: "10.5" },
                { execId: "E5", lastQty: "7", lastPx: "11" },
                { execId: "E6", lastQty: "1", lastPx: "1" },
              ],
            },
          },
        });
        assert.deepEqual(
          file.missing.map((x) => x.execId),
          ["E6"],
        );
        assert.deepEqual(
          file.duplicated.map((x) => x.execId),
          ["E2"],
        );
        assert.deepEqual(file.extra, []);
        assert.deepEqual(file.mismatched, []);
      } finally {
        await w.close();
      }
    });

    it("stores session state and admin audit events, and order events with the latest version winning", async () => {
      const w = await world(engine);
      try {
        const id = w.prefix.slice(1);
        await w.fixBus.publish([
          {
            id: "S4:c1:state:1",
            subject: `${w.prefix}.S4.state`,
            payload: Buffer.from(
              JSON.stringify({
                session: "S4",
                cycle: "c1",
                at: Date.now(),
                notice: { kind: "logout", reason: "end of day", initiatedBy: "us" },
              }),
            ),
          },
        ]);
        await w.auditBus.publish([
          {
            id: "act-1",
            subject: `a${id}.connector.ResetSequence`,
            payload: Buffer.from(
              JSON.stringify({
                id: "act-1",
                at: Date.now(),
                service: "connector",
                principal: "alice",
                action: "ResetSequence",
                resource: "S4",
                reason: "venue asked",
                outcome: "ok",
              }),
            ),
          },
        ]);
        const base = {
          orderId: "o-7",
          at: Date.now(),
          order: {
            orderId: "o-7",
            sessionId: "S4",
            clOrdId: "K1",
            origClOrdId: "",
            account: "acc",
            symbol: "IBM",
            side: "BUY",
            orderType: "LIMIT",
            timeInForce: "DAY",
            quantity: "100",
            price: "10",
            status: "NEW",
            cumQty: "0",
            leavesQty: "100",
            avgPx: "0",
            pending: false,
            createdAt: Date.now(),
            updatedAt: Date.now(),
          },
        };
        const v2 = {
          ...base,
          version: 2,
          change: "FILL",
          order: { ...base.order, status: "FILLED", cumQty: "100", leavesQty: "0", avgPx: "10" },
          execution: { execId: "Z1", execType: "F", lastQty: "100", lastPx: "10", msgSeqNum: 3 },
        };
        // Version 2 first, then 1: the order stays FILLED.
        await w.ordersBus.publish([
          { id: "o-7:2", subject: `o${id}.S4.acc`, payload: Buffer.from(JSON.stringify(v2)) },
          {
            id: "o-7:1",
            subject: `o${id}.S4.acc`,
            payload: Buffer.from(JSON.stringify({ ...base, version: 1, change: "ACK" })),
          },
        ]);
        await drained(w, "events stored");
        const ev = await w.p.db.query<{ kind: string; reason: string; operator: string | null }>(
          "SELECT kind, reason, operator FROM session_events WHERE session = 'S4' ORDER BY kind",
        );
        assert.deepEqual(ev.rows, [
          { kind: "admin.ResetSequence", reason: "venue asked", operator: "alice" },
          { kind: "logout", reason: "end of day", operator: null },
        ]);
        const o = await w.p.db.query<{ status: string; version: number }>("SELECT status, version FROM orders");
        assert.deepEqual(o.rows, [{ status: "FILLED", version: 2 }]);
        assert.equal(await count(w, "SELECT count(*) FROM order_events"), 2);
        assert.equal(await count(w, "SELECT count(*) FROM executions WHERE exec_id = 'Z1' AND source = 'orders'"), 1);
        const h = await w.rpc.getOrderHistory({ clOrdId: "K1" });
        assert.deepEqual(
          h.events.map((e) => e.version),
          [1, 2],
        );
      } finally {
        await w.close();
      }
    });

    it("stores a message republished after midnight with a later recording time once, in the day it was sent", async () => {
      const w = await world(engine);
      try {
        const session = "FIX.4.4:NIGHT->VENUE";
        const midnight = Math.floor(Date.now() / DAY) * DAY;
        const sentDay = new Date(midnight - DAY).toISOString().slice(0, 10);
        // Sent and recorded a second before midnight; republished (a new bus id, so JetStream's duplicate window
        // does not drop it) with a recording time five minutes after midnight, as a second event for the same
        // message would carry.
        const first = fixEvent({ session, prefix: w.prefix, dir: "in", seq: 7, msgType: "8", at: midnight - 1000 });
        const payload = JSON.parse(Buffer.from(first.event.payload).toString("utf8")) as Record<string, unknown>;
        const later = { ...payload, at: midnight + 300_000 };
        // The counterparty's resend of it: PossDupFlag=Y, a new SendingTime after midnight, the original in
        // OrigSendingTime(122).
        const st = (ms: number) => new Date(ms).toISOString().replace(/-/g, "").replace("T", "-").replace("Z", "");
        const resent = fixMessage("FIX.4.4", [
          [35, "8"],
          [49, "VENUE"],
          [56, "CLIENT"],
          [34, 7],
          [43, "Y"],
          [52, st(midnight + 600_000)],
          [122, st(midnight - 1000)],
        ]);
        const copy = { ...payload, at: midnight + 600_000, possDup: true, raw: resent.toString("base64") };
        // And a message sent just before midnight but recorded just after: found by a time range after midnight.
        const edge = fixEvent({ session, prefix: w.prefix, dir: "in", seq: 8, msgType: "0", at: midnight - 100 });
        const edgePayload = JSON.parse(Buffer.from(edge.event.payload).toString("utf8")) as Record<string, unknown>;
        await w.fixBus.publish([first.event]);
        await drained(w, "first stored");
        await w.fixBus.publish([
          { ...first.event, id: `${first.event.id}:later`, payload: Buffer.from(JSON.stringify(later)) },
          { ...first.event, id: `${first.event.id}:resent`, payload: Buffer.from(JSON.stringify(copy)) },
          { ...edge.event, payload: Buffer.from(JSON.stringify({ ...edgePayload, at: midnight + 100 })) },
        ]);
        await drained(w, "republished");
        const rows = await w.p.db.query<{ day: string; raw: Uint8Array }>(
          "SELECT to_char(day, 'YYYY-MM-DD') AS day, raw FROM fix_messages WHERE session = $1 AND msg_seq_num = 7",
          [session],
        );
        assert.equal(rows.rows.length, 1);
        assert.equal(rows.rows[0].day, sentDay);
        assert.deepEqual(Buffer.from(rows.rows[0].raw), first.raw);
        const afterMidnight = await w.rpc.queryMessages({
          filter: { sessionId: session, fromTime: timestampFromMs(midnight), toTime: timestampFromMs(midnight + DAY) },
        });
        assert.deepEqual(
          afterMidnight.messages.map((m) => Number(m.msgSeqNum)),
          [8],
        );
      } finally {
        await w.close();
      }
    });

    it("partitions messages by day and drops the partitions older than the retention", async () => {
      const w = await world(engine, { retention: { days: 3 } });
      try {
        const now = Date.now();
        await w.fixBus.publish([
          fixEvent({ session: "S5", prefix: w.prefix, dir: "in", seq: 1, msgType: "0", at: now - 10 * DAY }).event,
          fixEvent({ session: "S5", prefix: w.prefix, dir: "in", seq: 2, msgType: "0", at: now - 5 * DAY }).event,
          fixEvent({ session: "S5", prefix: w.prefix, dir: "in", seq: 3, msgType: "0", at: now }).event,
        ]);
        await drained(w, "stored");
        const parts = async () =>
          (
            await w.p.db.query<{ name: string }>(
              "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'fix_messages'::regclass ORDER BY 1",
            )
          ).rows.length;
        // Three days of messages plus tomorrow's partition made ahead.
        assert.equal(await parts(), 4);
        const r = await w.p.applyRetention();
        assert.equal(r.dropped.length, 2);
        assert.equal(await parts(), 2);
        assert.equal(await count(w, "SELECT count(*) FROM fix_messages"), 1);
      } finally {
        await w.close();
      }
    });
  });
}
