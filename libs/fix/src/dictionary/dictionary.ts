import * as fix40 from "../gen/fix40.js";
import * as fix41 from "../gen/fix41.js";
import * as fix42 from "../gen/fix42.js";
import * as fix43 from "../gen/fix43.js";
import * as fix44 from "../gen/fix44.js";
import * as fix50 from "../gen/fix50.js";
import * as fix50sp1 from "../gen/fix50sp1.js";
import * as fix50sp2 from "../gen/fix50sp2.js";
import * as fixt11 from "../gen/fixt11.js";
import { type EnumSet, type FieldContainer, FieldFlag, type GroupDef, type MessageDef, SpecModel } from "./compile.js";
import { DictionaryError, DictionaryErrorCode } from "./errors.js";
import { applyExtension, type DictionaryExtension, type ExtensionMessage } from "./extension.js";
import type { SpecData } from "./spec.js";

/**
 * Header and trailer fields QuickFIX recognises whatever the dictionary says (Message::isHeaderField,
 * Message::isTrailerField). A field is placed in the header or trailer when it is in these lists or in the
 * dictionary's header or trailer.
 */
const STANDARD_HEADER = [
  8, 9, 35, 49, 56, 115, 128, 90, 34, 50, 142, 57, 143, 116, 144, 129, 145, 43, 97, 52, 122, 212, 213, 347, 369, 370,
  1128, 1129, 627,
];
const STANDARD_TRAILER = [93, 89, 10];

/** Where a field goes when a message is read: values of `Dictionary.placement`. */
export const Placement = { Body: 0, Header: 1, Trailer: 2 } as const;

/** QuickFIX validates these MsgTypes with the transport dictionary in a FIXT session (Message::isAdminMsgType). */
function isAdminMsgType(msgType: string): boolean {
  return msgType.length === 1 && "0A12345".includes(msgType);
}

/**
 * A data dictionary: the fields, messages, groups, header and trailer of one FIX version, or for FIXT 1.1 the
 * transport dictionary (header, trailer, session messages) together with one application dictionary.
 * Immutable; `extend` returns a new one. Build it with `loadDictionary`.
 */
export class Dictionary {
  /** BeginString(8) of the sessions it serves: `FIX.4.4`, or `FIXT.1.1`. */
  readonly beginString: string;
  /** The version of the application messages: the same as `beginString` before FIXT, else `FIX.5.0SP2` etc. */
  readonly applVerBeginString: string;
  /** Header, trailer and session messages (for FIX 4.x the same model as `app`). */
  readonly transport: SpecModel;
  /** Application messages. */
  readonly app: SpecModel;
  /** `Placement` by tag for the hot path: body, header or trailer. Tags past the end are body fields. */
  readonly placement: Uint8Array;
  /** One more than the largest tag any lookup array covers. */
  readonly tagLimit: number;

  constructor(transport: SpecModel, app: SpecModel = transport) {
    this.transport = transport;
    this.app = app;
    this.beginString = transport.beginString;
    this.applVerBeginString = app.beginString;
    const size = Math.max(transport.flags.length, 1130);
    const placement = new Uint8Array(size);
    for (const t of STANDARD_HEADER) placement[t] = Placement.Header;
    for (const t of STANDARD_TRAILER) placement[t] = Placement.Trailer;
    for (let t = 0; t < transport.flags.length; t++) {
      if (transport.flags[t] & FieldFlag.Header) placement[t] = Placement.Header;
      else if (transport.flags[t] & FieldFlag.Trailer) placement[t] = Placement.Trailer;
    }
    this.placement = placement;
    this.tagLimit = Math.max(size, app.flags.length);
  }

  /** A dictionary from spec data (`spec()` of a generated module, or your own); `app` for FIXT 1.1. */
  static fromSpec(transport: SpecData, app?: SpecData): Dictionary {
    const t = new SpecModel(transport);
    return new Dictionary(t, app === undefined ? t : new SpecModel(app));
  }

  get isFixt(): boolean {
    return this.transport !== this.app;
  }

