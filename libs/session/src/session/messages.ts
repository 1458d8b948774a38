import { type FieldList, type FixMessage, formatUtcTimestamp, MsgType, Tag } from "@fixmesh/fix";
import type { SessionAction, SessionState } from "./types.js";

/** MsgTypes of the session layer; everything else is an application message. */
const ADMIN_TYPES = new Set<string>([
  MsgType.Heartbeat,
  MsgType.TestRequest,
  MsgType.ResendRequest,
  MsgType.Reject,
  MsgType.SequenceReset,
  MsgType.Logout,
  MsgType.Logon,
]);

export function isAdmin(msgType: string): boolean {
  return ADMIN_TYPES.has(msgType);
}

/** Header fields of FIX 4.0–5.0 (union), used to split a stored message into header and body when resending. */
export const HEADER_TAGS = new Set<number>([
  8, 9, 35, 34, 43, 49, 50, 52, 56, 57, 97, 115, 116, 122, 128, 129, 142, 143, 144, 145, 90, 91, 212, 213, 347, 369,
  627, 628, 629, 630, 1128, 1129, 1156,
]);

/** The SessionRejectReason(373) codes the core raises itself (the dictionary raises the rest). */
export const RejectReason = {
  InvalidTagNumber: 0,
  RequiredTagMissing: 1,
  ValueIsIncorrect: 5,
  CompIdProblem: 9,
  SendingTimeAccuracyProblem: 10,
  InvalidMsgType: 11,
} as const;

/** BeginString ordering as QuickFIX compares them (string order works for FIX.4.x; FIXT sorts after). */
export function versionAtLeast(beginString: string, min: string): boolean {
  return beginString >= min;
}

export function timestamp(st: SessionState, now: number): string {
  return formatUtcTimestamp(now, st.settings.TimestampPrecision);
}

/**
 * Sends a new message of ours: assigns the next MsgSeqNum, encodes, and asks for persist-then-send.
 * `stored` replaces the bytes kept in the store (a Logon's password is redacted there).
 */
export function sendNew(
  st: SessionState,
  acts: SessionAction[],
  now: number,
  msgType: string,
  body: FieldList | Buffer | null,
  header?: FieldList | null,
  ref?: unknown,
): number {
  const seq = st.nextSenderSeq++;
  const bytes = st.encoder.encode(msgType, seq, timestamp(st, now), body, header);
  acts.push({ type: "send", seq, msgType, bytes, persist: true, ref });
  st.lastSentAt = now;
  st.counters.messagesOut++;
  return seq;
}

/** Sends with a given MsgSeqNum and no store write (resends and GapFills). */
export function sendAgain(
  st: SessionState,
  acts: SessionAction[],
  now: number,
  seq: number,
  msgType: string,
  body: FieldList | Buffer | null,
  header: FieldList,
): void {
  const bytes = st.encoder.encode(msgType, seq, timestamp(st, now), body, header);
  acts.push({ type: "send", seq, msgType, bytes, persist: false });
  st.lastSentAt = now;
  st.counters.messagesOut++;
}

const ROUTE_SWAP: ReadonlyArray<[number, number, boolean]> = [
  // [from, to, FIX 4.1+ only]
  [Tag.OnBehalfOfCompID, Tag.DeliverToCompID, false],
  [Tag.DeliverToCompID, Tag.OnBehalfOfCompID, false],
  [Tag.OnBehalfOfSubID, Tag.DeliverToSubID, false],
  [Tag.DeliverToSubID, Tag.OnBehalfOfSubID, false],
  [Tag.OnBehalfOfLocationID, Tag.DeliverToLocationID, true],
  [Tag.DeliverToLocationID, Tag.OnBehalfOfLocationID, true],
];

/**
 * Header fields that send an answer back the way a message came: OnBehalfOf* ↔ DeliverTo*, empty ones
 * skipped (QuickFIX's Message::reverseRoute; scripts ReverseRoute, ReverseRouteWithEmptyRoutingTags).
 * Returned in ascending tag order, ready for the encoder.
 */
export function reverseRoute(st: SessionState, msg: FixMessage): FieldList {
  const out: Array<[number, string]> = [];
  const fix41 = versionAtLeast(st.settings.BeginString, "FIX.4.1");
  for (const [from, to, needs41] of ROUTE_SWAP) {
    if (needs41 && !fix41) continue;
    const v = msg.get(from);
    if (v !== undefined && v.length > 0) out.push([to, v]);
  }
  out.sort((a, b) => a[0] - b[0]);
  return out.flat();
}

/** A BusinessMessageReject (35=j) body and header for `msg`, for applications that refuse a message. */
export function businessRejectFor(
  st: SessionState,
  msg: FixMessage,
  businessRejectReason: number,
  text: string,
  refTagId?: number,
): { header: FieldList; body: FieldList } {
  const body: FieldList = [];
  const seq = msg.get(Tag.MsgSeqNum);
  if (seq) body.push(Tag.RefSeqNum, seq);
  body.push(Tag.Text, text);
  if (refTagId !== undefined) body.push(Tag.RefTagID, refTagId);
  body.push(Tag.RefMsgType, msg.msgType, Tag.BusinessRejectReason, businessRejectReason);
  return { header: reverseRoute(st, msg), body };
}
