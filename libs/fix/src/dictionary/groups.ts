import type { FieldList, FieldValue } from "../codec/encoder.js";
import type { FixMessage } from "../codec/message.js";
import { Tag } from "../gen/tags.js";
import type { FieldContainer, GroupDef } from "./compile.js";
import { type Dictionary, Placement } from "./dictionary.js";
import { DictionaryError, DictionaryErrorCode } from "./errors.js";

/** One occurrence of a repeating group in a message. */
export interface GroupInstance {
  readonly def: GroupDef;
  /** The NumInGroup tag. */
  readonly tag: number;
  /** Index of the NumInGroup field in the message (see `FixMessage.tagAt`). */
  readonly index: number;
  /** The NumInGroup value as sent (NaN when it is not a number). */
  readonly declared: number;
  /** The entries as read (which may differ from `declared` in an invalid message). */
  readonly entries: readonly GroupEntry[];
}

/** One entry of a repeating group: its own fields, and the groups nested in it. */
export class GroupEntry {
  readonly msg: FixMessage;
  /** Indices of the entry's own fields in the message, in wire order (nested groups' fields excluded). */
  readonly fields: number[] = [];
  /** Groups nested in this entry, in wire order. */
  readonly groups: GroupInstance[] = [];

  constructor(msg: FixMessage) {
    this.msg = msg;
  }

  /** Index of the entry's field with this tag, or -1. */
  indexOf(tag: number): number {
    for (const i of this.fields) if (this.msg.tagAt(i) === tag) return i;
    return -1;
  }

  has(tag: number): boolean {
    return this.indexOf(tag) >= 0;
  }

  /** The value of the entry's field with this tag (latin1), or undefined. */
  get(tag: number): string | undefined {
    const i = this.indexOf(tag);
    return i < 0 ? undefined : this.msg.valueAt(i);
  }

  /** A group nested in this entry, by NumInGroup tag. */
  group(tag: number): GroupInstance | undefined {
    return this.groups.find((g) => g.tag === tag);
  }
}

/**
 * The repeating groups of a message (header, body and trailer, nested ones inside their entries), read per
 * the dictionary the way QuickFIX reads them: an entry starts at the delimiter or at a member already present
 * in the current entry, and the group ends at the first field that is not a member.
 */
export function readGroups(msg: FixMessage, dict: Dictionary): GroupInstance[] {
  return readTopLevel(msg, dict).groups;
}

interface TopLevel {
  /** Indices of the top-level fields, wire order, with their placement. */
  readonly fields: number[];
  readonly placements: number[];
  /** The group starting at each top-level NumInGroup field, by field index. */
  readonly byIndex: Map<number, GroupInstance>;
  readonly groups: GroupInstance[];
}

function readTopLevel(msg: FixMessage, dict: Dictionary): TopLevel {
  const body: FieldContainer | undefined = dict.modelFor(msg.msgType).messages.get(msg.msgType);
  const top: TopLevel = { fields: [], placements: [], byIndex: new Map(), groups: [] };
  for (let i = 0; i < msg.count; ) {
    const t = msg.tagAt(i);
    const p = dict.isHeaderField(t) ? Placement.Header : dict.isTrailerField(t) ? Placement.Trailer : Placement.Body;
    top.fields.push(i);
    top.placements.push(p);
    const container = p === Placement.Header ? dict.header : p === Placement.Trailer ? dict.trailer : body;
    const def = container?.groups.get(t);
    i++;
    if (def !== undefined) {
      const g = readGroup(msg, i - 1, def);
      top.byIndex.set(i - 1, g.group);
      top.groups.push(g.group);
      i = g.next;
    }
  }
  return top;
}

function readGroup(msg: FixMessage, countIndex: number, def: GroupDef): { group: GroupInstance; next: number } {
  const entries: GroupEntry[] = [];
  const group: GroupInstance = { def, tag: def.tag, index: countIndex, declared: msg.intAt(countIndex), entries };
  let entry: GroupEntry | undefined;
  let i = countIndex + 1;
  while (i < msg.count) {
    const t = msg.tagAt(i);
    if (!def.tags.has(t)) {
      if (entry !== undefined) entries.push(entry);
      return { group, next: i };
    }
    if (entry === undefined || t === def.delimiter || entry.has(t)) {
      if (entry !== undefined) entries.push(entry);
      entry = new GroupEntry(msg);
    }
    entry.fields.push(i);
    i++;
    const nested = def.groups.get(t);
    if (nested !== undefined) {
      const g = readGroup(msg, i - 1, nested);
      entry.groups.push(g.group);
      i = g.next;
    }
  }
  // The message ended inside the group (no CheckSum after it): like QuickFIX, drop the unfinished entry.
  return { group, next: i };
}

/** The fields an echo carries, ordered as QuickFIX writes a message it re-sends. */
export interface EchoFields {
  /** Header fields other than 8, 9, 35, 34, 49, 52, 56, ascending; header groups after their NumInGroup. */
  readonly header: FieldList;
  /** Body fields ascending by tag; each group's entries right after its NumInGroup, fields in group order. */
  readonly body: FieldList;
  /** Trailer fields other than CheckSum(10), ascending (SignatureLength before Signature). */
  readonly trailer: FieldList;
}