  /**
   * This dictionary with user-defined fields, venue enum values, extra message fields or whole messages
   * added. See `DictionaryExtension`; `loadDictionaryExtension` reads one from a YAML or JSON file.
   */
  extend(ext: DictionaryExtension): Dictionary {
    if (!this.isFixt) return new Dictionary(new SpecModel(applyExtension(this.app.data, ext)));
    // Under FIXT the header, trailer and session messages live in the transport dictionary.
    const transportMessages: Record<string, ExtensionMessage> = {};
    const appMessages: Record<string, ExtensionMessage> = {};
    const defines = (model: SpecModel, key: string) =>
      model.messages.has(key) || [...model.messages.values()].some((d) => d.name === key);
    for (const [key, m] of Object.entries(ext.messages ?? {})) {
      const toTransport = defines(this.transport, key) || (!defines(this.app, key) && m.category === "admin");
      (toTransport ? transportMessages : appMessages)[key] = m;
    }
    // The transport gets the new fields, and values for the fields it has (the application gets them all).
    const transportFields = (ext.fields ?? []).filter(
      (f) => this.transport.fields.has(f.number) || (f.name !== undefined && f.type !== undefined),
    );
    const transportExt: DictionaryExtension = { ...ext, fields: transportFields, messages: transportMessages };
    const appExt: DictionaryExtension = { fields: ext.fields, messages: appMessages };
    return new Dictionary(
      new SpecModel(applyExtension(this.transport.data, transportExt)),
      new SpecModel(applyExtension(this.app.data, appExt)),
    );
  }

  /** The model that validates a message of this type (the transport one for session messages under FIXT). */
  modelFor(msgType: string): SpecModel {
    return this.transport !== this.app && isAdminMsgType(msgType) ? this.transport : this.app;
  }

  // ---- fields ----

  /** A header field: in the dictionary's header, or one QuickFIX always treats as header (e.g. 115, 128, 627). */
  isHeaderField(tag: number): boolean {
    return tag >= 0 && tag < this.placement.length && this.placement[tag] === Placement.Header;
  }

  isTrailerField(tag: number): boolean {
    return tag >= 0 && tag < this.placement.length && this.placement[tag] === Placement.Trailer;
  }

  /** Whether the field is defined (in the application or the transport dictionary). */
  isField(tag: number): boolean {
    return this.fieldDef(tag) !== undefined;
  }

  fieldName(tag: number): string | undefined {
    return this.fieldDef(tag)?.name;
  }

  /** The number of a field by name (`ClOrdID` → 11). */
  fieldTag(name: string): number | undefined {
    return this.app.tagsByName.get(name) ?? this.transport.tagsByName.get(name);
  }

  /** The spec type (`STRING`, `QTY`, `UTCTIMESTAMP`, …). */
  fieldType(tag: number): string | undefined {
    return this.fieldDef(tag)?.type;
  }

  /** Whether the field has a list of allowed values. */
  hasEnum(tag: number): boolean {
    return this.enumSet(tag) !== undefined;
  }

  /**
   * Whether `value` is allowed for the field: true when the field has no list of values; for multiple-value
   * types every space-separated word must be in the list.
   */
  isEnumValue(tag: number, value: string): boolean {
    const set = this.enumSet(tag);
    if (set === undefined) return true;
    if (!this.fieldDef(tag)?.type.startsWith("MULTIPLE")) return set.has(value);
    const b = Buffer.from(value, "latin1");
    return set.matchesEach(b, 0, b.length);
  }

  /** The allowed values, in spec order. */
  enumValues(tag: number): readonly string[] | undefined {
    const set = this.enumSet(tag);
    return set === undefined ? undefined : [...set.descriptions.keys()];
  }

  /** The spec's description of a value (`Side` `1` → `BUY`), for transcripts. */
  enumDescription(tag: number, value: string): string | undefined {
    if (tag === 35) return this.modelFor(value).messages.get(value)?.name ?? this.enumSet(tag)?.descriptions.get(value);
    return this.enumSet(tag)?.descriptions.get(value);
  }

  // ---- messages ----

  isMessageDefined(msgType: string): boolean {
    return this.message(msgType) !== undefined;
  }

  message(msgType: string): MessageDef | undefined {
    return this.transport.messages.get(msgType) ?? this.app.messages.get(msgType);
  }

  messageName(msgType: string): string | undefined {
    return this.message(msgType)?.name;
  }

  /** Whether the message is a session (admin) message per the dictionary; false when not defined. */
  isAdmin(msgType: string): boolean {
    return this.message(msgType)?.category === "admin";
  }

  /** The fields allowed at the top level of the message body (components' fields and NumInGroup tags included). */
  messageFields(msgType: string): ReadonlySet<number> | undefined {
    return this.message(msgType)?.tags;
  }

  /** The required body fields of the message, ascending. */
  requiredFields(msgType: string): readonly number[] | undefined {
    return this.message(msgType)?.required;
  }

  isMessageField(msgType: string, tag: number): boolean {
    return this.message(msgType)?.tags.has(tag) ?? false;
  }

  isRequiredField(msgType: string, tag: number): boolean {
    return this.message(msgType)?.required.includes(tag) ?? false;
  }

