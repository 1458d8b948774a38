import { existsSync } from "node:fs";
import { join } from "node:path";
import { type ChannelCredentials, type ChannelOptions, experimental, type ServerCredentials } from "@grpc/grpc-js";
import { SecurityConfigError } from "../errors.js";
import { CertificateFiles, type CertificateFilesOptions } from "./certificate-files.js";

/** How a server treats client certificates. */
export type ClientCertMode = "require" | "optional";

export interface ServerTlsOptions extends CertificateFilesOptions {
  certFile: string;
  keyFile: string;
  /**
   * `require` (mutual TLS, production): the handshake fails without a client certificate signed by `caFile`.
   * `optional`: a client certificate is asked for and checked when sent; a caller without one must present a
   * bearer JWT. Needs `caFile` either way. Default `require`.
   */
  clientCert?: ClientCertMode;
}

export interface ServerTls {
  credentials: ServerCredentials;
  files: CertificateFiles;
}

/**
 * TLS server credentials from files, reloaded on rotation without a restart (new handshakes get the new
 * certificate; see CertificateFiles). Throws SecurityConfigError naming the field when the files cannot serve.
 */
export function serverTls(opts: ServerTlsOptions): ServerTls {
  const mode = opts.clientCert ?? "require";
  const field = opts.field ?? "tls";
  if (opts.caFile === undefined) {
    throw new SecurityConfigError(
      `${field}.caFile`,
      "is required: the CA that signs the client certificates (clientCert: require or optional)",
    );
  }
  const files = new CertificateFiles(opts);
  // grpc-js's first argument is the identity provider, the second the CA provider (its parameter names are
  // swapped in 1.14; the behaviour is this). The CA provider also asks clients for a certificate.
  const credentials = experimental.createCertificateProviderServerCredentials(files, files, mode === "require");
  return { credentials, files };
}

export interface ClientTlsOptions extends CertificateFilesOptions {
  /** The CA bundle that signs the server's certificate. Required: a client never trusts the system store here. */
  caFile: string;
  /**
   * The name the server's certificate must carry (DNS SAN), when it is not the host dialled — e.g.
   * `connector.fixmesh.svc` while dialling 10.0.3.7. The check always runs.
   */
  serverName?: string;
}

export interface ClientTls {
  credentials: ChannelCredentials;
  /** Channel options to pass with the credentials (the server-name override). */
  options: ChannelOptions;
  files: CertificateFiles;
}

/**
 * Client credentials for service-to-service calls: the server's certificate is verified against `caFile` and its
 * name against `serverName` (or the dialled host); with `certFile`/`keyFile` the client presents its own
 * certificate (mutual TLS). Rotated files are picked up for new connections.
 */
export function clientTls(opts: ClientTlsOptions): ClientTls {
  const files = new CertificateFiles(opts);
  const credentials = experimental.createCertificateProviderChannelCredentials(
    files,
    files.hasIdentity ? files : null,
    {},
  );
  const options: ChannelOptions = {};
  if (opts.serverName !== undefined) options["grpc.ssl_target_name_override"] = opts.serverName;
  return { credentials, options, files };
}

/** File names inside a certificate folder: those of a Kubernetes TLS Secret (cert-manager writes all three). */
export const CERT_FOLDER_FILES = { certFile: "tls.crt", keyFile: "tls.key", caFile: "ca.crt" } as const;

/**
 * The paths of a certificate folder (a mounted Kubernetes TLS Secret: `tls.crt`, `tls.key`, `ca.crt`). Throws
 * SecurityConfigError for a missing file.
 */
export function certFolder(dir: string): { certFile: string; keyFile: string; caFile: string } {
  const out = {
    certFile: join(dir, CERT_FOLDER_FILES.certFile),
    keyFile: join(dir, CERT_FOLDER_FILES.keyFile),
    caFile: join(dir, CERT_FOLDER_FILES.caFile),
  };
  for (const [k, p] of Object.entries(out)) {
    if (!existsSync(p))
      throw new SecurityConfigError(k, `${p} does not exist (a certificate folder holds tls.crt, tls.key, ca.crt)`);
  }
  return out;
}

/**
 * Mutual TLS both ways from one certificate folder — what a benchmark or a test needs in one line:
 * `const m = mtlsFromFolder(dir); server.bindAsync(addr, m.server().credentials, …);`
 * `new grpc.Client(addr, m.client("connector.test").credentials, m.client("connector.test").options)`.
 */
export function mtlsFromFolder(dir: string, opts: { reloadMs?: number } = {}) {
  const paths = certFolder(dir);
  return {
    server: (clientCert: ClientCertMode = "require"): ServerTls => serverTls({ ...paths, ...opts, clientCert }),
    client: (serverName?: string): ClientTls => clientTls({ ...paths, ...opts, serverName }),
  };
}
