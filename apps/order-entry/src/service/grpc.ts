/**
 * OrderEntryService on grpc-js: the unary methods call OrderEntry; StreamOrderUpdates serves the store's update
 * log (resumable from any position still held: history first, then live, no gap and no repeat at the seam; with
 * `batched`, the updates ready in one event-loop turn in one message); SubmitOrderStream runs each frame's request
 * — or each item of a batch frame — concurrently and answers with the same correlation id (batch items: their
 * answers of one event-loop turn in one `results` frame). grpc-js moves about one message per stream per turn when
 * the loop is busy, so a message per order per hop would queue (PERF-LIMITS.md).
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type GrpcServiceImplOf,
  OrderEntryService,
  type OrderRequestFrame,
  type OrderUpdateSchema,
  RpcError,
} from "@fixmesh/contracts";
import {
  type AuditSink,
  checkedInHandler,
  createGrpcSecurity,
  EMBEDDED_GRPC_SECURITY,
  type GrpcSecurity,
  type GrpcSecurityConfig,
  grant,
  orderEntryRules,
  type RulesOf,
  serveProtected,
  toSecurityOptions,
} from "@fixmesh/security";
import { startSpan, tracingEnabled } from "@fixmesh/telemetry";
import { status as Code, type Metadata, Server, type ServerWritableStream } from "@grpc/grpc-js";
import { context } from "@opentelemetry/api";
import type { Logger } from "pino";
import type { LogEntry, OrderRepository } from "../store/types.js";
import { executionProto, type OrderEntry, snapshotProto } from "./order-entry.js";
import { callerContext, contextOf, SpanKind } from "./tracing.js";

type Impl = GrpcServiceImplOf<typeof OrderEntryService>;
type UpdateInit = MessageInitShape<typeof OrderUpdateSchema>;

export interface GrpcServerOptions {
  core: OrderEntry;
  repo: OrderRepository;
  host: string;
  port: number;
  logger: Logger;
  /**
   * TLS/mTLS from files (reloaded on rotation), the authorization policy, bearer JWTs, limits and a health-only
   * port: the config's `grpc` section. Default: plaintext without authorization, which only a loopback host may use (anything else
   * throws SecurityConfigError naming `grpc.tls`).
   */
  security?: GrpcSecurityConfig;
  /** Where denials and admin outcomes go (the AUDIT stream); they are logged at warn either way. */
  audit?: AuditSink;
  /** Updates buffered for a stream whose reader is slow before it is cut off (default 50,000). */
  maxBuffered?: number;
}

export interface GrpcServerHandle {
  readonly port: number;
  /** The plaintext health-only listener's port (`grpc.healthPort`), or null. */
  readonly healthPort: number | null;
  /** `enforce`: every call authenticated and checked against the policy; `open`: plaintext loopback, no policy. */
  readonly authorization: "open" | "enforce";
  close(): Promise<void>;
}

export function updateOf(e: LogEntry): UpdateInit {
  const u: UpdateInit = {
    position: BigInt(e.position),
    order: snapshotProto(e.event.order),
    change: e.event.change,
    at: timestampFromMs(e.event.at),
  };
  if (e.event.execution) u.execution = executionProto(e.event.execution);
  return u;
}

/**
 * The library's `orderEntryRules`, except that ListOrders and StreamOrderUpdates only authenticate: what they
 * return is filtered order by order (`visible`), so a trader holding `trade` on its own accounts lists and streams
 * exactly its own orders without a `read`/`stream` grant that would show every order of the session; and that a
 * SubmitOrderStream batch frame needs the grants of every item.
 */
export const orderEntryServerRules: RulesOf<typeof OrderEntryService> = {
  ...orderEntryRules,
  listOrders: checkedInHandler,
  streamOrderUpdates: checkedInHandler,
};

type Caller = { metadata: Metadata; getPath(): string };
type OrderRef = { orderId?: string; sessionId?: string; clOrdId?: string };

/**
 * Whether the caller may see an order: `read` (lists) or `stream` (update streams) on its session, or `trade` on
 * its session and account — the orders it may act on.
 */
function visible(sec: GrpcSecurity, call: { metadata: Metadata }, o: OrderLike, kind: "read" | "stream"): boolean {
  if (sec.mode === "open") return true;
  return (
    sec.allows(call, kind === "read" ? grant.read(o.sessionId) : grant.stream(o.sessionId)) ||
    sec.allows(call, grant.trade(o.sessionId, o.account))
  );
}
type OrderLike = { sessionId: string; account: string };

