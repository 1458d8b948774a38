import { connect as netConnect, type Socket } from "node:net";
import { type ConnectionOptions, connect as tlsConnect } from "node:tls";
import type { Connector } from "./runner.js";

export interface HostPort {
  host: string;
  port: number;
}

/**
 * A connector for initiators: tries the primary host, then each backup in turn (one per attempt, so the
 * session core's backoff spaces the attempts), with a connect timeout. TLS when `tls` is given; the venue's
 * certificate and host name are verified unless the options say otherwise.
 */
export function tcpConnector(hosts: HostPort[], opts: { timeoutMs?: number; tls?: ConnectionOptions } = {}): Connector {
  if (hosts.length === 0) throw new Error("tcpConnector needs at least one host");
  let next = 0;
  return () => {
    const target = hosts[next % hosts.length];
    next++;
    return new Promise<Socket>((resolve, reject) => {
      const socket = opts.tls
        ? tlsConnect({
            ...opts.tls,
            host: target.host,
            port: target.port,
            servername: opts.tls.servername ?? target.host,
          })
        : netConnect({ host: target.host, port: target.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${target.host}:${target.port} timed out`));
      }, opts.timeoutMs ?? 5000);
      const ready = opts.tls ? "secureConnect" : "connect";
      socket.once(ready, () => {
        clearTimeout(timer);
        socket.off("error", onError);
        resolve(socket);
      });
      const onError = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new Error(`connect to ${target.host}:${target.port} failed: ${err.message}`));
      };
      socket.once("error", onError);
    });
  };
}
