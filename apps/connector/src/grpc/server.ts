import { addReflection, grpcImplementation, grpcServiceDefinition, SessionService } from "@fixmesh/contracts";
import type { RunnerLogger } from "@fixmesh/engine";
import {
  type AuditSink,
  createGrpcSecurity,
  EMBEDDED_GRPC_SECURITY,
  type GrpcSecurityConfig,
  listenSecured,
  sessionServiceRules,
  toSecurityOptions,
} from "@fixmesh/security";
import { Server } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { SessionRegistry } from "../registry.js";
import type { IdempotencyOptions } from "./idempotency.js";
import { decodeSendStreamRequest } from "./send-stream-codec.js";
import { SessionServiceHandlers } from "./session-service.js";

export interface GrpcServerOptions {
  registry: SessionRegistry;
  /** Interface to bind, e.g. `0.0.0.0` or `127.0.0.1`. */
  host: string;
  /** 0: any free port (the chosen one is returned). */
  port: number;
  logger?: RunnerLogger;
  /**
   * TLS/mTLS from files (reloaded on rotation), the authorization policy, bearer JWTs and abuse limits: the
   * config's `grpc` section. Default: plaintext without authorization, which only a loopback host may use
   * (anything else throws SecurityConfigError naming `grpc.tls`).
   */
  security?: GrpcSecurityConfig;
  /** Where denials and admin actions go (the bus's AUDIT stream); they are logged at warn either way. */
  audit?: AuditSink;
  idempotency?: IdempotencyOptions;
  /** Inbound application messages held per session for StreamMessages from a given point. Default 10,000. */
  historySize?: number;
  /** How long `close` lets calls in progress finish before cutting them. Default 2 s. */
  closeGraceMs?: number;
  /** The initial status of LEADER_HEALTH_SERVICE (default: leading). */
  leading?: boolean;
}

export interface GrpcServerHandle {
  readonly port: number;
  /** The plaintext health-only listener's port (`grpc.healthPort`), or null. */
  readonly healthPort: number | null;
  /** Reports NOT_SERVING, ends open streams (UNAVAILABLE/SHUTTING_DOWN), lets unary calls finish, stops. */
  close(): Promise<void>;
  /** Sets LEADER_HEALTH_SERVICE: SERVING while this connector leads every one of its sessions. */
  setLeading(leading: boolean): void;
}

const SERVICE_NAME = SessionService.typeName;

/**
 * The grpc.health.v1 service name that is SERVING only while this connector leads all its sessions: the
 * readiness probe of a Deployment whose Service routes FIX connections (acceptor sessions) to the leader. `""`
 * and the SessionService name stay SERVING on a standby (liveness: the process is fine).
 */
export const LEADER_HEALTH_SERVICE = "fixmesh.leader";

/** Serves SessionService, grpc.health.v1 and server reflection for the sessions of `registry`. */
export async function startGrpcServer(opts: GrpcServerOptions): Promise<GrpcServerHandle> {
  const log = opts.logger;
  // Throws before anything listens when the transport or the policy cannot be what the config asks for.
  const security = createGrpcSecurity(
    toSecurityOptions(opts.security ?? EMBEDDED_GRPC_SECURITY, {
      service: "connector",
      host: opts.host,
      ...(opts.audit && { audit: opts.audit }),
      ...(log && { logger: log }),
    }),
  );
  const server = new Server(security.serverOptions);
  const handlers = new SessionServiceHandlers({
    registry: opts.registry,
    logger: log,
    idempotency: opts.idempotency,
    historySize: opts.historySize,
  });
  // Every SessionService call is authenticated and checked against the policy before its handler runs.
  // SendStream frames are decoded by the connector's own reader (send-stream-codec.ts): the high-rate path.
  const generic = grpcServiceDefinition(SessionService);
  const definition = {
    ...generic,
    sendStream: { ...generic.sendStream, requestDeserialize: decodeSendStreamRequest },
  };
  server.addService(
    definition,
    grpcImplementation(SessionService, security.protect(SessionService, sessionServiceRules, handlers.impl), {
      onInternalError: (err, method) => log?.error({ err, method }, "gRPC call failed unexpectedly"),
    }),
  );
  const health = new HealthImplementation({
    "": "SERVING",
    [SERVICE_NAME]: "SERVING",
    [LEADER_HEALTH_SERVICE]: opts.leading === false ? "NOT_SERVING" : "SERVING",
  });
  health.addToServer(server);
  // Reflection describes exactly the contracts this server was built with (from the protobuf-es descriptors).
  addReflection(server, SessionService);

  // Kubelet grpc probes speak plaintext only: `grpc.healthPort` is a listener that serves the health service alone.
  const listening = await listenSecured(server, security, {
    host: opts.host,
    port: opts.port,
    healthPort: opts.security?.healthPort,
    addHealth: (s) => health.addToServer(s),
    name: "SessionService",
    clientCert: opts.security?.tls?.clientCert,
    log,
  }).catch((err: unknown) => {
    handlers.close();
    throw err;
  });
  const { port, healthPort } = listening;

  let closed: Promise<void> | null = null;
  return {
    port,
    healthPort,
    setLeading(leading) {
      if (closed === null) health.setStatus(LEADER_HEALTH_SERVICE, leading ? "SERVING" : "NOT_SERVING");
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        health.setStatus("", "NOT_SERVING");
        health.setStatus(SERVICE_NAME, "NOT_SERVING");
        health.setStatus(LEADER_HEALTH_SERVICE, "NOT_SERVING");
        handlers.close();
        // Probes see NOT_SERVING until the main server is down, then the health listener goes too.
        void listening.shutdown(opts.closeGraceMs ?? 2000).then(resolve);
      });
      return closed;
    },
  };
}
