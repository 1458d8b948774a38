/**
 * Writes one batch of decoded events in one transaction: on PostgreSQL the FIX messages (and their fills) by
 * binary COPY into a staging table and INSERT … SELECT … ON CONFLICT DO NOTHING (copy.ts); on PGlite, and for the
 * other tables, multi-row INSERT … ON CONFLICT DO NOTHING (redelivery never duplicates a row); dead letters in
 * the same transaction. When a statement fails on the data (a value the column refuses, a constraint), the batch
 * is written again event by event under savepoints, and each event that fails goes to the dead letters with the
 * database's reason; any other failure (connection refused, backend terminated, timeout) is thrown: the consumer
 * pauses and redelivers the batch.
 */
import type { Db, Queryable } from "../db/db.js";
import { isDataError } from "../db/db.js";
import type { Partitions } from "../db/partitions.js";
import { COPY_SQL, MOVE_FILLS_SQL, MOVE_MESSAGES_SQL, STAGE_TABLE_SQL, stageRows } from "./copy.js";
import type {
  DeadLetterRow,
  Decoded,
  ExecutionRow,
  MessageRow,
  OrderEventRow,
  Redactor,
  SessionEventRow,
  StreamKind,
} from "./decode.js";
import { deadLetter } from "./decode.js";

const iso = (ms: number) => new Date(ms).toISOString();

interface Table<R> {
  name: string;
  columns: readonly string[];
  conflict: string;
  values(r: R): unknown[];
}

const MESSAGES: Table<MessageRow> = {
  name: "fix_messages",
  columns: [
    "day",
    "session",
    "cycle",
    "direction",
    "msg_seq_num",
    "msg_type",
    "sending_time",
    "recorded_at",
    "poss_dup",
    "cl_ord_id",
    "orig_cl_ord_id",
    "order_id",
    "exec_id",
    "trace_id",
    "stream_seq",
    "raw",
  ],
  conflict: "ON CONFLICT DO NOTHING",
  values: (m) => [
    m.day,
    m.session,
    m.cycle,
    m.direction,
    m.seq,
    m.msgType,
    m.sendingTime,
    iso(m.recordedAt),
    m.possDup,
    m.clOrdId,
    m.origClOrdId,
    m.orderId,
    m.execId,
    m.traceId,
    m.streamSeq,
    m.raw,
  ],
};

const EXECUTIONS: Table<ExecutionRow> = {
  name: "executions",
  columns: [
    "session",
    "exec_id",
    "cycle",
    "direction",
    "msg_seq_num",
    "order_id",
    "cl_ord_id",
    "symbol",
    "side",
    "exec_type",
    "ord_status",
    "last_qty",
    "last_px",
    "transact_time",
    "recorded_at",
    "source",
  ],
  conflict: "ON CONFLICT (session, exec_id) DO NOTHING",
  values: (x) => [
    x.session,
    x.execId,
    x.cycle,
    x.direction,
    x.seq,
    x.orderId,
    x.clOrdId,
    x.symbol,
    x.side,
    x.execType,
    x.ordStatus,
    x.lastQty,
    x.lastPx,
    x.transactTime,
    iso(x.recordedAt),
    x.source,
  ],
};

const ORDER_EVENTS: Table<OrderEventRow> = {
  name: "order_events",
  columns: [
    "order_id",
    "version",
    "change",
    "at",
    "session",
    "cl_ord_id",
    "orig_cl_ord_id",
    "status",
    "exec_id",
    "trace_id",
    "snapshot",
  ],
  conflict: "ON CONFLICT (order_id, version) DO NOTHING",
  values: (o) => [
    o.orderId,
    o.version,
    o.change,
    iso(o.at),
    o.session,
    o.clOrdId,
    o.origClOrdId,
    o.status,
    o.execId,
    o.traceId,
    JSON.stringify(o.event),
  ],
};

const ORDERS: Table<OrderEventRow> = {
  name: "orders",
  columns: [
    "order_id",
    "version",
    "session",
    "cl_ord_id",
    "orig_cl_ord_id",
    "venue_order_id",
    "account",
    "symbol",
    "side",
    "order_type",
    "quantity",
    "price",
    "status",
    "cum_qty",
    "leaves_qty",
    "avg_px",
    "created_at",
    "updated_at",
    "snapshot",
  ],
  // The latest version wins, whatever order the events arrive in.
  conflict: `ON CONFLICT (order_id) DO UPDATE SET version = EXCLUDED.version, cl_ord_id = EXCLUDED.cl_ord_id,
    orig_cl_ord_id = EXCLUDED.orig_cl_ord_id, venue_order_id = EXCLUDED.venue_order_id, status = EXCLUDED.status,
    quantity = EXCLUDED.quantity, price = EXCLUDED.price, cum_qty = EXCLUDED.cum_qty,
    leaves_qty = EXCLUDED.leaves_qty, avg_px = EXCLUDED.avg_px, updated_at = EXCLUDED.updated_at,
    snapshot = EXCLUDED.snapshot
    WHERE orders.version < EXCLUDED.version`,
  values: (e) => {
    const o = e.event.order;
    const dec = (v: string | undefined) => (v === undefined || v === "" ? null : v);
    return [
      e.orderId,
      e.version,
      e.session,
      e.clOrdId,
      e.origClOrdId,
      o.venueOrderId ?? null,
      o.account ?? null,
      o.symbol ?? null,
      o.side ?? null,
      o.orderType ?? null,
      dec(o.quantity),
      dec(o.price),
      e.status,
      dec(o.cumQty),
      dec(o.leavesQty),
      dec(o.avgPx),
      typeof o.createdAt === "number" ? iso(o.createdAt) : null,
      iso(typeof o.updatedAt === "number" ? o.updatedAt : e.at),
      JSON.stringify(o),
    ];
  },
};

