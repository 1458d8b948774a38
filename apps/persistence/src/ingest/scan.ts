/**
 * What the ingest reads of a FIX message's raw bytes, in one pass over the Buffer: the times that place it in a
 * day partition, the fill details of an ExecutionReport, and whether a secret tag is present. Values are turned
 * into strings only for the few tags asked for; nothing is validated (stored messages may be redacted or garbled,
 * and the event's own fields already carry the routing keys).
 */
import { Tag } from "@fixmesh/fix";

const SOH = 0x01;
const EQUALS = 0x3d;
const ZERO = 0x30;
const DAY_MS = 86_400_000;

export interface ScannedMessage {
  sendingTime: string | null;
  origSendingTime: string | null;
  possDup: boolean;
  symbol: string | null;
  side: string | null;
  execType: string | null;
  ordStatus: string | null;
  lastQty: string | null;
  lastPx: string | null;
  transactTime: string | null;
  /** A tag of `secretTags` is present: the bytes must be redacted before they are stored. */
  secret: boolean;
}

/**
 * One pass over `raw`; the first occurrence of each tag wins (a repeating group cannot override a header field).
 * `secretTags` is checked for every tag, so a secret anywhere in the message is found.
 */
export function scanMessage(raw: Buffer, secretTags: ReadonlySet<number>): ScannedMessage {
  const out: ScannedMessage = {
    sendingTime: null,
    origSendingTime: null,
    possDup: false,
    symbol: null,
    side: null,
    execType: null,
    ordStatus: null,
    lastQty: null,
    lastPx: null,
    transactTime: null,
    secret: false,
  };
  const n = raw.length;
  let i = 0;
  while (i < n) {
    let tag = 0;
    let j = i;
    for (; j < n; j++) {
      const c = raw[j];
      if (c === EQUALS || c === SOH) break;
      const d = c - ZERO;
      // Not a tag number: skip the field.
      tag = d >= 0 && d <= 9 && tag < 100_000_000 ? tag * 10 + d : -1_000_000_000;
    }
    let end = raw.indexOf(SOH, j);
    if (end < 0) end = n;
    if (j < n && raw[j] === EQUALS && tag > 0) {
      const v = j + 1;
      // Before the switch: a configured secret may be one of the tags read below.
      if (secretTags.has(tag)) out.secret = true;
      switch (tag) {
        case Tag.SendingTime:
          if (out.sendingTime === null) out.sendingTime = raw.toString("latin1", v, end);
          break;
        case Tag.OrigSendingTime:
          if (out.origSendingTime === null) out.origSendingTime = raw.toString("latin1", v, end);
          break;
        case Tag.PossDupFlag:
          out.possDup = end === v + 1 && raw[v] === 0x59; // 'Y'
          break;
        case Tag.Symbol:
          if (out.symbol === null) out.symbol = raw.toString("latin1", v, end);
          break;
        case Tag.Side:
          if (out.side === null) out.side = raw.toString("latin1", v, end);
          break;
        case Tag.ExecType:
          if (out.execType === null) out.execType = raw.toString("latin1", v, end);
          break;
        case Tag.OrdStatus:
          if (out.ordStatus === null) out.ordStatus = raw.toString("latin1", v, end);
          break;
        case Tag.LastQty:
          if (out.lastQty === null) out.lastQty = raw.toString("latin1", v, end);
          break;
        case Tag.LastPx:
          if (out.lastPx === null) out.lastPx = raw.toString("latin1", v, end);
          break;
        case Tag.TransactTime:
          if (out.transactTime === null) out.transactTime = raw.toString("latin1", v, end);
          break;
      }
    }
    i = end + 1;
  }
  return out;
}

/** Days since the epoch of a FIX UTCTimestamp's date (`YYYYMMDD-…`), or null when it is not one. */
function epochDayOf(ts: string | null): number | null {
  if (ts === null || ts.length < 8 || (ts.length > 8 && ts.charCodeAt(8) !== 0x2d)) return null;
  for (let k = 0; k < 8; k++) {
    const c = ts.charCodeAt(k) - ZERO;
    if (c < 0 || c > 9) return null;
  }
  const y = Number(ts.slice(0, 4));
  const m = Number(ts.slice(4, 6));
  const d = Number(ts.slice(6, 8));
  const ms = Date.UTC(y, m - 1, d);
  const check = new Date(ms);
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== m - 1 || check.getUTCDate() !== d) return null;
  return ms / DAY_MS;
}

/**
 * How far (in days) a message's partition day may be from the day it was recorded. Time-range queries widen
 * their partition bounds by this much; a sending time further off than this (a sender's broken clock) is not
 * trusted and the recording day is used instead.
 */
export const MESSAGE_DAY_SKEW_DAYS = 7;

/**
 * The day partition of a message, as `YYYY-MM-DD` (UTC): the date of its original sending time — OrigSendingTime
 * (122) on a PossDupFlag=Y copy, otherwise SendingTime(52). Those are bytes of the message itself: the same in
 * the event the connector put in its outbox, in every republish and redelivery of that event, and in a copy the
 * counterparty resends (which gets a new 52 but carries the original in 122) — while the recording time `at`
 * of a second event for the same message is later, and may fall after midnight. Only when the message has no
 * usable date, or one more than MESSAGE_DAY_SKEW_DAYS from `at`, does the recording day decide.
 */
export function messageDay(s: ScannedMessage, at: number): string {
  const recorded = Math.floor(at / DAY_MS);
  const ts = s.possDup && s.origSendingTime !== null ? s.origSendingTime : s.sendingTime;
  // Consecutive messages are nearly always of one day: the last answer is kept.
  let sent: number | null;
  if (ts !== null && last.ts !== null && ts.length >= 8 && ts.startsWith(last.ts) && ts.length === last.len) {
    sent = last.day;
  } else {
    sent = epochDayOf(ts);
    if (ts !== null && sent !== null) {
      last.ts = ts.slice(0, 9);
      last.len = ts.length;
      last.day = sent;
    }
  }
  const day = sent !== null && Math.abs(sent - recorded) <= MESSAGE_DAY_SKEW_DAYS ? sent : recorded;
  if (day !== last.formattedDay) {
    last.formattedDay = day;
    last.formatted = new Date(day * DAY_MS).toISOString().slice(0, 10);
  }
  return last.formatted;
}

const last = { ts: null as string | null, len: 0, day: 0, formattedDay: Number.NaN, formatted: "" };
