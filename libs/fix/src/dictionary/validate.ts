import type { FixMessage } from "../codec/message.js";
import { type FieldContainer, FieldFlag, type GroupDef, hasTag, type MessageDef, type SpecModel } from "./compile.js";
import { type Dictionary, Placement } from "./dictionary.js";
import { Format, isValidFormat } from "./formats.js";
import { rejectReasonText, SessionRejectReason, type ValidationError } from "./reject.js";

/** Validation settings, named after QuickFIX's session settings. */
export interface ValidationOptions {
  /** ValidateFieldsOutOfOrder: header fields after the body, or body fields after the trailer → 14. Default true. */
  readonly validateFieldsOutOfOrder?: boolean;
  /** ValidateFieldsHaveValues: an empty value → 4. Default true. */
  readonly validateFieldsHaveValues?: boolean;
  /** ValidateUserDefinedFields: check tags 5000 and up like the others (unknown → 0, not in message → 2). Default true. */
  readonly validateUserDefinedFields?: boolean;
  /** AllowUnknownMsgFields: tags below 5000 that are unknown or not in the message are let through. Default false. */
  readonly allowUnknownMsgFields?: boolean;
  /**
   * Check the header's required fields (34, 49, 52, 56, …) after everything else. QuickFIX does this outside
   * its dictionary: 49/56 before validation, 34/52 after it (missing ones are a Reject, or from FIX 4.2 on a
   * BusinessMessageReject for application messages). Default true; a session layer that checks them itself in
   * QuickFIX's order can turn this off.
   */
  readonly validateHeaderRequired?: boolean;
  /**
   * Also check the fields inside repeating groups (empty value, format, enum, unknown tag, nested NumInGroup
   * count), after the top-level checks. QuickFIX 1.15 does not look inside groups. Default false.
   */
  readonly validateGroupFields?: boolean;
}

const NO_OPTIONS: ValidationOptions = {};

// Imported enum objects, copied to plain constants: every property read off an imported binding costs on
// the hot path.
const DEFINED = FieldFlag.Defined;
const DATA = FieldFlag.Data;
const LENGTH = FieldFlag.Length;
const ENUM = FieldFlag.Enum;
const MULTI_VALUE = FieldFlag.MultiValue;
const GROUP_COUNT = FieldFlag.GroupCount;
const BODY = Placement.Body;
const HEADER = Placement.Header;
const NO_FORMAT = Format.None;

const USER_MIN = 5000;

// Where each field of the message went (by field index): top level of header, body or trailer, or a group.
const W_BODY = 0;
const W_HEADER = 1;
const W_TRAILER = 2;
/** Inside a group of the message body. */
const W_GROUP = 3;
/** Inside a group of the header or trailer (NoHops). */
const W_TRANSPORT_GROUP = 4;

/**
 * Scratch state reused by every call (validation is synchronous, so one set suffices): per-field-index
 * arrays, and per-tag "seen in this message" stamps that need no clearing.
 */
let where = new Uint8Array(256);
let counts = new Int32Array(256);
let seen = new Uint32Array(8192);
let entrySeen = new Uint32Array(8192);
let stamp = 0;
let entryStamp = 0;
let groupRequiredMissing = false;
// The options of the current call, read once.
let checkHaveValues = true;
let skipTagChecksBelowUserMin = false;
let skipTagChecksFromUserMin = false;

function prepare(n: number, tagLimit: number): void {
  if (where.length < n) {
    const size = Math.max(n, where.length * 2);
    where = new Uint8Array(size);
    counts = new Int32Array(size);
  }
  if (seen.length < tagLimit) {
    seen = new Uint32Array(tagLimit);
    entrySeen = new Uint32Array(tagLimit);
    stamp = 0;
    entryStamp = 0;
  }
  if (stamp === 0xffffffff) {
    seen.fill(0);
    stamp = 0;
  }
  stamp++;
}

