/**
 * Persistence ingest: a JetStream stream loaded with FIX message events (a day's mix of heartbeats, orders,
 * cancels and executions, ~250-byte messages) is drained into PostgreSQL by the persistence service until every
 * row is committed and acknowledged. Baseline, in the same run on the same stream: a durable consumer that stores
 * each message with its own INSERT and commit (what a per-message JDBC log does). Then a transcript of 10,000
 * messages through AuditService (readable view included).
 *
 * Usage: node bench/dist/persistence.js [--json] [--messages=100000] [--baseline-seconds=15] [--batch=1000] (the service's default) [--rounds=3]
 *   [--parallel=1] [--pipeline=2]
 * The two are measured in alternating slices (the machine's load changes by the second), each rate the total
 * over its slices.
 * Needs PostgreSQL (PG_URL, default postgres://postgres@127.0.0.1:5432/postgres) and NATS (NATS_URL).
 */
import { readFileSync } from "node:fs";
import { type BusEvent, type Delivered, JetStreamBus } from "@fixmesh/bus";
import { AuditService, createGrpcClient } from "@fixmesh/contracts";
import {
  type Db,
  decodeEvent,
  migrate,
  openDb,
  Partitions,
  Redactor,
  readable,
  startPersistence,
} from "@fixmesh/persistence";
import * as grpc from "@grpc/grpc-js";

const args = process.argv.slice(2);
const json = args.includes("--json");
const opt = (name: string, dflt: number) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? dflt : Number(a.split("=")[1]);
};
const MESSAGES = opt("messages", 100_000);
const BASELINE_SECONDS = opt("baseline-seconds", 15);
const BATCH = opt("batch", 1000);
const ROUNDS = opt("rounds", 3);
const PARALLEL = opt("parallel", 1);
const PIPELINE = opt("pipeline", 2);
const PG_ADMIN = process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const log = (s: string) => {
  if (!json) console.log(s);
  else console.error(s);
};

const rand = () => Math.random().toString(36).slice(2, 10);

/**
 * CPU time (ms) of the PostgreSQL backends serving `database`, read from /proc (the server runs on this host):
 * with the machine shared, the CPU a message costs says more than the wall-clock rate.
 */
async function backendCpuMs(admin: Db, database: string): Promise<Map<number, number>> {
  const r = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1", [database]);
  const out = new Map<number, number>();
  for (const { pid } of r.rows) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      out.set(pid, (Number(f[11]) + Number(f[12])) * 10);
    } catch {
      // Not on this host, or the backend just ended: left out.
    }
  }
  return out;
}

function cpuSince(before: Map<number, number>, after: Map<number, number>): number {
  let ms = 0;
  for (const [pid, t] of after) ms += t - (before.get(pid) ?? 0);
  return ms;
}

function dbUrl(name: string): string {
  const u = new URL(PG_ADMIN);
  u.pathname = `/${name}`;
  return u.toString();
}

function fix(fields: Array<[number, string | number]>): Buffer {
  const body = fields.map(([t, v]) => `${t}=${v}\x01`).join("");
  const msg = Buffer.from(`8=FIX.4.4\x019=${body.length}\x01${body}`, "latin1");
  let sum = 0;
  for (const b of msg) sum += b;
  return Buffer.concat([msg, Buffer.from(`10=${String(sum % 256).padStart(3, "0")}\x01`, "latin1")]);
}