/**
 * Cancel, Replace and GetOrder name an order by id: with authorization on, the order is looked up first and the
 * caller must hold `trade` on its session and account (GetOrder: or `read` on its session). Nothing is sent or
 * claimed for an order the caller may not act on; an unknown order is NOT_FOUND as before.
 */
async function authorizeOrder(sec: GrpcSecurity, core: OrderEntry, call: Caller, ref: OrderRef, readOk = false) {
  if (sec.mode === "open") return;
  let o: { sessionId?: string; account?: string };
  try {
    o = await core.getOrder(ref as Parameters<OrderEntry["getOrder"]>[0]);
  } catch (err) {
    // A malformed reference is answered by the handler's own validation (naming the field); NOT_FOUND is final.
    if (RpcError.from(err).code === Code.INVALID_ARGUMENT) return;
    throw err;
  }
  const t = grant.trade(o.sessionId ?? "", o.account ?? "");
  if (readOk && sec.allows(call, grant.read(o.sessionId ?? ""))) return;
  sec.authorize(call, t);
}

/**
 * Serves OrderEntryService and grpc.health.v1 (`""` and `fixmesh.v1.OrderEntryService`: SERVING while it serves,
 * NOT_SERVING once it is closing), plus the plaintext health-only listener on `grpc.healthPort` when set.
 */
export async function startGrpcServer(opts: GrpcServerOptions): Promise<GrpcServerHandle> {
  const { core, repo, logger: log } = opts;
  // Throws before anything listens when the transport or the policy cannot be what the config asks for.
  const sec = createGrpcSecurity(
    toSecurityOptions(opts.security ?? EMBEDDED_GRPC_SECURITY, {
      service: "order-entry",
      host: opts.host,
      logger: log,
      ...(opts.audit && { audit: opts.audit }),
    }),
  );
  const streams = new Set<{ end(): void }>();
  /** Who asked for a MassCancel: the caller's principal with authorization on, else the `operator` metadata. */
  const principalOf = (call: { metadata: Metadata }) => {
    if (sec.mode === "enforce") return sec.principalOf(call).id;
    const v = call.metadata.get("operator")[0];
    return typeof v === "string" && v !== "" ? v : "unknown";
  };
  const impl: Impl = {
    submitOrder: async (req, call) => context.with(callerContext(call.metadata), () => core.submit(req)),
    cancelOrder: async (req, call) => {
      await authorizeOrder(sec, core, call, req);
      return core.cancel(req);
    },
    replaceOrder: async (req, call) => {
      await authorizeOrder(sec, core, call, req);
      return core.replace(req);
    },
    massCancel: async (req, call) => {
      const r = await core.massCancel(req, principalOf(call));
      return {
        orderIds: r.orderIds,
        failures: r.failures.map((f) => ({ orderId: f.orderId, status: f.error.toStatus() })),
      };
    },
    getOrder: async (req, call) => {
      const order = await core.getOrder(req);
      if (sec.mode === "enforce" && !sec.allows(call, grant.read(order.sessionId ?? ""))) {
        sec.authorize(call, grant.trade(order.sessionId ?? "", order.account ?? ""));
      }
      return { order };
    },
    listOrders: async (req, call) => {
      const page = await core.listOrders(req);
      if (sec.mode === "open") return page;
      // Filtered after paging: a page may hold fewer orders than page_size, its token still goes on from there.
      return {
        orders: page.orders.filter((o) => visible(sec, call, o as OrderLike, "read")),
        nextPageToken: page.nextPageToken,
      };
    },
    streamOrderUpdates: (call) => {
      const s = serveUpdates(
        call as ServerWritableStream<typeof call.request, UpdateInit>,
        repo,
        log,
        opts.maxBuffered ?? 50_000,
        sec.mode === "open"
          ? () => true
          : (e) => visible(sec, call, { sessionId: e.event.order.sessionId, account: e.event.order.account }, "stream"),
      );
      streams.add(s);
      call.on("close", () => streams.delete(s));
    },
    submitOrderStream: (call) => {
      let inFlight = 0;
      let ended = false;
      /** Answers to batch items ready in this event-loop turn: one `results` frame (written on setImmediate). */
      let results: ResponseFrame[] = [];
      let flushing = false;
      const open = () => !call.cancelled && !call.destroyed;
      const finish = () => {
        if (ended && inFlight === 0 && results.length === 0) call.end();
      };
      const flush = () => {
        flushing = false;
        const r = results;
        results = [];
        if (r.length > 0 && open()) call.write({ results: r });
        finish();
      };
      const run = (f: OrderRequestFrame, path: string | null, misuse?: RpcError) => {
        inFlight++;
        void answer(sec, core, call, f, path ?? "", misuse).then((res) => {
          inFlight--;
          if (path === null) {
            if (open()) call.write(res);
            finish();
            return;
          }
          results.push(res);
          if (!flushing) {
            flushing = true;
            setImmediate(flush);
          }
        });
      };
      call.on("data", (f: OrderRequestFrame) => {
        if (f.batch.length === 0) {
          run(f, null);
          return;
        }
        // A batch frame: each item on its own. Its own single-request fields must be empty (else every item is
        // refused naming them, rather than one request silently dropped).
        const misuse =
          f.request.case !== undefined || f.correlationId !== ""
            ? RpcError.invalidField(
                f.request.case !== undefined ? f.request.case : "correlation_id",
                "must be empty when batch is set",
              )
            : undefined;
        for (const [i, item] of f.batch.entries()) run(item, `batch[${i}].`, misuse);
      });
      call.on("end", () => {
        ended = true;
        finish();
      });
      call.on("error", () => undefined);
    },
  };

  const server = new Server(sec.serverOptions);
  // Every call is authenticated and checked against the policy before its handler runs (and every
  // SubmitOrderStream frame): SubmitOrder needs `trade` on its session and account, MassCancel is an audited
  // admin action that needs a deadline; the by-id methods authorize in the handler once the order is found.
  const { listening, health } = await serveProtected(server, sec, OrderEntryService, orderEntryServerRules, impl, {
    host: opts.host,
    port: opts.port,
    healthPort: opts.security?.healthPort,
    clientCert: opts.security?.tls?.clientCert,
    log,
  });
  const { port, healthPort } = listening;
  let closed: Promise<void> | null = null;
  return {
    port,
    healthPort,
    authorization: sec.mode,
    close() {
      closed ??= new Promise<void>((resolve) => {
        health.setAll("NOT_SERVING");
        for (const s of streams) s.end();
        health.close();
        void listening.shutdown(2000).then(resolve);
      });
      return closed;
    },
  };
}

