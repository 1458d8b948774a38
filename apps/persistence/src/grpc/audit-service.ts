/**
 * AuditService over gRPC: request checks (INVALID_ARGUMENT naming the field), the store's queries, and the
 * mapping of stored rows to the contract's messages.
 */

import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AuditService,
  ErrorReason,
  type GrpcServiceImplOf,
  MessageDirection,
  type MessageFilter as MessageFilterMsg,
  RpcError,
  type StoredFixMessageSchema,
  type VenueExecutionSchema,
} from "@fixmesh/contracts";
import {
  type AuditSink,
  auditServiceRules,
  createGrpcSecurity,
  EMBEDDED_GRPC_SECURITY,
  type GrpcSecurityConfig,
  serveProtected,
  toSecurityOptions,
} from "@fixmesh/security";
import { Server, type ServerWritableStream, status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { readable } from "../audit/readable.js";
import { reconcile } from "../audit/reconcile.js";
import {
  type AuditStore,
  BadCursorError,
  type Cursor,
  decodeCursor,
  encodeCursor,
  type Fill,
  type MessageFilter,
  type StoredMessage,
} from "../audit/store.js";

type StoredMsgInit = MessageInitShape<typeof StoredFixMessageSchema>;
type VenueExecInit = MessageInitShape<typeof VenueExecutionSchema>;

const DIRECTION_OUT: Record<"in" | "out", MessageDirection> = {
  in: MessageDirection.IN,
  out: MessageDirection.OUT,
};

export function storedMessage(m: StoredMessage): StoredMsgInit {
  return {
    sessionId: m.session,
    cycle: m.cycle,
    direction: DIRECTION_OUT[m.direction],
    msgSeqNum: BigInt(m.seq),
    msgType: m.msgType,
    sendingTime: m.sendingTime ?? "",
    recordedAt: timestampFromMs(m.recordedAt),
    possDup: m.possDup,
    clOrdId: m.clOrdId ?? "",
    origClOrdId: m.origClOrdId ?? "",
    orderId: m.orderId ?? "",
    execId: m.execId ?? "",
    traceId: m.traceId ?? "",
    raw: m.raw,
  };
}

function fill(f: Fill): VenueExecInit {
  return {
    execId: f.execId,
    orderId: f.orderId,
    clOrdId: f.clOrdId,
    symbol: f.symbol,
    side: f.side,
    lastQty: f.lastQty,
    lastPx: f.lastPx,
    msgSeqNums: f.seqs.map((s) => BigInt(s)),
  };
}

const ms = (t: Timestamp | undefined) => (t === undefined ? undefined : timestampDate(t).getTime());

function seqNum(v: bigint, field: string): number | undefined {
  if (v === 0n) return undefined;
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw RpcError.invalidField(field, "is too large");
  return Number(v);
}

/** The request's filter, checked. */
export function messageFilter(f: MessageFilterMsg | undefined, prefix = "filter"): MessageFilter {
  const out: MessageFilter = {};
  if (!f) return out;
  if (f.sessionId) out.session = f.sessionId;
  if (f.cycle) out.cycle = f.cycle;
  if (f.direction === MessageDirection.IN) out.direction = "in";
  else if (f.direction === MessageDirection.OUT) out.direction = "out";
  else if (f.direction !== MessageDirection.UNSPECIFIED) {
    throw RpcError.invalidField(`${prefix}.direction`, `unknown value ${f.direction}`);
  }
  out.fromSeq = seqNum(f.fromSeqNum, `${prefix}.from_seq_num`);
  out.toSeq = seqNum(f.toSeqNum, `${prefix}.to_seq_num`);
  if (out.fromSeq !== undefined && out.toSeq !== undefined && out.fromSeq > out.toSeq) {
    throw RpcError.invalidField(`${prefix}.to_seq_num`, `must be ≥ from_seq_num (${out.fromSeq})`);
  }
  out.fromTime = ms(f.fromTime);
  out.toTime = ms(f.toTime);
  if (out.fromTime !== undefined && out.toTime !== undefined && out.fromTime >= out.toTime) {
    throw RpcError.invalidField(`${prefix}.to_time`, "must be after from_time");
  }
  if (f.msgTypes.length > 0) {
    f.msgTypes.forEach((t, i) => {
      if (!/^[A-Za-z0-9]{1,4}$/.test(t))
        throw RpcError.invalidField(`${prefix}.msg_types[${i}]`, `"${t}" is not a MsgType`);
    });
    out.msgTypes = f.msgTypes;
  }
  if (f.clOrdId) out.clOrdId = f.clOrdId;
  if (f.orderId) out.orderId = f.orderId;
  for (const k of Object.keys(out) as Array<keyof MessageFilter>) if (out[k] === undefined) delete out[k];
  return out;
}

/** Database failures reach the caller as UNAVAILABLE (retry later); everything else is a bug: INTERNAL. */
function asRpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err;
  const code = (err as { code?: unknown })?.code;
  if (
    typeof code === "string" &&
    (/^(08|53|57)/.test(code) || ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT"].includes(code))
  ) {
    return new RpcError(status.UNAVAILABLE, "DATABASE_UNAVAILABLE", `database unavailable: ${(err as Error).message}`);
  }
  if (/timeout|Connection terminated|connect/i.test(String((err as Error)?.message))) {
    return new RpcError(status.UNAVAILABLE, "DATABASE_UNAVAILABLE", `database unavailable: ${(err as Error).message}`);
  }
  return new RpcError(status.INTERNAL, ErrorReason.INTERNAL, `audit query failed: ${(err as Error)?.message ?? err}`);
}

async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asRpcError(err);
  }
}

