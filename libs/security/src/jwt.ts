import { readFileSync, statSync } from "node:fs";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
} from "jose";
import { SecurityConfigError } from "./errors.js";
import type { Principal } from "./principal.js";

export interface JwtOptions {
  /** A JWKS JSON file (re-read when it changes). One of jwksFile and jwksUrl. */
  jwksFile?: string;
  /** A JWKS URL (an identity provider's `jwks_uri`), fetched and cached. */
  jwksUrl?: string;
  /** Required `iss`. */
  issuer?: string;
  /** Required `aud` (one of). */
  audience?: string | string[];
  /** Accepted algorithms. Default: RS256, ES256, EdDSA, PS256 (never `none`, never HMAC with a public JWKS). */
  algorithms?: string[];
  /** Seconds of clock skew tolerated on exp/nbf. Default 30. */
  clockToleranceSeconds?: number;
  /** jwksUrl: how long a fetched key set is used before it is fetched again. Default 600 s. */
  cacheSeconds?: number;
  /** Config path for error messages. Default `auth.jwt`. */
  field?: string;
}

const DEFAULT_ALGORITHMS = ["RS256", "ES256", "EdDSA", "PS256"];
/** Verified tokens remembered (by the token text) until they expire: verification costs a signature check. */
const MAX_CACHED = 1024;

/** Verifies bearer JWTs against a JWKS; the principal is `jwt:<sub>`. */
export class JwtVerifier {
  private keys: JWTVerifyGetKey;
  private fileMtime = 0;
  private readonly cache = new Map<string, { principal: Principal; exp: number }>();
  private readonly field: string;

  constructor(private readonly opts: JwtOptions) {
    this.field = opts.field ?? "auth.jwt";
    if ((opts.jwksFile === undefined) === (opts.jwksUrl === undefined)) {
      throw new SecurityConfigError(this.field, "give jwksFile or jwksUrl (one of them)");
    }
    if (opts.jwksUrl !== undefined) {
      let url: URL;
      try {
        url = new URL(opts.jwksUrl);
      } catch {
        throw new SecurityConfigError(`${this.field}.jwksUrl`, `is not a URL, got ${JSON.stringify(opts.jwksUrl)}`);
      }
      if (url.protocol !== "https:" && !/^(localhost|127\.|\[::1\])/.test(url.host)) {
        throw new SecurityConfigError(`${this.field}.jwksUrl`, "must be https (plain http only to a loopback host)");
      }
      this.keys = createRemoteJWKSet(url, {
        cacheMaxAge: (opts.cacheSeconds ?? 600) * 1000,
        cooldownDuration: 30_000,
        timeoutDuration: 5000,
      });
    } else {
      this.keys = this.loadFile();
    }
  }

  private loadFile(): JWTVerifyGetKey {
    const path = this.opts.jwksFile as string;
    const f = `${this.field}.jwksFile`;
    let jwks: JSONWebKeySet;
    try {
      this.fileMtime = statSync(path).mtimeMs;
      jwks = JSON.parse(readFileSync(path, "utf8")) as JSONWebKeySet;
    } catch (e) {
      throw new SecurityConfigError(f, `${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!Array.isArray(jwks?.keys)) throw new SecurityConfigError(f, `${path} is not a JWKS (no "keys" list)`);
    return createLocalJWKSet(jwks);
  }

  /** A file JWKS rotated on disk is picked up at the next verification (a bad file keeps the old keys). */
  private refreshFile(): void {
    if (this.opts.jwksFile === undefined) return;
    try {
      if (statSync(this.opts.jwksFile).mtimeMs === this.fileMtime) return;
      this.keys = this.loadFile();
      this.cache.clear();
    } catch {
      // Keep the keys in use; the file is retried at the next call.
    }
  }

  /** The principal of a valid token; throws an Error saying why a token is refused (never echoing the token). */
  async verify(token: string, now = Date.now()): Promise<Principal> {
    const hit = this.cache.get(token);
    if (hit !== undefined && hit.exp > now) return hit.principal;
    this.refreshFile();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        algorithms: this.opts.algorithms ?? DEFAULT_ALGORITHMS,
        clockTolerance: this.opts.clockToleranceSeconds ?? 30,
        currentDate: new Date(now),
        ...(this.opts.issuer !== undefined && { issuer: this.opts.issuer }),
        ...(this.opts.audience !== undefined && { audience: this.opts.audience }),
        requiredClaims: ["sub", "exp"],
      }));
    } catch (e) {
      throw new Error(`bearer token refused: ${describeJoseError(e)}`);
    }
    const principal: Principal = { id: `jwt:${payload.sub}`, method: "jwt", claims: payload };
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(token, { principal, exp: (payload.exp as number) * 1000 });
    return principal;
  }
}

function describeJoseError(e: unknown): string {
  if (e instanceof joseErrors.JWTExpired) return "expired";
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return "signature does not verify";
  if (e instanceof joseErrors.JWKSNoMatchingKey) return "no key of the JWKS matches it";
  if (e instanceof joseErrors.JWTClaimValidationFailed) return `claim ${e.claim} ${e.reason}`;
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return "algorithm not allowed";
  if (e instanceof joseErrors.JWSInvalid || e instanceof joseErrors.JWTInvalid) return "malformed";
  if (e instanceof joseErrors.JOSEError) return e.code;
  return e instanceof Error ? e.message : String(e);
}
