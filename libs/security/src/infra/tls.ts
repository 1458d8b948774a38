import { createHash, X509Certificate } from "node:crypto";
import { resolve } from "node:path";
import { type ConnectionOptions, checkServerIdentity, type PeerCertificate } from "node:tls";
import { z } from "zod";
import { InfraConfigError, readSecret, readText, type SecretContext, type SecretLike } from "./secret.js";

/** A SHA-256 public-key pin: base64 of the hash of the certificate's SubjectPublicKeyInfo (DER), as HPKP wrote it. */
const PIN = /^[A-Za-z0-9+/]{43}=$/;

const path = z.string().min(1, { error: "must not be empty" });

/**
 * TLS of an outgoing link (Redis, NATS, PostgreSQL, a FIX initiator). The peer's certificate chain and host name
 * are always verified (there is no switch to turn that off); `pinSha256` adds public-key pinning on top.
 */
export const linkTlsSchema = z.strictObject({
  /** PEM CA bundle the server's certificate must chain to (default: the system's). */
  caFile: path.optional(),
  /** Client certificate and key, for servers that want one (mutual TLS). */
  certFile: path.optional(),
  keyFile: path.optional(),
  passphraseFile: path.optional(),
  passphraseEnv: z.string().min(1).optional(),
  /** The name to verify the certificate against, when it is not the host connected to. */
  servername: z.string().min(1).optional(),
  /**
   * Accept only a server whose public key hashes to one of these (base64 SHA-256 of the DER SubjectPublicKeyInfo,
   * `fixmesh cert-pin FILE` prints it). List the next key before rotating, so both are accepted meanwhile.
   */
  pinSha256: z
    .array(z.string().regex(PIN, { error: "must be a base64 SHA-256 (44 characters ending in =)" }))
    .min(1, { error: "must list at least one pin (or leave pinSha256 out)" })
    .optional(),
});
export type LinkTlsInput = z.output<typeof linkTlsSchema>;

/** A resolved client TLS configuration: PEM text read from the files, secrets held as `SecretLike`. */
export interface LinkTls {
  ca?: string;
  cert?: string;
  key?: SecretLike;
  passphrase?: SecretLike;
  servername?: string;
  pinSha256?: string[];
}

/** Reads the files a `linkTlsSchema` value names. Errors name the field (`nats.tls.caFile`) and the reason. */
export function resolveLinkTls(t: LinkTlsInput, field: string, ctx: SecretContext): LinkTls {
  if ((t.certFile === undefined) !== (t.keyFile === undefined)) {
    throw new InfraConfigError(
      `${field}.${t.certFile === undefined ? "certFile" : "keyFile"}`,
      "certFile and keyFile go together",
    );
  }
  const out: LinkTls = {};
  const file = (p: string, key: string) => readText(resolve(ctx.baseDir, p), `${field}.${key}`);
  if (t.caFile !== undefined) out.ca = file(t.caFile, "caFile");
  if (t.certFile !== undefined) out.cert = file(t.certFile, "certFile");
  const key = readSecret(ctx, field, { file: t.keyFile }, { file: "keyFile", env: "keyEnv" });
  if (key) out.key = key;
  const passphrase = readSecret(
    ctx,
    field,
    { file: t.passphraseFile, env: t.passphraseEnv },
    { file: "passphraseFile", env: "passphraseEnv" },
  );
  if (passphrase) out.passphrase = passphrase;
  if (t.servername !== undefined) out.servername = t.servername;
  if (t.pinSha256 !== undefined) out.pinSha256 = [...t.pinSha256];
  return out;
}

/**
 * The node:tls options of a client TLS configuration. Chain and host name are verified by node:tls
 * (`rejectUnauthorized`, `checkServerIdentity`); with pins, a certificate whose public key matches none is refused
 * even when a trusted CA signed it (a mis-issued or stolen-CA certificate).
 */
export function tlsConnectOptions(t: LinkTls): ConnectionOptions {
  const pins = t.pinSha256;
  return {
    rejectUnauthorized: true,
    ...(t.ca !== undefined && { ca: t.ca }),
    ...(t.cert !== undefined && { cert: t.cert }),
    ...(t.key && { key: t.key.reveal() }),
    ...(t.passphrase && { passphrase: t.passphrase.reveal() }),
    ...(t.servername !== undefined && { servername: t.servername }),
    ...(pins !== undefined && pins.length > 0 && { checkServerIdentity: pinnedIdentityCheck(pins) }),
  };
}

/** Host-name verification, then the pin check. */
export function pinnedIdentityCheck(
  pins: readonly string[],
): (host: string, cert: PeerCertificate) => Error | undefined {
  return (host, cert) => {
    const err = checkServerIdentity(host, cert);
    if (err !== undefined) return err;
    // The pin is over the SubjectPublicKeyInfo, read from the certificate's DER (`pubkey` is only the key's bits).
    const got = cert.raw === undefined ? "(none)" : spkiSha256(new X509Certificate(cert.raw));
    if (pins.includes(got)) return undefined;
    const e = new Error(
      `certificate of ${host} does not match a configured pin (its public key is sha256/${got}; expected one of ${pins.map((p) => `sha256/${p}`).join(", ")})`,
    ) as Error & { code: string };
    e.code = "ERR_TLS_PIN_MISMATCH";
    return e;
  };
}

/** The pin of a PEM certificate: base64 SHA-256 of its public key (DER SubjectPublicKeyInfo). */
export function publicKeyPin(certPem: string): string {
  return spkiSha256(new X509Certificate(certPem));
}

function spkiSha256(cert: X509Certificate): string {
  return createHash("sha256")
    .update(cert.publicKey.export({ type: "spki", format: "der" }))
    .digest("base64");
}
