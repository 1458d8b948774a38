import type { ConnectionOptions } from "node:tls";
import { Redis } from "ioredis";
import { z } from "zod";
import { describeLinkError, linkSecrets } from "./errors.js";
import { InfraConfigError, readSecret, type SecretContext, type SecretLike } from "./secret.js";
import { type LinkTls, linkTlsSchema, resolveLinkTls, tlsConnectOptions } from "./tls.js";

/**
 * A Redis link: `url` without credentials, an ACL user and its password from a file or the environment, TLS
 * (`rediss://` or a `tls` block) with the server's certificate and host name verified.
 */
export const redisLinkSchema = z.strictObject({
  url: z.string().min(1).default("redis://127.0.0.1:6379"),
  /** The ACL user (Redis 6+); without it the password authenticates the `default` user. */
  username: z.string().min(1).optional(),
  passwordFile: z.string().min(1).optional(),
  passwordEnv: z.string().min(1).optional(),
  tls: linkTlsSchema.optional(),
});
export type RedisLinkInput = z.input<typeof redisLinkSchema>;

export interface RedisLink {
  url: string;
  username?: string;
  password?: SecretLike;
  tls?: LinkTls;
}

/** Reads the secrets and files of a Redis link. A password written into the URL is refused (it would be logged). */
export function resolveRedisLink(input: unknown, field: string, ctx: SecretContext): RedisLink {
  const x = parseOrThrow(redisLinkSchema, input, field);
  const u = parseUrl(x.url, `${field}.url`, ["redis:", "rediss:"]);
  if (u.password !== "") {
    throw new InfraConfigError(
      `${field}.url`,
      "a password in the URL is not allowed: give passwordFile or passwordEnv",
    );
  }
  const urlUser = u.username === "" ? undefined : decodeURIComponent(u.username);
  const password = readSecret(ctx, field, { file: x.passwordFile, env: x.passwordEnv });
  const username = x.username ?? urlUser;
  if (username !== undefined && password === undefined) {
    throw new InfraConfigError(`${field}.passwordFile`, `is required with username ${JSON.stringify(username)}`);
  }
  u.username = "";
  const tls =
    x.tls !== undefined ? resolveLinkTls(x.tls, `${field}.tls`, ctx) : u.protocol === "rediss:" ? {} : undefined;
  return {
    url: u.toString().replace(/\/$/, ""),
    ...(username !== undefined && { username }),
    ...(password && { password }),
    ...(tls && { tls }),
  };
}

/** What ioredis takes besides the URL (`new Redis(link.url, redisClientOptions(link))`). */
export interface RedisClientAuthOptions {
  username?: string;
  password?: string;
  tls?: ConnectionOptions;
}

export function redisClientOptions(link: RedisLink): RedisClientAuthOptions {
  const tls = link.tls ?? (link.url.startsWith("rediss:") ? {} : undefined);
  return {
    ...(link.username !== undefined && { username: link.username }),
    ...(link.password && { password: link.password.reveal() }),
    ...(tls && { tls: tlsConnectOptions(tls) }),
  };
}

// --- shared with nats.ts and postgres.ts ------------------------------------------------------------------------

export function parseUrl(url: string, field: string, protocols: readonly string[]): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InfraConfigError(field, `must be a URL (${protocols.map((p) => `${p}//…`).join(" or ")})`);
  }
  if (!protocols.includes(u.protocol)) {
    throw new InfraConfigError(field, `must be a ${protocols.join(" or ")} URL, got ${JSON.stringify(u.protocol)}`);
  }
  return u;
}

/** Parses with a zod schema; the first issue becomes an `InfraConfigError` naming its field. */
export function parseOrThrow<T extends z.ZodType>(schema: T, input: unknown, field: string): z.output<T> {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const at = issue.path.length === 0 ? field : `${field}.${issue.path.map(String).join(".")}`;
  throw new InfraConfigError(at, issue.message);
}

/**
 * One connection to a link's Redis before a service opens its stores on it: an authentication or TLS failure is
 * reported as what it is (ioredis only rejects `connect()` with "Connection is closed" and reports the cause as an
 * event), and a bad link leaves no client retrying behind.
 */
export async function probeRedis(link: RedisLink): Promise<void> {
  const probe = new Redis(link.url, {
    ...redisClientOptions(link),
    lazyConnect: true,
    connectTimeout: 5000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  let first: unknown;
  probe.on("error", (e: unknown) => {
    first ??= e;
  });
  try {
    await probe.connect();
    await probe.ping();
  } catch (err) {
    throw describeLinkError("redis", first ?? err, {
      server: link.url,
      ...(link.username !== undefined && { user: link.username }),
      secrets: linkSecrets(link),
    });
  } finally {
    probe.disconnect();
  }
}