function nextEntryStamp(): number {
  if (entryStamp === 0xffffffff) {
    entrySeen.fill(0);
    entryStamp = 0;
  }
  return ++entryStamp;
}

function error(reason: SessionRejectReason, refTagId?: number): ValidationError {
  return refTagId === undefined
    ? { reason, text: rejectReasonText(reason) }
    : { reason, refTagId, text: rejectReasonText(reason) };
}

/**
 * Validates a parsed message against the dictionary as QuickFIX's DataDictionary::validate does, in the same
 * order, so the first problem found is the one QuickFIX would report:
 *
 * 1. a header field after the body, or a body field after the trailer → 14 (the first such field);
 * 2. MsgType not in the dictionary → 11;
 * 3. a required body field missing → 1 (ascending tag order), then required members of group entries;
 * 4. every header field (8, 9, 35, then ascending), every trailer field, then every body field in ascending tag
 *    order: the same tag twice → 13; empty → 4; bad format → 6; value not in the enum → 5; tag unknown to the
 *    dictionary → 0; not a field of this message → 2; NumInGroup not matching the entries → 16;
 * 5. a required header field missing → 1 (see `validateHeaderRequired`).
 *
 * A value holding SOH in a field that is not DATA (possible only after a LENGTH field) → 17, with the format
 * check. Returns null when the message is valid. Allocates nothing unless it finds a problem.
 *
 * The session layer checks before this what QuickFIX checks before its dictionary: SenderCompID/TargetCompID
 * present, and BeginString equal to the session's (`dict.beginString`), which is not looked at here.
 */
export function validate(
  msg: FixMessage,
  dict: Dictionary,
  options: ValidationOptions = NO_OPTIONS,
): ValidationError | null {
  const n = msg.count;
  const f = msg.fields;
  prepare(n, dict.tagLimit);
  const st = stamp;
  const placement = dict.placement;
  const transport = dict.transport;
  const model = dict.modelFor(msg.msgType);
  const msgDef = model.message(msg.msgType);
  const headerGroups = transport.header.groups;
  const trailerGroups = transport.trailer.groups;
  groupRequiredMissing = false;
  checkHaveValues = options.validateFieldsHaveValues !== false;
  skipTagChecksBelowUserMin = options.allowUnknownMsgFields === true;
  skipTagChecksFromUserMin = options.validateUserDefinedFields === false;

  // One pass in wire order: place each field as QuickFIX's Message::setString does, parsing groups as it goes,
  // and check each top-level field. A failed check (or a repeated tag) only marks the message: the problem
  // QuickFIX reports first is found afterwards, in its order, by `orderedFieldChecks`.
  let section = W_HEADER;
  let outOfOrder = false;
  let outOfOrderTag = 0;
  let ordered = false;
  let untracked = 0;
  for (let i = 0; i < n; ) {
    const at = i;
    const t = f[at * 3];
    const p = t >= 0 && t < placement.length ? placement[t] : BODY;
    counts[at] = -1;
    if (t >= 0 && t < seen.length) {
      if (seen[t] === st) ordered = true;
      else seen[t] = st;
    } else if (++untracked > 1) ordered = true;
    i++;
    if (p === BODY) {
      if (section === W_TRAILER && !outOfOrder) {
        outOfOrder = true;
        outOfOrderTag = t;
      }
      section = W_BODY;
      where[at] = W_BODY;
      if (msgDef === undefined) continue; // an invalid MsgType is all QuickFIX reports
      if (isGroupCount(model, t)) {
        const g = msgDef.groups.get(t);
        if (g !== undefined) i = parseGroup(f, n, i, g, model, W_GROUP);
      }
      if (!ordered && checkField(msg, at, model, msgDef) >= 0) ordered = true;
    } else {
      if (p === HEADER) {
        if (section !== W_HEADER && !outOfOrder) {
          outOfOrder = true;
          outOfOrderTag = t;
        }
        where[at] = W_HEADER;
      } else {
        section = W_TRAILER;
        where[at] = W_TRAILER;
      }
      if (isGroupCount(transport, t)) {
        const g = (p === HEADER ? headerGroups : trailerGroups).get(t);
        if (g !== undefined) i = parseGroup(f, n, i, g, transport, W_TRANSPORT_GROUP);
      }
      if (!ordered && checkField(msg, at, transport, undefined) >= 0) ordered = true;
    }
  }

  if (outOfOrder && options.validateFieldsOutOfOrder !== false) {
    return error(SessionRejectReason.TagSpecifiedOutOfRequiredOrder, outOfOrderTag);
  }
  if (msgDef === undefined) return error(SessionRejectReason.InvalidMsgType);

  const required = msgDef.required;
  for (let k = 0; k < required.length; k++) {
    const r = required[k];
    if (seen[r] !== st) return error(SessionRejectReason.RequiredTagMissing, r);
  }
  if (groupRequiredMissing) {
    const missing = firstMissingInGroups(msg, dict, msgDef);
    if (missing !== 0) return error(SessionRejectReason.RequiredTagMissing, missing);
  }

  if (ordered) {
    const err = orderedFieldChecks(msg, dict, model, msgDef);
    if (err !== null) return err;
  }

  if (options.validateGroupFields === true) {
    for (let i = 0; i < n; i++) {
      const w = where[i];
      if (w !== W_GROUP && w !== W_TRANSPORT_GROUP) continue;
      const code = checkGroupField(msg, i, w === W_GROUP ? model : transport);
      if (code >= 0) return error(code as SessionRejectReason, f[i * 3]);
    }
  }

  if (options.validateHeaderRequired !== false) {
    const hr = transport.header.required;
    for (let k = 0; k < hr.length; k++) {
      if (seen[hr[k]] !== st) return error(SessionRejectReason.RequiredTagMissing, hr[k]);
    }
  }
  return null;
}

