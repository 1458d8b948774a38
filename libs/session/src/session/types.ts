import type { Encoder, FieldList, FixMessage } from "@fixmesh/fix";
import type { StoredMessage } from "../store/store.js";
import type { SessionSchedulePort } from "./schedule-port.js";
import type { SessionSettings } from "./settings.js";

/** The session layer's own state: which side has said what. */
export const Status = {
  /** No transport. */
  Disconnected: "DISCONNECTED",
  /** Initiator: waiting for the transport (or for the reconnect timer). */
  Connecting: "CONNECTING",
  /** Acceptor: transport up, waiting for the counterparty's Logon. */
  AwaitingLogon: "AWAITING_LOGON",
  /** Initiator: our Logon is out, waiting for the answer. */
  LogonSent: "LOGON_SENT",
  /** Logon exchanged both ways. */
  LoggedOn: "LOGGED_ON",
  /** Our Logout is out, waiting for the answer or the LogoutTimeout. */
  LogoutSent: "LOGOUT_SENT",
} as const;
export type Status = (typeof Status)[keyof typeof Status];

/**
 * What the session means for risk (ARCHITECTURE.md): order flow is accepted only while LIVE, with tighter
 * limits while DEGRADED, never while SAFE. SAFE is left only by an operator or an agreed sequence reset.
 */
export const Health = {
  Disconnected: "DISCONNECTED",
  Connecting: "CONNECTING",
  LogonSent: "LOGON_SENT",
  /** Logged on, but a gap is open (ResendRequest outstanding or messages queued behind it). */
  Recovery: "RECOVERY",
  Live: "LIVE",
  /** Replay backlog or processing lag beyond the configured bound. */
  Degraded: "DEGRADED",
  /** Correctness cannot be guaranteed (reset mismatch, resend loop): no order flow until cleared. */
  Safe: "SAFE",
} as const;
export type Health = (typeof Health)[keyof typeof Health];

/** A failed dictionary check, as FIX answers it with a Reject. */
export interface ValidationFailure {
  /** SessionRejectReason(373). */
  reason: number;
  /** RefTagID(371), when one field is at fault. */
  refTagId?: number;
  /** Text(58), QuickFIX's wording. */
  text: string;
}

/** Dictionary validation of an inbound message; null when valid. */
export type Validator = (msg: FixMessage) => ValidationFailure | null;

/** An outstanding ResendRequest of ours: we asked for [begin, chunkEnd]; the gap runs to `end`. */
export interface ResendRange {
  begin: number;
  end: number;
  chunkEnd: number;
}

/** A ResendRequest from the counterparty being served: [begin, end], `next` is the first seq not yet replayed. */
export interface ServeRange {
  begin: number;
  end: number;
  next: number;
  /** First seq of a run of admin messages not yet covered by a GapFill, or 0. */
  gapStart: number;
  /** Application messages resent and GapFills sent for this request so far. */
  resent: number;
  gapFills: number;
}

export interface SessionState {
  readonly id: string;
  readonly settings: SessionSettings;
  readonly encoder: Encoder;
  readonly validate: Validator | null;
  readonly schedule: SessionSchedulePort | null;
  readonly initiator: boolean;
  status: Status;
  health: Health;
  nextSenderSeq: number;
  nextTargetSeq: number;
  /** Heartbeat interval in force (ms): ours as initiator, the counterparty's as acceptor. */
  heartBtIntMs: number;
  lastSentAt: number;
  lastReceivedAt: number;
  /** TestRequests sent since the last message received. */
  testRequestsSent: number;
  /** When the current transport connected (0: none). */
  connectedAt: number;
  logonSentAt: number;
  logoutSentAt: number;
  sentLogon: boolean;
  receivedLogon: boolean;
  sentLogout: boolean;
  sentReset: boolean;
  receivedReset: boolean;
  /** Messages received ahead of a gap, by MsgSeqNum; processed once the gap is filled. */
  queue: Map<number, FixMessage>;
  resendRange: ResendRange | null;
  serving: ServeRange | null;
  /** ResendRequests that arrived while another was being served. */
  serveQueue: Array<{ begin: number; end: number }>;
  /** A chunk of stored messages is being read: inbound processing waits so replies keep QuickFIX's order. */
  resendLoading: boolean;
  deferred: SessionEvent[];
  /** The replay that was under way when the message being processed arrived (duplicate ResendRequest check). */
  servingAtArrival: { begin: number; end: number } | null;
  /** An application message was handed out; queued messages resume after the application has answered. */
  pendingResume: boolean;
  /** The store is starting a new cycle; inbound processing waits for `storeReset`. */
  storeResetting: boolean;
  /** When the current sequence cycle began (schedules decide from it whether a daily reset is due). */
  cycleCreatedAt: number;
  /** No message has been exchanged in this cycle yet (ForceSeqNumReset=1 resets only then). */
  freshCycle: boolean;
  safeReason: string | null;
  /** Since when the session has been healthy while DEGRADED (hysteresis), or 0. */
  healthySince: number;
  lastResendAsk: { begin: number; end: number; count: number } | null;
  /** Initiator: failed connection attempts in a row, and when to try next. */
  connectFailures: number;
  nextConnectAt: number;
  /** Administratively enabled for logon. */
  enabled: boolean;
  /** Counterparty or operator reason for the last logout / disconnect. */
  lastLogoutReason: string;
  /** A graceful logout ended the day (IntradayLogoutTolerance=false or ResetOnLogout): reset at next logon. */
  resetAtNextLogon: boolean;
  counters: SessionCounters;
}

