/**
 * An audited act, the same shape as @fixmesh/bus's AuditEvent (stream AUDIT, subject `audit.<service>.<action>`),
 * so a service passes it to its bus as it is.
 */
export interface AuditEvent {
  /** Unique id of this act (also the bus event id). */
  id: string;
  at: number;
  service: string;
  /** The principal id (`spiffe://…`, `cn:…`, `jwt:…`), or `unauthenticated`. */
  principal: string;
  /** The admin action (ResetSequence, …) or the method that was denied (Send, GetSession, …). */
  action: string;
  /** What it acted on: a session id, `session/account`, a kill-switch scope. */
  resource?: string;
  /** The reason the caller gave (admin requests carry one). */
  reason?: string;
  /** ok, denied (the missing grant in `detail`), or failed (the status in `detail`). */
  outcome: "ok" | "denied" | "failed";
  detail?: string;
}

/** Where a service sends its audit events (its bus); it must not throw (errors are the sink's to log). */
export type AuditSink = (event: AuditEvent) => void;
