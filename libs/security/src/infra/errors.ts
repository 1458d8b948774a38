import type { SecretLike } from "./secret.js";

/** Which infrastructure link failed. */
export type LinkKind = "redis" | "nats" | "postgres";

/** Why a link could not be opened, in words an operator acts on. */
export const LinkFailure = {
  Auth: "authentication",
  Tls: "tls",
  Unreachable: "unreachable",
  Other: "other",
} as const;
export type LinkFailure = (typeof LinkFailure)[keyof typeof LinkFailure];

/**
 * A link that could not be opened: the link, what kind of failure, and a reason naming the server and the user but
 * never a password, token or key (the server's own message is kept only after every known secret is masked).
 */
export class LinkError extends Error {
  override readonly name = "LinkError";
  constructor(
    readonly link: LinkKind,
    readonly failure: LinkFailure,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${link}: ${reason}`, options);
  }
}

const TLS_CODES: Record<string, string> = {
  CERT_HAS_EXPIRED: "the server's certificate has expired",
  CERT_NOT_YET_VALID: "the server's certificate is not valid yet",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the server's certificate is self-signed and not trusted (set tls.caFile)",
  SELF_SIGNED_CERT_IN_CHAIN: "the server's certificate chains to a CA that is not trusted (set tls.caFile)",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server's certificate is not signed by a trusted CA (set tls.caFile)",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the server's certificate is not signed by a trusted CA (set tls.caFile)",
  ERR_TLS_CERT_ALTNAME_INVALID: "the server's certificate does not name the host connected to (see tls.servername)",
  ERR_TLS_PIN_MISMATCH: "the server's public key matches no configured pin (tls.pinSha256)",
  ERR_SSL_WRONG_VERSION_NUMBER: "the server does not speak TLS on this port",
  EPROTO: "the TLS handshake failed",
};

/** The secrets of a link (password, token), for `describeLinkError` to mask out of what the server answered. */
export function linkSecrets(link: { password?: SecretLike; token?: SecretLike }): SecretLike[] {
  return [link.password, link.token].filter((v): v is SecretLike => v !== undefined);
}

/**
 * Classifies an error from ioredis, nats.js or node-postgres. `secrets` are masked out of any text kept from the
 * original error.
 */
export function describeLinkError(
  link: LinkKind,
  err: unknown,
  context: { server?: string; user?: string; secrets?: readonly { reveal(): string }[] } = {},
): LinkError {
  const e = err as { code?: unknown; message?: unknown; errors?: unknown } | undefined;
  const inner = firstOf(e);
  const code = typeof inner?.code === "string" ? inner.code : undefined;
  const message = typeof inner?.message === "string" ? inner.message : String(err);
  const where = context.server !== undefined ? ` (${context.server})` : "";
  const who = context.user !== undefined ? ` as ${JSON.stringify(context.user)}` : "";
  const mask = (s: string) => {
    let out = s;
    for (const sec of context.secrets ?? []) {
      const v = sec.reveal();
      if (v.length > 0) out = out.split(v).join("[REDACTED]");
    }
    return out;
  };
  if (code !== undefined && TLS_CODES[code] !== undefined) {
    return new LinkError(link, LinkFailure.Tls, `TLS failed${where}: ${TLS_CODES[code]} [${code}]`, { cause: err });
  }
  if (
    /WRONGPASS|NOAUTH|invalid username-password|Authorization Violation|authentication failed|AUTHENTICATION_FAILED|auth(entication)? required|user is disabled/i.test(
      message,
    ) ||
    code === "28P01" ||
    code === "28000" ||
    code === "AUTHORIZATION_VIOLATION" ||
    code === "AUTHENTICATION_EXPIRED"
  ) {
    return new LinkError(
      link,
      LinkFailure.Auth,
      `authentication failed${where}${who}: check the user name and the password, token or key file`,
      { cause: err },
    );
  }
  if (code === "ECONNREFUSED" || code === "EHOSTUNREACH" || code === "ENOTFOUND" || code === "ETIMEDOUT") {
    return new LinkError(link, LinkFailure.Unreachable, `cannot reach the server${where}: ${code}`, { cause: err });
  }
  if (/certificate|ssl|tls/i.test(message)) {
    return new LinkError(link, LinkFailure.Tls, `TLS failed${where}: ${mask(message)}`, { cause: err });
  }
  return new LinkError(link, LinkFailure.Other, `${mask(message)}${where}`, { cause: err });
}

/** An AggregateError (node's connect to several addresses) is judged by its first error; a cause chain by its root. */
function firstOf(e: { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown } | undefined) {
  let cur = e;
  for (let i = 0; i < 5 && cur !== undefined && cur !== null; i++) {
    if (Array.isArray(cur.errors) && cur.errors.length > 0) {
      cur = cur.errors[0] as typeof cur;
      continue;
    }
    const c = cur.cause as typeof cur | undefined;
    if (typeof cur.code !== "string" && c !== undefined && c !== null && typeof c === "object") {
      cur = c;
      continue;
    }
    break;
  }
  return cur;
}