type ResponseFrame = Awaited<ReturnType<typeof answer>>;

/** One request of a frame (the frame itself, `path` "", or an item of its batch): the answer, or its error. */
async function answer(
  sec: GrpcSecurity,
  core: OrderEntry,
  call: Caller,
  f: OrderRequestFrame,
  path: string,
  misuse?: RpcError,
) {
  const correlationId = f.correlationId;
  try {
    if (misuse) throw misuse;
    if (path !== "" && f.batch.length > 0) throw RpcError.invalidField(`${path}batch`, "must be empty inside a batch");
    // Submit frames were checked by the rule; a cancel or replace names its order by id: authorized here.
    if (f.request.case === "cancel" || f.request.case === "replace") {
      await authorizeOrder(sec, core, call, f.request.value);
    }
    const r =
      f.request.case === "submit"
        ? await core.submit(f.request.value, `${path}submit.`)
        : f.request.case === "cancel"
          ? await core.cancel(f.request.value, `${path}cancel.`)
          : f.request.case === "replace"
            ? await core.replace(f.request.value, `${path}replace.`)
            : undefined;
    if (r === undefined) throw RpcError.invalidField(`${path}request`, "one of submit, cancel, replace is required");
    return { correlationId, result: { case: "order" as const, value: r.order }, replayed: r.replayed };
  } catch (err) {
    return { correlationId, result: { case: "error" as const, value: RpcError.from(err).toStatus() } };
  }
}

/** Updates per message at most on a `batched` StreamOrderUpdates (a backlog goes out in messages of this many). */
const MAX_BATCH = 500;

/**
 * One StreamOrderUpdates call, as one pump: history from `from_position` first, then live updates as the store's
 * log watch delivers them. Positions are contiguous over the whole log (every commit takes the next one), so a
 * live update past `last + 1` means some were not delivered live (the watch started late, or lagged): they are
 * read back from the log before it — nothing missed, nothing twice. A reader that falls `maxBuffered` updates
 * behind is cut off (RESOURCE_EXHAUSTED/SLOW_CONSUMER) rather than holding unbounded memory; it resumes from its
 * last position.
 */
