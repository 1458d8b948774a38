import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type CheckOrderStreamRequest,
  type CheckOrderStreamResponseSchema,
  ErrorReason,
  type GrpcServiceImplOf,
  RiskService,
  RpcError,
} from "@fixmesh/contracts";
import {
  type AuditSink,
  createGrpcSecurity,
  EMBEDDED_GRPC_SECURITY,
  type GrpcSecurity,
  type GrpcSecurityConfig,
  riskRules,
  serveProtected,
  toSecurityOptions,
} from "@fixmesh/security";
import {
  type Context,
  contextFromTraceparent,
  extractFromMetadata,
  recordError,
  SpanKind,
  startSpan,
  tracingEnabled,
} from "@fixmesh/telemetry";
import { type Metadata, Server, status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { RiskHandle } from "../service.js";
import {
  checkInputFrom,
  checkResponse,
  killSwitchScopeFrom,
  killSwitchToMessage,
  limitSetFrom,
  limitSetToMessage,
  positionToMessage,
} from "./convert.js";

export interface RiskGrpcOptions {
  risk: Omit<RiskHandle, "port" | "healthPort" | "close">;
  host: string;
  port: number;
  logger?: Logger;
  /**
   * TLS/mTLS from files (reloaded on rotation), the authorization policy (`riskRules`), bearer JWTs, limits and a
   * health-only port: the config's `grpc` section. Default: plaintext without authorization, which only a loopback
   * host may use (anything else throws SecurityConfigError naming `grpc.tls`).
   */
  security?: GrpcSecurityConfig;
  /** Where the security layer's denials and admin outcomes go (they are logged at warn either way). */
  audit?: AuditSink;
  closeGraceMs?: number;
}

export interface RiskGrpcHandle {
  readonly port: number;
  /** The plaintext health-only listener's port (`grpc.healthPort`), or null. */
  readonly healthPort: number | null;
  /** `enforce`: every call authenticated and checked against the policy; `open`: plaintext loopback, no policy. */
  readonly authorization: "open" | "enforce";
  close(): Promise<void>;
}

/** Who made an admin call without authorization (embedded, plaintext on loopback): the `operator` metadata. */
function operatorMetadata(md: Metadata, fallback = ""): string {
  const v = md.get("operator")[0];
  return typeof v === "string" && v !== "" ? v : fallback;
}

/**
 * The operator of an admin call. With authorization on it is the caller's principal (certificate or JWT) and
 * nothing the request says can change it; without (embedded mode) the request's `operator`, then the metadata's.
 */
function operatorOf(sec: GrpcSecurity, call: { metadata: Metadata }, requested: string, fallback = ""): string {
  if (sec.mode === "enforce") return sec.principalOf(call).id;
  return requested !== "" ? requested : operatorMetadata(call.metadata, fallback);
}

type StreamFrame = MessageInitShape<typeof CheckOrderStreamResponseSchema>;

/**
 * Runs one check inside a `risk.check` span, child of the order's trace context (the stream frame's traceparent or
 * the unary call's metadata). No span at all when tracing is off: the check stays on its fast path.
 */
function traced<T extends { allowed?: boolean; rule?: string }>(
  parent: () => Context,
  attrs: Record<string, string>,
  fn: () => T,
): T {
  if (!tracingEnabled()) return fn();
  const span = startSpan("risk.check", { kind: SpanKind.SERVER, parent: parent(), attributes: attrs });
  try {
    const r = fn();
    span.setAttribute("fixmesh.risk.allowed", r.allowed === true);
    if (r.rule) span.setAttribute("fixmesh.risk.rule", r.rule);
    return r;
  } catch (err) {
    recordError(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/** Serves RiskService, grpc.health.v1 (`""` and `fixmesh.v1.RiskService`) for a running risk service. */
export async function startGrpcServer(opts: RiskGrpcOptions): Promise<RiskGrpcHandle> {
  const { risk, logger: log } = opts;
  // Throws before anything listens when the transport or the policy cannot be what the config asks for.
  const security = createGrpcSecurity(
    toSecurityOptions(opts.security ?? EMBEDDED_GRPC_SECURITY, {
      service: "risk",
      host: opts.host,
      ...(opts.audit && { audit: opts.audit }),
      ...(log && { logger: log }),
    }),
  );
  const server = new Server(security.serverOptions);
  const streams = new Set<{ destroy(err: Error): void }>();

  const impl: GrpcServiceImplOf<typeof RiskService> = {
    checkOrder: (req, call) =>
      traced(
        () => extractFromMetadata(call.metadata),
        { "fixmesh.session": req.sessionId, "fixmesh.account": req.account },
        () => checkResponse(risk.check(checkInputFrom(req))),
      ),

    checkOrderStream: (call) => {
      const entry = { destroy: (err: Error) => call.destroy(err) };
      streams.add(entry);
      /** One check of a frame (the frame itself, or an item of its batch): a result, or its own error. */
      const one = (item: CheckOrderStreamRequest, path: string, misuse?: RpcError): StreamFrame => {
        try {
          if (misuse) throw misuse;
          if (item.batch.length > 0) throw RpcError.invalidField(`${path}batch`, "must be empty inside a batch");
          const req = item.check;
          if (req === undefined) throw RpcError.invalidField(`${path}check`, "is required");
          const result = traced(
            () => contextFromTraceparent(item.traceparent || undefined),
            { "fixmesh.session": req.sessionId, "fixmesh.account": req.account },
            () => checkResponse(risk.check(checkInputFrom(req, `${path}check.`))),
          );
          return { correlationId: item.correlationId, result };
        } catch (err) {
          const e = RpcError.from(err);
          if (e.code === status.INTERNAL) log?.error({ err }, "check failed unexpectedly");
          return { correlationId: item.correlationId, error: e.toStatus() };
        }
      };
      call.on("data", (frame: CheckOrderStreamRequest) => {
        if (frame.batch.length === 0) {
          call.write(one(frame, ""));
          return;
        }
        // A batch frame: one frame of results, in the items' order. Its own single-check fields must be empty
        // (else every item is refused naming them, rather than one check silently dropped).
        const misuse =
          frame.check !== undefined || frame.correlationId !== ""
            ? RpcError.invalidField(
                frame.check !== undefined ? "check" : "correlation_id",
                "must be empty when batch is set",
              )
            : undefined;
        call.write({ results: frame.batch.map((item, i) => one(item, `batch[${i}].`, misuse)) });
      });
      call.on("end", () => call.end());
      call.on("error", () => undefined);
      call.on("close", () => streams.delete(entry));
    },

    getLimits: () => {
      const l = risk.limits();
      return { limitSets: l.sets.map(limitSetToMessage), source: l.source, loadedAt: timestampFromMs(l.loadedAt) };
    },

    setLimits: async (req, call) => {
      const set = limitSetFrom(req.limitSet);
      if (req.reason.trim() === "") throw RpcError.invalidField("reason", "is required");
      const principal = operatorOf(security, call, "", call.getPeer());
      return { limitSet: limitSetToMessage(await risk.setLimits(set, req.reason, principal)) };
    },

    setKillSwitch: async (req, call) => {
      const scope = killSwitchScopeFrom(req.scope);
      if (scope === "GLOBAL" && req.target !== "") {
        throw RpcError.invalidField("target", "must be empty for a GLOBAL kill switch");
      }
      if (scope !== "GLOBAL" && req.target === "") {
        throw RpcError.invalidField(
          "target",
          `is required for a ${scope} kill switch (the ${scope === "SESSION" ? "session id" : "account"})`,
        );
      }
      if (req.reason.trim() === "") throw RpcError.invalidField("reason", "is required");
      const operator = operatorOf(security, call, req.operator);
      if (operator === "") throw RpcError.invalidField("operator", "is required");
      const s = await risk.setKillSwitch({
        scope,
        target: req.target,
        engaged: req.engaged,
        reason: req.reason,
        operator,
        cancelOpenOrders: req.engaged && req.cancelOpenOrders,
      });
      return { killSwitch: killSwitchToMessage(s) };
    },

    getKillSwitches: () => ({ killSwitches: risk.killSwitches.current().map(killSwitchToMessage) }),

    getPositions: (req) => ({
      positions: risk.engine.exposure.positionsOf({ account: req.account, symbol: req.symbol }).map(positionToMessage),
    }),
  };

  // Every RiskService call is authenticated and checked against the policy before its handler runs: CheckOrder
  // and every CheckOrderStream frame (each item of a batch frame) need `trade` on the order's session and account, reads `read`, SetLimits and
  // SetKillSwitch are audited admin actions that need a deadline.
  const { listening, health } = await serveProtected(server, security, RiskService, riskRules, impl, {
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
    authorization: security.mode,
    close() {
      closed ??= new Promise<void>((resolve) => {
        health.setAll("NOT_SERVING");
        const bye = new RpcError(status.UNAVAILABLE, ErrorReason.SHUTTING_DOWN, "risk service shutting down");
        for (const s of streams) s.destroy(bye.toServiceError());
        health.close();
        void listening.shutdown(opts.closeGraceMs ?? 2000).then(resolve);
      });
      return closed;
    },
  };
}
