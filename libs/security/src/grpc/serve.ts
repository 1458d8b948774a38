/**
 * The part every service's gRPC server shares once its services are added: listening with the security's
 * credentials (and the plaintext health-only port kubelet probes need), the one log line that says how it serves,
 * and the graceful stop. Connector, order-entry, risk and persistence each add their own services and health
 * statuses, and say what to do before the stop (health to NOT_SERVING, their streams ended).
 */
import { type Listening, listenWithHealth } from "@fixmesh/contracts";
import type { Server } from "@grpc/grpc-js";
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
