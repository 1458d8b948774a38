/**
 * `fixmesh persistence --config FILE` (run the service), `fixmesh persistence migrate --config FILE`, and
 * `fixmesh audit messages|transcript|order|sequence|reconcile` (ask a running service: a table, or `--json`).
 */

import { parseArgs } from "node:util";
import { type MessageInitShape, toJson } from "@bufbuild/protobuf";
import { timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AuditService,
  CheckSequenceResponseSchema,
  createGrpcClient,
  GetOrderHistoryResponseSchema,
  type GrpcClientOf,
  MessageDirection,
  type MessageFilterSchema,
  ReconcileResponseSchema,
  RpcError,
  type StoredFixMessage,
  StoredFixMessageSchema,
  TranscriptEntrySchema,
} from "@fixmesh/contracts";
import {
  CLI_TLS_OPTIONS,
  CLI_TLS_USAGE,
  type CliChannel,
  CliSecurityError,
  cliChannel,
  explainCallFailure,
  LinkError,
  SecurityConfigError,
} from "@fixmesh/security";
import { lineSignalLogger, stopOnSignal } from "@fixmesh/telemetry";
import * as grpc from "@grpc/grpc-js";
import { readVenueFile, VenueFileError } from "../audit/reconcile.js";
import { loadConfig, PersistenceConfigError } from "../config/config.js";
import { openDb } from "../db/db.js";
import { migrate } from "../db/migrate.js";
import { databaseOptions, startPersistence } from "../service.js";

export const PERSISTENCE_USAGE = `  persistence --config FILE    the persistence service (JetStream → PostgreSQL, AuditService), until SIGTERM
  persistence migrate --config FILE   apply the database migrations and exit`;

export const AUDIT_USAGE = `  audit messages --session S [--cycle C] [--direction in|out] [--from-seq N] [--to-seq N]
                 [--from TIME] [--to TIME] [--type D,8] [--cl-ord-id X] [--order-id Y] [--limit N]
  audit transcript --session S [--cycle C] [--from TIME] [--to TIME] [--raw] [--limit N]
  audit order --cl-ord-id X [--session S]      every message of the order's ClOrdID chain
  audit sequence --session S [--cycle C]       gaps and duplicates in the stored sequence
  audit reconcile --session S (--drop-copy SESSION | --file FILE) [--from TIME] [--to TIME]
        every audit command: [--address HOST:PORT] (default $FIXMESH_AUDIT_ADDRESS or 127.0.0.1:7090;
        --server is the same) [--json]
${CLI_TLS_USAGE}`;

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIo: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l) };

export async function runPersistenceCli(args: string[], io: CliIo = defaultIo): Promise<number> {
  const migrateOnly = args[0] === "migrate";
  let values: { config?: string };
  try {
    ({ values } = parseArgs({ args: migrateOnly ? args.slice(1) : args, options: { config: { type: "string" } } }));
  } catch (e) {
    io.err(`${(e as Error).message}\n\nusage:\n${PERSISTENCE_USAGE}`);
    return 2;
  }
  if (!values.config) {
    io.err(`--config: required\n\nusage:\n${PERSISTENCE_USAGE}`);
    return 2;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(values.config);
  } catch (e) {
    if (e instanceof PersistenceConfigError) {
      io.err(e.message);
      return 2;
    }
    throw e;
  }
  if (migrateOnly) {
    const db = await openDb(databaseOptions(config));
    try {
      const r = await migrate(db);
      io.out(r.applied.length === 0 ? "schema is current" : `applied: ${r.applied.join(", ")}`);
      return 0;
    } finally {
      await db.close();
    }
  }
  let handle: Awaited<ReturnType<typeof startPersistence>>;
  try {
    handle = await startPersistence(config);
  } catch (e) {
    // Credentials or a certificate a link refused, a certificate or policy file gRPC cannot use: the reason only.
    if (e instanceof LinkError || e instanceof SecurityConfigError) {
      io.err(`persistence: ${e.message}`);
      return e instanceof SecurityConfigError ? 2 : 1;
    }
    throw e;
  }
  return stopOnSignal(lineSignalLogger("persistence", io.err), () => handle.close(), "stopped with errors");
}

function client(address: string, ch: CliChannel): { rpc: GrpcClientOf<typeof AuditService>; close(): void } {
  const conn = new grpc.Client(address, ch.credentials, ch.options);
  return {
    rpc: createGrpcClient(AuditService, conn),
    close: () => {
      conn.close();
      ch.close();
    },
  };
}

class UsageError extends Error {}

function time(v: string | undefined, flag: string) {
  if (v === undefined) return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new UsageError(`${flag}: "${v}" is not a time (ISO 8601 or epoch ms)`);
  return timestampFromMs(ms);
}

function uint(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`${flag}: "${v}" must be a whole number`);
  return Number(v);
}

function table(rows: string[][], io: CliIo): void {
  if (rows.length === 0) return;
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  for (const r of rows)
    io.out(
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
        .join("  ")
        .trimEnd(),
    );
}

