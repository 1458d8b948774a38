import { Health, type SessionAction, type SessionState, Status } from "./types.js";

/**
 * Derives the session's health from its state, with hysteresis: entering DEGRADED is immediate, leaving it
 * needs DegradedRecoverySeconds of good health; SAFE is left only when its reason is cleared.
 */
export function updateHealth(st: SessionState, acts: SessionAction[], now: number): void {
  const target = targetHealth(st, now);
  if (target !== st.health) {
    const from = st.health;
    st.health = target;
    acts.push({ type: "notice", notice: { kind: "health", from, to: target, reason: healthReason(st, target) } });
  }
}

function targetHealth(st: SessionState, now: number): Health {
  if (st.safeReason !== null) return Health.Safe;
  switch (st.status) {
    case Status.Disconnected:
      return Health.Disconnected;
    case Status.Connecting:
      return Health.Connecting;
    case Status.AwaitingLogon:
    case Status.LogonSent:
      return Health.LogonSent;
    default:
      break;
  }
  const s = st.settings;
  const backlog = st.queue.size + (st.serving !== null ? st.serving.end - st.serving.next + 1 : 0);
  if (backlog >= s.DegradedBacklog) {
    st.healthySince = 0;
    return Health.Degraded;
  }
  if (st.health === Health.Degraded) {
    if (st.healthySince === 0) st.healthySince = now;
    if (now - st.healthySince < s.DegradedRecoverySeconds * 1000) return Health.Degraded;
  }
  st.healthySince = 0;
  if (st.resendRange !== null || st.queue.size > 0) return Health.Recovery;
  return Health.Live;
}

function healthReason(st: SessionState, h: Health): string {
  switch (h) {
    case Health.Safe:
      return st.safeReason ?? "";
    case Health.Degraded:
      return `backlog of ${st.queue.size} queued inbound messages${st.serving !== null ? " and a replay in progress" : ""}`;
    case Health.Recovery:
      return st.resendRange !== null
        ? `gap ${st.resendRange.begin}..${st.resendRange.end} being recovered`
        : "messages queued behind a gap";
    default:
      return st.status;
  }
}
