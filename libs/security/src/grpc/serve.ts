/**
 * The part every service's gRPC server shares once its services are added: listening with the security's
 * credentials (and the plaintext health-only port kubelet probes need), the one log line that says how it serves,
 * and the graceful stop. Connector, order-entry, risk and persistence each add their own services and health
 * statuses, and say what to do before the stop (health to NOT_SERVING, their streams ended).
 */
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import {
  addGrpcService,
  addReflection,
  type GrpcServiceImpl,
  HealthService,
  type Listening,
  listenWithHealth,
} from "@fixmesh/contracts";
import type { Server } from "@grpc/grpc-js";
import type { RulesOf } from "./rules.js";
import type { GrpcSecurity } from "./security.js";

export interface ListenSecuredOptions {
  host: string;
  port: number;
  /** The plaintext health-only listener's port (`grpc.healthPort`), if any. */
  healthPort?: number | undefined;
  /** Adds grpc.health.v1 to the health-only listener. */
  addHealth: (server: Server) => void;
  /** The service's name, for the log line (`gRPC <name> listening`). */
  name: string;
  /** The TLS section's `clientCert` (what the log line says of client certificates; default `require`). */
  clientCert?: string | undefined;
  log?: { info(obj: object, msg: string): void } | undefined;
}

export interface ListeningSecured extends Listening {
  /**
   * Stops taking calls, lets the running ones finish for up to `graceMs` (then cuts them), closes the security
   * (certificate and policy watchers) and the health-only listener. Once.
   */
  shutdown(graceMs: number): Promise<void>;
}

/**
 * Listens and logs. When the listen fails (the address is taken, the health port cannot bind) the security is
 * closed before the error is thrown; the caller releases what else it holds.
 */
export async function listenSecured(
  server: Server,
  security: GrpcSecurity,
  o: ListenSecuredOptions,
): Promise<ListeningSecured> {
  const listening = await listenWithHealth(server, {
    host: o.host,
    port: o.port,
    credentials: security.credentials,
    healthPort: o.healthPort,
    addHealth: o.addHealth,
  }).catch((err: unknown) => {
    security.close();
    throw err;
  });
  const { port, healthPort, healthServer } = listening;
  o.log?.info(
    {
      host: o.host,
      port,
      ...(healthPort !== null && { healthPort }),
      tls: security.certificates === null ? "off" : (o.clientCert ?? "require"),
      authorization: security.mode,
      ...(security.certificates && { certificate: security.certificates.identity }),
    },
    `gRPC ${o.name} listening`,
  );
  let stopped: Promise<void> | null = null;
  return {
    ...listening,
    shutdown(graceMs) {
      stopped ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.forceShutdown(), graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          security.close();
          healthServer?.forceShutdown();
          resolve();
        });
      });
      return stopped;
    },
  };
}

export interface ServeProtectedOptions extends Omit<ListenSecuredOptions, "addHealth" | "name" | "log"> {
  log?: { info(obj: object, msg: string): void; error(obj: object, msg: string): void } | undefined;
}

/**
 * One service served the way order-entry, risk and persistence serve theirs: its methods behind `rules`
 * (`security.protect`), an unexpected handler error logged, grpc.health.v1 saying SERVING for the server and the
 * service (on the health-only port too), server reflection listing the service, then `listenSecured`. Returns the
 * listener and the health service (set it NOT_SERVING and close it before the shutdown).
 */
export async function serveProtected<S extends GenServiceMethods>(
  server: Server,
  security: GrpcSecurity,
  service: GenService<S>,
  rules: RulesOf<GenService<S>>,
  impl: GrpcServiceImpl<S>,
  o: ServeProtectedOptions,
): Promise<{ listening: ListeningSecured; health: HealthService }> {
  const log = o.log;
  addGrpcService(server, service, security.protect(service, rules, impl), {
    onInternalError: (err, method) => log?.error({ err, method }, "gRPC call failed unexpectedly"),
  });
  const health = new HealthService({ "": "SERVING", [service.typeName]: "SERVING" });
  health.addTo(server);
  addReflection(server, service);
  const listening = await listenSecured(server, security, {
    host: o.host,
    port: o.port,
    healthPort: o.healthPort,
    addHealth: (s) => health.addTo(s),
    name: service.name,
    clientCert: o.clientCert,
    log,
  });
  return { listening, health };
}
