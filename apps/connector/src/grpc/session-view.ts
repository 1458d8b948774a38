import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Session, SessionHealth, SessionRole, SessionSchema, SessionStatus } from "@fixmesh/contracts";
import type { SessionRunner } from "@fixmesh/engine";
import { Health, type SessionState, Status } from "@fixmesh/session";
import type { SessionTap } from "./session-tap.js";

const STATUS: Record<Status, SessionStatus> = {
  [Status.Disconnected]: SessionStatus.DISCONNECTED,
  [Status.Connecting]: SessionStatus.CONNECTING,
  [Status.AwaitingLogon]: SessionStatus.AWAITING_LOGON,
  [Status.LogonSent]: SessionStatus.LOGON_SENT,
  [Status.LoggedOn]: SessionStatus.LOGGED_ON,
  [Status.LogoutSent]: SessionStatus.LOGOUT_SENT,
};

const HEALTH: Record<Health, SessionHealth> = {
  [Health.Disconnected]: SessionHealth.DISCONNECTED,
  [Health.Connecting]: SessionHealth.CONNECTING,
  [Health.LogonSent]: SessionHealth.LOGON_SENT,
  [Health.Recovery]: SessionHealth.RECOVERY,
  [Health.Live]: SessionHealth.LIVE,
  [Health.Degraded]: SessionHealth.DEGRADED,
  [Health.Safe]: SessionHealth.SAFE,
};

/**
 * Inside the session's trading window now. A session without a schedule runs non-stop, so it is always inside:
 * guarded actions then need `force` (fail closed: a missing schedule must not unlock them).
 */
export function inTradingWindow(st: Readonly<SessionState>, now: number): boolean {
  return st.schedule === null || st.schedule.isInSession(now);
}

/** The Session message for one session, as GetSession and the admin calls answer it. */
export function sessionView(
  runner: SessionRunner,
  tap: SessionTap,
  now: number,
  leadership?: { leader: boolean; epoch: number },
): Session {
  const st = runner.state;
  const s = st.settings;
  const c = st.counters;
  const logon = tap.lastLogon;
  const logout = tap.lastLogout;
  return create(SessionSchema, {
    id: runner.id,
    beginString: s.BeginString,
    senderCompId: s.SenderCompID,
    targetCompId: s.TargetCompID,
    role: st.initiator ? SessionRole.INITIATOR : SessionRole.ACCEPTOR,
    status: STATUS[st.status] ?? SessionStatus.UNSPECIFIED,
    health: HEALTH[st.health] ?? SessionHealth.UNSPECIFIED,
    healthReason: st.safeReason ?? tap.healthReason,
    nextSenderSeqNum: st.nextSenderSeq,
    nextTargetSeqNum: st.nextTargetSeq,
    connected: runner.connected,
    enabled: st.enabled,
    inTradingWindow: inTradingWindow(st, now),
    heartBtInt: Math.round(st.heartBtIntMs / 1000),
    lastLogon:
      logon !== null
        ? { at: timestampFromMs(logon.at), reset: logon.reset, heartBtInt: logon.heartBtInt }
        : st.receivedLogon
          ? // Logged on before this server was watching: what the state still says, without a time.
            { heartBtInt: Math.round(st.heartBtIntMs / 1000) }
          : undefined,
    lastLogout:
      logout !== null
        ? { at: timestampFromMs(logout.at), reason: logout.reason, initiatedBy: logout.initiatedBy }
        : st.lastLogoutReason !== ""
          ? { reason: st.lastLogoutReason }
          : undefined,
    leader: leadership?.leader ?? true,
    epoch: BigInt(leadership?.epoch ?? 0),
    counters: {
      messagesIn: BigInt(c.messagesIn),
      messagesOut: BigInt(c.messagesOut),
      gapsDetected: BigInt(c.gapsDetected),
      resendRequestsSent: BigInt(c.resendRequestsSent),
      resendRequestsServed: BigInt(c.resendRequestsServed),
      messagesResent: BigInt(c.messagesResent),
      duplicatesIgnored: BigInt(c.duplicatesIgnored),
      garbled: BigInt(c.garbled),
      rejectsSent: BigInt(c.rejectsSent),
      rejectsReceived: BigInt(c.rejectsReceived),
      logons: BigInt(c.logons),
      testRequestsSent: BigInt(c.testRequestsSent),
    },
  });
}