const SESSION_EVENTS: Table<SessionEventRow> = {
  name: "session_events",
  columns: ["event_id", "session", "cycle", "at", "kind", "reason", "operator", "outcome", "detail"],
  conflict: "ON CONFLICT (event_id) DO NOTHING",
  values: (s) => [s.eventId, s.session, s.cycle, iso(s.at), s.kind, s.reason, s.operator, s.outcome, s.detail],
};

const DEAD_LETTERS: Table<DeadLetterRow> = {
  name: "dead_letters",
  columns: ["stream", "subject", "stream_seq", "event_id", "reason", "payload"],
  conflict: "ON CONFLICT (stream, stream_seq, event_id) DO NOTHING",
  values: (d) => [d.stream, d.subject, d.streamSeq, d.eventId, d.reason, d.payload],
};

const sqlCache = new Map<string, string>();

function buildInsert(t: Table<never>, rows: number, offset: number): string {
  const n = t.columns.length;
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) {
    const p: string[] = [];
    for (let c = 1; c <= n; c++) p.push(`$${offset + r * n + c}`);
    tuples.push(`(${p.join(",")})`);
  }
  return `INSERT INTO ${t.name} (${t.columns.join(",")}) VALUES ${tuples.join(",")} ${t.conflict}`;
}

function insertSql(t: Table<never>, rows: number): string {
  const key = `${t.name}:${rows}`;
  let sql = sqlCache.get(key);
  if (sql === undefined) {
    sql = buildInsert(t, rows, 0);
    if (sqlCache.size > 256) sqlCache.clear();
    sqlCache.set(key, sql);
  }
  return sql;
}

/** PostgreSQL accepts at most 65,535 parameters per statement. */
const MAX_PARAMS = 60_000;

async function insertRows<R>(tx: Queryable, t: Table<R>, rows: readonly R[]): Promise<number> {
  if (rows.length === 0) return 0;
  const per = Math.max(1, Math.floor(MAX_PARAMS / t.columns.length));
  let inserted = 0;
  for (let i = 0; i < rows.length; i += per) {
    const chunk = rows.slice(i, i + per);
    const params: unknown[] = [];
    for (const r of chunk) for (const v of t.values(r)) params.push(v);
    const res = await tx.query(insertSql(t as Table<never>, chunk.length), params);
    inserted += res.rowCount;
  }
  return inserted;
}

export interface WriteResult {
  /** Events stored (or already stored: a redelivery). */
  stored: number;
  /** New FIX message rows (0 for a redelivered batch). */
  inserted: number;
  deadLetters: DeadLetterRow[];
}

interface Rows {
  messages: MessageRow[];
  executions: ExecutionRow[];
  orderEvents: OrderEventRow[];
  /** The highest version of each order in the batch. */
  orders: OrderEventRow[];
  sessionEvents: SessionEventRow[];
}

function rowsOf(items: readonly Decoded[]): Rows {
  const r: Rows = { messages: [], executions: [], orderEvents: [], orders: [], sessionEvents: [] };
  const latest = new Map<string, OrderEventRow>();
  for (const d of items) {
    if (d.message) r.messages.push(d.message);
    if (d.execution) r.executions.push(d.execution);
    if (d.orderEvent) {
      r.orderEvents.push(d.orderEvent);
      // One row per order per statement: ON CONFLICT DO UPDATE cannot touch a row twice in one statement.
      const prev = latest.get(d.orderEvent.orderId);
      if (!prev || prev.version < d.orderEvent.version) latest.set(d.orderEvent.orderId, d.orderEvent);
    }
    if (d.sessionEvent) r.sessionEvents.push(d.sessionEvent);
  }
  r.orders = [...latest.values()];
  return r;
}

function groups(r: Rows, dead: readonly DeadLetterRow[]): Array<[Table<never>, readonly unknown[]]> {
  return (
    [
      [MESSAGES, r.messages],
      [EXECUTIONS, r.executions],
      [ORDER_EVENTS, r.orderEvents],
      [ORDERS, r.orders],
      [SESSION_EVENTS, r.sessionEvents],
      [DEAD_LETTERS, dead],
    ] as Array<[Table<never>, readonly unknown[]]>
  ).filter(([, rows]) => rows.length > 0);
}

