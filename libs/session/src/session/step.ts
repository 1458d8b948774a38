import {
  Encoder,
  type FieldList,
  type FixMessage,
  MsgType,
  Parser,
  parseUtcTimestamp,
  rejectReasonText,
  type SessionRejectReason,
  Tag,
} from "@fixmesh/fix";
import type { StoredMessage, StoreState } from "../store/store.js";
import { updateHealth } from "./health.js";
import {
  HEADER_TAGS,
  isAdmin,
  RejectReason,
  reverseRoute,
  sendAgain,
  sendNew,
  timestamp,
  versionAtLeast,
} from "./messages.js";
import type { SessionSchedulePort } from "./schedule-port.js";
import { type SessionSettings, sessionIdOf } from "./settings.js";
import {
  Health,
  type ServeRange,
  type SessionAction,
  type SessionEvent,
  type SessionState,
  Status,
  type StepResult,
  type Validator,
} from "./types.js";

/** Builds a session's state from its settings and what the store holds. */
export function createSession(
  settings: SessionSettings,
  stored: StoreState,
  now: number,
  opts: { validate?: Validator | null; schedule?: SessionSchedulePort | null } = {},
): SessionState {
  const initiator = settings.ConnectionType === "initiator";
  // An initiator that was SAFE when it stopped does not log on by itself (enterSafeOnMismatch): an operator's
  // `logon`, after the reconciliation, does — or a restart configured for an agreed reset (ResetOnLogon=Y or
  // ForceSeqNumReset=2: both Logons carry ResetSeqNumFlag=Y, which clears SAFE once the counterparty agrees).
  const agreedReset = settings.ResetOnLogon || settings.ForceSeqNumReset === 2;
  const connecting = initiator && (stored.safeReason === undefined || agreedReset);
  return {
    id: sessionIdOf(settings),
    settings,
    encoder: new Encoder(settings.BeginString, settings.SenderCompID, settings.TargetCompID),
    validate: opts.validate ?? null,
    schedule: opts.schedule ?? null,
    initiator,
    status: connecting ? Status.Connecting : Status.Disconnected,
    health: connecting ? Health.Connecting : Health.Disconnected,
    nextSenderSeq: settings.OutSeqNum ?? stored.nextSenderSeq,
    nextTargetSeq: settings.InSeqNum ?? stored.nextTargetSeq,
    heartBtIntMs: settings.HeartBtInt * 1000,
    lastSentAt: now,
    lastReceivedAt: now,
    testRequestsSent: 0,
    connectedAt: 0,
    logonSentAt: 0,
    logoutSentAt: 0,
    sentLogon: false,
    receivedLogon: false,
    sentLogout: false,
    sentReset: false,
    receivedReset: false,
    queue: new Map(),
    resendRange: null,
    serving: null,
    serveQueue: [],
    resendLoading: false,
    storeResetting: false,
    deferred: [],
    servingAtArrival: null,
    pendingResume: false,
    cycleCreatedAt: stored.creationTime,
    freshCycle: stored.nextSenderSeq === 1 && stored.nextTargetSeq === 1,
    // SAFE outlives a restart or a failover (the store keeps it) until an operator or an agreed reset clears it.
    safeReason: stored.safeReason ?? null,
    healthySince: 0,
    lastResendAsk: null,
    connectFailures: 0,
    nextConnectAt: now,
    enabled: !initiator || connecting,
    lastLogoutReason: "",
    resetAtNextLogon: false,
    counters: {
      messagesIn: 0,
      messagesOut: 0,
      gapsDetected: 0,
      resendRequestsSent: 0,
      resendRequestsServed: 0,
      messagesResent: 0,
      duplicatesIgnored: 0,
      garbled: 0,
      rejectsSent: 0,
      rejectsReceived: 0,
      logons: 0,
      testRequestsSent: 0,
    },
  };
}

/**
 * The session engine: one event in, the new state and the actions out. No I/O, no clock, no timers: `now`
 * (epoch ms) is an argument and every effect is an action. The state object is owned by one session and is
 * updated in place (it is returned for symmetry and so callers can treat it as the new state).
 */
export function step(st: SessionState, ev: SessionEvent, now: number): StepResult {
  const acts: SessionAction[] = [];
  dispatch(st, acts, ev, now);
  updateHealth(st, acts, now);
  return { state: st, actions: acts };
}