/**
 * Reads the entries of one repeating group starting at field `i` (just after its NumInGroup field), the way
 * QuickFIX's Message::setGroup does: an entry starts at the delimiter, or at a member already present in the
 * current entry; the group ends at the first field that is not a member. Records the number of entries at
 * the NumInGroup field's index. Returns the index of the first field after the group.
 */
function parseGroup(f: Int32Array, n: number, i: number, def: GroupDef, model: SpecModel, w: number): number {
  const countIndex = i - 1;
  const delimiter = def.delimiter;
  let entries = 0;
  let open = false;
  let es = 0;
  while (i < n) {
    const t = f[i * 3];
    if (!hasTag(model, def, t)) break;
    const inRange = t >= 0 && t < entrySeen.length;
    if (!open || t === delimiter || (inRange && entrySeen[t] === es)) {
      if (open) {
        entries++;
        closeEntry(def, es);
      }
      es = nextEntryStamp();
      open = true;
    }
    counts[i] = -1;
    where[i] = w;
    if (inRange) entrySeen[t] = es;
    i++;
    if (isGroupCount(model, t)) {
      const nested = def.groups.get(t);
      if (nested !== undefined) i = parseGroup(f, n, i, nested, model, w);
    }
  }
  // A field that is not a member ends the group. If the message ended inside the group instead, QuickFIX
  // drops the entry it was filling.
  if (open && i < n) {
    entries++;
    closeEntry(def, es);
  }
  counts[countIndex] = entries;
  return i;
}

function isGroupCount(model: SpecModel, t: number): boolean {
  return t >= 0 && t < model.flags.length && (model.flags[t] & GROUP_COUNT) !== 0;
}

function closeEntry(def: GroupDef, es: number): void {
  if (!def.checkRequired) return;
  const r = def.required;
  for (let k = 0; k < r.length; k++) if (entrySeen[r[k]] !== es) groupRequiredMissing = true;
}

