/**
 * OrdStatus(39) and the rule that picks one when several hold at once.
 *
 * FIX (4.2 and 4.4, OrdStatus in the field dictionary; FIX 4.4 Volume 4, "Order State Change Matrices") says that
 * when an order is in more than one state the sender reports the one of highest precedence — a partially filled
 * order with a cancel request pending is reported as Pending Cancel. The table, highest first:
 *
 * | precedence | OrdStatus |
 * | --- | --- |
 * | 11 | Pending Cancel (6) |
 * | 10 | Pending Replace (E) |
 * | 9 | Done for Day (3) |
 * | 8 | Calculated (B) |
 * | 7 | Filled (2) |
 * | 6 | Stopped (7) |
 * | 5 | Suspended (9) |
 * | 4 | Canceled (4), Expired (C) |
 * | 3 | Partially Filled (1) |
 * | 2 | New (0), Rejected (8), Pending New (A) |
 * | 1 | Accepted for Bidding (D) |
 *
 * We apply the same table to our own view, with one deliberate change: an order that is over (Rejected, Filled,
 * Canceled, Expired, and Calculated on top of Filled) is reported as such even with a request of ours outstanding.
 * The venue ranks Pending Cancel above Filled because it is telling us it has the request in hand; we know that a
 * request against a finished order can only end in an OrderCancelReject, and a client asking "is my order done?"
 * must hear "Filled", not "Pending Cancel", in the window before that reject arrives.
 */

export const OrdStatus = {
  New: "0",
  PartiallyFilled: "1",
  Filled: "2",
  DoneForDay: "3",
  Canceled: "4",
  /** FIX 4.2 only ("no longer used" in 4.4): 4.4 reports the order's status on the Replaced report instead. */
  Replaced: "5",
  PendingCancel: "6",
  Stopped: "7",
  Rejected: "8",
  Suspended: "9",
  PendingNew: "A",
  Calculated: "B",
  Expired: "C",
  AcceptedForBidding: "D",
  PendingReplace: "E",
} as const;
export type OrdStatus = (typeof OrdStatus)[keyof typeof OrdStatus];

/** The FIX precedence of each OrdStatus (the table above); Replaced, which has none, ranks with New. */
export const OrdStatusPrecedence: Readonly<Record<OrdStatus, number>> = {
  [OrdStatus.PendingCancel]: 11,
  [OrdStatus.PendingReplace]: 10,
  [OrdStatus.DoneForDay]: 9,
  [OrdStatus.Calculated]: 8,
  [OrdStatus.Filled]: 7,
  [OrdStatus.Stopped]: 6,
  [OrdStatus.Suspended]: 5,
  [OrdStatus.Canceled]: 4,
  [OrdStatus.Expired]: 4,
  [OrdStatus.PartiallyFilled]: 3,
  [OrdStatus.New]: 2,
  [OrdStatus.Rejected]: 2,
  [OrdStatus.PendingNew]: 2,
  [OrdStatus.Replaced]: 2,
  [OrdStatus.AcceptedForBidding]: 1,
};

const ALL = new Set<string>(Object.values(OrdStatus));

export function isOrdStatus(s: string): s is OrdStatus {
  return ALL.has(s);
}

/** Statuses after which nothing more happens to the order (no fill, no cancel, no replace). */
const FINAL = new Set<string>([OrdStatus.Filled, OrdStatus.Canceled, OrdStatus.Expired, OrdStatus.Rejected]);

/** True for Filled, Canceled, Expired and Rejected — and Calculated, which FIX only uses on a completed order. */
export function isFinal(s: string): boolean {
  return FINAL.has(s) || s === OrdStatus.Calculated;
}

/** OrdStatus values for which FIX lets LeavesQty be 0 rather than OrderQty − CumQty: the order no longer works. */
const DONE = new Set<string>([
  OrdStatus.Filled,
  OrdStatus.DoneForDay,
  OrdStatus.Canceled,
  OrdStatus.Rejected,
  OrdStatus.Calculated,
  OrdStatus.Expired,
]);

export function isDone(s: string): boolean {
  return DONE.has(s);
}

/** What is known to hold for an order, from which its status is derived. */
export interface StatusFacts {
  /** The venue has taken the order (any report but Pending New or Rejected). */
  acknowledged: boolean;
  rejected: boolean;
  canceled: boolean;
  expired: boolean;
  /** CumQty has reached OrderQty. */
  filled: boolean;
  /** Some quantity is filled. */
  partiallyFilled: boolean;
  doneForDay: boolean;
  calculated: boolean;
  stopped: boolean;
  suspended: boolean;
  pendingCancel: boolean;
  pendingReplace: boolean;
}

/**
 * The status of highest precedence among those that hold (the table above, finished states first). A function of
 * the facts only — never of the order in which they were learnt — which is what makes a late report harmless: a New
 * that arrives after a fill adds "acknowledged", and PartiallyFilled still outranks New.
 */
export function deriveStatus(f: StatusFacts): OrdStatus {
  // Finished: nothing outstanding can change these (see the module comment for why they outrank pending requests).
  if (f.rejected) return OrdStatus.Rejected;
  if (f.filled) return f.calculated ? OrdStatus.Calculated : OrdStatus.Filled;
  if (f.canceled) return OrdStatus.Canceled;
  if (f.expired) return OrdStatus.Expired;
  // Working or resting: FIX precedence as written.
  if (f.pendingCancel) return OrdStatus.PendingCancel;
  if (f.pendingReplace) return OrdStatus.PendingReplace;
  if (f.doneForDay) return OrdStatus.DoneForDay; // 9 outranks Calculated (8)
  if (f.stopped) return OrdStatus.Stopped;
  if (f.suspended) return OrdStatus.Suspended;
  if (f.partiallyFilled) return OrdStatus.PartiallyFilled;
  if (f.acknowledged) return OrdStatus.New;
  return OrdStatus.PendingNew;
}
