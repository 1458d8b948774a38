-- fixmesh persistence: the audit store (FIX messages, orders, executions, session events, dead letters).
-- The same SQL runs on PostgreSQL and on PGlite (embedded). Applied by node-pg-migrate at start and by
-- `fixmesh persistence migrate`.

-- Up Migration

-- Every FIX message in and out, raw bytes with secret tags redacted. Partitioned by a UTC day (`day`), so
-- retention drops whole partitions. Idempotent by (session, cycle, direction, MsgSeqNum): the unique key also
-- holds `day` because a partitioned table's keys must hold its partition key; the ingest takes the day from the
-- message's own (original) sending time, the same in every copy of it (ingest/scan.ts, messageDay), so a
-- redelivered or republished message lands on the same day and the same key.
CREATE TABLE fix_messages (
  id bigserial NOT NULL,
  day date NOT NULL,
  session text NOT NULL,
  cycle text NOT NULL,
  direction text NOT NULL CHECK (direction IN ('in', 'out')),
  msg_seq_num bigint NOT NULL CHECK (msg_seq_num >= 0),
  msg_type text NOT NULL CHECK (msg_type <> ''),
  sending_time text,
  recorded_at timestamptz NOT NULL,
  poss_dup boolean NOT NULL DEFAULT false,
  cl_ord_id text,
  orig_cl_ord_id text,
  order_id text,
  exec_id text,
  trace_id text,
  stream_seq bigint,
  raw bytea NOT NULL,
  PRIMARY KEY (session, cycle, direction, msg_seq_num, day)
) PARTITION BY RANGE (day);

-- Transcripts and time-range queries of a session, in recording order.
CREATE INDEX fix_messages_session_time ON fix_messages (session, recorded_at, id);
-- Order history (ClOrdID chains) and QueryMessages by ClOrdID / OrderID.
CREATE INDEX fix_messages_cl_ord_id ON fix_messages (cl_ord_id) WHERE cl_ord_id IS NOT NULL;
CREATE INDEX fix_messages_orig_cl_ord_id ON fix_messages (orig_cl_ord_id) WHERE orig_cl_ord_id IS NOT NULL;
CREATE INDEX fix_messages_order_id ON fix_messages (order_id) WHERE order_id IS NOT NULL;
-- Reconciliation: a session's executions by ExecID.
CREATE INDEX fix_messages_exec_id ON fix_messages (session, exec_id) WHERE exec_id IS NOT NULL;

-- Creates the partition of one day if it does not exist yet (two ingesters may race: the loser's error is
-- swallowed, the partition exists either way).
CREATE FUNCTION fixmesh_ensure_day_partition(d date) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  part text := 'fix_messages_' || to_char(d, 'YYYYMMDD');
BEGIN
  IF to_regclass(part) IS NULL THEN
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF fix_messages FOR VALUES FROM (%L) TO (%L)',
                   part, d, d + 1);
  END IF;
EXCEPTION WHEN duplicate_table OR unique_violation THEN
  NULL;
END
$$;

-- Drops the day partitions older than `before`; returns their names.
CREATE FUNCTION fixmesh_drop_day_partitions(before date) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  part text;
BEGIN
  FOR part IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'fix_messages'::regclass AND c.relname ~ '^fix_messages_[0-9]{8}$'
      AND to_date(substr(c.relname, 14), 'YYYYMMDD') < before
    ORDER BY c.relname
  LOOP
    EXECUTE format('DROP TABLE %I', part);
    RETURN NEXT part;
  END LOOP;
END
$$;

-- Executions (fills and other ExecutionReports with an ExecID), from the FIX messages and from order-entry's
-- order events. Idempotent by (session, ExecID).
CREATE TABLE executions (
  session text NOT NULL,
  exec_id text NOT NULL,
  cycle text,
  direction text,
  msg_seq_num bigint,
  order_id text,
  cl_ord_id text,
  symbol text,
  side text,
  exec_type text,
  ord_status text,
  last_qty numeric,
  last_px numeric,
  transact_time text,
  recorded_at timestamptz NOT NULL,
  source text NOT NULL CHECK (source IN ('fix', 'orders')),
  PRIMARY KEY (session, exec_id)
);
CREATE INDEX executions_session_time ON executions (session, recorded_at);
CREATE INDEX executions_cl_ord_id ON executions (cl_ord_id);

-- Every change of every order (order-entry's OrderEvent), idempotent by (order id, version).
CREATE TABLE order_events (
  order_id text NOT NULL,
  version integer NOT NULL CHECK (version >= 1),
  change text NOT NULL,
  at timestamptz NOT NULL,
  session text NOT NULL,
  cl_ord_id text NOT NULL,
  orig_cl_ord_id text,
  status text NOT NULL,
  exec_id text,
  trace_id text,
  snapshot jsonb NOT NULL,
  PRIMARY KEY (order_id, version)
);
CREATE INDEX order_events_cl_ord_id ON order_events (cl_ord_id);
CREATE INDEX order_events_at ON order_events (at);

-- The latest state of each order (the highest version seen).
CREATE TABLE orders (
  order_id text PRIMARY KEY,
  version integer NOT NULL,
  session text NOT NULL,
  cl_ord_id text NOT NULL,
  orig_cl_ord_id text,
  venue_order_id text,
  account text,
  symbol text,
  side text,
  order_type text,
  quantity numeric,
  price numeric,
  status text NOT NULL,
  cum_qty numeric,
  leaves_qty numeric,
  avg_px numeric,
  created_at timestamptz,
  updated_at timestamptz NOT NULL,
  snapshot jsonb NOT NULL
);
CREATE INDEX orders_cl_ord_id ON orders (cl_ord_id);
CREATE INDEX orders_updated_at ON orders (updated_at);

-- Session events (logon, logout with reason, gaps, resends, resets, health changes, failovers) and admin
-- actions with operator and reason (the AUDIT stream). Idempotent by the bus event id.
CREATE TABLE session_events (
  event_id text PRIMARY KEY,
  session text,
  cycle text,
  at timestamptz NOT NULL,
  kind text NOT NULL,
  reason text,
  operator text,
  outcome text,
  detail jsonb NOT NULL
);
CREATE INDEX session_events_session_at ON session_events (session, at);
CREATE INDEX session_events_at ON session_events (at);

-- Events that could not be stored (garbled, violating a constraint), with the reason; ingest moves on.
CREATE TABLE dead_letters (
  id bigserial PRIMARY KEY,
  stream text NOT NULL,
  subject text NOT NULL,
  stream_seq bigint NOT NULL,
  event_id text NOT NULL DEFAULT '',
  reason text NOT NULL,
  payload bytea,
  failed_at timestamptz NOT NULL DEFAULT now(),
  -- A redelivered poison event is not dead-lettered twice (the id too: an embedded bus restarts its sequence).
  UNIQUE (stream, stream_seq, event_id)
);
CREATE INDEX dead_letters_failed_at ON dead_letters (failed_at);

-- Down Migration
DROP TABLE dead_letters;
DROP TABLE session_events;
DROP TABLE orders;
DROP TABLE order_events;
DROP TABLE executions;
DROP FUNCTION fixmesh_drop_day_partitions(date);
DROP FUNCTION fixmesh_ensure_day_partition(date);
DROP TABLE fix_messages;