/**
 * Checks one top-level field (`msgDef` given for body fields). Returns a SessionRejectReason, or -1.
 * The order is QuickFIX's (DataDictionary::iterate): value present, format, enum, tag known, tag in message,
 * NumInGroup count.
 */
function checkField(msg: FixMessage, i: number, model: SpecModel, msgDef: MessageDef | undefined): number {
  const code = checkValue(msg, i, model);
  if (code >= 0) return code;
  const t = msg.fields[i * 3];
  if (t < USER_MIN ? skipTagChecksBelowUserMin : skipTagChecksFromUserMin) return -1;
  const flags = model.flags;
  const fl = t >= 0 && t < flags.length ? flags[t] : 0;
  if ((fl & DEFINED) === 0) return SessionRejectReason.InvalidTagNumber;
  if (msgDef === undefined) return -1;
  const id = model.denseIds[t];
  if ((msgDef.bits[id >> 3] & (1 << (id & 7))) === 0) return SessionRejectReason.TagNotDefinedForMessageType;
  if (fl & GROUP_COUNT && msgDef.groups.has(t) && msg.intAt(i) !== counts[i]) {
    return SessionRejectReason.IncorrectNumInGroupCount;
  }
  return -1;
}

/** Empty value, SOH in a non-DATA value, format, enum. */
function checkValue(msg: FixMessage, i: number, model: SpecModel): number {
  const f = msg.fields;
  const k = i * 3;
  const s = f[k + 1];
  const e = f[k + 2];
  if (s === e && checkHaveValues) return SessionRejectReason.TagSpecifiedWithoutValue;
  const t = f[k];
  const flags = model.flags;
  const fl = t >= 0 && t < flags.length ? flags[t] : 0;
  if ((fl & DEFINED) === 0) return -1;
  const raw = msg.raw;
  // Only a value announced by a LENGTH field can hold SOH (the parser takes it whole).
  if (k > 0 && (fl & DATA) === 0) {
    const pt = f[k - 3];
    if (pt >= 0 && pt < flags.length && (flags[pt] & LENGTH) !== 0) {
      for (let p = s; p < e; p++) if (raw[p] === 1) return SessionRejectReason.NonDataValueIncludesFieldDelimiter;
    }
  }
  const fmt = model.formats[t];
  if (fmt !== NO_FORMAT && !isValidFormat(raw, s, e, fmt)) return SessionRejectReason.IncorrectDataFormat;
  if ((fl & ENUM) !== 0) {
    const set = model.enumSets[t];
    if (set !== undefined && !((fl & MULTI_VALUE) !== 0 ? set.matchesEach(raw, s, e) : set.matches(raw, s, e))) {
      return SessionRejectReason.ValueIsIncorrect;
    }
  }
  return -1;
}

/** A field inside a group (`validateGroupFields`): value checks, tag known, nested NumInGroup count. */
function checkGroupField(msg: FixMessage, i: number, model: SpecModel): number {
  const code = checkValue(msg, i, model);
  if (code >= 0) return code;
  const t = msg.fields[i * 3];
  if (t < USER_MIN ? skipTagChecksBelowUserMin : skipTagChecksFromUserMin) return -1;
  if (!(t >= 0 && t < model.flags.length && model.flags[t] & DEFINED)) {
    return SessionRejectReason.InvalidTagNumber;
  }
  if (counts[i] >= 0 && msg.intAt(i) !== counts[i]) return SessionRejectReason.IncorrectNumInGroupCount;
  return -1;
}

/** Header order in QuickFIX's FieldMap: 8, 9, 35 first, then ascending. */
function headerKey(t: number): number {
  return t === 8 ? -3 : t === 9 ? -2 : t === 35 ? -1 : t;
}

/** Trailer order: ascending, CheckSum(10) last. */
function trailerKey(t: number): number {
  return t === 10 ? Number.MAX_SAFE_INTEGER : t;
}