  /** A repeating group of the message body, by NumInGroup tag, nested groups included (search depth-first). */
  group(msgType: string, countTag: number): GroupDef | undefined {
    const m = this.message(msgType);
    return m === undefined ? undefined : findGroup(m, countTag);
  }

  /** The header's fields, required fields and groups (NoHops). */
  get header(): FieldContainer {
    return this.transport.header;
  }

  get trailer(): FieldContainer {
    return this.transport.trailer;
  }

  private fieldDef(tag: number) {
    return this.app.fields.get(tag) ?? this.transport.fields.get(tag);
  }

  private enumSet(tag: number): EnumSet | undefined {
    return this.app.enums.get(tag) ?? this.transport.enums.get(tag);
  }
}

function findGroup(c: FieldContainer, tag: number): GroupDef | undefined {
  const direct = c.groups.get(tag);
  if (direct !== undefined) return direct;
  for (const g of c.groups.values()) {
    const found = findGroup(g, tag);
    if (found !== undefined) return found;
  }
  return undefined;
}

const SPECS: ReadonlyMap<string, () => SpecData> = new Map([
  [fix40.beginString, fix40.spec],
  [fix41.beginString, fix41.spec],
  [fix42.beginString, fix42.spec],
  [fix43.beginString, fix43.spec],
  [fix44.beginString, fix44.spec],
  [fixt11.beginString, fixt11.spec],
  [fix50.beginString, fix50.spec],
  [fix50sp1.beginString, fix50sp1.spec],
  [fix50sp2.beginString, fix50sp2.spec],
]);

/** The versions `loadDictionary` knows: `FIX.4.0` … `FIX.4.4`, `FIXT.1.1`, `FIX.5.0`, `FIX.5.0SP1`, `FIX.5.0SP2`. */
export const DICTIONARY_VERSIONS: readonly string[] = [...SPECS.keys()];

const models = new Map<string, SpecModel>();
const dictionaries = new Map<string, Dictionary>();

/** The compiled built-in spec of one version (`FIX.4.4`, `FIXT.1.1`, `FIX.5.0SP2`), cached. */
export function loadSpecModel(version: string): SpecModel {
  let m = models.get(version);
  if (m === undefined) {
    const spec = SPECS.get(version);
    if (spec === undefined) {
      throw new DictionaryError(
        DictionaryErrorCode.UnknownVersion,
        `no data dictionary for ${version} (known: ${DICTIONARY_VERSIONS.join(", ")})`,
      );
    }
    m = new SpecModel(spec());
    models.set(version, m);
  }
  return m;
}

/**
 * The built-in dictionary for a BeginString, built once and cached: `loadDictionary("FIX.4.4")`. FIXT 1.1
 * needs the application version too: `loadDictionary("FIXT.1.1", "FIX.5.0SP2")` (see `applVerIdToBeginString`
 * for ApplVerID(1128) values).
 */
export function loadDictionary(beginString: string, applVer?: string): Dictionary {
  const key = applVer === undefined ? beginString : `${beginString}|${applVer}`;
  let d = dictionaries.get(key);
  if (d !== undefined) return d;
  const transport = loadSpecModel(beginString);
  if (beginString.startsWith("FIXT")) {
    if (applVer === undefined) {
      throw new DictionaryError(
        DictionaryErrorCode.UnknownVersion,
        `${beginString} carries application messages of another version: pass it (e.g. "FIX.5.0SP2")`,
      );
    }
    if (applVer.startsWith("FIXT")) {
      throw new DictionaryError(DictionaryErrorCode.UnknownVersion, `${applVer} is not an application version`);
    }
    d = new Dictionary(transport, loadSpecModel(applVer));
  } else {
    if (applVer !== undefined && applVer !== beginString) {
      throw new DictionaryError(
        DictionaryErrorCode.UnknownVersion,
        `${beginString} sessions carry ${beginString} messages, not ${applVer}`,
      );
    }
    d = new Dictionary(transport);
  }
  dictionaries.set(key, d);
  return d;
}

const APPL_VER_IDS: ReadonlyMap<string, string> = new Map([
  ["2", "FIX.4.0"],
  ["3", "FIX.4.1"],
  ["4", "FIX.4.2"],
  ["5", "FIX.4.3"],
  ["6", "FIX.4.4"],
  ["7", "FIX.5.0"],
  ["8", "FIX.5.0SP1"],
  ["9", "FIX.5.0SP2"],
]);

/** ApplVerID(1128) / DefaultApplVerID(1137) value → the version name `loadDictionary` takes (`9` → `FIX.5.0SP2`). */
export function applVerIdToBeginString(applVerId: string): string | undefined {
  return APPL_VER_IDS.get(applVerId);
}
