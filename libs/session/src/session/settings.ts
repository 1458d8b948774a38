import { ConfigError } from "../errors.js";

/**
 * Settings of one FIX session, under the names users know from QuickFIX and FIXEdge. Times are in seconds,
 * as in those engines' configuration files.
 */
export interface SessionSettings {
  BeginString: string;
  SenderCompID: string;
  TargetCompID: string;
  /** `initiator` connects and logs on; `acceptor` waits for the counterparty's Logon. */
  ConnectionType: "initiator" | "acceptor";
  /** FIXT.1.1 sessions: the application version we speak (e.g. `FIX.5.0SP2`, or the ApplVerID code `9`). */
  DefaultApplVerID?: string;
  /** Heartbeat interval, seconds. The initiator proposes it; the acceptor adopts the initiator's value. */
  HeartBtInt: number;
  /** Send a TestRequest after this many HeartBtInts of silence (QuickFIX C++ uses 1.2). */
  TestRequestThreshold: number;
  /** Declare the link dead after this many HeartBtInts of silence (QuickFIX C++ uses 2.4). */
  HeartbeatTimeoutThreshold: number;
  StartTime?: string;
  EndTime?: string;
  StartDay?: string;
  EndDay?: string;
  Weekdays?: string[];
  TimeZone?: string;
  NonStopSession: boolean;
  ResetOnLogon: boolean;
  ResetOnLogout: boolean;
  ResetOnDisconnect: boolean;
  /** FIXEdge: 0 never send ResetSeqNumFlag; 1 reset (141=Y) on the first logon of a new cycle; 2 on every logon. */
  ForceSeqNumReset: 0 | 1 | 2;
  /** FIXEdge: false makes a graceful Logout end the day — the next Logon starts a new cycle. */
  IntradayLogoutTolerance: boolean;
  /** Ask for at most this many messages per ResendRequest (0: everything at once, `16=0`). */
  ResendRequestChunkSize: number;
  /** Ignore a ResendRequest for a range we are already replaying. */
  IgnoreDuplicateResendRequests: boolean;
  /** Stored messages read per step when serving a ResendRequest (bounds memory and latency of a replay). */
  ResendServeChunkSize: number;
  ValidateUserDefinedFields: boolean;
  ValidateFieldsOutOfOrder: boolean;
  ValidateFieldsHaveValues: boolean;
  AllowUnknownMsgFields: boolean;
  CheckCompID: boolean;
  CheckLatency: boolean;
  /** Seconds a SendingTime may differ from our clock. */
  MaxLatency: number;
  UsernameTag: number;
  PasswordTag: number;
  Username?: string;
  Password?: string;
  /** Seconds between reconnect attempts (initiator); doubled per failure up to ReconnectMaxInterval, with jitter. */
  ReconnectInterval: number;
  ReconnectMaxInterval: number;
  /** 0: unlimited. */
  ReconnectMaxTries: number;
  LogonTimeout: number;
  LogoutTimeout: number;
  /**
   * FIX 4.4+: put NextExpectedMsgSeqNum(789) in our Logon, and act on the counterparty's — resend what it has
   * not seen without waiting for a ResendRequest, and refuse a number beyond what we ever sent.
   */
  SendNextExpectedMsgSeqNum: boolean;
  /** Force the next expected inbound / next outbound MsgSeqNum at start (operator recovery). */
  InSeqNum?: number;
  OutSeqNum?: number;
  /** SendingTime digits: 0 (seconds; forced for FIX 4.0/4.1), 3, 6 or 9. */
  TimestampPrecision: 0 | 3 | 6 | 9;
  /** Enter DEGRADED when this many inbound messages wait for a gap to be filled. */
  DegradedBacklog: number;
  /** Seconds of health before DEGRADED returns to LIVE (hysteresis). */
  DegradedRecoverySeconds: number;
  /** A counterparty asking for the same range this many times in a row puts the session in SAFE. */
  ResendLoopLimit: number;
}

export const DEFAULT_SETTINGS: Omit<
  SessionSettings,
  "BeginString" | "SenderCompID" | "TargetCompID" | "ConnectionType"
