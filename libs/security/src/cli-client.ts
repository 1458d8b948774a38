/**
 * The client side of every `fixmesh` command that calls a gRPC service: flags or environment variables turned into
 * grpc-js channel credentials and options.
 *
 * | flag                     | environment               | meaning                                               |
 * | ------------------------ | ------------------------- | ----------------------------------------------------- |
 * | `--tls-ca FILE`          | `FIXMESH_TLS_CA`          | CA bundle that signs the server's certificate: TLS on |
 * | `--tls-cert FILE`        | `FIXMESH_TLS_CERT`        | this client's certificate (mutual TLS), with the key  |
 * | `--tls-key FILE`         | `FIXMESH_TLS_KEY`         | its private key                                       |
 * | `--tls-server-name NAME` | `FIXMESH_TLS_SERVER_NAME` | the name the server's certificate must carry          |
 * | `--token-file FILE`      | `FIXMESH_TOKEN_FILE`      | a bearer JWT sent as `authorization` on every call    |
 *
 * A flag wins over its variable; an empty variable counts as unset. Without any of them the channel is plaintext
 * (embedded mode on loopback). A token is only ever sent over TLS, so `--token-file` without `--tls-ca` is an
 * error, as are a certificate without its key and a file that does not exist or does not parse.
 *
 * ```ts
 * const { values } = parseArgs({ args, options: { address: { type: "string" }, ...CLI_TLS_OPTIONS } });
 * const ch = cliChannel(values);                 // throws CliSecurityError naming the flag
 * const conn = new grpc.Client(address, ch.credentials, ch.options);
 * …; conn.close(); ch.close();
 * ```
 */
import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { type ChannelCredentials, type ChannelOptions, credentials as grpcCredentials, Metadata } from "@grpc/grpc-js";
import { SecurityConfigError } from "./errors.js";
import { type ClientTls, clientTls } from "./tls/credentials.js";

/** The parseArgs options of the client security flags, to spread into a command's options. */
export const CLI_TLS_OPTIONS = {
  "tls-ca": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "tls-server-name": { type: "string" },
  "token-file": { type: "string" },
} as const;

/** Usage lines for the flags (a command appends them to its own usage). */
export const CLI_TLS_USAGE = `  security (any command that calls a service; flags win over the environment):
    --tls-ca FILE            CA that signs the server's certificate: TLS on ($FIXMESH_TLS_CA)
    --tls-cert FILE --tls-key FILE
                             this client's certificate and key: mutual TLS ($FIXMESH_TLS_CERT, $FIXMESH_TLS_KEY)
    --tls-server-name NAME   name the server's certificate must carry, if not the host dialled
                             ($FIXMESH_TLS_SERVER_NAME)
    --token-file FILE        bearer JWT for every call, over TLS only ($FIXMESH_TOKEN_FILE)`;

/** The flag values as parseArgs returns them (any other keys are ignored). */
export interface CliTlsFlags {
  "tls-ca"?: string;
  "tls-cert"?: string;
  "tls-key"?: string;
  "tls-server-name"?: string;
  "token-file"?: string;
}

const SETTINGS = [
  { flag: "tls-ca", env: "FIXMESH_TLS_CA", file: true },
  { flag: "tls-cert", env: "FIXMESH_TLS_CERT", file: true },
  { flag: "tls-key", env: "FIXMESH_TLS_KEY", file: true },
  { flag: "tls-server-name", env: "FIXMESH_TLS_SERVER_NAME", file: false },
  { flag: "token-file", env: "FIXMESH_TOKEN_FILE", file: true },
] as const;

type Key = (typeof SETTINGS)[number]["flag"];

