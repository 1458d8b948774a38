import type { PeerCertificate } from "node:tls";

/** How a caller proved who it is. */
export type AuthMethod = "certificate" | "jwt" | "none";

/**
 * Who is calling. `id` is what the policy file matches:
 * - a client certificate's URI SAN as it is (`spiffe://fixmesh.prod/ns/trading/sa/order-entry`),
 * - else its subject CN as `cn:<CN>`,
 * - a bearer JWT's subject as `jwt:<sub>`,
 * - `anonymous` when authorization is off (plaintext on loopback).
 * The prefixes keep the kinds apart: a JWT issuer cannot mint a token whose subject impersonates a service's
 * certificate identity, and a certificate CN cannot pose as a URI SAN.
 */
export interface Principal {
  readonly id: string;
  readonly method: AuthMethod;
  /** JWT: the verified claims. Certificate: undefined. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

export const ANONYMOUS: Principal = Object.freeze({ id: "anonymous", method: "none" as const });

/** The URI SANs of a certificate, from node's `subjectaltname` text (`URI:spiffe://…, DNS:foo`). */
export function uriSans(subjectAltName: string | undefined): string[] {
  if (subjectAltName === undefined || subjectAltName === "") return [];
  const out: string[] = [];
  // Entries are `Type:value` separated by ", "; node quotes a value holding a comma as a JSON string.
  for (const m of subjectAltName.matchAll(/(?:^|, )URI:("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const v = m[1].startsWith('"') ? (JSON.parse(m[1]) as string) : m[1];
    if (v !== "") out.push(v);
  }
  return out;
}

/**
 * The principal of a verified client certificate: its first URI SAN (SPIFFE ids first), else `cn:<CN>`;
 * undefined when the certificate names neither.
 */
export function principalFromCertificate(cert: PeerCertificate): Principal | undefined {
  const uris = uriSans(cert.subjectaltname);
  const uri = uris.find((u) => u.startsWith("spiffe://")) ?? uris[0];
  if (uri !== undefined) return { id: uri, method: "certificate" };
  const cn = cert.subject?.CN as string | string[] | undefined;
  const name = Array.isArray(cn) ? cn[0] : cn;
  if (name !== undefined && name !== "") return { id: `cn:${name}`, method: "certificate" };
  return undefined;
}