/** A day's mix: 10 % heartbeats, 30 % NewOrderSingle, 10 % cancels, 50 % ExecutionReports (acks and fills). */
function events(prefix: string, n: number): BusEvent[] {
  const out: BusEvent[] = [];
  const session = "FIX.4.4:BANK->VENUE";
  const t0 = Date.now() - n;
  const seq = { in: 0, out: 0 };
  for (let i = 0; i < n; i++) {
    const r = i % 10;
    const kind = r === 0 ? "0" : r <= 3 ? "D" : r === 4 ? "F" : "8";
    const dir: "in" | "out" = kind === "8" || (kind === "0" && i % 20 === 0) ? "in" : "out";
    const s = ++seq[dir];
    const at = t0 + i;
    const ts = new Date(at).toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 21);
    const order = `ORD${Math.floor(i / 10)}`;
    const body: Array<[number, string | number]> = [
      [35, kind],
      [49, dir === "out" ? "BANK" : "VENUE"],
      [56, dir === "out" ? "VENUE" : "BANK"],
      [34, s],
      [52, ts],
      [1128, "9"],
      [115, "BANK-EQ-DESK-01"],
      [128, "VENUE-MTF-01"],
    ];
    if (kind === "D")
      body.push(
        [11, `${order}-${r}`],
        [1, "ACC-001"],
        [55, "EUR/USD"],
        [54, 1],
        [60, ts],
        [38, 1000000],
        [40, 2],
        [44, "1.08745"],
        [59, 0],
      );
    if (kind === "F")
      body.push([11, `${order}-c`], [41, `${order}-1`], [55, "EUR/USD"], [54, 1], [60, ts], [38, 1000000]);
    if (kind === "8") {
      body.push(
        [37, `V${order}`],
        [11, `${order}-${r % 3}`],
        [17, `X${i}`],
        [150, r % 2 ? "F" : "0"],
        [39, r % 2 ? "1" : "0"],
        [55, "EUR/USD"],
        [54, 1],
        [38, 1000000],
        [32, r % 2 ? 250000 : 0],
        [31, r % 2 ? "1.08745" : 0],
        [151, 750000],
        [14, 250000],
        [6, "1.08745"],
        [60, ts],
      );
    }
    const raw = fix(body);
    const get = (tag: number) => body.find(([t]) => t === tag)?.[1];
    const payload = {
      session,
      cycle: "c1",
      dir,
      seq: s,
      msgType: kind,
      possDup: false,
      sendingTime: ts,
      at,
      clOrdId: get(11),
      origClOrdId: get(41),
      orderId: get(37),
      execId: get(17),
      raw: raw.toString("base64"),
    };
    out.push({
      id: `${session}:c1:${dir}:${s}`,
      subject: `${prefix}.FIX_4_4_BANK_VENUE.${dir}.${kind}`,
      payload: Buffer.from(JSON.stringify(payload)),
    });
  }
  return out;
}