/** A client security setting that cannot work; `field` names the flag (and the variable when it came from one). */
export class CliSecurityError extends Error {
  override readonly name = "CliSecurityError";
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

export interface CliChannel {
  credentials: ChannelCredentials;
  /** Pass with the credentials (the server-name override). */
  options: ChannelOptions;
  /** `plaintext`, `tls`, `mtls`; `+token` when a bearer token goes with every call. For messages. */
  readonly mode: string;
  /** Stops the certificate files' reload timer (call after closing the channel). */
  close(): void;
}

export interface CliChannelOptions {
  /** Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Relative paths resolve against it. Default `process.cwd()`. */
  cwd?: string;
}

/**
 * Channel credentials and options from the security flags and variables. Throws CliSecurityError naming the flag
 * (e.g. `--tls-cert (from FIXMESH_TLS_CERT): no such file /etc/fixmesh/cli.crt`).
 */
export function cliChannel(flags: CliTlsFlags, o: CliChannelOptions = {}): CliChannel {
  const env = o.env ?? process.env;
  const cwd = o.cwd ?? process.cwd();
  const got = new Map<Key, { value: string; label: string }>();
  for (const s of SETTINGS) {
    const fromFlag = flags[s.flag];
    const fromEnv = env[s.env];
    let value: string | undefined;
    let label = `--${s.flag}`;
    if (fromFlag !== undefined) value = fromFlag;
    else if (fromEnv !== undefined && fromEnv !== "") {
      value = fromEnv;
      label = `--${s.flag} (from ${s.env})`;
    }
    if (value === undefined) continue;
    if (value.trim() === "") throw new CliSecurityError(label, "must not be empty");
    if (s.file) {
      value = resolve(cwd, value);
      let isFile = false;
      try {
        isFile = statSync(value).isFile();
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new CliSecurityError(
          label,
          code === "ENOENT" ? `no such file ${value}` : `cannot read ${value} (${code})`,
        );
      }
      if (!isFile) throw new CliSecurityError(label, `${value} is not a file`);
    }
    got.set(s.flag, { value, label });
  }
  const ca = got.get("tls-ca");
  const cert = got.get("tls-cert");
  const key = got.get("tls-key");
  const serverName = got.get("tls-server-name");
  const tokenFile = got.get("token-file");

  if (ca === undefined) {
    // Plaintext (embedded mode on loopback): nothing of TLS may be half given, and no token goes out in clear.
    const stray = tokenFile ?? cert ?? key ?? serverName;
    if (stray !== undefined) {
      throw new CliSecurityError(
        "--tls-ca",
        `is required with ${stray.label.split(" ")[0]}: ${
          stray === tokenFile ? "a bearer token is only sent over TLS" : "TLS needs the CA that signs the server"
        } (or set FIXMESH_TLS_CA)`,
      );
    }
    return { credentials: grpcCredentials.createInsecure(), options: {}, mode: "plaintext", close: () => undefined };
  }
  if ((cert === undefined) !== (key === undefined)) {
    const missing = cert === undefined ? "--tls-cert" : "--tls-key";
    throw new CliSecurityError(missing, "is required: --tls-cert and --tls-key go together (mutual TLS)");
  }

  let tls: ClientTls;
  try {
    tls = clientTls({
      caFile: ca.value,
      ...(cert !== undefined && key !== undefined && { certFile: cert.value, keyFile: key.value }),
      ...(serverName !== undefined && { serverName: serverName.value }),
      field: "tls",
    });
  } catch (e) {
    if (!(e instanceof SecurityConfigError)) throw e;
    const which = { "tls.caFile": ca, "tls.certFile": cert, "tls.keyFile": key }[e.field];
    throw new CliSecurityError(which?.label ?? "--tls-ca", e.reason);
  }

  let credentials: ChannelCredentials = tls.credentials;
  let mode = cert !== undefined ? "mtls" : "tls";
  if (tokenFile !== undefined) {
    const token = readFileSync(tokenFile.value, "utf8").trim();
    if (token === "") {
      tls.files.close();
      throw new CliSecurityError(tokenFile.label, `${tokenFile.value} is empty`);
    }
    if (/\s/.test(token)) {
      tls.files.close();
      throw new CliSecurityError(tokenFile.label, `${tokenFile.value} must hold one token (no spaces or lines)`);
    }
    const bearer = grpcCredentials.createFromMetadataGenerator((_params, cb) => {
      const md = new Metadata();
      md.set("authorization", `Bearer ${token}`);
      cb(null, md);
    });
    credentials = grpcCredentials.combineChannelCredentials(credentials, bearer);
    mode += "+token";
  }
  return { credentials, options: tls.options, mode, close: () => tls.files.close() };
}

const TLS_FAILURES: Array<[RegExp, (mode: string) => string]> = [
  [
    /certificate required/i,
    () => "the server requires a client certificate (mutual TLS): give --tls-cert and --tls-key",
  ],
  [
    /unknown ca|bad certificate|certificate unknown|certificate expired|certificate revoked/i,
    () => "the server refused this client's certificate: not signed by its CA, or expired",
  ],
  [
    /self[- ]signed|unable to verify|unable to get local issuer|certificate has expired/i,
    () => "the server's certificate is not signed by the --tls-ca given, or has expired",
  ],
  [
    /altnames|does not match certificate|hostname\/ip does not match/i,
    () => "the server's certificate does not carry the name dialled: set --tls-server-name to the name it carries",
  ],
  [
    /wrong version number|packet length too long|http_request|unexpected eof|socket hang up/i,
    (mode) =>
      mode === "plaintext"
        ? "the server speaks TLS, this client plaintext: give --tls-ca (and --tls-cert/--tls-key for mutual TLS)"
        : "the server does not speak TLS on this port",
  ],
];

/**
 * A line that says why a call failed when the cause is the channel's security (an UNAVAILABLE or UNAUTHENTICATED
 * status), in the words of the flags; undefined when it is something else. `mode` is `CliChannel.mode`.
 */
export function explainCallFailure(err: { code?: number; message?: string }, mode: string): string | undefined {
  const text = err.message ?? "";
  if (err.code === 16) {
    return "the server needs a client certificate (--tls-cert/--tls-key) or a bearer token (--token-file) it accepts";
  }
  if (err.code !== 14) return undefined;
  for (const [re, say] of TLS_FAILURES) if (re.test(text)) return say(mode);
  return mode === "plaintext"
    ? "no connection over plaintext: is the service running there? If it serves TLS, give --tls-ca (and --tls-cert/--tls-key for mutual TLS)"
    : `no connection over ${mode}: is the service running there? Check --tls-ca, --tls-server-name and the client certificate`;
}