function sortedIndices(msg: FixMessage, w: number, key: (t: number) => number): number[] {
  const out: number[] = [];
  for (let i = 0; i < msg.count; i++) if (where[i] === w) out.push(i);
  // Stable: equal tags stay in wire order.
  return out.sort((a, b) => key(msg.tagAt(a)) - key(msg.tagAt(b)) || a - b);
}

/** The field checks in QuickFIX's order: header, trailer, body; each sorted as QuickFIX stores it. */
function orderedFieldChecks(
  msg: FixMessage,
  dict: Dictionary,
  model: SpecModel,
  msgDef: MessageDef,
): ValidationError | null {
  const passes: [number[], SpecModel, MessageDef | undefined][] = [
    [sortedIndices(msg, W_HEADER, headerKey), dict.transport, undefined],
    [sortedIndices(msg, W_TRAILER, trailerKey), dict.transport, undefined],
    [sortedIndices(msg, W_BODY, (t) => t), model, msgDef],
  ];
  for (const [indices, m, def] of passes) {
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      const t = msg.tagAt(i);
      if (k > 0 && t === msg.tagAt(indices[k - 1])) return error(SessionRejectReason.TagAppearsMoreThanOnce, t);
      const code = checkField(msg, i, m, def);
      if (code >= 0) return error(code as SessionRejectReason, t);
    }
  }
  return null;
}

/** One parsed entry: its own fields (tags, wire order) and nested groups by NumInGroup tag. */
interface EntryTree {
  readonly def: GroupDef;
  readonly tags: number[];
  readonly groups: Map<number, EntryTree[]>;
}

/**
 * The first required member missing from a group entry, in QuickFIX's order (checkHasRequired): groups by
 * ascending NumInGroup tag, entries in order, an entry's own required fields ascending and then its groups.
 */
function firstMissingInGroups(msg: FixMessage, dict: Dictionary, msgDef: MessageDef): number {
  const top = new Map<number, EntryTree[]>();
  const placement = dict.placement;
  const n = msg.count;
  for (let i = 0; i < n; ) {
    const t = msg.tagAt(i);
    const p = t >= 0 && t < placement.length ? placement[t] : BODY;
    i++;
    const container: FieldContainer = p === HEADER ? dict.header : p === Placement.Trailer ? dict.trailer : msgDef;
    const g = container.groups.get(t);
    if (g === undefined) continue;
    const sink = p === BODY ? top : new Map<number, EntryTree[]>();
    i = collect(msg, i, g, sink);
  }
  return missingIn(top);
}

function collect(msg: FixMessage, i: number, def: GroupDef, sink: Map<number, EntryTree[]>): number {
  let list = sink.get(def.tag);
  if (list === undefined) {
    list = [];
    sink.set(def.tag, list);
  }
  let entry: EntryTree | undefined;
  const n = msg.count;
  while (i < n) {
    const t = msg.tagAt(i);
    if (!def.tags.has(t)) {
      if (entry !== undefined) list.push(entry);
      return i;
    }
    if (entry === undefined || t === def.delimiter || entry.tags.includes(t)) {
      if (entry !== undefined) list.push(entry);
      entry = { def, tags: [], groups: new Map() };
    }
    entry.tags.push(t);
    i++;
    const nested = def.groups.get(t);
    if (nested !== undefined) i = collect(msg, i, nested, entry.groups);
  }
  return i;
}

function missingIn(groups: Map<number, EntryTree[]>): number {
  for (const tag of [...groups.keys()].sort((a, b) => a - b)) {
    for (const entry of groups.get(tag) ?? []) {
      const def = entry.def;
      if (!def.checkRequired || def.required.length === 0) continue;
      for (const r of def.required) if (!entry.tags.includes(r)) return r;
      const nested = missingIn(entry.groups);
      if (nested !== 0) return nested;
    }
  }
  return 0;
}