async function streamOut<Req, Res>(
  call: ServerWritableStream<Req, Res>,
  produce: (write: (m: Res) => Promise<void>) => Promise<void>,
): Promise<void> {
  let cancelled = false;
  call.on("cancelled", () => {
    cancelled = true;
  });
  const write = (m: Res) =>
    new Promise<void>((resolve) => {
      if (cancelled) return resolve();
      // Respect the client's flow control: wait for drain when the buffer is full.
      if (call.write(m)) resolve();
      else call.once("drain", () => resolve());
    });
  try {
    await produce(write);
    call.end();
  } catch (err) {
    call.destroy(asRpcError(err).toServiceError());
  }
}

export interface AuditHandlersOptions {
  store: AuditStore;
  logger?: Logger;
  /** Fills of a venue execution file are sent in the request; cap (default 1,000,000). */
  maxVenueExecutions?: number;
}

export function auditHandlers(opts: AuditHandlersOptions): GrpcServiceImplOf<typeof AuditService> {
  const { store } = opts;
  return {
    queryMessages: (req) =>
      guard(async () => {
        const filter = messageFilter(req.filter);
        const size = req.pageSize === 0 ? 100 : req.pageSize;
        if (size > 1000) throw RpcError.invalidField("page_size", "must be at most 1000");
        let after: Cursor | undefined;
        if (req.pageToken) {
          try {
            after = decodeCursor(req.pageToken);
          } catch (e) {
            if (e instanceof BadCursorError) throw RpcError.invalidField("page_token", e.message);
            throw e;
          }
        }
        // One row more than asked tells whether there is a next page.
        const rows = await store.messages(filter, size + 1, after);
        const page = rows.slice(0, size);
        const last = page[page.length - 1];
        return {
          messages: page.map(storedMessage),
          nextPageToken: rows.length > size && last ? encodeCursor({ at: last.recordedAt, id: last.id }) : "",
        };
      }),

    streamStoredMessages: (call) =>
      void streamOut(call, async (write) => {
        const filter = messageFilter(call.request.filter);
        for await (const page of store.scan(filter, call.request.limit, 2000)) {
          for (let i = 0; i < page.length; i += 1000)
            await write({ messages: page.slice(i, i + 1000).map(storedMessage) });
        }
      }),

    getTranscript: (call) =>
      void streamOut(call, async (write) => {
        const req = call.request;
        if (!req.sessionId) throw RpcError.invalidField("session_id", "is required");
        const filter: MessageFilter = { session: req.sessionId };
        if (req.cycle) filter.cycle = req.cycle;
        const from = ms(req.fromTime);
        const to = ms(req.toTime);
        if (from !== undefined) filter.fromTime = from;
        if (to !== undefined) filter.toTime = to;
        for await (const page of store.scan(filter, req.limit, 2000)) {
          for (let i = 0; i < page.length; i += 500) {
            await write({
              entries: page.slice(i, i + 500).map((m) => {
                if (req.rawOnly) return { message: storedMessage(m) };
                const r = readable(m.raw, req.withFields);
                return { message: storedMessage(m), msgTypeName: r.msgTypeName, text: r.text, fields: r.fields };
              }),
            });
          }
        }
      }),

    getOrderHistory: (req) =>
      guard(async () => {
        if (!req.clOrdId) throw RpcError.invalidField("cl_ord_id", "is required");
        const h = await store.orderHistory(req.clOrdId, req.sessionId || undefined);
        return {
          clOrdIds: h.clOrdIds,
          orderIds: h.orderIds,
          messages: h.messages.map(storedMessage),
          events: h.events.map((e) => ({
            orderId: e.orderId,
            version: e.version,
            change: e.change,
            at: timestampFromMs(e.at),
            clOrdId: e.clOrdId,
            status: e.status,
            execId: e.execId ?? "",
            snapshotJson: e.snapshot,
          })),
        };
      }),

    checkSequence: (req) =>
      guard(async () => {
        if (!req.sessionId) throw RpcError.invalidField("session_id", "is required");
        const checks = await store.checkSequence(req.sessionId, req.cycle || undefined);
        return {
          ok: checks.every((c) => c.gaps.length === 0 && c.duplicates.length === 0),
          checks: checks.map((c) => ({
            cycle: c.cycle,
            direction: DIRECTION_OUT[c.direction],
            firstSeqNum: BigInt(c.first),
            lastSeqNum: BigInt(c.last),
            stored: BigInt(c.stored),
            gaps: c.gaps.map((g) => ({ begin: BigInt(g.begin), end: BigInt(g.end) })),
            duplicates: c.duplicates.map((d) => BigInt(d)),
          })),
        };
      }),

    reconcile: (req) =>
      guard(async () => {
        if (!req.sessionId) throw RpcError.invalidField("session_id", "is required");
        const from = ms(req.fromTime);
        const to = ms(req.toTime);
        const ours = await store.fills(req.sessionId, from, to);
        let venue: Fill[];
        if (req.venue.case === "dropCopySessionId") {
          if (!req.venue.value) throw RpcError.invalidField("drop_copy_session_id", "is empty");
          if (req.venue.value === req.sessionId) {
            throw RpcError.invalidField("drop_copy_session_id", "must be another session than session_id");
          }
          venue = await store.fills(req.venue.value, from, to);
        } else if (req.venue.case === "venueExecutions") {
          const list = req.venue.value.executions;
          if (list.length > (opts.maxVenueExecutions ?? 1_000_000)) {
            throw RpcError.invalidField("venue_executions.executions", "too many");
          }
          venue = list.map((x, i) => {
            if (!x.execId) throw RpcError.invalidField(`venue_executions.executions[${i}].exec_id`, "is required");
            for (const [k, v] of [
              ["last_qty", x.lastQty],
              ["last_px", x.lastPx],
            ] as const) {
              if (v !== "" && !/^-?\d+(\.\d+)?$/.test(v)) {
                throw RpcError.invalidField(`venue_executions.executions[${i}].${k}`, `"${v}" is not a decimal`);
              }
            }
            return {
              execId: x.execId,
              orderId: x.orderId,
              clOrdId: x.clOrdId,
              symbol: x.symbol,
              side: x.side,
              lastQty: x.lastQty,
              lastPx: x.lastPx,
              seqs: [],
            };
          });
        } else {
          throw RpcError.invalidField("venue", "set drop_copy_session_id or venue_executions");
        }
        const r = reconcile(ours, venue);
        return {
          clean: r.clean,
          ours: r.ours,
          venue: r.venue,
          matched: r.matched,
          missing: r.missing.map(fill),
          extra: r.extra.map(fill),
          duplicated: r.duplicated.map(fill),
          mismatched: r.mismatched,
        };
      }),
  };
}

