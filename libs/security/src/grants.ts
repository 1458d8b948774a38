/**
 * What a call needs: one or more grants, computed from the request by the service's rules. A grant names the
 * right and what it applies to; its text (`trade session=FIX.4.4:A->B account=ACC1`) is what a denial reports.
 */
export type Grant =
  | { kind: "trade"; session: string; account: string }
  | { kind: "stream"; session: string }
  | { kind: "read"; session: string }
  | { kind: "audit" }
  | { kind: "admin"; action: AdminAction | string; resource: string };

/** The admin actions the policy can grant (services may add their own names). */
export const ADMIN_ACTIONS = ["ResetSequence", "Logout", "Logon", "SetKillSwitch", "SetLimits", "MassCancel"] as const;
export type AdminAction = (typeof ADMIN_ACTIONS)[number];

/** `ANY` as an account or session: the request covers every one (a raw FIX send without Account, ListSessions). */
export const ANY = "*";

export const grant = {
  /** Send orders (or any application message) for `account` on `session`; `ANY` needs an `accounts: ["*"]` grant. */
  trade: (session: string, account: string = ANY): Grant => ({ kind: "trade", session, account }),
  /** Stream the session's FIX messages. */
  stream: (session: string): Grant => ({ kind: "stream", session }),
  /** Read a session's (or, with `ANY`, every session's) status and orders. */
  read: (session: string = ANY): Grant => ({ kind: "read", session }),
  /** Query the audit trail and transcripts. */
  audit: (): Grant => ({ kind: "audit" }),
  /** An admin action on a resource (a session id, an account, a kill-switch scope). */
  admin: (action: AdminAction | string, resource: string): Grant => ({ kind: "admin", action, resource }),
};

export function grantText(g: Grant): string {
  switch (g.kind) {
    case "trade":
      return `trade session=${g.session} account=${g.account}`;
    case "stream":
      return `stream session=${g.session}`;
    case "read":
      return `read session=${g.session}`;
    case "audit":
      return "audit";
    case "admin":
      return `admin ${g.action} resource=${g.resource}`;
  }
}

/** What a grant acts on, for the audit event's `resource`. */
export function grantResource(g: Grant): string | undefined {
  switch (g.kind) {
    case "trade":
      return g.account === ANY ? g.session : `${g.session}/${g.account}`;
    case "stream":
    case "read":
      return g.session;
    case "audit":
      return undefined;
    case "admin":
      return g.resource;
  }
}