async function main(): Promise<void> {
  const id = rand();
  const prefix = `b${id}`;
  const stream = `BENCH_P_${id}`;
  const admin = await openDb({ engine: "postgres", url: PG_ADMIN });
  const dbs = [`fixmesh_bench_${id}`, `fixmesh_bench_${id}_base`];
  for (const d of dbs) await admin.query(`CREATE DATABASE ${d}`);
  const bus = await JetStreamBus.connect({ servers: NATS_URL, stream, subjects: [`${prefix}.>`] });
  try {
    log(`loading ${MESSAGES} events into JetStream stream ${stream} …`);
    const all = events(prefix, MESSAGES);
    const bytes = all.reduce(
      (n, e) => n + Buffer.from(JSON.parse(Buffer.from(e.payload).toString()).raw, "base64").length,
      0,
    );
    for (let i = 0; i < all.length; i += 2000) await bus.publish(all.slice(i, i + 2000));
    log(`  average FIX message ${(bytes / MESSAGES).toFixed(0)} bytes`);

    // The machine is shared: the load changes by the second. So the two are measured in alternating slices,
    // ROUNDS of each, and each rate is the total over its slices.
    const config = {
      database: { engine: "postgres" as const, url: dbUrl(dbs[0]), poolSize: 1 + PARALLEL * PIPELINE },
      nats: { url: NATS_URL },
      streams: {
        fix: { stream, filter: `${prefix}.>`, durable: "bench-persistence" },
        orders: { enabled: false, stream: "ORDERS", filter: "orders.>", durable: "x" },
        audit: { enabled: false, stream: "AUDIT", filter: "audit.>", durable: "x" },
      },
      // (pipeline only when asked for: the service's default otherwise, and a build without it still runs.)
      ingest: {
        batch: BATCH,
        ackWaitMs: 30_000,
        parallel: PARALLEL,
        ...(args.some((a) => a.startsWith("--pipeline=")) && { pipeline: PIPELINE }),
      },
      grpc: { plaintext: true, host: "127.0.0.1", port: 0 },
      log: { level: "warn" as const },
    };
    const base = await openDb({ engine: "postgres", url: dbUrl(dbs[1]), poolSize: 1 });
    await migrate(base);
    const partitions = new Partitions(base);
    const redactor = new Redactor();
    let baseDone = 0;
    let baseSecs = 0;
    let rows = 0;
    let secs = 0;
    let batches = 0;
    let rowsBefore = 0;
    const cpu = { node: 0, pg: 0, baseNode: 0, basePg: 0 };
    const per = Math.ceil(MESSAGES / ROUNDS);
    let p: Awaited<ReturnType<typeof startPersistence>> | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      // --- the persistence service: drains its share, then stops (its durable resumes next round) ---
      p = await startPersistence(config);
      await p.ready();
      // Rows committed, as the service counts them after each commit (a JetStream ack follows): polling the
      // table with count(*) would load PostgreSQL with a scan of the growing table every 20 ms.
      const stats = p.metrics.stats("fix");
      const rows0 = stats.rows;
      const done0 = rowsBefore;
      const target = Math.min(MESSAGES, (round + 1) * per);
      const pg0 = await backendCpuMs(admin, dbs[0]);
      const node0 = process.cpuUsage();
      const t0 = performance.now();
      while (done0 + stats.rows - rows0 < target) await new Promise((r) => setTimeout(r, 5));
      secs += (performance.now() - t0) / 1000;
      const nodeUsed = process.cpuUsage(node0);
      cpu.node += (nodeUsed.user + nodeUsed.system) / 1000;
      cpu.pg += cpuSince(pg0, await backendCpuMs(admin, dbs[0]));
      rows += stats.rows - rows0;
      if (round < ROUNDS - 1) await p.close();
      // (Batches committed after the target was seen, before the close, count toward the next round's target.)
      rowsBefore = done0 + stats.rows - rows0;
      batches += stats.batches;

      // --- baseline: one INSERT and commit per message, for the same time share ---
      const durable = await bus.durable({ name: "bench-baseline", filter: `${prefix}.>`, batch: BATCH });
      let slice = 0;
      const bpg0 = await backendCpuMs(admin, dbs[1]);
      const bnode0 = process.cpuUsage();
      const bt0 = performance.now();
      durable.start(async (batch: readonly Delivered[]) => {
        for (const e of batch) {
          const m = decodeEvent("fix", e, redactor).message;
          if (!m) continue;
          await partitions.ensure([m.day]);
          await base.query(
            `INSERT INTO fix_messages (day, session, cycle, direction, msg_seq_num, msg_type, sending_time,
               recorded_at, poss_dup, cl_ord_id, orig_cl_ord_id, order_id, exec_id, trace_id, stream_seq, raw)
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) ON CONFLICT DO NOTHING`,
            [
              m.day,
              m.session,
              m.cycle,
              m.direction,
              m.seq,
              m.msgType,
              m.sendingTime,
              new Date(m.recordedAt).toISOString(),
              m.possDup,
              m.clOrdId,
              m.origClOrdId,
              m.orderId,
              m.execId,
              m.traceId,
              m.streamSeq,
              m.raw,
            ],
          );
          slice++;
        }
      });
      await new Promise((r) => setTimeout(r, (BASELINE_SECONDS * 1000) / ROUNDS));
      const counted = slice;
      baseSecs += (performance.now() - bt0) / 1000;
      baseDone += counted;
      const bnodeUsed = process.cpuUsage(bnode0);
      cpu.baseNode += (bnodeUsed.user + bnodeUsed.system) / 1000;
      cpu.basePg += cpuSince(bpg0, await backendCpuMs(admin, dbs[1]));
      await durable.stop();
      log(
        `round ${round + 1}: persistence ${rows} rows in ${secs.toFixed(2)} s so far; baseline ${baseDone} in ${baseSecs.toFixed(2)} s`,
      );
    }
    await base.close();
    if (!p) throw new Error("no round ran");
    const messagesPerSec = rows / secs;
    const baselinePerSec = baseDone / baseSecs;
    log(
      `persistence: ${rows} messages in ${secs.toFixed(2)} s → ${messagesPerSec.toFixed(0)} msg/s (${batches} batches)`,
    );
    log(`baseline (INSERT + commit per message): ${baseDone} messages → ${baselinePerSec.toFixed(0)} msg/s`);
    const ratio = messagesPerSec / baselinePerSec;
    log(`ratio: ${ratio.toFixed(1)}×`);
    const perMsg = (ms: number, n: number) => Number(((ms * 1000) / Math.max(1, n)).toFixed(1));
    const cpuPerMessage = {
      node: perMsg(cpu.node, rows),
      postgres: perMsg(cpu.pg, rows),
      baselineNode: perMsg(cpu.baseNode, baseDone),
      baselinePostgres: perMsg(cpu.basePg, baseDone),
    };
    log(
      `CPU per message (µs): persistence node ${cpuPerMessage.node} + PostgreSQL ${cpuPerMessage.postgres}; baseline node ${cpuPerMessage.baselineNode} + PostgreSQL ${cpuPerMessage.baselinePostgres}`,
    );

    // --- transcript of 10,000 messages through AuditService (readable view) ---
    const svc = p;
    // What autovacuum does minutes after a bulk load: without statistics on the fresh partition the planner
    // sorts the whole session instead of walking the (session, recorded_at, id) index.
    await svc.db.query("ANALYZE fix_messages");
    const conn = new grpc.Client(`127.0.0.1:${svc.grpcPort}`, grpc.credentials.createInsecure());
    const rpc = createGrpcClient(AuditService, conn);
    const transcript = async (rawOnly: boolean) => {
      const t = performance.now();
      const n = await new Promise<number>((resolve, reject) => {
        let k = 0;
        const call = rpc.getTranscript({ sessionId: "FIX.4.4:BANK->VENUE", limit: 10_000, rawOnly });
        call.on("data", (c: { entries: unknown[] }) => {
          k += c.entries.length;
        });
        call.on("error", reject);
        call.on("end", () => resolve(k));
      });
      return { n, ms: performance.now() - t };
    };
    await transcript(true); // warm-up: plans, dictionaries
    const readableRun = await transcript(false);
    const rawRun = await transcript(true);
    conn.close();
    // The query itself, in the service: 10,000 rows in recording order and their readable lines.
    const queryRun = async () => {
      const t = performance.now();
      let n = 0;
      for await (const page of svc.store.scan({ session: "FIX.4.4:BANK->VENUE" }, 10_000, 2000)) {
        for (const m of page) if (readable(m.raw, false).text.length > 0) n++;
      }
      return { n, ms: performance.now() - t };
    };
    await queryRun();
    const query = await queryRun();
    log(`transcript query: ${query.n} messages read and made readable in ${query.ms.toFixed(0)} ms`);
    log(
      `transcript over gRPC: ${readableRun.n} messages in ${readableRun.ms.toFixed(0)} ms (readable), ${rawRun.ms.toFixed(0)} ms (raw)`,
    );
    await svc.close();
    if (json) {
      console.log(
        JSON.stringify({
          messagesPerSec: Math.round(messagesPerSec),
          baselinePerSec: Math.round(baselinePerSec),
          cpuMicrosPerMessage: cpuPerMessage,
          loadAverage: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number),
          ratio: Number(ratio.toFixed(2)),
          messages: MESSAGES,
          transcriptQueryMs: Math.round(query.ms),
          transcriptGrpcMs: Math.round(readableRun.ms),
          transcriptGrpcRawMs: Math.round(rawRun.ms),
        }),
      );
    }
  } finally {
    await bus.deleteStream().catch(() => undefined);
    await bus.close();
    for (const d of dbs) await admin.query(`DROP DATABASE IF EXISTS ${d} WITH (FORCE)`).catch(() => undefined);
    await admin.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
