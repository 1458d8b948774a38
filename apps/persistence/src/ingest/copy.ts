/**
 * The PostgreSQL fast path for FIX messages: a batch is sent with one binary `COPY` into a temporary staging table
 * of the connection, then moved with `INSERT … SELECT … ON CONFLICT DO NOTHING` into `fix_messages` (and the
 * ExecutionReports' fills into `executions`), so a redelivered batch still adds no row. COPY cannot resolve
 * conflicts itself, and a multi-row INSERT with thousands of parameters costs the server a parse and a plan per
 * batch; binary rows are written straight into one Buffer (raw bytes as they are, no hex, no escaping).
 * PGlite has no COPY from a client: the writer keeps multi-row INSERTs there.
 */
import type { Decoded } from "./decode.js";

/** The staging table: created once per connection, emptied by every commit. */
export const STAGE_TABLE_SQL = `CREATE TEMP TABLE IF NOT EXISTS fixmesh_stage_messages (
  day text, session text, cycle text, direction text, msg_seq_num bigint, msg_type text, sending_time text,
  recorded_at timestamptz, poss_dup boolean, cl_ord_id text, orig_cl_ord_id text, order_id text, exec_id text,
  trace_id text, stream_seq bigint, raw bytea,
  fill boolean, symbol text, side text, exec_type text, ord_status text, last_qty text, last_px text,
  transact_time text
) ON COMMIT DELETE ROWS`;

export const COPY_SQL = "COPY fixmesh_stage_messages FROM STDIN (FORMAT binary)";

/** In staging order (the stream's), so `id` keeps following the stream. */
export const MOVE_MESSAGES_SQL = `INSERT INTO fix_messages (day, session, cycle, direction, msg_seq_num, msg_type,
    sending_time, recorded_at, poss_dup, cl_ord_id, orig_cl_ord_id, order_id, exec_id, trace_id, stream_seq, raw)
  SELECT day::date, session, cycle, direction, msg_seq_num, msg_type, sending_time, recorded_at, poss_dup,
    cl_ord_id, orig_cl_ord_id, order_id, exec_id, trace_id, stream_seq, raw
  FROM fixmesh_stage_messages ORDER BY stream_seq
  ON CONFLICT DO NOTHING`;

export const MOVE_FILLS_SQL = `INSERT INTO executions (session, exec_id, cycle, direction, msg_seq_num, order_id,
    cl_ord_id, symbol, side, exec_type, ord_status, last_qty, last_px, transact_time, recorded_at, source)
  SELECT session, exec_id, cycle, direction, msg_seq_num, order_id, cl_ord_id, symbol, side, exec_type, ord_status,
    last_qty::numeric, last_px::numeric, transact_time, recorded_at, 'fix'
  FROM fixmesh_stage_messages WHERE fill ORDER BY stream_seq
  ON CONFLICT (session, exec_id) DO NOTHING`;

const FIELDS = 24;
/** `PGCOPY\n\377\r\n\0`, flags, header extension length. */
const HEADER = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
/** PostgreSQL's epoch (2000-01-01) in Unix milliseconds. */
const PG_EPOCH_MS = 946_684_800_000;
const TWO_32 = 4_294_967_296;

/** Binary COPY rows written into one growing Buffer. */
class BinaryRows {
  buf: Buffer;
  at = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(Math.max(1024, size));
    HEADER.copy(this.buf, 0);
    this.at = HEADER.length;
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  row(fields: number): void {
    this.room(2);
    this.buf.writeInt16BE(fields, this.at);
    this.at += 2;
  }

  text(s: string | null): void {
    if (s === null) {
      this.null();
      return;
    }
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    this.room(4 + s.length * 3);
    const n = this.buf.write(s, this.at + 4, "utf8");
    this.buf.writeInt32BE(n, this.at);
    this.at += 4 + n;
  }

  bytes(b: Buffer): void {
    this.room(4 + b.length);
    this.buf.writeInt32BE(b.length, this.at);
    b.copy(this.buf, this.at + 4);
    this.at += 4 + b.length;
  }

  /** A whole number below 2^53 as int8. */
  int8(v: number | null): void {
    if (v === null) {
      this.null();
      return;
    }
    this.room(12);
    this.buf.writeInt32BE(8, this.at);
    const hi = Math.floor(v / TWO_32);
    this.buf.writeInt32BE(hi, this.at + 4);
    this.buf.writeUInt32BE(v - hi * TWO_32, this.at + 8);
    this.at += 12;
  }

  /** Epoch milliseconds as timestamptz (microseconds since 2000-01-01). */
  timestamp(ms: number): void {
    this.int8(Math.round((ms - PG_EPOCH_MS) * 1000));
  }

  bool(v: boolean): void {
    this.room(5);
    this.buf.writeInt32BE(1, this.at);
    this.buf[this.at + 4] = v ? 1 : 0;
    this.at += 5;
  }

  null(): void {
    this.room(4);
    this.buf.writeInt32BE(-1, this.at);
    this.at += 4;
  }

  end(): Buffer {
    this.room(2);
    this.buf.writeInt16BE(-1, this.at);
    this.at += 2;
    return this.buf.subarray(0, this.at);
  }
}

/** The binary COPY data of the FIX messages of a batch, each with the fill read from it (ExecutionReports). */
export function stageRows(items: readonly Decoded[]): Buffer {
  let size = HEADER.length + 2;
  for (const d of items) if (d.message) size += 2 + FIELDS * 4 + 200 + d.message.raw.length;
  const w = new BinaryRows(size);
  for (const d of items) {
    const m = d.message;
    if (m === undefined) continue;
    w.row(FIELDS);
    w.text(m.day);
    w.text(m.session);
    w.text(m.cycle);
    w.text(m.direction);
    w.int8(m.seq);
    w.text(m.msgType);
    w.text(m.sendingTime);
    w.timestamp(m.recordedAt);
    w.bool(m.possDup);
    w.text(m.clOrdId);
    w.text(m.origClOrdId);
    w.text(m.orderId);
    w.text(m.execId);
    w.text(m.traceId);
    w.int8(m.streamSeq);
    w.bytes(m.raw);
    const x = d.execution?.source === "fix" ? d.execution : undefined;
    w.bool(x !== undefined);
    w.text(x?.symbol ?? null);
    w.text(x?.side ?? null);
    w.text(x?.execType ?? null);
    w.text(x?.ordStatus ?? null);
    w.text(x?.lastQty ?? null);
    w.text(x?.lastPx ?? null);
    w.text(x?.transactTime ?? null);
  }
  return w.end();
}
