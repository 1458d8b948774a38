import type { AuditService, Field, OrderEntryService, RiskService, SessionService } from "@fixmesh/contracts";
import { ANY, type Grant, grant } from "../grants.js";
import { adminRule, type RulesOf } from "./rules.js";

/** Account(1) of a FIX message's body fields; ANY when absent (a raw send then needs `accounts: ["*"]`). */
export function accountOf(fields: readonly Field[]): string {
  for (const f of fields) {
    if (f.tag !== 1) continue;
    if (f.value.case === "stringValue") return f.value.value;
    if (f.value.case === "bytesValue") return Buffer.from(f.value.value).toString("latin1");
  }
  return ANY;
}

/**
 * What each SessionService method needs: reading a session's status, trading an account on a session (raw Send
 * and every request of a SendStream frame), streaming its messages, and the audited admin actions.
 */
export const sessionServiceRules: RulesOf<typeof SessionService> = {
  listSessions: () => grant.read(ANY),
  getSession: (r) => grant.read(r.sessionId),
  send: (r) => grant.trade(r.sessionId, accountOf(r.fields)),
  sendStream: (frame) => frame.sends.map((c) => grant.trade(c.send?.sessionId ?? "", accountOf(c.send?.fields ?? []))),
  streamMessages: (r) => grant.stream(r.sessionId),
  logout: adminRule(
    "Logout",
    (r) => r.sessionId,
    (r) => r.reason,
  ),
  logon: adminRule("Logon", (r) => r.sessionId),
  resetSequence: adminRule(
    "ResetSequence",
    (r) => r.sessionId,
    (r) => r.reason,
  ),
};

/** A rule that only authenticates: the handler must check with `security.authorize` once it has looked up what
 * the request acts on (an order found by its id: its session and account). */
export const checkedInHandler = (): readonly Grant[] => [];

/**
 * OrderEntryService. Submit needs `trade` on the order's session and account (SubmitOrderStream: of each submit in
 * the frame, its own and those of its `batch`). Cancel, Replace and GetOrder name the
 * order by id: the handler finds it, then calls `security.authorize(call, grant.trade(o.sessionId, o.account))`
 * (or `grant.read(o.sessionId)` for GetOrder). MassCancel is an admin action on the account (or session) it covers.
 */
export const orderEntryRules: RulesOf<typeof OrderEntryService> = {
  submitOrder: (r) => grant.trade(r.sessionId, r.account),
  cancelOrder: checkedInHandler,
  replaceOrder: checkedInHandler,
  massCancel: adminRule(
    "MassCancel",
    (r) => r.account || r.sessionId || ANY,
    (r) => r.reason,
  ),
  getOrder: checkedInHandler,
  listOrders: (r) => grant.read(r.sessionId || ANY),
  streamOrderUpdates: (r) => grant.stream(r.sessionId || ANY),
  // `trade` on the session and account of the frame's submit, or of every submit item of a batch frame (one outside
  // the grants refuses the frame); cancels and replaces are authorized in the handler once their order is found.
  submitOrderStream: (f) =>
    [f, ...f.batch].flatMap((x) =>
      x.request.case === "submit" ? [grant.trade(x.request.value.sessionId, x.request.value.account)] : [],
    ),
};

/**
 * RiskService: order-entry's checks need `trade` (a CheckOrderStream frame: its single check, or every item of its
 * `batch` — one item outside the grants refuses the whole frame); limits and kill switches are admin actions.
 */
export const riskRules: RulesOf<typeof RiskService> = {
  checkOrder: (r) => grant.trade(r.sessionId, r.account),
  checkOrderStream: (f) =>
    f.batch.length === 0
      ? grant.trade(f.check?.sessionId ?? "", f.check?.account ?? "")
      : [
          ...(f.check !== undefined ? [grant.trade(f.check.sessionId, f.check.account)] : []),
          ...f.batch.map((c) => grant.trade(c.check?.sessionId ?? "", c.check?.account ?? "")),
        ],
  getLimits: () => grant.read(),
  setLimits: adminRule(
    "SetLimits",
    (r) => r.limitSet?.scope?.account || r.limitSet?.scope?.sessionId || ANY,
    (r) => r.reason,
  ),
  setKillSwitch: adminRule(
    "SetKillSwitch",
    (r) => r.target || ANY,
    (r) => r.reason,
  ),
  getKillSwitches: () => grant.read(),
  getPositions: () => grant.read(),
};

/** AuditService (persistence): every query needs `audit`. */
export const auditServiceRules: RulesOf<typeof AuditService> = {
  queryMessages: () => grant.audit(),
  streamStoredMessages: () => grant.audit(),
  getTranscript: () => grant.audit(),
  getOrderHistory: () => grant.audit(),
  checkSequence: () => grant.audit(),
  reconcile: () => grant.audit(),
};
