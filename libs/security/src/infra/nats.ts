import type { ConnectionOptions } from "node:tls";
import { z } from "zod";
import { parseOrThrow, parseUrl } from "./redis.js";
import { InfraConfigError, readSecret, type SecretContext, type SecretLike } from "./secret.js";
import { type LinkTls, linkTlsSchema, resolveLinkTls, tlsConnectOptions } from "./tls.js";

/**
 * A NATS link: servers (comma-separated URLs, no credentials in them), one way to authenticate — user and
 * password, a token, an nkey seed, or a creds file (JWT + seed, for decentralised auth) — and TLS.
 */
export const natsLinkSchema = z.strictObject({
  url: z.string().min(1).default("nats://127.0.0.1:4222"),
  user: z.string().min(1).optional(),
  passwordFile: z.string().min(1).optional(),
  passwordEnv: z.string().min(1).optional(),
  tokenFile: z.string().min(1).optional(),
  tokenEnv: z.string().min(1).optional(),
  /** A user nkey seed (`SU…`). */
  nkeySeedFile: z.string().min(1).optional(),
  nkeySeedEnv: z.string().min(1).optional(),
  /** A `.creds` file (user JWT and nkey seed), as `nsc` writes it. */
  credsFile: z.string().min(1).optional(),
  tls: linkTlsSchema.optional(),
});
export type NatsLinkInput = z.input<typeof natsLinkSchema>;

const NATS_LINK_KEYS = Object.keys(natsLinkSchema.shape) as ReadonlyArray<keyof NatsLinkInput>;

/**
 * The link keys (url, credentials, tls) of a config section that also holds a service's own NATS settings
 * (streams, subject prefixes), without the unset ones: what `resolveNatsLink` takes.
 */
export function natsLinkOf(section: Readonly<Record<string, unknown>>): NatsLinkInput {
  const out: Record<string, unknown> = {};
  for (const k of NATS_LINK_KEYS) if (section[k] !== undefined) out[k] = section[k];
  return out as NatsLinkInput;
}

export interface NatsLink {
  /** Comma-separated server URLs. */
  url?: string;
  user?: string;
  password?: SecretLike;
  token?: SecretLike;
  nkeySeed?: SecretLike;
  creds?: SecretLike;
  tls?: LinkTls;
}

/** Reads the secrets and files of a NATS link; more than one way to authenticate is an error naming them. */
export function resolveNatsLink(input: unknown, field: string, ctx: SecretContext): NatsLink {
  const x = parseOrThrow(natsLinkSchema, input, field);
  const urls = x.url.split(",").map((s) => s.trim());
  let tlsUrl = false;
  for (const url of urls) {
    const u = parseUrl(url, `${field}.url`, ["nats:", "tls:", "ws:", "wss:"]);
    if (u.password !== "" || u.username !== "") {
      throw new InfraConfigError(
        `${field}.url`,
        "credentials in the URL are not allowed: give user with passwordFile/passwordEnv, tokenFile/tokenEnv, nkeySeedFile/nkeySeedEnv or credsFile",
      );
    }
    if (u.protocol === "tls:" || u.protocol === "wss:") tlsUrl = true;
  }
  const password = readSecret(ctx, field, { file: x.passwordFile, env: x.passwordEnv });
  const token = readSecret(ctx, field, { file: x.tokenFile, env: x.tokenEnv }, { file: "tokenFile", env: "tokenEnv" });
  const nkeySeed = readSecret(
    ctx,
    field,
    { file: x.nkeySeedFile, env: x.nkeySeedEnv },
    { file: "nkeySeedFile", env: "nkeySeedEnv" },
  );
  const creds = readSecret(ctx, field, { file: x.credsFile }, { file: "credsFile", env: "credsEnv" });
  const methods = [
    (x.user !== undefined || password !== undefined) && "user/password",
    token && "token",
    nkeySeed && "nkey seed",
    creds && "creds file",
  ].filter((m): m is string => typeof m === "string");
  if (methods.length > 1) {
    throw new InfraConfigError(field, `give one way to authenticate, got ${methods.join(" and ")}`);
  }
  if ((x.user === undefined) !== (password === undefined)) {
    throw new InfraConfigError(
      `${field}.${x.user === undefined ? "user" : "passwordFile"}`,
      "user and passwordFile (or passwordEnv) go together",
    );
  }
  if (nkeySeed !== undefined && !/^SU[A-Z2-7]{56}$/.test(nkeySeed.reveal().trim())) {
    throw new InfraConfigError(`${field}.nkeySeed`, "is not a user nkey seed (58 characters starting with SU)");
  }
  const tls = x.tls !== undefined ? resolveLinkTls(x.tls, `${field}.tls`, ctx) : tlsUrl ? {} : undefined;
  return {
    url: urls.join(","),
    ...(x.user !== undefined && { user: x.user }),
    ...(password && { password }),
    ...(token && { token }),
    ...(nkeySeed && { nkeySeed }),
    ...(creds && { creds }),
    ...(tls && { tls }),
  };
}

/** The nats.js authenticator factories (from `@nats-io/transport-node`), passed in so this package needs no NATS client. */
export interface NatsAuthenticators<A> {
  nkeyAuthenticator(seed: Uint8Array): A;
  credsAuthenticator(creds: Uint8Array): A;
}

/** What nats.js `connect` takes for the link's credentials and TLS (merge with servers, name, timeouts…). */
export interface NatsAuthOptions<A> {
  user?: string;
  pass?: string;
  token?: string;
  authenticator?: A;
  tls?: NatsTlsOptions;
}

/** node:tls options with PEM text (nats.js types `ca`, `cert`, `key` as strings). */
export type NatsTlsOptions = Omit<ConnectionOptions, "ca" | "cert" | "key"> & {
  ca?: string;
  cert?: string;
  key?: string;
};

/**
 * Connection options of a NATS link. The nkey seed and creds go through the authenticators given (nats.js signs
 * the server's nonce with them); user/password and token through nats.js's own options.
 */
export function natsConnectOptions<A>(link: NatsLink, auth: NatsAuthenticators<A>): NatsAuthOptions<A> {
  const enc = new TextEncoder();
  return {
    ...(link.user !== undefined && { user: link.user }),
    ...(link.password && { pass: link.password.reveal() }),
    ...(link.token && { token: link.token.reveal() }),
    ...(link.nkeySeed && { authenticator: auth.nkeyAuthenticator(enc.encode(link.nkeySeed.reveal().trim())) }),
    ...(link.creds && { authenticator: auth.credsAuthenticator(enc.encode(link.creds.reveal())) }),
    ...(link.tls && { tls: natsTls(link.tls) }),
  };
}

function natsTls(t: LinkTls): NatsTlsOptions {
  const { ca: _ca, cert: _cert, key: _key, ...rest } = tlsConnectOptions(t);
  return {
    ...rest,
    ...(t.ca !== undefined && { ca: t.ca }),
    ...(t.cert !== undefined && { cert: t.cert }),
    ...(t.key && { key: t.key.reveal() }),
  };
}