function serveUpdates(
  call: ServerWritableStream<
    { account: string; sessionId: string; fromPosition: bigint; batched: boolean },
    UpdateInit
  >,
  repo: OrderRepository,
  log: Logger,
  maxBuffered: number,
  /** Whether the caller may see this update's order (the policy; always true without authorization). */
  allowed: (e: LogEntry) => boolean,
): { end(): void } {
  const { account, sessionId } = call.request;
  const from = Number(call.request.fromPosition);
  const wanted = (e: LogEntry) =>
    (!account || e.event.order.account === account) &&
    (!sessionId || e.event.order.sessionId === sessionId) &&
    allowed(e);
  let last = 0;
  let done = false;
  const queue: LogEntry[] = [];
  let wake: (() => void) | null = null;
  const poke = () => {
    const w = wake;
    wake = null;
    w?.();
  };

  const fail = (e: RpcError) => {
    if (done) return;
    done = true;
    stop();
    poke();
    // grpc-js ends a server stream with a status (and its details trailer) on an emitted error.
    call.emit("error", e.toServiceError());
  };
  const finish = () => {
    done = true;
    stop();
    poke();
  };
  const stop = repo.watchLog((e) => {
    if (done) return;
    queue.push(e);
    if (queue.length > maxBuffered) {
      fail(
        new RpcError(
          Code.RESOURCE_EXHAUSTED,
          "SLOW_CONSUMER",
          `more than ${maxBuffered} updates unread; resume from position ${last + 1}`,
        ),
      );
      return;
    }
    poke();
  });
  call.on("cancelled", finish);
  call.on("close", finish);

  /** `batched` streams: the updates ready in this turn, sent as one message by `flushOut`. */
  const batched = call.request.batched;
  let out: UpdateInit[] = [];
  const send = async (m: UpdateInit) => {
    if (!call.write(m)) await new Promise<void>((r) => call.once("drain", () => r()));
  };
  const flushOut = async () => {
    if (out.length === 0) return;
    const batch = out;
    out = [];
    await send({ batch });
  };
  const write = async (e: LogEntry) => {
    if (e.position <= last) return;
    last = e.position;
    if (!wanted(e)) return;
    if (tracingEnabled() && e.event.traceparent) {
      // The last hop of the order's trace: this update handed to a client's stream.
      startSpan("order-entry.update-streamed", {
        parent: contextOf(e.event.traceparent),
        kind: SpanKind.SERVER,
        attributes: {
          "fixmesh.order_id": e.event.orderId,
          "fixmesh.change": e.event.change,
          "fixmesh.position": e.position,
        },
      }).end();
    }
    if (!batched) return send(updateOf(e));
    out.push(updateOf(e));
    if (out.length >= MAX_BATCH) await flushOut();
  };
  /** Everything in the log after `last`, up to `upTo` (inclusive). */
  const catchUp = async (upTo: number) => {
    while (!done && last < upTo) {
      const page = await repo.readLog(last + 1, 1000);
      if (page.length === 0) return;
      for (const e of page) {
        if (done || e.position > upTo) return;
        await write(e);
      }
      await flushOut();
    }
  };

  void (async () => {
    try {
      const bounds = await repo.logBounds();
      if (from > 0) {
        if (bounds.oldest > 0 && from < bounds.oldest) {
          fail(
            new RpcError(
              Code.OUT_OF_RANGE,
              "HISTORY_UNAVAILABLE",
              `position ${from} is no longer held; the oldest is ${bounds.oldest}`,
              {
                metadata: { oldest_position: String(bounds.oldest) },
              },
            ),
          );
          return;
        }
        last = from - 1;
        await catchUp(Number.POSITIVE_INFINITY);
      } else {
        last = bounds.newest;
      }
      while (!done) {
        const e = queue.shift();
        if (e === undefined) {
          // Everything delivered so far is written before waiting for more.
          await flushOut();
          if (done || queue.length > 0) continue;
          await new Promise<void>((r) => {
            wake = r;
          });
          continue;
        }
        if (e.position > last + 1) await catchUp(e.position - 1);
        await write(e);
      }
    } catch (err) {
      log.error({ err }, "StreamOrderUpdates failed");
      fail(RpcError.from(err));
    }
  })();
  return {
    end() {
      fail(
        new RpcError(
          Code.UNAVAILABLE,
          "SHUTTING_DOWN",
          "order-entry is shutting down; resume from your last position + 1",
        ),
      );
    },
  };
}