export interface AuditServerHandle {
  readonly port: number;
  /** The plaintext health-only listener's port (`grpc.healthPort`), or null. */
  readonly healthPort: number | null;
  /** `enforce`: every call authenticated and checked against the policy (`audit`); `open`: plaintext loopback. */
  readonly authorization: "open" | "enforce";
  close(): Promise<void>;
}

export interface AuditServerOptions extends AuditHandlersOptions {
  host: string;
  port: number;
  /**
   * TLS/mTLS from files (reloaded on rotation), the policy (every query needs `audit`: `auditServiceRules`),
   * bearer JWTs, limits, a health-only port: the config's `grpc` section. Default: plaintext without
   * authorization, which only a loopback host may use (anything else throws SecurityConfigError naming grpc.tls).
   */
  security?: GrpcSecurityConfig;
  /** Where denials go as AuditEvents (they are logged at warn either way). */
  audit?: AuditSink;
}

/** Serves AuditService and grpc.health.v1 through @fixmesh/security (transport, identity, policy, limits). */
export async function startAuditServer(opts: AuditServerOptions): Promise<AuditServerHandle> {
  const log = opts.logger;
  // Throws before anything listens when the transport or the policy cannot be what the config asks for.
  const security = createGrpcSecurity(
    toSecurityOptions(opts.security ?? EMBEDDED_GRPC_SECURITY, {
      service: "persistence",
      host: opts.host,
      ...(opts.audit && { audit: opts.audit }),
      ...(log && { logger: log }),
    }),
  );
  const server = new Server(security.serverOptions);
  const { listening, health } = await serveProtected(
    server,
    security,
    AuditService,
    auditServiceRules,
    auditHandlers(opts),
    {
      host: opts.host,
      port: opts.port,
      healthPort: opts.security?.healthPort,
      clientCert: opts.security?.tls?.clientCert,
      log,
    },
  );
  const { port, healthPort } = listening;
  let closed: Promise<void> | null = null;
  return {
    port,
    healthPort,
    authorization: security.mode,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        health.setAll("NOT_SERVING");
        health.close();
        void listening.shutdown(2000).then(resolve);
      });
      return closed;
    },
  };
}