function dispatch(st: SessionState, acts: SessionAction[], ev: SessionEvent, now: number): void {
  // While stored messages are being read for a resend, or the store is starting a new cycle, inbound messages
  // and application sends wait, so that every answer leaves in the order QuickFIX would send it.
  if ((st.resendLoading || st.storeResetting) && (ev.type === "message" || ev.type === "send")) {
    // A ResendRequest is judged a duplicate against the replay under way when it arrived.
    if (ev.type === "message" && st.serving !== null && ev.servingAtArrival === undefined) {
      st.deferred.push({ ...ev, servingAtArrival: { begin: st.serving.begin, end: st.serving.end } });
    } else st.deferred.push(ev);
    return;
  }
  switch (ev.type) {
    case "message":
      st.servingAtArrival = ev.servingAtArrival ?? null;
      onMessage(st, acts, ev.msg, now);
      st.servingAtArrival = null;
      return;
    case "send":
      onSend(st, acts, ev, now);
      return;
    case "timer":
      onTimer(st, acts, now);
      return;
    case "connected":
      onConnected(st, acts, now);
      return;
    case "connectFailed":
      onConnectFailed(st, acts, ev.reason, now);
      return;
    case "disconnected":
      onDisconnected(st, acts, ev.reason, now);
      return;
    case "garbled":
      st.counters.garbled++;
      acts.push({ type: "notice", notice: { kind: "garbled", reason: ev.reason } });
      // Before logon nothing can be trusted (1d_InvalidLogonLengthInvalid): close without a word.
      if (!st.receivedLogon && st.status !== Status.Disconnected)
        disconnect(st, acts, `garbled logon: ${ev.reason}`, now);
      return;
    case "resendData":
      onResendData(st, acts, ev.begin, ev.end, ev.messages, now);
      // Between chunks of a long replay, what arrived meanwhile (a TestRequest, live messages) is answered
      // before the next chunk loads, so heartbeats keep flowing during a 100,000-message replay.
      runDeferred(st, acts, now);
      if (st.serving !== null && !st.resendLoading && st.serving.next <= st.serving.end) loadChunk(st, acts);
      return;
    case "resume":
      st.pendingResume = false;
      nextQueued(st, acts, now);
      return;
    case "storeReset":
      st.storeResetting = false;
      runDeferred(st, acts, now);
      return;
    case "logout":
      st.enabled = false;
      if (st.status === Status.LoggedOn) generateLogout(st, acts, now, ev.reason ?? "");
      else if (st.status !== Status.Disconnected && st.status !== Status.Connecting) {
        disconnect(st, acts, ev.reason ?? "logout", now);
      }
      if (st.status === Status.Connecting) st.status = Status.Disconnected;
      return;
    case "logon":
      st.enabled = true;
      st.connectFailures = 0;
      if (st.initiator && st.status === Status.Disconnected) {
        st.status = Status.Connecting;
        st.nextConnectAt = now;
        onTimer(st, acts, now);
      }
      return;
    case "setSequences":
      if (ev.nextSenderSeq !== undefined) st.nextSenderSeq = ev.nextSenderSeq;
      if (ev.nextTargetSeq !== undefined) st.nextTargetSeq = ev.nextTargetSeq;
      acts.push({ type: "setStoreSequences", nextSenderSeq: st.nextSenderSeq, nextTargetSeq: st.nextTargetSeq });
      acts.push({
        type: "notice",
        notice: { kind: "warning", text: `sequence numbers set by operator: ${ev.reason}` },
      });
      return;
    case "resetSequences":
      // A new cycle, not just new numbers: event ids and stored messages carry the cycle, so a lowered number
      // can never collide with what the previous cycle already used (a day's data with another's).
      resetSequences(st, acts, now, `operator: ${ev.reason}`, ev.nextSenderSeq ?? 1, ev.nextTargetSeq ?? 1, ev.ref);
      acts.push({
        type: "notice",
        notice: { kind: "warning", text: `sequence numbers reset by operator: ${ev.reason}` },
      });
      if (st.safeReason !== null) {
        // The operator reconciled with the counterparty and set the agreed numbers: what made us SAFE is resolved.
        acts.push({
          type: "notice",
          notice: { kind: "warning", text: `SAFE cleared by the operator's reset: ${ev.reason}` },
        });
        st.safeReason = null;
      }
      return;
    case "refuseLogon":
      onRefusedLogon(st, acts, ev.msg, ev.text, now);
      return;
    case "clearSafe":
      if (st.safeReason !== null) {
        acts.push({ type: "notice", notice: { kind: "warning", text: `SAFE cleared by operator: ${ev.reason}` } });
      }
      st.safeReason = null;
      return;
  }
}

