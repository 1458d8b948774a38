/**
 * The audit queries, the same SQL on PostgreSQL and PGlite: messages by filter (keyset-paged in recording
 * order), transcripts, order histories (ClOrdID chains), sequence checks, and the executions a reconciliation
 * compares.
 */
import type { Db } from "../db/db.js";
import { utcDay } from "../db/partitions.js";
import { fieldsOf } from "../fix-fields.js";
import { MESSAGE_DAY_SKEW_DAYS } from "../ingest/scan.js";

export interface StoredMessage {
  id: number;
  session: string;
  cycle: string;
  direction: "in" | "out";
  seq: number;
  msgType: string;
  sendingTime: string | null;
  recordedAt: number;
  possDup: boolean;
  clOrdId: string | null;
  origClOrdId: string | null;
  orderId: string | null;
  execId: string | null;
  traceId: string | null;
  raw: Buffer;
}

export interface MessageFilter {
  session?: string;
  cycle?: string;
  direction?: "in" | "out";
  fromSeq?: number;
  toSeq?: number;
  /** [fromTime, toTime), epoch ms. */
  fromTime?: number;
  toTime?: number;
  msgTypes?: readonly string[];
  clOrdId?: string;
  orderId?: string;
}

/** Where a page ends: the last row's recording time and id. */
export interface Cursor {
  at: number;
  id: number;
}

export class BadCursorError extends Error {
  override readonly name = "BadCursorError";
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.at, c.id])).toString("base64url");
}

export function decodeCursor(token: string): Cursor {
  try {
    const v = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(v) && v.length === 2 && v.every((x) => Number.isFinite(x))) return { at: v[0], id: v[1] };
  } catch {
    // falls through
  }
  throw new BadCursorError("not a page token from this service");
}

const MESSAGE_COLUMNS = `id::float8 AS id, session, cycle, direction, msg_seq_num::float8 AS seq, msg_type,
  sending_time, (extract(epoch from recorded_at) * 1000)::float8 AS at_ms, poss_dup, cl_ord_id, orig_cl_ord_id,
  order_id, exec_id, trace_id, raw`;

interface MessageRecord {
  id: number;
  session: string;
  cycle: string;
  direction: "in" | "out";
  seq: number;
  msg_type: string;
  sending_time: string | null;
  at_ms: number;
  poss_dup: boolean;
  cl_ord_id: string | null;
  orig_cl_ord_id: string | null;
  order_id: string | null;
  exec_id: string | null;
  trace_id: string | null;
  raw: Uint8Array;
}