/** Table by table, in the caller's transaction. Returns the new FIX message rows. */
async function writeAll(tx: Queryable, items: readonly Decoded[], dead: readonly DeadLetterRow[]): Promise<number> {
  let inserted = 0;
  for (const [t, rows] of groups(rowsOf(items), dead)) {
    const n = await insertRows(tx, t, rows as never[]);
    if (t === (MESSAGES as Table<never>)) inserted = n;
  }
  return inserted;
}

/**
 * The COPY path (PostgreSQL): the batch's FIX messages and their fills from the staging table the caller filled,
 * everything else by INSERT. Returns the new FIX message rows.
 */
async function moveStaged(tx: Queryable, items: readonly Decoded[], dead: readonly DeadLetterRow[]): Promise<number> {
  const inserted = (await tx.query(MOVE_MESSAGES_SQL)).rowCount;
  const rest = rowsOf(items);
  rest.messages = [];
  rest.executions = rest.executions.filter((x) => x.source !== "fix");
  if (items.some((d) => d.execution?.source === "fix")) await tx.query(MOVE_FILLS_SQL);
  for (const [t, rows] of groups(rest, dead)) await insertRows(tx, t, rows as never[]);
  return inserted;
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Where one batch is: connection taken, rows inserted (both settle, whatever happens to the batch). */
interface Turn {
  connected: Deferred;
  inserted: Deferred;
}

/**
 * Batches of one stream may be written at the same time (the ingest pipelines them: one copies while the one
 * before commits), but each takes its connection, and inserts its rows, only after the batch before it did: rows
 * get their ids in stream order (transcripts sort by recording time, then id), and a batch waiting for its
 * turn never holds the connection the one before it needs (a batch the database refuses part of is written
 * again event by event after the next one).
 */
export class BatchWriter {
  private readonly turns = new Map<StreamKind, Turn>();
  /** Connections whose staging table exists (created in a transaction that committed). */
  private readonly staged = new WeakSet<object>();

  constructor(
    private readonly db: Db,
    private readonly partitions: Partitions,
    private readonly redactor: Redactor,
  ) {}

  async write(kind: StreamKind, batch: readonly Decoded[]): Promise<WriteResult> {
    const before = this.turns.get(kind);
    const turn: Turn = { connected: deferred(), inserted: deferred() };
    this.turns.set(kind, turn);
    try {
      return await this.writeInTurn(kind, batch, turn, before);
    } finally {
      turn.connected.resolve();
      turn.inserted.resolve();
      if (this.turns.get(kind) === turn) this.turns.delete(kind);
    }
  }

  private async writeInTurn(
    kind: StreamKind,
    batch: readonly Decoded[],
    turn: Turn,
    before: Turn | undefined,
  ): Promise<WriteResult> {
    const good = batch.filter((d) => d.dead === undefined);
    const dead = batch.flatMap((d) => (d.dead ? [d.dead] : []));
    const days = new Set<string>();
    for (const d of good) if (d.message) days.add(d.message.day);
    await this.partitions.ensure(days);
    const copy = this.db.engine === "postgres" && good.some((d) => d.message !== undefined) ? stageRows(good) : null;
    await before?.connected.promise;
    try {
      // (One statement of data-modifying CTEs instead — one round trip — measured ~20 % slower than this.)
      let fresh: object | undefined;
      const inserted = await this.db.transaction(async (tx) => {
        turn.connected.resolve();
        const staging = copy !== null && tx.copyFrom !== undefined;
        if (staging && tx.connection !== undefined && !this.staged.has(tx.connection)) {
          await tx.query(STAGE_TABLE_SQL);
          fresh = tx.connection;
        }
        if (staging) await tx.copyFrom?.(COPY_SQL, copy);
        await before?.inserted.promise;
        const n = staging ? await moveStaged(tx, good, dead) : await writeAll(tx, good, dead);
        turn.inserted.resolve();
        return n;
      });
      if (fresh !== undefined) this.staged.add(fresh);
      return { stored: good.length, inserted, deadLetters: dead };
    } catch (err) {
      if (!isDataError(err)) throw err;
    }
    // The next batch may hold a connection (PGlite: the only one) waiting for this turn: let it go first, so
    // this batch, written again below, can have one. Its rows then come after the next batch's.
    turn.connected.resolve();
    turn.inserted.resolve();
    await before?.inserted.promise;
    // Some event's data is refused: find which, event by event, in one transaction.
    return this.db.transaction(async (tx) => {
      const deadLetters = [...dead];
      let stored = 0;
      let inserted = 0;
      for (const d of good) {
        await tx.query("SAVEPOINT one_event");
        try {
          inserted += await writeAll(tx, [d], []);
          await tx.query("RELEASE SAVEPOINT one_event");
          stored++;
        } catch (err) {
          if (!isDataError(err)) throw err;
          await tx.query("ROLLBACK TO SAVEPOINT one_event");
          const reason = `database refused it: ${(err as Error).message}`;
          deadLetters.push(deadLetter(kind, d.event, this.redactor.text(reason), this.redactor));
        }
      }
      await insertRows(tx, DEAD_LETTERS, deadLetters.slice(dead.length).concat(dead));
      return { stored, inserted, deadLetters };
    });
  }
}