function runDeferred(st: SessionState, acts: SessionAction[], now: number): void {
  while (!st.resendLoading && !st.storeResetting && st.deferred.length > 0) {
    const ev = st.deferred.shift() as SessionEvent;
    dispatch(st, acts, ev, now);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Connection lifecycle

function onConnected(st: SessionState, acts: SessionAction[], now: number): void {
  st.connectedAt = now;
  st.lastReceivedAt = now;
  st.lastSentAt = now;
  if (st.initiator) {
    st.connectFailures = 0;
    generateLogon(st, acts, now);
  } else {
    st.status = Status.AwaitingLogon;
  }
}

function onConnectFailed(st: SessionState, acts: SessionAction[], reason: string, now: number): void {
  st.connectFailures++;
  scheduleReconnect(st, acts, now, reason);
}

function scheduleReconnect(st: SessionState, acts: SessionAction[], now: number, reason: string): void {
  const s = st.settings;
  if (!st.initiator || !st.enabled) {
    st.status = Status.Disconnected;
    return;
  }
  if (s.ReconnectMaxTries > 0 && st.connectFailures >= s.ReconnectMaxTries) {
    st.enabled = false;
    st.status = Status.Disconnected;
    acts.push({
      type: "notice",
      notice: { kind: "warning", text: `giving up after ${st.connectFailures} failed connection attempts: ${reason}` },
    });
    return;
  }
  // Exponential backoff with a deterministic jitter of up to 25 % (derived from the attempt and session id,
  // so the core stays pure and replicas of different sessions do not reconnect in lockstep).
  const base = Math.min(s.ReconnectInterval * 2 ** Math.max(0, st.connectFailures - 1), s.ReconnectMaxInterval) * 1000;
  const jitter = ((hash(st.id) + st.connectFailures * 2654435761) % 1000) / 4000;
  st.status = Status.Connecting;
  st.nextConnectAt = now + Math.round(base * (1 - jitter));
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}

function onDisconnected(st: SessionState, acts: SessionAction[], reason: string, now: number): void {
  if (st.status === Status.Disconnected || (st.status === Status.Connecting && st.connectedAt === 0)) {
    if (st.status === Status.Connecting) onConnectFailed(st, acts, reason, now);
    return;
  }
  cleanUpConnection(st, acts, reason, now);
}

/** Asks the transport to close and forgets the connection's session-level state (QuickFIX Session::disconnect). */
function disconnect(st: SessionState, acts: SessionAction[], reason: string, now: number): void {
  if (st.status === Status.Disconnected || (st.status === Status.Connecting && st.connectedAt === 0)) return;
  acts.push({ type: "disconnect", reason });
  cleanUpConnection(st, acts, reason, now);
}

function cleanUpConnection(st: SessionState, acts: SessionAction[], reason: string, now: number): void {
  const wasLoggedOn = st.receivedLogon || st.sentLogon;
  st.receivedLogon = false;
  st.sentLogon = false;
  st.sentLogout = false;
  st.receivedReset = false;
  st.sentReset = false;
  st.queue.clear();
  st.resendRange = null;
  st.serving = null;
  st.serveQueue.length = 0;
  st.deferred.length = 0;
  st.resendLoading = false;
  st.pendingResume = false;
  st.testRequestsSent = 0;
  st.connectedAt = 0;
  if (wasLoggedOn && st.lastLogoutReason === "") st.lastLogoutReason = reason;
  if (st.settings.ResetOnDisconnect) resetSequences(st, acts, now, "ResetOnDisconnect");
  if (st.initiator) scheduleReconnect(st, acts, now, reason);
  else st.status = Status.Disconnected;
}

/** Both sequence numbers back to 1 (or as an operator said) in a new store cycle. */
function resetSequences(
  st: SessionState,
  acts: SessionAction[],
  now: number,
  reason: string,
  nextSenderSeq = 1,
  nextTargetSeq = 1,
  ref?: unknown,
): void {
  st.nextSenderSeq = nextSenderSeq;
  st.nextTargetSeq = nextTargetSeq;
  st.cycleCreatedAt = now;
  st.freshCycle = nextSenderSeq === 1 && nextTargetSeq === 1;
  st.resetAtNextLogon = false;
  st.storeResetting = true;
  acts.push(
    ref === undefined
      ? { type: "resetStore", nextSenderSeq, nextTargetSeq, reason }
      : { type: "resetStore", nextSenderSeq, nextTargetSeq, reason, ref },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Logon and logout

function wantsResetOnOurLogon(st: SessionState): boolean {
  const s = st.settings;
  return (
    s.ResetOnLogon || s.ForceSeqNumReset === 2 || (s.ForceSeqNumReset === 1 && st.freshCycle) || st.resetAtNextLogon
  );
}

/** Our Logon: as initiator (a request) or as acceptor (the answer to theirs). */
function generateLogon(st: SessionState, acts: SessionAction[], now: number, answerTo?: FixMessage): void {
  const s = st.settings;
  let reset = false;
  if (answerTo === undefined) {
    if (wantsResetOnOurLogon(st)) {
      if (st.nextSenderSeq !== 1 || st.nextTargetSeq !== 1) resetSequences(st, acts, now, "reset on logon");
      reset = true;
      st.sentReset = true;
    }
  } else {
    reset = st.receivedReset;
  }
  const body: FieldList = [Tag.EncryptMethod, 0, Tag.HeartBtInt, Math.round(st.heartBtIntMs / 1000)];
  if (reset) body.push(Tag.ResetSeqNumFlag, "Y");
  let redacted: FieldList | null = null;
  if (answerTo === undefined) {
    const creds: Array<[number, string]> = [];
    if (s.Username !== undefined) creds.push([s.UsernameTag, s.Username]);
    if (s.Password !== undefined) creds.push([s.PasswordTag, s.Password]);
    creds.sort((a, b) => a[0] - b[0]);
    if (creds.length > 0) {
      redacted = body.slice();
      for (const [t, v] of creds) {
        body.push(t, v);
        redacted.push(t, t === s.PasswordTag ? "********" : v);
      }
    }
  }
  if (s.SendNextExpectedMsgSeqNum && versionAtLeast(s.BeginString, "FIX.4.4")) {
    // Our Logon has not been counted yet: 789 is the number we expect next, after the Logon we are answering.
    const expected = answerTo === undefined ? st.nextTargetSeq : st.nextTargetSeq + 1;
    body.push(Tag.NextExpectedMsgSeqNum, expected);
    redacted?.push(Tag.NextExpectedMsgSeqNum, expected);
  }
  if (st.settings.BeginString === "FIXT.1.1" && s.DefaultApplVerID !== undefined) {
    body.push(Tag.DefaultApplVerID, s.DefaultApplVerID);
    redacted?.push(Tag.DefaultApplVerID, s.DefaultApplVerID);
  }
  const seq = sendNew(st, acts, now, MsgType.Logon, body);
  if (redacted !== null) {
    // The store keeps the Logon with its password masked (Password(554) is never stored); a Logon is
    // never resent, only gap-filled, so the stored copy need not be the wire copy.
    const sent = acts[acts.length - 1];
    if (sent.type === "send") {
      sent.stored = st.encoder.encode(MsgType.Logon, seq, timestamp(st, now), redacted, null);
    }
  }
  st.sentLogon = true;
  st.logonSentAt = now;
  if (answerTo === undefined) st.status = Status.LogonSent;
}

/** Our Logout. `answering`: it answers the counterparty's Logout, whose notice has already been given. */
function generateLogout(st: SessionState, acts: SessionAction[], now: number, text: string, answering = false): void {
  sendNew(st, acts, now, MsgType.Logout, text ? [Tag.Text, text] : null);
  st.sentLogout = true;
  st.logoutSentAt = now;
  st.status = Status.LogoutSent;
  if (answering) return;
  st.lastLogoutReason = text || "logout";
  acts.push({ type: "notice", notice: { kind: "logout", reason: text || "logout", initiatedBy: "us" } });
}

function onLogon(st: SessionState, acts: SessionAction[], msg: FixMessage, now: number): void {
  if (!st.enabled) {
    disconnect(st, acts, "session is not enabled for logon", now);
    return;
  }
  if (st.schedule !== null && !st.schedule.isInSession(now)) {
    disconnect(st, acts, "logon outside of the session's schedule", now);
    return;
  }
  const resetFlag = msg.flag(Tag.ResetSeqNumFlag);
  st.receivedReset = resetFlag;
  if (resetFlag && !st.sentReset) resetSequences(st, acts, now, "counterparty Logon with ResetSeqNumFlag=Y");
  if (st.initiator && !st.sentLogon && !resetFlag) {
    disconnect(st, acts, "received logon response before sending request", now);
    return;
  }
  let configuredReset = false;
  if (!st.initiator && !resetFlag) {
    const s = st.settings;
    if (s.ResetOnLogon || s.ForceSeqNumReset === 2 || st.resetAtNextLogon) {
      resetSequences(st, acts, now, "reset on logon");
      configuredReset = true;
    }
  }
  if (!verify(st, acts, msg, false, true, now)) return;
  st.receivedLogon = true;
  if (!st.initiator || (st.receivedReset && !st.sentReset)) {
    const hb = msg.getInt(Tag.HeartBtInt);
    if (hb !== undefined && !Number.isNaN(hb)) st.heartBtIntMs = hb * 1000;
    generateLogon(st, acts, now, msg);
  }
  // New numbers agreed in the Logon exchange (141=Y either way) or set by this session's reset policy.
  const agreedReset = st.receivedReset || st.sentReset || configuredReset;
  st.sentReset = false;
  st.receivedReset = false;
  st.status = Status.LoggedOn;
  st.counters.logons++;
  st.freshCycle = false;
  st.lastLogoutReason = "";
  if (agreedReset && st.safeReason !== null) {
    // Both sides explicitly agreed on new sequence numbers: the mismatch that made us SAFE is resolved.
    acts.push({ type: "notice", notice: { kind: "warning", text: "SAFE cleared: sequence numbers reset at logon" } });
    st.safeReason = null;
  }
  acts.push({
    type: "notice",
    notice: { kind: "logon", heartBtInt: Math.round(st.heartBtIntMs / 1000), reset: agreedReset },
  });
  const seq = msg.getInt(Tag.MsgSeqNum) ?? 0;
  if (seq > st.nextTargetSeq && !resetFlag) {
    doTargetTooHigh(st, acts, msg, seq, now);
  } else {
    st.nextTargetSeq++;
    nextQueued(st, acts, now);
  }
  if (st.settings.SendNextExpectedMsgSeqNum) onNextExpected(st, acts, msg, now);
}

/**
 * A Logon the runtime refused (wrong password, address not allowed): FIX says the acceptor may answer an
 * authentication failure with a Logout giving the reason, then disconnects. The Logout takes a MsgSeqNum (persisted
 * like any other) and the Logon's is consumed when it was the expected one, as QuickFIX does for RejectLogon, so
 * both sides agree on the numbers at the next Logon.
 */
function onRefusedLogon(st: SessionState, acts: SessionAction[], msg: FixMessage, text: string, now: number): void {
  if (st.status === Status.Disconnected || st.receivedLogon) return;
  st.counters.messagesIn++;
  st.lastReceivedAt = now;
  generateLogout(st, acts, now, text);
  if (msg.getInt(Tag.MsgSeqNum) === st.nextTargetSeq && !msg.flag(Tag.ResetSeqNumFlag)) st.nextTargetSeq++;
  disconnect(st, acts, `Logon refused: ${text}`, now);
}

/**
 * NextExpectedMsgSeqNum(789) in the counterparty's Logon (FIX 4.4): messages of ours from that number on never
 * reached it, so replay them now (as if asked by a ResendRequest); a number beyond anything we sent means the two
 * sides disagree about history — never skip silently: Logout, disconnect, SAFE.
 */
function onNextExpected(st: SessionState, acts: SessionAction[], msg: FixMessage, now: number): void {
  const next = msg.getInt(Tag.NextExpectedMsgSeqNum);
  if (next === undefined || Number.isNaN(next)) return;
  // Our Logon answer (if any) has just taken a number; the counterparty cannot have expected it yet.
  const lastBeforeLogon = st.initiator ? st.nextSenderSeq - 1 : st.nextSenderSeq - 2;
  if (next > lastBeforeLogon + 1) {
    const text = `NextExpectedMsgSeqNum(789) ${next} is beyond the last MsgSeqNum we sent (${lastBeforeLogon})`;
    generateLogout(st, acts, now, text);
    enterSafeOnMismatch(st, text);
    disconnect(st, acts, text, now);
    return;
  }
  if (next <= lastBeforeLogon) {
    acts.push({
      type: "notice",
      notice: { kind: "warning", text: `counterparty expects ${next}: replaying ${next}..${lastBeforeLogon}` },
    });
    if (st.serving !== null) st.serveQueue.push({ begin: next, end: lastBeforeLogon });
    else startServing(st, acts, next, lastBeforeLogon);
  }
}

function onLogout(st: SessionState, acts: SessionAction[], msg: FixMessage, now: number): void {
  if (!verify(st, acts, msg, false, false, now)) return;
  const text = msg.get(Tag.Text) ?? "";
  if (!st.sentLogout) {
    acts.push({ type: "notice", notice: { kind: "logout", reason: text || "logout", initiatedBy: "them" } });
    generateLogout(st, acts, now, "", true);
    st.lastLogoutReason = text ? `counterparty: ${text}` : "counterparty logout";
  }
  st.nextTargetSeq++;
  if (st.settings.ResetOnLogout) resetSequences(st, acts, now, "ResetOnLogout");
  else if (!st.settings.IntradayLogoutTolerance) st.resetAtNextLogon = true;
  disconnect(st, acts, "logout", now);
}

// ---------------------------------------------------------------------------------------------------------------
// Inbound messages

/** QuickFIX's validLogonState: which message types may arrive in which logon state. */
function validLogonState(st: SessionState, msgType: string): boolean {
  if ((msgType === MsgType.Logon && st.sentReset) || st.receivedReset) return true;
  if ((msgType === MsgType.Logon && !st.receivedLogon) || (msgType !== MsgType.Logon && st.receivedLogon)) return true;
  if (msgType === MsgType.Logout && st.sentLogon) return true;
  if (msgType !== MsgType.Logout && st.sentLogout) return true;
  if (msgType === MsgType.SequenceReset || msgType === MsgType.Reject) return true;
  return false;
}

function onMessage(st: SessionState, acts: SessionAction[], msg: FixMessage, now: number): void {
  if (st.status === Status.Disconnected || (st.status === Status.Connecting && st.connectedAt === 0)) return;
  st.counters.messagesIn++;
  st.lastReceivedAt = now;
  // A Logout answering our Logon is the acceptor refusing it (QuickFIX's validLogonState lets it through): it is
  // processed, so its Text (the reason) is seen.
  const refusal = msg.msgType === MsgType.Logout && st.sentLogon;
  if (!st.receivedLogon && msg.msgType !== MsgType.Logon && !st.sentLogout && !refusal) {
    // The first message on a connection must be a Logon (1e_NotLogonMessage): close without a word.
    disconnect(st, acts, `first message is ${msg.msgType}, not Logon`, now);
    return;
  }
  processMessage(st, acts, msg, now, false);
}

function processMessage(st: SessionState, acts: SessionAction[], msg: FixMessage, now: number, queued: boolean): void {
  const type = msg.msgType;
  for (const t of [Tag.SenderCompID, Tag.TargetCompID]) {
    if (!msg.has(t)) {
      generateReject(st, acts, msg, RejectReason.RequiredTagMissing, now, t);
      if (!queued) nextQueued(st, acts, now);
      return;
    }
  }
  if (msg.valueAt(0) !== st.settings.BeginString) {
    // A message in another FIX version mid-session (2i_BeginStringValueUnexpected).
    if (type === MsgType.Logout) onLogout(st, acts, msg, now);
    else {
      if (!st.receivedLogon) {
        disconnect(st, acts, "Incorrect BeginString", now);
        return;
      }
      generateLogout(st, acts, now, "Incorrect BeginString");
      st.nextTargetSeq++;
    }
    return;
  }
  if (st.validate !== null) {
    const bad = st.validate(msg);
    if (bad !== null) {
      generateReject(st, acts, msg, bad.reason, now, bad.refTagId, bad.text);
      if (type === MsgType.Logon) disconnect(st, acts, `invalid Logon: ${bad.text}`, now);
      if (!queued) nextQueued(st, acts, now);
      return;
    }
  }
  switch (type) {
    case MsgType.Logon:
      onLogon(st, acts, msg, now);
      break;
    case MsgType.Heartbeat:
      if (verify(st, acts, msg, true, true, now)) {
        st.nextTargetSeq++;
        nextQueued(st, acts, now);
      }
      break;
    case MsgType.TestRequest:
      if (verify(st, acts, msg, true, true, now)) {
        const id = msg.get(Tag.TestReqID);
        sendNew(st, acts, now, MsgType.Heartbeat, id !== undefined ? [Tag.TestReqID, id] : null);
        st.nextTargetSeq++;
        nextQueued(st, acts, now);
      }
      break;
    case MsgType.SequenceReset:
      onSequenceReset(st, acts, msg, now);
      break;
    case MsgType.Logout:
      onLogout(st, acts, msg, now);
      return;
    case MsgType.ResendRequest:
      onResendRequest(st, acts, msg, now);
      break;
    case MsgType.Reject:
      if (verify(st, acts, msg, false, true, now)) {
        st.counters.rejectsReceived++;
        acts.push({
          type: "notice",
          notice: { kind: "rejectReceived", refSeqNum: msg.getInt(Tag.RefSeqNum) ?? 0, text: msg.get(Tag.Text) ?? "" },
        });
        st.nextTargetSeq++;
        nextQueued(st, acts, now);
      }
      break;
    default:
      if (verify(st, acts, msg, true, true, now)) {
        st.nextTargetSeq++;
        acts.push({ type: "deliver", msg, possDup: msg.flag(Tag.PossDupFlag) });
        // The application answers before the next queued message is processed (as QuickFIX's synchronous
        // callback does); the runtime posts `resume` once it has.
        st.pendingResume = true;
        return;
      }
      break;
  }
  if (!queued) nextQueued(st, acts, now);
  if (st.receivedLogon && st.status !== Status.Disconnected) onTimer(st, acts, now);
}

/** Processes queued messages that are next in sequence (QuickFIX nextQueued). */
function nextQueued(st: SessionState, acts: SessionAction[], now: number): void {
  while (!st.pendingResume && st.queue.size > 0 && st.receivedLogon) {
    const msg = st.queue.get(st.nextTargetSeq);
    if (msg === undefined) {
      // Drop entries a SequenceReset jumped over; they can never be processed.
      for (const k of st.queue.keys()) if (k < st.nextTargetSeq) st.queue.delete(k);
      return;
    }
    st.queue.delete(st.nextTargetSeq);
    if (msg.msgType === MsgType.Logon || msg.msgType === MsgType.ResendRequest) {
      st.nextTargetSeq++;
      continue;
    }
    processMessage(st, acts, msg, now, true);
  }
}

/**
 * QuickFIX's verify: logon state, SendingTime accuracy, CompIDs, then the sequence number. Returns true when
 * the message may be processed; otherwise it has been answered (Reject, Logout, ResendRequest) or queued.
 */
function verify(
  st: SessionState,
  acts: SessionAction[],
  msg: FixMessage,
  checkTooHigh: boolean,
  checkTooLow: boolean,
  now: number,
): boolean {
  const type = msg.msgType;
  if (!validLogonState(st, type)) {
    disconnect(st, acts, `logon state is not valid for message ${type}`, now);
    return false;
  }
  const s = st.settings;
  if (s.CheckLatency) {
    const sent = parseUtcTimestamp(msg.get(Tag.SendingTime) ?? "");
    if (Number.isNaN(sent) || Math.abs(now - sent) > s.MaxLatency * 1000) {
      generateReject(st, acts, msg, RejectReason.SendingTimeAccuracyProblem, now);
      if (st.receivedLogon) generateLogout(st, acts, now, "");
      else disconnect(st, acts, "SendingTime accuracy problem on Logon", now);
      return false;
    }
  }
  if (s.CheckCompID && (msg.get(Tag.SenderCompID) !== s.TargetCompID || msg.get(Tag.TargetCompID) !== s.SenderCompID)) {
    generateReject(st, acts, msg, RejectReason.CompIdProblem, now);
    if (st.receivedLogon) generateLogout(st, acts, now, "");
    else disconnect(st, acts, "CompID problem on Logon", now);
    return false;
  }
  if (checkTooHigh || checkTooLow) {
    const seq = msg.getInt(Tag.MsgSeqNum) ?? Number.NaN;
    if (checkTooHigh && seq > st.nextTargetSeq) {
      doTargetTooHigh(st, acts, msg, seq, now);
      return false;
    }
    if (checkTooLow && seq < st.nextTargetSeq) {
      doTargetTooLow(st, acts, msg, seq, now);
      return false;
    }
    const r = st.resendRange;
    if (r !== null && seq >= r.chunkEnd) {
      if (r.chunkEnd < r.end) {
        // The chunk we asked for has arrived; ask for the next one.
        sendResendRequest(st, acts, r.chunkEnd + 1, r.end, now);
      } else {
        st.resendRange = null;
        acts.push({ type: "notice", notice: { kind: "gapFilled", begin: r.begin, end: r.end } });
      }
    }
  }
  st.testRequestsSent = 0;
  return true;
}

function doTargetTooHigh(st: SessionState, acts: SessionAction[], msg: FixMessage, seq: number, now: number): void {
  st.queue.set(seq, msg);
  const r = st.resendRange;
  if (r !== null && seq >= r.begin) return; // one ResendRequest per gap (SendRedundantResendRequests=N)
  st.counters.gapsDetected++;
  acts.push({ type: "notice", notice: { kind: "gap", begin: st.nextTargetSeq, end: seq - 1 } });
  sendResendRequest(st, acts, st.nextTargetSeq, seq - 1, now);
}

function sendResendRequest(st: SessionState, acts: SessionAction[], begin: number, end: number, now: number): void {
  const chunk = st.settings.ResendRequestChunkSize;
  let chunkEnd = end;
  let endSeqNo: number;
  if (chunk > 0 && end - begin + 1 > chunk) {
    chunkEnd = begin + chunk - 1;
    endSeqNo = chunkEnd;
  } else {
    // "to the end": 0 from FIX 4.2 on, 999999 before.
    endSeqNo = versionAtLeast(st.settings.BeginString, "FIX.4.2") ? 0 : 999999;
  }
  sendNew(st, acts, now, MsgType.ResendRequest, [Tag.BeginSeqNo, begin, Tag.EndSeqNo, endSeqNo]);
  st.counters.resendRequestsSent++;
  st.resendRange = { begin, end, chunkEnd };
}

function doTargetTooLow(st: SessionState, acts: SessionAction[], msg: FixMessage, seq: number, now: number): void {
  if (!msg.flag(Tag.PossDupFlag)) {
    // The counterparty's numbers went backwards without PossDupFlag: a reset we did not agree to (daily reset
    // mismatch) or a lost store. Never skip silently: Logout, disconnect, and stay SAFE until resolved.
    const text = `MsgSeqNum too low, expecting ${st.nextTargetSeq} but received ${seq}`;
    generateLogout(st, acts, now, text);
    enterSafeOnMismatch(st, text);
    disconnect(st, acts, text, now);
    return;
  }
  if (msg.msgType !== MsgType.SequenceReset) {
    const orig = msg.get(Tag.OrigSendingTime);
    if (orig === undefined) {
      generateReject(st, acts, msg, RejectReason.RequiredTagMissing, now, Tag.OrigSendingTime);
      return;
    }
    if (parseUtcTimestamp(orig) > parseUtcTimestamp(msg.get(Tag.SendingTime) ?? "")) {
      generateReject(st, acts, msg, RejectReason.SendingTimeAccuracyProblem, now);
      generateLogout(st, acts, now, "");
      return;
    }
  }
  st.counters.duplicatesIgnored++;
  acts.push({ type: "notice", notice: { kind: "duplicateIgnored", seq } });
}

/**
 * SAFE because the two sides disagree about the sequence numbers. An initiator also stops logging on by itself:
 * every further attempt would exchange a Logon (and a ResendRequest) under the disputed numbers, moving both sides
 * on until they happen to line up — our expected number then jumps into the counterparty's new cycle and we serve
 * its ResendRequest from our previous cycle, resending yesterday's orders (chaos suite, scenario 6). An operator's
 * `logon` (after checking, with `clearSafe` or an agreed reset) brings it back.
 */
function enterSafeOnMismatch(st: SessionState, reason: string): void {
  st.safeReason = reason;
  if (st.initiator) st.enabled = false;
}

function onSequenceReset(st: SessionState, acts: SessionAction[], msg: FixMessage, now: number): void {
  const gapFill = msg.flag(Tag.GapFillFlag);
  if (!verify(st, acts, msg, gapFill, gapFill, now)) return;
  const newSeq = msg.getInt(Tag.NewSeqNo);
  if (newSeq === undefined || Number.isNaN(newSeq)) return;
  if (newSeq > st.nextTargetSeq) {
    st.nextTargetSeq = newSeq;
    acts.push({ type: "notice", notice: { kind: "sequenceReset", nextTargetSeq: newSeq, gapFill } });
    const r = st.resendRange;
    if (r !== null && newSeq > r.end) {
      st.resendRange = null;
      acts.push({ type: "notice", notice: { kind: "gapFilled", begin: r.begin, end: r.end } });
    } else if (r !== null && newSeq > r.chunkEnd) {
      // The chunk we asked for was gap-filled past its end (a counterparty with nothing stored there answers a
      // chunk with one GapFill): ask for the next chunk, or the rest of the gap is never requested and the session
      // stays in RECOVERY for good (chaos suite, scenario 2b: a 100,000 jump asked for 1,000 at a time).
      sendResendRequest(st, acts, newSeq, r.end, now);
    }
  } else if (newSeq < st.nextTargetSeq) {
    generateReject(st, acts, msg, RejectReason.ValueIsIncorrect, now);
  }
}

/** A session-level Reject (35=3) of `msg`, laid out as QuickFIX does (Session::generateReject). */
function generateReject(
  st: SessionState,
  acts: SessionAction[],
  msg: FixMessage,
  reason: number,
  now: number,
  refTagId?: number,
  fallbackText?: string,
): void {
  const bs = st.settings.BeginString;
  const type = msg.msgType;
  const seqStr = msg.get(Tag.MsgSeqNum);
  const seq = seqStr !== undefined && seqStr !== "" ? Number(seqStr) : Number.NaN;
  if (type !== MsgType.Logon && type !== MsgType.SequenceReset && seq === st.nextTargetSeq) st.nextTargetSeq++;
  const text =
    reason >= 0 && reason <= 17 ? rejectReasonText(reason as SessionRejectReason) : (fallbackText ?? "Rejected");
  const fix42 = versionAtLeast(bs, "FIX.4.2");
  // 373 exists in FIX 4.2 only for reasons 0–11; from FIX 4.3 on for all.
  const with373 = fix42 && (bs !== "FIX.4.2" || reason <= 11);
  const withRefTag = refTagId !== undefined || reason === RejectReason.InvalidTagNumber;
  const body: FieldList = [];
  if (seqStr !== undefined && seqStr !== "") body.push(Tag.RefSeqNum, seqStr);
  if (withRefTag && fix42) body.push(Tag.Text, text, Tag.RefTagID, refTagId ?? 0);
  else if (withRefTag) body.push(Tag.Text, `${text} (${refTagId ?? 0})`);
  else body.push(Tag.Text, text);
  if (fix42 && type !== "") body.push(Tag.RefMsgType, type);
  if (with373) body.push(Tag.SessionRejectReason, reason);
  st.counters.rejectsSent++;
  acts.push({
    type: "notice",
    notice: { kind: "reject", refSeqNum: Number.isNaN(seq) ? 0 : seq, reason, refTagId, text },
  });
  // No Reject can be sent before the Logon is accepted; the caller closes the connection instead.
  if (!st.receivedLogon) return;
  sendNew(st, acts, now, MsgType.Reject, body, reverseRoute(st, msg));
}

// ---------------------------------------------------------------------------------------------------------------
// Serving the counterparty's ResendRequest

function onResendRequest(st: SessionState, acts: SessionAction[], msg: FixMessage, now: number): void {
  if (!verify(st, acts, msg, false, false, now)) return;
  const begin = msg.getInt(Tag.BeginSeqNo) ?? 1;
  let end = msg.getInt(Tag.EndSeqNo) ?? 0;
  const bs = st.settings.BeginString;
  if (
    (versionAtLeast(bs, "FIX.4.2") && end === 0) ||
    (!versionAtLeast(bs, "FIX.4.3") && end === 999999) ||
    end >= st.nextSenderSeq
  ) {
    end = st.nextSenderSeq - 1;
  }
  const seq = msg.getInt(Tag.MsgSeqNum) ?? 0;
  if (seq === st.nextTargetSeq) st.nextTargetSeq++;
  // Ahead of the sequence: answered now (FIX), and queued so that its number is passed over when the gap before it
  // closes. Otherwise a counterparty recovering at the same time — its ResendRequest right after its Logon, then one
  // GapFill over both in its replay, under a number we have passed once we took the queued Logon — leaves it missing,
  // and it is asked for again: a second recovery for one message.
  else if (seq > st.nextTargetSeq && st.receivedLogon) st.queue.set(seq, msg);
  const last = st.lastResendAsk;
  if (last !== null && last.begin === begin && last.end === end) last.count++;
  else st.lastResendAsk = { begin, end, count: 1 };
  if (st.lastResendAsk !== null && st.lastResendAsk.count >= st.settings.ResendLoopLimit && st.safeReason === null) {
    st.safeReason = `resend loop: counterparty asked for ${begin}..${end} ${st.lastResendAsk.count} times`;
  }
  const serving = st.serving;
  const replaying = st.servingAtArrival ?? serving;
  if (
    st.settings.IgnoreDuplicateResendRequests &&
    replaying !== null &&
    begin >= replaying.begin &&
    end <= replaying.end
  ) {
    acts.push({
      type: "notice",
      notice: { kind: "warning", text: `ignored duplicate ResendRequest ${begin}..${end} (already replaying)` },
    });
    return;
  }
  st.counters.resendRequestsServed++;
  if (serving !== null) {
    st.serveQueue.push({ begin, end });
    return;
  }
  startServing(st, acts, begin, end);
}

function startServing(st: SessionState, acts: SessionAction[], begin: number, end: number): void {
  st.serving = { begin, end, next: begin, gapStart: 0, resent: 0, gapFills: 0 };
  loadChunk(st, acts);
}

function loadChunk(st: SessionState, acts: SessionAction[]): void {
  const s = st.serving as NonNullable<SessionState["serving"]>;
  const to = Math.min(s.end, s.next + st.settings.ResendServeChunkSize - 1);
  st.resendLoading = true;
  acts.push({ type: "loadResend", begin: s.next, end: Math.max(to, s.next) });
}

const storedParser = new Parser();

function onResendData(
  st: SessionState,
  acts: SessionAction[],
  begin: number,
  end: number,
  messages: StoredMessage[],
  now: number,
): void {
  const s = st.serving;
  st.resendLoading = false;
  if (s === null || begin !== s.next) return; // a late answer for a serve that a disconnect ended
  let current = begin;
  let gapStart = s.gapStart;
  let resent = 0;
  for (const m of messages) {
    if (m.seq < begin || m.seq > end) continue;
    if (m.seq !== current && gapStart === 0) gapStart = current;
    if (isAdmin(m.msgType)) {
      if (gapStart === 0) gapStart = m.seq;
    } else {
      if (gapStart !== 0) generateGapFill(st, acts, gapStart, m.seq, now, s);
      if (resendStored(st, acts, m, now)) resent++;
      else acts.push({ type: "notice", notice: { kind: "warning", text: `stored message ${m.seq} unreadable` } });
      gapStart = 0;
    }
    current = m.seq + 1;
  }
  if (current <= end && gapStart === 0) gapStart = current;
  s.gapStart = gapStart;
  s.next = end + 1;
  s.resent += resent;
  st.counters.messagesResent += resent;
  if (s.next <= s.end) return; // the next chunk loads once deferred events have run (see `resendData`)
  if (gapStart !== 0) generateGapFill(st, acts, gapStart, s.end + 1, now, s);
  acts.push({
    type: "notice",
    notice: { kind: "resendServed", begin: s.begin, end: s.end, resent: s.resent, gapFilled: s.gapFills },
  });
  st.serving = null;
  const next = st.serveQueue.shift();
  if (next !== undefined) startServing(st, acts, next.begin, Math.min(next.end, st.nextSenderSeq - 1));
}

function generateGapFill(
  st: SessionState,
  acts: SessionAction[],
  seq: number,
  newSeqNo: number,
  now: number,
  serving: ServeRange,
): void {
  serving.gapFills++;
  const ts = timestamp(st, now);
  sendAgain(
    st,
    acts,
    now,
    seq,
    MsgType.SequenceReset,
    [Tag.NewSeqNo, newSeqNo, Tag.GapFillFlag, "Y"],
    [Tag.PossDupFlag, "Y", Tag.OrigSendingTime, ts],
  );
}

/** Resends a stored application message: same MsgSeqNum and body, PossDupFlag=Y, OrigSendingTime = its SendingTime. */
function resendStored(st: SessionState, acts: SessionAction[], m: StoredMessage, now: number): boolean {
  const parsed = storedParser.parse(m.bytes);
  if (typeof parsed === "string") return false;
  const extras: Array<[number, string]> = [];
  let origSendingTime = "";
  let bodyStart = -1;
  for (let i = 3; i < parsed.count - 1; i++) {
    const t = parsed.tagAt(i);
    if (!HEADER_TAGS.has(t)) {
      bodyStart = i;
      break;
    }
    if (t === Tag.SendingTime) origSendingTime = parsed.valueAt(i);
    else if (t !== Tag.MsgSeqNum && t !== Tag.SenderCompID && t !== Tag.TargetCompID && t !== Tag.PossDupFlag) {
      if (t !== Tag.OrigSendingTime) extras.push([t, parsed.valueAt(i)]);
    }
  }
  extras.push([Tag.PossDupFlag, "Y"], [Tag.OrigSendingTime, origSendingTime]);
  extras.sort((a, b) => a[0] - b[0]);
  let body: Buffer | null = null;
  if (bodyStart >= 0) {
    const from = parsed.fields[bodyStart * 3 + 1] - String(parsed.tagAt(bodyStart)).length - 1;
    const to = parsed.fields[(parsed.count - 1) * 3 + 1] - 3; // "10=" starts the trailer
    body = parsed.raw.subarray(from, to);
  }
  sendAgain(st, acts, now, m.seq, m.msgType, body, extras.flat());
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// Application sends

function onSend(
  st: SessionState,
  acts: SessionAction[],
  ev: Extract<SessionEvent, { type: "send" }>,
  now: number,
): void {
  // An application may reject a message at the session level (Reject 3), as QuickFIX applications do by
  // throwing; the other session messages belong to the core alone.
  if (isAdmin(ev.msgType) && ev.msgType !== MsgType.Reject) {
    acts.push({ type: "sendRefused", ref: ev.ref, reason: `MsgType ${ev.msgType} belongs to the session layer` });
    return;
  }
  if (st.status !== Status.LoggedOn) {
    acts.push({ type: "sendRefused", ref: ev.ref, reason: `session ${st.id} is not logged on (${st.status})` });
    return;
  }
  if (st.safeReason !== null) {
    acts.push({ type: "sendRefused", ref: ev.ref, reason: `session ${st.id} is SAFE: ${st.safeReason}` });
    return;
  }
  sendNew(st, acts, now, ev.msgType, ev.body, ev.header ?? null, ev.ref);
}

// ---------------------------------------------------------------------------------------------------------------
// Timers

function onTimer(st: SessionState, acts: SessionAction[], now: number): void {
  const s = st.settings;
  const sched = st.schedule;
  if (sched !== null) {
    if (!sched.isSameSession(st.cycleCreatedAt, now) && sched.isInSession(now)) {
      // A new session window began since this cycle was created: the daily (or weekly) reset.
      if (st.status === Status.LoggedOn) {
        generateLogout(st, acts, now, "end of session");
        return;
      }
      if (st.status === Status.Disconnected || st.status === Status.Connecting) {
        if (!st.storeResetting) resetSequences(st, acts, now, "new session window");
        st.safeReason = null;
      }
    }
    if (!sched.isInSession(now)) {
      if (st.status === Status.LoggedOn) generateLogout(st, acts, now, "outside of session schedule");
      else if (st.status === Status.AwaitingLogon || st.status === Status.LogonSent) {
        disconnect(st, acts, "outside of session schedule", now);
      }
    }
  }
  if (!st.receivedLogon) {
    if (
      st.initiator &&
      st.status === Status.Connecting &&
      st.enabled &&
      now >= st.nextConnectAt &&
      !st.storeResetting
    ) {
      if (sched === null || sched.isInSession(now)) {
        st.nextConnectAt = Number.POSITIVE_INFINITY;
        acts.push({ type: "connect" });
      }
    } else if (st.status === Status.LogonSent && now - st.logonSentAt >= s.LogonTimeout * 1000) {
      disconnect(st, acts, "timed out waiting for logon response", now);
    } else if (st.status === Status.AwaitingLogon && now - st.connectedAt >= s.LogonTimeout * 1000) {
      disconnect(st, acts, "timed out waiting for logon", now);
    } else if (st.status === Status.LogoutSent && now - st.logoutSentAt >= s.LogoutTimeout * 1000) {
      disconnect(st, acts, "timed out waiting for logout response", now);
    }
    return;
  }
  if (st.sentLogout && now - st.logoutSentAt >= s.LogoutTimeout * 1000) {
    disconnect(st, acts, "timed out waiting for logout response", now);
    return;
  }
  const hb = st.heartBtIntMs;
  if (hb === 0) return;
  const sinceSent = now - st.lastSentAt;
  const sinceReceived = now - st.lastReceivedAt;
  if (sinceSent < hb && sinceReceived < hb) return;
  if (sinceReceived >= s.HeartbeatTimeoutThreshold * hb) {
    disconnect(st, acts, `timed out waiting for heartbeat (${sinceReceived} ms of silence)`, now);
  } else if (sinceReceived >= s.TestRequestThreshold * (st.testRequestsSent + 1) * hb) {
    sendNew(st, acts, now, MsgType.TestRequest, [Tag.TestReqID, "TEST"]);
    st.testRequestsSent++;
    st.counters.testRequestsSent++;
  } else if (sinceSent >= hb && st.testRequestsSent === 0) {
    sendNew(st, acts, now, MsgType.Heartbeat, null);
  }
}

/** When the session next needs a `timer` event (epoch ms), or Infinity. */
export function nextDeadline(st: SessionState, now: number): number {
  const s = st.settings;
  let t = Number.POSITIVE_INFINITY;
  if (st.schedule !== null) t = Math.min(t, now + 1000);
  if (st.health === Health.Degraded && st.healthySince > 0)
    t = Math.min(t, st.healthySince + s.DegradedRecoverySeconds * 1000);
  if (!st.receivedLogon) {
    if (st.status === Status.Connecting && st.enabled) t = Math.min(t, st.nextConnectAt);
    if (st.status === Status.LogonSent) t = Math.min(t, st.logonSentAt + s.LogonTimeout * 1000);
    if (st.status === Status.AwaitingLogon) t = Math.min(t, st.connectedAt + s.LogonTimeout * 1000);
    if (st.status === Status.LogoutSent) t = Math.min(t, st.logoutSentAt + s.LogoutTimeout * 1000);
    return t;
  }
  if (st.sentLogout) t = Math.min(t, st.logoutSentAt + s.LogoutTimeout * 1000);
  const hb = st.heartBtIntMs;
  if (hb > 0) {
    if (st.testRequestsSent === 0) t = Math.min(t, st.lastSentAt + hb);
    t = Math.min(t, st.lastReceivedAt + s.TestRequestThreshold * (st.testRequestsSent + 1) * hb);
    t = Math.min(t, st.lastReceivedAt + s.HeartbeatTimeoutThreshold * hb);
  }
  return Math.max(t, now);
}
