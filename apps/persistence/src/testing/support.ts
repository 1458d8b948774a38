/**
 * Test support: a database of its own per test (PostgreSQL: created and dropped; PGlite: a temporary folder),
 * FIX messages with a correct BodyLength and CheckSum, and the connector's event payloads built from them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BusEvent } from "@fixmesh/bus";
import pg from "pg";
import { type Db, openDb } from "../db/db.js";
import { migrate } from "../db/migrate.js";

export const PG_ADMIN_URL = process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

export const rand = () => Math.random().toString(36).slice(2, 10);

export type Engine = "postgres" | "pglite";

export interface TestDatabase {
  engine: Engine;
  /** postgres: the URL of the test's database; pglite: its data folder. */
  url: string;
  dataDir: string;
  /** The `database` section of a persistence config for it (PGlite: pass `open()`'s Db to the service). */
  config: { engine: "postgres"; url: string } | { engine: "pglite"; dataDir: string };
  open(): Promise<Db>;
  drop(): Promise<void>;
}

export function pgUrl(database: string, base = PG_ADMIN_URL): string {
  const u = new URL(base);
  u.pathname = `/${database}`;
  return u.toString();
}

let shared: Promise<{ db: Db; dir: string }> | null = null;

/**
 * PGlite starts slowly (seconds for the WebAssembly and an initdb, more on a busy machine), so the PGlite tests
 * of one process share one instance on a temporary folder, emptied between tests instead of dropped.
 */
function sharedPglite(): Promise<{ db: Db; dir: string }> {
  shared ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "fixmesh-pglite-"));
    const db = await openDb({ engine: "pglite", dataDir: dir });
    await migrate(db);
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    return { db, dir };
  })();
  return shared;
}

async function emptyPglite(db: Db): Promise<void> {
  await db.query("SELECT fixmesh_drop_day_partitions('9999-01-01')");
  await db.query("TRUNCATE executions, orders, order_events, session_events, dead_letters");
}

export async function createTestDatabase(engine: Engine): Promise<TestDatabase> {
  if (engine === "pglite") {
    const { db, dir } = await sharedPglite();
    await emptyPglite(db);
    const handle: Db = {
      engine: "pglite",
      query: (sql, params) => db.query(sql, params),
      transaction: (fn) => db.transaction(fn),
      withMigrationClient: (fn) => db.withMigrationClient(fn),
      close: async () => undefined,
    };
    return {
      engine,
      url: dir,
      dataDir: dir,
      config: { engine: "pglite", dataDir: dir },
      open: async () => handle,
      drop: () => emptyPglite(db),
    };
  }
  const name = `fixmesh_test_${rand()}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = pgUrl(name);
  return {
    engine,
    url,
    dataDir: "",
    config: { engine: "postgres", url },
    open: () => openDb({ engine: "postgres", url, poolSize: 4 }),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** A FIX message with its BodyLength(9) and CheckSum(10) computed. */
export function fixMessage(begin: string, fields: ReadonlyArray<[number, string | number]>): Buffer {
  const body = fields.map(([t, v]) => `${t}=${v}\x01`).join("");
  const head = `8=${begin}\x019=${Buffer.byteLength(body, "latin1")}\x01`;
  const msg = Buffer.from(head + body, "latin1");
  let sum = 0;
  for (const b of msg) sum += b;
  return Buffer.concat([msg, Buffer.from(`10=${String(sum % 256).padStart(3, "0")}\x01`, "latin1")]);
}

export interface FixEventInput {
  session: string;
  cycle?: string;
  dir: "in" | "out";
  seq: number;
  msgType: string;
  /** Body fields after 35, 49, 56, 34, 52. */
  body?: ReadonlyArray<[number, string | number]>;
  at?: number;
  possDup?: boolean;
  traceparent?: string;
  prefix?: string;
  begin?: string;
}

const token = (s: string) => s.replace(/[^A-Za-z0-9]+/g, "_");

/** The event the connector publishes for one FIX message (libs/engine FixMessageEvent), and its raw bytes. */
export function fixEvent(i: FixEventInput): { event: BusEvent; raw: Buffer } {
  const at = i.at ?? Date.now();
  const cycle = i.cycle ?? "c1";
  const sendingTime = new Date(at).toISOString().replace(/-/g, "").replace("T", "-").replace("Z", "");
  const body = i.body ?? [];
  const raw = fixMessage(i.begin ?? "FIX.4.4", [
    [35, i.msgType],
    [49, i.dir === "out" ? "CLIENT" : "VENUE"],
    [56, i.dir === "out" ? "VENUE" : "CLIENT"],
    [34, i.seq],
    [52, sendingTime],
    ...(i.possDup ? ([[43, "Y"]] as Array<[number, string]>) : []),
    ...body,
  ]);
  const get = (tag: number) => {
    const f = body.find(([t]) => t === tag);
    return f === undefined ? undefined : String(f[1]);
  };
  const payload = {
    session: i.session,
    cycle,
    dir: i.dir,
    seq: i.seq,
    msgType: i.msgType,
    possDup: i.possDup ?? false,
    sendingTime,
    at,
    clOrdId: get(11),
    origClOrdId: get(41),
    orderId: get(37),
    execId: get(17),
    raw: raw.toString("base64"),
  };
  return {
    raw,
    event: {
      id: `${i.session}:${cycle}:${i.dir}:${i.seq}`,
      subject: `${i.prefix ?? "fix"}.${token(i.session)}.${i.dir}.${i.msgType}`,
      payload: Buffer.from(JSON.stringify(payload)),
      ...(i.traceparent !== undefined && { headers: { traceparent: i.traceparent } }),
    },
  };
}

/** Waits for `cond`, polling; throws naming `what` after `ms`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