/** Header fields the encoder writes itself (Encoder.encode). */
const ENCODER_HEADER = new Set<number>([
  Tag.BeginString,
  Tag.BodyLength,
  Tag.MsgType,
  Tag.MsgSeqNum,
  Tag.SenderCompID,
  Tag.SendingTime,
  Tag.TargetCompID,
]);

/**
 * The fields of `msg` in the order QuickFIX re-serialises a message (FieldMap sorting): the body ascending by
 * tag with repeating-group entries kept right after their NumInGroup field (entry fields in the dictionary's
 * group order, delimiter first), the extra header fields separately, ascending. Values are views of the
 * message's bytes, so the body goes out byte for byte. Feed `header` and `body` to `Encoder.encode`.
 */
export function sortFieldsForEcho(msg: FixMessage, dict: Dictionary): EchoFields {
  const top = readTopLevel(msg, dict);
  const pick = (p: number, skip: (t: number) => boolean, key: (t: number) => number): number[] => {
    const out: number[] = [];
    top.fields.forEach((i, k) => {
      if (top.placements[k] === p && !skip(msg.tagAt(i))) out.push(i);
    });
    return out.sort((a, b) => key(msg.tagAt(a)) - key(msg.tagAt(b)) || a - b);
  };
  const emit = (indices: number[]): FieldList => {
    const out: FieldList = [];
    for (const i of indices) {
      out.push(msg.tagAt(i), msg.bytesAt(i));
      const g = top.byIndex.get(i);
      if (g !== undefined) emitEntries(msg, g, out);
    }
    return out;
  };
  const ascending = (t: number) => t;
  return {
    header: emit(pick(Placement.Header, (t) => ENCODER_HEADER.has(t), ascending)),
    body: emit(pick(Placement.Body, () => false, ascending)),
    // Signature(89) must follow SignatureLength(93), which announces its length.
    trailer: emit(
      pick(
        Placement.Trailer,
        (t) => t === Tag.CheckSum,
        (t) => (t === Tag.Signature ? Tag.SignatureLength + 0.5 : t),
      ),
    ),
  };
}

function emitEntries(msg: FixMessage, g: GroupInstance, out: FieldList): void {
  const position = g.def.position;
  const key = (i: number) => position.get(msg.tagAt(i)) ?? Number.MAX_SAFE_INTEGER;
  for (const entry of g.entries) {
    const indices = [...entry.fields].sort((a, b) => key(a) - key(b) || a - b);
    for (const i of indices) {
      out.push(msg.tagAt(i), msg.bytesAt(i));
      const nested = entry.groups.find((n) => n.index === i);
      if (nested !== undefined) emitEntries(msg, nested, out);
    }
  }
}

/** One entry to encode: values by tag; a nested group's NumInGroup tag maps to its entries. */
export type GroupEntryValues =
  | { readonly [tag: number]: FieldValue | readonly GroupEntryValues[] | undefined }
  | ReadonlyMap<number, FieldValue | readonly GroupEntryValues[]>;

/**
 * Appends a repeating group to `out`: NumInGroup = the number of entries, then each entry's fields in the
 * dictionary's order (delimiter first), nested groups likewise. Throws `DictionaryError` (InvalidGroup) for a
 * field that is not a member or an entry without the delimiter. Get the group with `Dictionary.group`.
 */
export function encodeGroup(def: GroupDef, entries: readonly GroupEntryValues[], out: FieldList = []): FieldList {
  out.push(def.tag, entries.length);
  entries.forEach((entry, k) => {
    const isMap = entry instanceof Map;
    const get = (tag: number) =>
      isMap
        ? (entry as ReadonlyMap<number, FieldValue | readonly GroupEntryValues[]>).get(tag)
        : (entry as { readonly [tag: number]: FieldValue | readonly GroupEntryValues[] | undefined })[tag];
    const keys = isMap ? [...(entry as ReadonlyMap<number, unknown>).keys()] : Object.keys(entry).map(Number);
    const where = `group ${def.tag} entry ${k}`;
    for (const tag of keys) {
      if (!def.tags.has(tag)) {
        throw new DictionaryError(
          DictionaryErrorCode.InvalidGroup,
          `field ${tag} is not a member of group ${def.tag}`,
          {
            path: where,
          },
        );
      }
    }
    if (get(def.delimiter) === undefined) {
      throw new DictionaryError(DictionaryErrorCode.InvalidGroup, `the entry lacks the delimiter ${def.delimiter}`, {
        path: where,
      });
    }
    for (const tag of def.order) {
      const v = get(tag);
      if (v === undefined) continue;
      const nested = def.groups.get(tag);
      if (nested !== undefined) {
        if (!Array.isArray(v)) {
          throw new DictionaryError(DictionaryErrorCode.InvalidGroup, `${tag} is a group: give its entries`, {
            path: where,
          });
        }
        encodeGroup(nested, v as readonly GroupEntryValues[], out);
      } else {
        if (Array.isArray(v)) {
          throw new DictionaryError(DictionaryErrorCode.InvalidGroup, `${tag} is not a group`, { path: where });
        }
        out.push(tag, v as FieldValue);
      }
    }
  });
  return out;
}