function toMessage(r: MessageRecord): StoredMessage {
  return {
    id: Number(r.id),
    session: r.session,
    cycle: r.cycle,
    direction: r.direction,
    seq: Number(r.seq),
    msgType: r.msg_type,
    sendingTime: r.sending_time,
    recordedAt: Math.round(Number(r.at_ms)),
    possDup: r.poss_dup,
    clOrdId: r.cl_ord_id,
    origClOrdId: r.orig_cl_ord_id,
    orderId: r.order_id,
    execId: r.exec_id,
    traceId: r.trace_id,
    raw: Buffer.from(r.raw.buffer, r.raw.byteOffset, r.raw.byteLength),
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * A message's partition day is the date of its own sending time, which may be up to MESSAGE_DAY_SKEW_DAYS from
 * its recording time (a message sent before midnight and recorded after; a resent copy of an older message):
 * a time range on `recorded_at` bounds the days by that much more on each side.
 */
const SKEW_MS = MESSAGE_DAY_SKEW_DAYS * 86_400_000;
const firstDay = (fromMs: number) => utcDay(fromMs - SKEW_MS);
const lastDay = (toMs: number) => utcDay(toMs + SKEW_MS);

function where(f: MessageFilter, params: unknown[]): string[] {
  const w: string[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (f.session) w.push(`session = ${p(f.session)}`);
  if (f.cycle) w.push(`cycle = ${p(f.cycle)}`);
  if (f.direction) w.push(`direction = ${p(f.direction)}`);
  if (f.fromSeq) w.push(`msg_seq_num >= ${p(f.fromSeq)}`);
  if (f.toSeq) w.push(`msg_seq_num <= ${p(f.toSeq)}`);
  // The day bounds let the planner skip partitions outside the time range.
  if (f.fromTime !== undefined) {
    w.push(`recorded_at >= ${p(iso(f.fromTime))}::timestamptz`);
    w.push(`day >= ${p(firstDay(f.fromTime))}::date`);
  }
  if (f.toTime !== undefined) {
    w.push(`recorded_at < ${p(iso(f.toTime))}::timestamptz`);
    w.push(`day <= ${p(lastDay(f.toTime))}::date`);
  }
  if (f.msgTypes && f.msgTypes.length > 0) w.push(`msg_type = ANY(${p([...f.msgTypes])}::text[])`);
  if (f.clOrdId) w.push(`cl_ord_id = ${p(f.clOrdId)}`);
  if (f.orderId) w.push(`order_id = ${p(f.orderId)}`);
  return w;
}

export interface SequenceCheckResult {
  cycle: string;
  direction: "in" | "out";
  first: number;
  last: number;
  stored: number;
  gaps: Array<{ begin: number; end: number }>;
  duplicates: number[];
}

/** A fill as a reconciliation compares it. */
export interface Fill {
  execId: string;
  orderId: string;
  clOrdId: string;
  symbol: string;
  side: string;
  lastQty: string;
  lastPx: string;
  /** MsgSeqNums of the messages that carried it. */
  seqs: number[];
}

export interface OrderEventRecord {
  orderId: string;
  version: number;
  change: string;
  at: number;
  clOrdId: string;
  status: string;
  execId: string | null;
  snapshot: string;
}

export class AuditStore {
  constructor(private readonly db: Db) {}

  /** One page of messages in recording order, after `cursor`. */
  async messages(f: MessageFilter, limit: number, after?: Cursor): Promise<StoredMessage[]> {
    const params: unknown[] = [];
    const w = where(f, params);
    if (after) {
      params.push(iso(after.at), after.id);
      w.push(`(recorded_at, id) > ($${params.length - 1}::timestamptz, $${params.length})`);
    }
    params.push(limit);
    const sql = `SELECT ${MESSAGE_COLUMNS} FROM fix_messages ${w.length ? `WHERE ${w.join(" AND ")}` : ""}
      ORDER BY recorded_at, id LIMIT $${params.length}`;
    const r = await this.db.query<MessageRecord>(sql, params);
    return r.rows.map(toMessage);
  }

  /** Every message matching `f`, page by page (bounded memory), up to `limit` (0: all). */
  async *scan(f: MessageFilter, limit = 0, pageSize = 2000): AsyncGenerator<StoredMessage[]> {
    let after: Cursor | undefined;
    let left = limit > 0 ? limit : Number.POSITIVE_INFINITY;
    while (left > 0) {
      const page = await this.messages(f, Math.min(pageSize, left), after);
      if (page.length === 0) return;
      yield page;
      left -= page.length;
      if (page.length < Math.min(pageSize, left + page.length)) return;
      const last = page[page.length - 1];
      after = { at: last.recordedAt, id: last.id };
    }
  }

  /** The ClOrdID chain of an order (OrigClOrdID links both ways), the venue OrderIDs, messages and events. */
  async orderHistory(
    clOrdId: string,
    session?: string,
  ): Promise<{ clOrdIds: string[]; orderIds: string[]; messages: StoredMessage[]; events: OrderEventRecord[] }> {
    const ids = new Set([clOrdId]);
    const sessionCond = session ? " AND session = $2" : "";
    for (let round = 0; round < 50; round++) {
      const before = ids.size;
      const params: unknown[] = [[...ids]];
      if (session) params.push(session);
      const r = await this.db.query<{ cl_ord_id: string | null; orig_cl_ord_id: string | null }>(
        `SELECT DISTINCT cl_ord_id, orig_cl_ord_id FROM fix_messages
           WHERE (cl_ord_id = ANY($1::text[]) OR orig_cl_ord_id = ANY($1::text[]))${sessionCond}
         UNION
         SELECT DISTINCT cl_ord_id, orig_cl_ord_id FROM order_events
           WHERE (cl_ord_id = ANY($1::text[]) OR orig_cl_ord_id = ANY($1::text[]))${sessionCond}`,
        params,
      );
      for (const row of r.rows) {
        if (row.cl_ord_id) ids.add(row.cl_ord_id);
        if (row.orig_cl_ord_id) ids.add(row.orig_cl_ord_id);
      }
      if (ids.size === before) break;
    }
    const params: unknown[] = [[...ids]];
    if (session) params.push(session);
    const venueIds = await this.db.query<{ order_id: string }>(
      `SELECT DISTINCT order_id FROM fix_messages
         WHERE (cl_ord_id = ANY($1::text[]) OR orig_cl_ord_id = ANY($1::text[])) AND order_id IS NOT NULL
           AND order_id <> 'NONE'${sessionCond}`,
      params,
    );
    const orderIds = venueIds.rows.map((r) => r.order_id);
    const mparams: unknown[] = [[...ids], orderIds];
    if (session) mparams.push(session);
    const m = await this.db.query<MessageRecord>(
      `SELECT ${MESSAGE_COLUMNS} FROM fix_messages
         WHERE (cl_ord_id = ANY($1::text[]) OR orig_cl_ord_id = ANY($1::text[]) OR order_id = ANY($2::text[]))
         ${session ? "AND session = $3" : ""}
         ORDER BY recorded_at, id`,
      mparams,
    );
    const messages = m.rows.map(toMessage);
    const e = await this.db.query<{
      order_id: string;
      version: number;
      change: string;
      at_ms: number;
      cl_ord_id: string;
      status: string;
      exec_id: string | null;
      snapshot: unknown;
    }>(
      `SELECT order_id, version, change, (extract(epoch from at) * 1000)::float8 AS at_ms, cl_ord_id, status, exec_id,
              snapshot::text AS snapshot
         FROM order_events WHERE order_id IN (SELECT order_id FROM order_events WHERE cl_ord_id = ANY($1::text[]))
         ORDER BY at, order_id, version`,
      [[...ids]],
    );
    // The chain in the order its ClOrdIDs first appear.
    const firstSeen = new Map<string, number>();
    for (const msg of messages) {
      for (const id of [msg.origClOrdId, msg.clOrdId]) {
        if (id && ids.has(id) && !firstSeen.has(id)) firstSeen.set(id, firstSeen.size);
      }
    }
    for (const id of ids) if (!firstSeen.has(id)) firstSeen.set(id, firstSeen.size);
    return {
      clOrdIds: [...ids].sort((a, b) => (firstSeen.get(a) ?? 0) - (firstSeen.get(b) ?? 0)),
      orderIds,
      messages,
      events: e.rows.map((r) => ({
        orderId: r.order_id,
        version: Number(r.version),
        change: r.change,
        at: Math.round(Number(r.at_ms)),
        clOrdId: r.cl_ord_id,
        status: r.status,
        execId: r.exec_id,
        snapshot: typeof r.snapshot === "string" ? r.snapshot : JSON.stringify(r.snapshot),
      })),
    };
  }

  /**
   * Gaps and duplicates in a session's stored MsgSeqNums, per cycle and direction. A stored
   * SequenceReset-GapFill (35=4, 123=Y) at N with NewSeqNo M accounts for N+1..M-1.
   */
  async checkSequence(session: string, cycle?: string): Promise<SequenceCheckResult[]> {
    const params: unknown[] = [session];
    if (cycle) params.push(cycle);
    const cyc = cycle ? " AND cycle = $2" : "";
    const summary = await this.db.query<{
      cycle: string;
      direction: "in" | "out";
      first: number;
      last: number;
      stored: number;
    }>(
      `SELECT cycle, direction, min(msg_seq_num)::float8 AS first, max(msg_seq_num)::float8 AS last,
              count(*)::float8 AS stored
         FROM fix_messages WHERE session = $1${cyc} GROUP BY cycle, direction ORDER BY cycle, direction`,
      params,
    );
    const gaps = await this.db.query<{ cycle: string; direction: string; begin: number; end: number }>(
      `SELECT cycle, direction, (seq + 1)::float8 AS begin, (next - 1)::float8 AS end FROM (
         SELECT cycle, direction, msg_seq_num AS seq,
                lead(msg_seq_num) OVER (PARTITION BY cycle, direction ORDER BY msg_seq_num) AS next
           FROM (SELECT DISTINCT cycle, direction, msg_seq_num FROM fix_messages WHERE session = $1${cyc}) s
       ) x WHERE next > seq + 1 ORDER BY cycle, direction, seq`,
      params,
    );
    const dups = await this.db.query<{ cycle: string; direction: string; seq: number }>(
      `SELECT cycle, direction, msg_seq_num::float8 AS seq FROM fix_messages WHERE session = $1${cyc}
         GROUP BY cycle, direction, msg_seq_num HAVING count(*) > 1 ORDER BY cycle, direction, msg_seq_num`,
      params,
    );
    const resets = await this.db.query<{ cycle: string; direction: string; seq: number; raw: Uint8Array }>(
      `SELECT cycle, direction, msg_seq_num::float8 AS seq, raw FROM fix_messages
         WHERE session = $1${cyc} AND msg_type = '4'`,
      params,
    );
    const covered = new Map<string, Array<{ begin: number; end: number }>>();
    for (const r of resets.rows) {
      const f = new Map(fieldsOf(Buffer.from(r.raw)));
      const newSeq = Number(f.get(36));
      if (f.get(123) === "Y" && Number.isInteger(newSeq) && newSeq > Number(r.seq) + 1) {
        const key = `${r.cycle}\x00${r.direction}`;
        covered.set(key, [...(covered.get(key) ?? []), { begin: Number(r.seq) + 1, end: newSeq - 1 }]);
      }
    }
    return summary.rows.map((s) => {
      const key = `${s.cycle}\x00${s.direction}`;
      const cov = covered.get(key) ?? [];
      const g = gaps.rows
        .filter((x) => x.cycle === s.cycle && x.direction === s.direction)
        .map((x) => ({ begin: Number(x.begin), end: Number(x.end) }));
      if (Number(s.first) > 1) g.unshift({ begin: 1, end: Number(s.first) - 1 });
      return {
        cycle: s.cycle,
        direction: s.direction,
        first: Number(s.first),
        last: Number(s.last),
        stored: Number(s.stored),
        gaps: g.filter((x) => !cov.some((c) => c.begin <= x.begin && c.end >= x.end)),
        duplicates: dups.rows
          .filter((x) => x.cycle === s.cycle && x.direction === s.direction)
          .map((x) => Number(x.seq)),
      };
    });
  }

  /**
   * The fills a session received (ExecutionReports with ExecType trade — F, or 1/2 before FIX 4.3 — and a
   * LastQty), grouped by ExecID with the MsgSeqNums that carried each.
   */
  async fills(session: string, fromTime?: number, toTime?: number): Promise<Fill[]> {
    const params: unknown[] = [session];
    const w = ["m.session = $1", "m.direction = 'in'", "m.msg_type = '8'", "m.exec_id IS NOT NULL"];
    if (fromTime !== undefined) {
      params.push(iso(fromTime), firstDay(fromTime));
      w.push(`m.recorded_at >= $${params.length - 1}::timestamptz`, `m.day >= $${params.length}::date`);
    }
    if (toTime !== undefined) {
      params.push(iso(toTime), lastDay(toTime));
      w.push(`m.recorded_at < $${params.length - 1}::timestamptz`, `m.day <= $${params.length}::date`);
    }
    const r = await this.db.query<{
      exec_id: string;
      seqs: string;
      order_id: string | null;
      cl_ord_id: string | null;
      symbol: string | null;
      side: string | null;
      last_qty: string | null;
      last_px: string | null;
    }>(
      `SELECT m.exec_id, string_agg(m.msg_seq_num::text, ',' ORDER BY m.msg_seq_num) AS seqs,
              x.order_id, x.cl_ord_id, x.symbol, x.side, x.last_qty::text AS last_qty, x.last_px::text AS last_px
         FROM fix_messages m JOIN executions x ON x.session = m.session AND x.exec_id = m.exec_id
        WHERE ${w.join(" AND ")} AND x.exec_type IN ('F', '1', '2') AND x.last_qty > 0
        GROUP BY m.exec_id, x.order_id, x.cl_ord_id, x.symbol, x.side, x.last_qty, x.last_px
        ORDER BY min(m.recorded_at), m.exec_id`,
      params,
    );
    return r.rows.map((x) => ({
      execId: x.exec_id,
      orderId: x.order_id ?? "",
      clOrdId: x.cl_ord_id ?? "",
      symbol: x.symbol ?? "",
      side: x.side ?? "",
      lastQty: x.last_qty ?? "",
      lastPx: x.last_px ?? "",
      seqs: x.seqs.split(",").map(Number),
    }));
  }

  async deadLetters(limit = 100): Promise<Array<{ stream: string; subject: string; seq: number; reason: string }>> {
    const r = await this.db.query<{ stream: string; subject: string; seq: number; reason: string }>(
      "SELECT stream, subject, stream_seq::float8 AS seq, reason FROM dead_letters ORDER BY id LIMIT $1",
      [limit],
    );
    return r.rows.map((x) => ({ ...x, seq: Number(x.seq) }));
  }
}