const dirName = (d: MessageDirection) => (d === MessageDirection.IN ? "in" : d === MessageDirection.OUT ? "out" : "");
const shown = (raw: Uint8Array) => Buffer.from(raw).toString("latin1").replaceAll("\x01", "|");

function messageRow(m: StoredFixMessage): string[] {
  return [
    m.recordedAt ? timestampDate(m.recordedAt).toISOString() : "",
    m.sessionId,
    dirName(m.direction),
    String(m.msgSeqNum),
    m.msgType,
    m.clOrdId,
    m.execId,
    shown(m.raw),
  ];
}

function collect<T>(stream: grpc.ClientReadableStream<T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    stream.on("data", (d: T) => out.push(d));
    stream.on("error", (e) => reject(RpcError.from(e)));
    stream.on("end", () => resolve(out));
  });
}

export async function runAuditCli(args: string[], io: CliIo = defaultIo): Promise<number> {
  const [sub, ...rest] = args;
  let parsed: ReturnType<typeof parseAuditArgs>;
  try {
    parsed = parseAuditArgs(rest);
  } catch (e) {
    io.err(`${(e as Error).message}\n\nusage:\n${AUDIT_USAGE}`);
    return 2;
  }
  const v = parsed.values;
  if (v.address !== undefined && v.server !== undefined && v.address !== v.server) {
    io.err("--address and --server are the same option: give one");
    return 2;
  }
  const address =
    v.address ??
    v.server ??
    (process.env.FIXMESH_AUDIT_ADDRESS || undefined) ??
    (process.env.FIXMESH_AUDIT_ADDR || undefined) ??
    "127.0.0.1:7090";
  // Plaintext, TLS or mutual TLS (and a bearer token) from --tls-* / --token-file or FIXMESH_TLS_* / FIXMESH_TOKEN_FILE.
  let channel: CliChannel;
  try {
    channel = cliChannel(v);
  } catch (e) {
    if (!(e instanceof CliSecurityError)) throw e;
    io.err(`audit: ${e.message}`);
    return 2;
  }
  const c = client(address, channel);
  const deadline = { deadline: Date.now() + 60_000 };
  try {
    switch (sub) {
      case "messages": {
        const filter: MessageInitShape<typeof MessageFilterSchema> = {
          sessionId: v.session ?? "",
          cycle: v.cycle ?? "",
          direction: v.direction === "in" ? MessageDirection.IN : v.direction === "out" ? MessageDirection.OUT : 0,
          fromSeqNum: BigInt(uint(v["from-seq"], "--from-seq") ?? 0),
          toSeqNum: BigInt(uint(v["to-seq"], "--to-seq") ?? 0),
          msgTypes: (v.type ?? "").split(",").filter((t) => t !== ""),
          clOrdId: v["cl-ord-id"] ?? "",
          orderId: v["order-id"] ?? "",
        };
        if (v.direction !== undefined && v.direction !== "in" && v.direction !== "out") {
          throw new UsageError(`--direction: must be in or out, got "${v.direction}"`);
        }
        const from = time(v.from, "--from");
        const to = time(v.to, "--to");
        if (from) filter.fromTime = from;
        if (to) filter.toTime = to;
        const limit = uint(v.limit, "--limit") ?? 100;
        const msgs = (await collect(c.rpc.streamStoredMessages({ filter, limit }, deadline))).flatMap(
          (x) => x.messages,
        );
        if (v.json) for (const m of msgs) io.out(JSON.stringify(toJson(StoredFixMessageSchema, m)));
        else
          table([["TIME", "SESSION", "DIR", "SEQ", "TYPE", "CLORDID", "EXECID", "RAW"], ...msgs.map(messageRow)], io);
        return 0;
      }
      case "transcript": {
        if (!v.session) throw new UsageError("--session: required");
        const chunks = await collect(
          c.rpc.getTranscript(
            {
              sessionId: v.session,
              cycle: v.cycle ?? "",
              rawOnly: v.raw === true,
              limit: uint(v.limit, "--limit") ?? 0,
              ...(v.from !== undefined && { fromTime: time(v.from, "--from") }),
              ...(v.to !== undefined && { toTime: time(v.to, "--to") }),
            },
            deadline,
          ),
        );
        for (const e of chunks.flatMap((x) => x.entries)) {
          if (v.json) {
            io.out(JSON.stringify(toJson(TranscriptEntrySchema, e)));
            continue;
          }
          const m = e.message;
          if (!m) continue;
          const head = `${m.recordedAt ? timestampDate(m.recordedAt).toISOString() : ""} ${dirName(m.direction) === "in" ? "<-" : "->"} ${m.msgSeqNum} ${m.msgType}${e.msgTypeName ? ` ${e.msgTypeName}` : ""}`;
          io.out(head);
          io.out(`    ${v.raw ? shown(m.raw) : e.text}`);
        }
        return 0;
      }
      case "order": {
        if (!v["cl-ord-id"]) throw new UsageError("--cl-ord-id: required");
        const h = await c.rpc.getOrderHistory({ clOrdId: v["cl-ord-id"], sessionId: v.session ?? "" }, deadline);
        if (v.json) {
          io.out(JSON.stringify(toJson(GetOrderHistoryResponseSchema, h)));
          return 0;
        }
        io.out(
          `ClOrdID chain: ${h.clOrdIds.join(" → ")}${h.orderIds.length ? `   OrderID: ${h.orderIds.join(", ")}` : ""}`,
        );
        table(
          [["TIME", "SESSION", "DIR", "SEQ", "TYPE", "CLORDID", "EXECID", "RAW"], ...h.messages.map(messageRow)],
          io,
        );
        for (const e of h.events) io.out(`event v${e.version} ${e.change} ${e.status} ${e.execId}`);
        return 0;
      }
      case "sequence": {
        if (!v.session) throw new UsageError("--session: required");
        const r = await c.rpc.checkSequence({ sessionId: v.session, cycle: v.cycle ?? "" }, deadline);
        if (v.json) io.out(JSON.stringify(toJson(CheckSequenceResponseSchema, r)));
        else {
          table(
            [
              ["CYCLE", "DIR", "FIRST", "LAST", "STORED", "GAPS", "DUPLICATES"],
              ...r.checks.map((x) => [
                x.cycle,
                dirName(x.direction),
                String(x.firstSeqNum),
                String(x.lastSeqNum),
                String(x.stored),
                x.gaps.map((g) => `${g.begin}-${g.end}`).join(",") || "-",
                x.duplicates.join(",") || "-",
              ]),
            ],
            io,
          );
          io.out(r.ok ? "sequence OK" : "sequence has gaps or duplicates");
        }
        return r.ok ? 0 : 1;
      }
      case "reconcile": {
        if (!v.session) throw new UsageError("--session: required");
        if ((v["drop-copy"] === undefined) === (v.file === undefined)) {
          throw new UsageError("give one of --drop-copy SESSION or --file FILE");
        }
        const venue =
          v["drop-copy"] !== undefined
            ? { case: "dropCopySessionId" as const, value: v["drop-copy"] }
            : {
                case: "venueExecutions" as const,
                value: { executions: readVenueFile(v.file as string).map(({ seqs: _, ...f }) => f) },
              };
        const r = await c.rpc.reconcile(
          {
            sessionId: v.session,
            venue,
            ...(v.from !== undefined && { fromTime: time(v.from, "--from") }),
            ...(v.to !== undefined && { toTime: time(v.to, "--to") }),
          },
          deadline,
        );
        if (v.json) {
          io.out(JSON.stringify(toJson(ReconcileResponseSchema, r)));
          return r.clean ? 0 : 1;
        }
        io.out(`ours ${r.ours}  venue ${r.venue}  matched ${r.matched}`);
        const rows: string[][] = [["ISSUE", "EXECID", "ORDERID", "SYMBOL", "SIDE", "QTY", "PX", "SEQS"]];
        const add = (issue: string, list: typeof r.missing) => {
          for (const x of list) {
            rows.push([issue, x.execId, x.orderId, x.symbol, x.side, x.lastQty, x.lastPx, x.msgSeqNums.join(",")]);
          }
        };
        add("missing", r.missing);
        add("extra", r.extra);
        add("duplicated", r.duplicated);
        for (const m of r.mismatched) {
          rows.push([
            "mismatched",
            m.execId,
            m.differences.map((d) => `${d.field}: ${d.ours} ≠ ${d.venue}`).join("; "),
          ]);
        }
        if (rows.length > 1) table(rows, io);
        io.out(r.clean ? "reconciled: clean" : "reconciled: differences found");
        return r.clean ? 0 : 1;
      }
      default:
        io.err(`unknown audit command "${sub ?? ""}"\n\nusage:\n${AUDIT_USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof VenueFileError) {
      io.err(e.message);
      return 2;
    }
    if (e instanceof RpcError) {
      // A connection or identity failure gets a line in the words of the flags, then grpc's own message.
      const why = explainCallFailure(e, channel.mode);
      io.err(
        why === undefined
          ? `audit: ${e.message}${e.reason ? ` (${e.reason})` : ""}`
          : `audit: ${address}: ${why}\n  (${e.message})`,
      );
      return 1;
    }
    throw e;
  } finally {
    c.close();
  }
}

function parseAuditArgs(args: string[]) {
  return parseArgs({
    args,
    options: {
      ...CLI_TLS_OPTIONS,
      address: { type: "string" },
      server: { type: "string" },
      json: { type: "boolean" },
      session: { type: "string" },
      cycle: { type: "string" },
      direction: { type: "string" },
      "from-seq": { type: "string" },
      "to-seq": { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      type: { type: "string" },
      "cl-ord-id": { type: "string" },
      "order-id": { type: "string" },
      limit: { type: "string" },
      raw: { type: "boolean" },
      "drop-copy": { type: "string" },
      file: { type: "string" },
    },
  });
}