> = {
  HeartBtInt: 30,
  TestRequestThreshold: 1.5,
  HeartbeatTimeoutThreshold: 2,
  NonStopSession: false,
  StartTime: "00:00:00",
  EndTime: "00:00:00",
  ResetOnLogon: false,
  ResetOnLogout: false,
  ResetOnDisconnect: false,
  ForceSeqNumReset: 0,
  IntradayLogoutTolerance: true,
  ResendRequestChunkSize: 0,
  IgnoreDuplicateResendRequests: false,
  ResendServeChunkSize: 1000,
  ValidateUserDefinedFields: true,
  ValidateFieldsOutOfOrder: true,
  ValidateFieldsHaveValues: true,
  AllowUnknownMsgFields: false,
  CheckCompID: true,
  CheckLatency: true,
  MaxLatency: 120,
  UsernameTag: 553,
  PasswordTag: 554,
  ReconnectInterval: 1,
  ReconnectMaxInterval: 30,
  ReconnectMaxTries: 0,
  LogonTimeout: 10,
  LogoutTimeout: 2,
  TimestampPrecision: 3,
  DegradedBacklog: 1000,
  DegradedRecoverySeconds: 5,
  ResendLoopLimit: 3,
  SendNextExpectedMsgSeqNum: false,
};

const BEGIN_STRINGS = ["FIX.4.0", "FIX.4.1", "FIX.4.2", "FIX.4.3", "FIX.4.4", "FIXT.1.1"];

/** Fills defaults and checks the settings; a bad one fails with the field's name and the reason. */
export function resolveSettings(
  s: Partial<SessionSettings> & Pick<SessionSettings, "BeginString" | "SenderCompID" | "TargetCompID">,
  path = "session",
): SessionSettings {
  const r = { ConnectionType: "initiator", ...DEFAULT_SETTINGS, ...stripUndefined(s) } as SessionSettings;
  if (!BEGIN_STRINGS.includes(r.BeginString)) {
    throw new ConfigError(`${path}.BeginString`, `must be one of ${BEGIN_STRINGS.join(", ")}, got "${r.BeginString}"`);
  }
  for (const k of ["SenderCompID", "TargetCompID"] as const) {
    if (!r[k] || /[\x00-\x1f=]/.test(r[k]))
      throw new ConfigError(`${path}.${k}`, "must be a non-empty printable string");
  }
  if (r.ConnectionType !== "initiator" && r.ConnectionType !== "acceptor") {
    throw new ConfigError(`${path}.ConnectionType`, `must be initiator or acceptor, got "${r.ConnectionType}"`);
  }
  if (!Number.isInteger(r.HeartBtInt) || r.HeartBtInt < 0 || r.HeartBtInt > 3600) {
    throw new ConfigError(`${path}.HeartBtInt`, "must be a whole number of seconds from 0 to 3600");
  }
  if (r.TestRequestThreshold <= 1 || r.HeartbeatTimeoutThreshold <= r.TestRequestThreshold) {
    throw new ConfigError(
      `${path}.HeartbeatTimeoutThreshold`,
      "must exceed TestRequestThreshold, which must exceed 1 (a TestRequest needs time to be answered)",
    );
  }
  if (![0, 1, 2].includes(r.ForceSeqNumReset)) throw new ConfigError(`${path}.ForceSeqNumReset`, "must be 0, 1 or 2");
  if (![0, 3, 6, 9].includes(r.TimestampPrecision)) {
    throw new ConfigError(`${path}.TimestampPrecision`, "must be 0, 3, 6 or 9");
  }
  if (r.BeginString === "FIX.4.0" || r.BeginString === "FIX.4.1") r.TimestampPrecision = 0;
  for (const k of [
    "ResendRequestChunkSize",
    "MaxLatency",
    "LogonTimeout",
    "LogoutTimeout",
    "ReconnectMaxTries",
  ] as const) {
    if (!(r[k] >= 0)) throw new ConfigError(`${path}.${k}`, "must be zero or more");
  }
  if (!(r.ResendServeChunkSize >= 1)) throw new ConfigError(`${path}.ResendServeChunkSize`, "must be at least 1");
  if (!(r.ReconnectInterval > 0)) throw new ConfigError(`${path}.ReconnectInterval`, "must be more than zero");
  for (const k of ["InSeqNum", "OutSeqNum"] as const) {
    const v = r[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new ConfigError(`${path}.${k}`, "must be 1 or more");
  }
  return r;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** A stable id for a session: `FIX.4.4:ISLD->TW44`. */
export function sessionIdOf(s: Pick<SessionSettings, "BeginString" | "SenderCompID" | "TargetCompID">): string {
  return `${s.BeginString}:${s.SenderCompID}->${s.TargetCompID}`;
}
