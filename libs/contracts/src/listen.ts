import { ServerCredentials as Creds, Server as GrpcServer, type Server, type ServerCredentials } from "@grpc/grpc-js";

export interface ListenOptions {
  host: string;
  port: number;
  /** The server's credentials (TLS, mutual TLS or plaintext). */
  credentials: ServerCredentials;
  /** When set: a second, plaintext listener on the same host that serves only what `addHealth` adds. */
  healthPort?: number | undefined;
  /** Adds grpc.health.v1 to a server (the health-only listener's). */
  addHealth: (server: Server) => void;
}

export interface Listening {
  port: number;
  /** The health-only listener's bound port, or null. */
  healthPort: number | null;
  healthServer: Server | null;
}

function bind(server: Server, address: string, credentials: ServerCredentials, what: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.bindAsync(address, credentials, (err, p) => {
      if (err) reject(new Error(`${what}: cannot listen on ${address}: ${err.message}`, { cause: err }));
      else resolve(p);
    });
  });
}

/**
 * Binds a service's gRPC server on `host:port` and, with `healthPort`, the plaintext health-only listener kubelet
 * grpc probes need (they speak plaintext only; the status is all it reveals). A failure names the address; when
 * the health listener cannot bind, the main server is shut down before the error is thrown. The caller releases
 * what else it holds (certificate reloaders, handlers).
 */
export async function listenWithHealth(server: Server, opts: ListenOptions): Promise<Listening> {
  const hostPart = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  const port = await bind(server, `${hostPart}:${opts.port}`, opts.credentials, "gRPC");
  if (opts.healthPort === undefined) return { port, healthPort: null, healthServer: null };
  const healthServer = new GrpcServer();
  opts.addHealth(healthServer);
  try {
    const healthPort = await bind(
      healthServer,
      `${hostPart}:${opts.healthPort}`,
      Creds.createInsecure(),
      "gRPC health",
    );
    return { port, healthPort, healthServer };
  } catch (err) {
    server.forceShutdown();
    throw err;
  }
}
