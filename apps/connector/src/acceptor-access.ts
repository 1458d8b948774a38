/**
 * The Logon check of a connector's acceptor sessions (`sessions[i].auth`): the session's own allow-list, the
 * client certificate it requires, the Username and the Password against its salted scrypt hash. Every refusal
 * gets the same Logout text, whatever the reason (a prober learns nothing of which part was wrong); the reason
 * goes to the log and the metric.
 */
import type { PeerCertificate } from "node:tls";
import { LOGON_REFUSED_TEXT, type LogonRequest, type LogonVerdict } from "@fixmesh/engine";
import { DECOY_HASH, verifyPassword } from "@fixmesh/security";
import type { LogonAuthConfig } from "./config/schema.js";

export function logonChecker(
  auth: ReadonlyMap<string, LogonAuthConfig | undefined>,
): (req: LogonRequest) => Promise<LogonVerdict> {
  const refused = (reason: string): LogonVerdict => ({ ok: false, reason, text: LOGON_REFUSED_TEXT });
  const anyPassword = [...auth.values()].some((a) => a?.passwordHash !== undefined);
  return async (req) => {
    if (req.session === undefined) {
      // As long as a wrong password takes: an unknown CompID is not told apart by timing.
      if (anyPassword) await verifyPassword(req.password ?? "", DECOY_HASH);
      return refused("unknown_session");
    }
    const a = auth.get(req.session);
    if (a === undefined) return { ok: true };
    if (a.allowFrom !== undefined && !a.allowFrom.allows(req.address)) return refused("session_address");
    if (a.certificateSubject !== undefined) {
      if (req.certificateAuthorized !== true || !certificateNames(req.certificate).includes(a.certificateSubject)) {
        return refused("client_certificate");
      }
    }
    let ok = a.username === undefined || req.username === a.username;
    if (a.passwordHash !== undefined) {
      // Hashed also when the Username was wrong, so both cost the same.
      const match = await verifyPassword(req.password ?? "", a.passwordHash);
      ok = ok && req.password !== undefined && match;
    }
    return ok ? { ok: true } : refused("credentials");
  };
}

/** The names a client certificate vouches for: its CN and its URI and DNS subject alternative names. */
export function certificateNames(cert: PeerCertificate | undefined): string[] {
  if (cert === undefined) return [];
  const out: string[] = [];
  const cn = cert.subject?.CN;
  if (typeof cn === "string") out.push(cn);
  for (const part of (cert.subjectaltname ?? "").split(",")) {
    const m = /^\s*(URI|DNS):(.+)$/.exec(part);
    if (m !== null) out.push(m[2].trim());
  }
  return out;
}
