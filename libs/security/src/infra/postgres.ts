import { type ConnectionOptions, checkServerIdentity } from "node:tls";
import { z } from "zod";
import { parseOrThrow, parseUrl } from "./redis.js";
import { InfraConfigError, readSecret, type SecretContext, type SecretLike } from "./secret.js";
import { type LinkTls, linkTlsSchema, resolveLinkTls, tlsConnectOptions } from "./tls.js";

/**
 * A PostgreSQL link: where (URL without a password, or host/port/database), who (a role whose password the server
 * checks with SCRAM-SHA-256: `password_encryption = scram-sha-256` and `hostssl … scram-sha-256` in pg_hba.conf),
 * and TLS with the server's certificate and host name verified (libpq's `sslmode=verify-full`).
 */
export const postgresLinkSchema = z.strictObject({
  url: z.string().min(1).optional(),
  host: z.string().min(1).optional(),
  port: z.coerce.number().int().min(1).max(65535).optional(),
  database: z.string().min(1).optional(),
  user: z.string().min(1).optional(),
  passwordFile: z.string().min(1).optional(),
  passwordEnv: z.string().min(1).optional(),
  tls: linkTlsSchema.optional(),
});
export type PostgresLinkInput = z.input<typeof postgresLinkSchema>;

export interface PostgresLink {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: SecretLike;
  tls?: LinkTls;
}

export function resolvePostgresLink(input: unknown, field: string, ctx: SecretContext): PostgresLink {
  const x = parseOrThrow(postgresLinkSchema, input, field);
  let host = x.host;
  let port = x.port;
  let database = x.database;
  let user = x.user;
  if (x.url !== undefined) {
    const u = parseUrl(x.url, `${field}.url`, ["postgres:", "postgresql:"]);
    if (u.password !== "") {
      throw new InfraConfigError(
        `${field}.url`,
        "a password in the URL is not allowed: give passwordFile or passwordEnv",
      );
    }
    if (u.search !== "") {
      throw new InfraConfigError(`${field}.url`, "query parameters (sslmode…) are not taken: use the tls block");
    }
    host ??= u.hostname.replace(/^\[|\]$/g, "") || undefined;
    port ??= u.port === "" ? undefined : Number(u.port);
    database ??= decodeURIComponent(u.pathname.replace(/^\//, "")) || undefined;
    user ??= u.username === "" ? undefined : decodeURIComponent(u.username);
  }
  const password = readSecret(ctx, field, { file: x.passwordFile, env: x.passwordEnv });
  const tls = x.tls === undefined ? undefined : resolveLinkTls(x.tls, `${field}.tls`, ctx);
  return {
    host: host ?? "127.0.0.1",
    port: port ?? 5432,
    database: database ?? "postgres",
    user: user ?? "postgres",
    ...(password && { password }),
    ...(tls && { tls }),
  };
}

/** The fields of a node-postgres `ClientConfig`/`PoolConfig` this sets (spread it into yours). */
export interface PgClientConfig {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  ssl?: ConnectionOptions;
}

/**
 * node-postgres connection settings of a link: `new pg.Pool({ ...pgClientConfig(link), max: 10 })`. With TLS the
 * server's chain and host name are verified (pg hands `ssl` to tls.connect with the host as SNI name; the check
 * is made against `tls.servername` or the host, also when the host is an IP address). pg negotiates SCRAM-SHA-256 when the server asks for it.
 */
export function pgClientConfig(link: PostgresLink): PgClientConfig {
  let ssl: ConnectionOptions | undefined;
  if (link.tls !== undefined) {
    const name = link.tls.servername ?? link.host;
    const opts = tlsConnectOptions(link.tls);
    // pg gives tls.connect a socket and no host: without this the name checked would be "localhost".
    const check = opts.checkServerIdentity ?? checkServerIdentity;
    ssl = { ...opts, checkServerIdentity: (_host, cert) => check(name, cert) };
  }
  return {
    host: link.host,
    port: link.port,
    database: link.database,
    user: link.user,
    ...(link.password && { password: link.password.reveal() }),
    ...(ssl && { ssl }),
  };
}