export interface SessionCounters {
  messagesIn: number;
  messagesOut: number;
  gapsDetected: number;
  resendRequestsSent: number;
  resendRequestsServed: number;
  messagesResent: number;
  duplicatesIgnored: number;
  garbled: number;
  rejectsSent: number;
  rejectsReceived: number;
  logons: number;
  testRequestsSent: number;
}

/** What happens to a session: the inputs of `step`. */
export type SessionEvent =
  | { type: "connected" }
  | { type: "connectFailed"; reason: string }
  | { type: "disconnected"; reason: string }
  | { type: "message"; msg: FixMessage; servingAtArrival?: { begin: number; end: number } }
  | { type: "garbled"; reason: string }
  | { type: "timer" }
  | { type: "send"; msgType: string; body: FieldList | Buffer | null; header?: FieldList; ref?: unknown }
  | { type: "resendData"; begin: number; end: number; messages: StoredMessage[] }
  | { type: "resume" }
  | { type: "storeReset" }
  | { type: "logout"; reason?: string }
  | { type: "logon" }
  | { type: "setSequences"; nextSenderSeq?: number; nextTargetSeq?: number; reason: string }
  /** Operator reset: a new store cycle with these numbers (1 when not given); `ref` is settled by `resetStore`. */
  | { type: "resetSequences"; nextSenderSeq?: number; nextTargetSeq?: number; reason: string; ref?: unknown }
  | { type: "clearSafe"; reason: string }
  /**
   * The runtime refused this Logon (credentials, source address): answer with a Logout carrying `text`, then
   * disconnect. The Logon's MsgSeqNum is consumed when it is the expected one (QuickFIX's RejectLogon).
   */
  | { type: "refuseLogon"; msg: FixMessage; text: string };

/** Everything `step` asks the world to do, in order. */
export type SessionAction =
  /** Write bytes to the counterparty; when `persist`, store them first (persist before send). */
  | { type: "send"; seq: number; msgType: string; bytes: Buffer; persist: boolean; ref?: unknown; stored?: Buffer }
  /** An application message for the application; answer synchronously, then post `resume`. */
  | { type: "deliver"; msg: FixMessage; possDup: boolean }
  /** An application send that was refused (session not LIVE, …). */
  | { type: "sendRefused"; ref?: unknown; reason: string }
  | { type: "disconnect"; reason: string }
  /** Initiator: open the transport now. */
  | { type: "connect" }
  /** Read stored outbound messages [begin, end] and post them as `resendData`. */
  | { type: "loadResend"; begin: number; end: number }
  /** Start a new cycle in the store with these numbers, then post `storeReset`. */
  | { type: "resetStore"; nextSenderSeq: number; nextTargetSeq: number; reason: string; ref?: unknown }
  /** Persist new sequence numbers without a new cycle. */
  | { type: "setStoreSequences"; nextSenderSeq: number; nextTargetSeq: number }
  /** Something an operator or a metric wants to know. */
  | { type: "notice"; notice: SessionNotice };

export type SessionNotice =
  | { kind: "health"; from: Health; to: Health; reason: string }
  | { kind: "logon"; heartBtInt: number; reset: boolean }
  | { kind: "logout"; reason: string; initiatedBy: "us" | "them" }
  | { kind: "gap"; begin: number; end: number }
  | { kind: "gapFilled"; begin: number; end: number }
  | { kind: "resendServed"; begin: number; end: number; resent: number; gapFilled: number }
  | { kind: "reject"; refSeqNum: number; reason: number | undefined; refTagId?: number; text: string }
  | { kind: "rejectReceived"; refSeqNum: number; text: string }
  | { kind: "garbled"; reason: string }
  | { kind: "duplicateIgnored"; seq: number }
  | { kind: "sequenceReset"; nextTargetSeq: number; gapFill: boolean }
  | { kind: "warning"; text: string };

export interface StepResult {
  state: SessionState;
  actions: SessionAction[];
}
