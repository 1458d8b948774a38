/**
 * The batch writer on a real PostgreSQL (a database of its own, dropped after): the COPY path, redelivery of a
 * committed batch, binary rows that keep every value, and batches handed over together.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Delivered } from "@fixmesh/bus";
import { type Db, openDb, type Queryable } from "../db/db.js";
import { migrate } from "../db/migrate.js";
import { Partitions } from "../db/partitions.js";
import { createTestDatabase, fixEvent, type TestDatabase } from "../testing/support.js";
import { type Decoded, decodeEvent, Redactor } from "./decode.js";
import { BatchWriter } from "./writer.js";

const redactor = new Redactor();

function decoded(events: Array<ReturnType<typeof fixEvent>["event"]>, firstSeq = 1): Decoded[] {
  return events.map((e, i) => decodeEvent("fix", { ...e, seq: firstSeq + i } as Delivered, redactor));
}

function batch(session: string, from: number, n: number, at: number): Decoded[] {
  const events = [];
  for (let s = from; s < from + n; s++) {
    events.push(
      fixEvent({
        session,
        dir: "in",
        seq: s,
        msgType: "8",
        at: at + s,
        body: [
          [37, `O${s}`],
          [11, `C${s}`],
          [17, `E${s}`],
          [150, "F"],
          [39, "1"],
          [55, "EUR/USD"],
          [54, 1],
          [32, 100],
          [31, "1.2345"],
        ],
      }).event,
    );
  }
  return decoded(events, from);
}

/** A Db that counts the COPY statements its transactions run. */
function counting(db: Db): { db: Db; copies: () => number } {
  let copies = 0;
  return {
    copies: () => copies,
    db: {
      ...db,
      engine: db.engine,
      query: (sql, params) => db.query(sql, params),
      withMigrationClient: (fn) => db.withMigrationClient(fn),
      close: () => db.close(),
      transaction: (fn) =>
        db.transaction((tx) => {
          const copyFrom = tx.copyFrom;
          const spied: Queryable = {
            query: (sql, params) => tx.query(sql, params),
            connection: tx.connection,
            ...(copyFrom && {
              copyFrom: (sql: string, data: Buffer) => {
                copies++;
                return copyFrom(sql, data);
              },
            }),
          };
          return fn(spied);
        }),
    },
  };
}

describe("batch writer on PostgreSQL", { timeout: 60_000 }, () => {
  let t: TestDatabase;
  let db: Db;

  before(async () => {
    t = await createTestDatabase("postgres");
    db = await t.open();
    await migrate(db);
  });
  after(async () => {
    await db.close();
    await t.drop();
  });

  it("copies a batch of messages and its fills, and a redelivery of the committed batch adds no row", async () => {
    const c = counting(db);
    const writer = new BatchWriter(c.db, new Partitions(c.db), redactor);
    const rows = batch("S-COPY", 1, 300, Date.now() - 60_000);
    const first = await writer.write("fix", rows);
    assert.equal(first.inserted, 300);
    assert.equal(c.copies(), 1);
    const again = await writer.write("fix", rows);
    assert.equal(again.inserted, 0);
    assert.equal(again.stored, 300);
    assert.equal(c.copies(), 2);
    const n = await db.query<{ m: number; x: number; q: string; px: string }>(
      `SELECT (SELECT count(*) FROM fix_messages WHERE session = 'S-COPY')::int AS m,
              (SELECT count(*) FROM executions WHERE session = 'S-COPY')::int AS x,
              (SELECT sum(last_qty)::text FROM executions WHERE session = 'S-COPY') AS q,
              (SELECT max(last_px)::text FROM executions WHERE session = 'S-COPY') AS px`,
    );
    assert.deepEqual(n.rows[0], { m: 300, x: 300, q: "30000", px: "1.2345" });
  });

  it("stores what it copied value for value: non-ASCII text, absent fields, large numbers, old times", async () => {
    const writer = new BatchWriter(db, new Partitions(db), redactor);
    const session = "FIX.4.4:BANQUE-É->VENUE✓";
    const at = Date.UTC(1999, 11, 31, 23, 59, 59, 123);
    const e = fixEvent({ session, dir: "out", seq: 2 ** 40, msgType: "D", at, body: [[11, "ÄÖ-1"]] });
    const payload = JSON.parse(Buffer.from(e.event.payload).toString("utf8")) as Record<string, unknown>;
    const items = decoded([
      { ...e.event, payload: Buffer.from(JSON.stringify({ ...payload, sendingTime: undefined })) },
    ]);
    await writer.write("fix", items);
    const r = await db.query<Record<string, unknown>>(
      `SELECT day::text AS day, msg_seq_num::text AS seq, cl_ord_id, sending_time, order_id, exec_id,
              (extract(epoch FROM recorded_at) * 1000)::float8 AS at, poss_dup, raw
       FROM fix_messages WHERE session = $1`,
      [session],
    );
    assert.equal(r.rows.length, 1);
    const row = r.rows[0];
    assert.deepEqual(
      { ...row, raw: Buffer.from(row.raw as Uint8Array) },
      {
        day: "1999-12-31",
        seq: String(2 ** 40),
        cl_ord_id: "ÄÖ-1",
        sending_time: null,
        order_id: null,
        exec_id: null,
        at,
        poss_dup: false,
        raw: items[0].message?.raw,
      },
    );
  });

  it("writes batches handed over together on one connection, numbering their rows in the order given", async () => {
    const one = await openDb({ engine: "postgres", url: t.url, poolSize: 1 });
    try {
      const writer = new BatchWriter(one, new Partitions(one), redactor);
      const now = Date.now() - 30_000;
      const results = await Promise.all([
        writer.write("fix", batch("S-ORDER", 1, 200, now)),
        writer.write("fix", batch("S-ORDER", 201, 200, now)),
        writer.write("fix", batch("S-ORDER", 401, 200, now)),
      ]);
      assert.deepEqual(
        results.map((r) => r.inserted),
        [200, 200, 200],
      );
      const r = await one.query<{ seq: number }>(
        "SELECT msg_seq_num::int AS seq FROM fix_messages WHERE session = 'S-ORDER' ORDER BY id",
      );
      assert.deepEqual(
        r.rows.map((x) => x.seq),
        Array.from({ length: 600 }, (_, i) => i + 1),
      );
    } finally {
      await one.close();
    }
  });

  it("dead-letters an event the database refuses while the next batch waits on the only connection", async () => {
    const one = await openDb({ engine: "postgres", url: t.url, poolSize: 1 });
    try {
      const writer = new BatchWriter(one, new Partitions(one), redactor);
      const now = Date.now() - 20_000;
      const first = batch("S-POISON", 1, 50, now);
      // A NUL in a text value: PostgreSQL refuses it (invalid byte sequence), the rest of the batch is good.
      const bad = fixEvent({ session: "S-POISON", dir: "in", seq: 51, msgType: "0", at: now }).event;
      const payload = JSON.parse(Buffer.from(bad.payload).toString("utf8")) as Record<string, unknown>;
      const poison = {
        ...bad,
        // (The bus id too: the dead letter must still be storable.)
        id: `${bad.id}\u0000`,
        payload: Buffer.from(JSON.stringify({ ...payload, session: "S-POISON\u0000" })),
      };
      first.push(...decoded([poison], 51));
      const [a, b] = await Promise.all([
        writer.write("fix", first),
        writer.write("fix", batch("S-POISON", 52, 50, now)),
      ]);
      assert.equal(a.deadLetters.length, 1);
      assert.match(a.deadLetters[0].reason, /database refused it/);
      const dl = await one.query<{ event_id: string }>("SELECT event_id FROM dead_letters WHERE stream_seq = 51");
      assert.deepEqual(dl.rows, [{ event_id: "S-POISON:c1:in:51\\0" }]);
      assert.equal(a.inserted + b.inserted, 100);
      const n = await one.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM fix_messages WHERE session = 'S-POISON'",
      );
      assert.equal(n.rows[0].n, 100);
    } finally {
      await one.close();
    }
  });
});
