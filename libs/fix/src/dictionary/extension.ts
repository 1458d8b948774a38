import { DictionaryError, DictionaryErrorCode } from "./errors.js";
import type { SpecData, SpecEntry, SpecField, SpecMessage } from "./spec.js";

/**
 * Additions to a dictionary that need no code: user-defined fields (5000 and up), venue enum values,
 * extra fields on existing messages, whole new messages. Usually read from a small YAML or JSON file with
 * `loadDictionaryExtension` and applied with `Dictionary.extend`.
 *
 * ```yaml
 * fields:
 *   - { number: 5001, name: VenueTag, type: STRING }
 *   - { number: 40, enums: [{ value: "w", description: VENUE_PEG }] }   # a venue value for OrdType
 * messages:
 *   D:
 *     fields:
 *       - { name: VenueTag, required: false }
 * ```
 */
export interface DictionaryExtension {
  /** New fields, or more values / another type for existing ones. */
  readonly fields?: readonly ExtensionField[];
  /** Fields added to the standard header. */
  readonly header?: readonly ExtensionEntry[];
  /** Fields added to the standard trailer. */
  readonly trailer?: readonly ExtensionEntry[];
  /** By MsgType (or message name): fields added to an existing message, or a new message. */
  readonly messages?: Readonly<Record<string, ExtensionMessage>>;
}

export interface ExtensionField {
  readonly number: number;
  /** Required for a new field; for an existing one it must match. */
  readonly name?: string;
  /** Required for a new field (`STRING`, `INT`, `QTY`, …); for an existing one it replaces the type. */
  readonly type?: string;
  /** Allowed values, added to any the field already has. */
  readonly enums?: readonly (string | { readonly value: string; readonly description?: string })[];
}

/**
 * A field (`name` or `number`), a component (`component`), or a repeating group (`name`/`number` of the
 * NumInGroup field with `group`: its members, the first one being the delimiter).
 */
export interface ExtensionEntry {
  readonly name?: string;
  readonly number?: number;
  readonly component?: string;
  readonly group?: readonly ExtensionEntry[];
  /** Default false. On a field the message already has, changes whether it is required. */
  readonly required?: boolean;
}

export interface ExtensionMessage {
  /** Required for a new message. */
  readonly name?: string;
  /** For a new message; default `app`. */
  readonly category?: "admin" | "app";
  readonly fields?: readonly ExtensionEntry[];
}

/** The type names an extension may use (every type of the QuickFIX dictionaries). */
export const SPEC_TYPES: ReadonlySet<string> = new Set([
  "AMT",
  "BOOLEAN",
  "CHAR",
  "COUNTRY",
  "CURRENCY",
  "DATA",
  "DATE",
  "DAYOFMONTH",
  "EXCHANGE",
  "FLOAT",
  "INT",
  "LANGUAGE",
  "LENGTH",
  "LOCALMKTDATE",
  "LOCALMKTTIME",
  "MONTHYEAR",
  "MULTIPLECHARVALUE",
  "MULTIPLESTRINGVALUE",
  "MULTIPLEVALUESTRING",
  "NUMINGROUP",
  "PERCENTAGE",
  "PRICE",
  "PRICEOFFSET",
  "QTY",
  "SEQNUM",
  "STRING",
  "TAGNUM",
  "TIME",
  "TZTIMEONLY",
  "TZTIMESTAMP",
  "UTCDATE",
  "UTCDATEONLY",
  "UTCTIMEONLY",
  "UTCTIMESTAMP",
  "XID",
  "XIDREF",
  "XMLDATA",
]);

interface MutableField {
  number: number;
  name: string;
  type: string;
  enums: string[];
}

function invalid(path: string, message: string): DictionaryError {
  return new DictionaryError(DictionaryErrorCode.InvalidSpec, message, { path });
}

/** `data` with the extension merged in. `data` is not modified. */
export function applyExtension(data: SpecData, ext: DictionaryExtension): SpecData {
  const types = [...data.types];
  const typeIndex = (t: string) => {
    let i = types.indexOf(t);
    if (i < 0) i = types.push(t) - 1;
    return i;
  };
  const fields = new Map<number, MutableField>();
  const byName = new Map<string, number>();
  for (const f of data.fields) {
    fields.set(f[0], { number: f[0], name: f[1], type: data.types[f[2]], enums: f.length === 4 ? [...f[3]] : [] });
    byName.set(f[1], f[0]);
  }

  (ext.fields ?? []).forEach((f, i) => {
    const path = `fields[${i}]`;
    const existing = fields.get(f.number);
    if (existing !== undefined) {
      if (f.name !== undefined && f.name !== existing.name) {
        throw invalid(path, `field ${f.number} is ${existing.name}, not ${f.name}`);
      }
      if (f.type !== undefined) existing.type = f.type;
      addEnums(existing, f.enums);
      return;
    }
    if (f.name === undefined || f.type === undefined) {
      throw invalid(path, `new field ${f.number} needs a name and a type`);
    }
    const other = byName.get(f.name);
    if (other !== undefined) throw invalid(path, `the name ${f.name} is already field ${other}`);
    const nf: MutableField = { number: f.number, name: f.name, type: f.type, enums: [] };
    addEnums(nf, f.enums);
    fields.set(f.number, nf);
    byName.set(f.name, f.number);
  });

  const components = new Set(data.components.map((c) => c[0]));
  const toEntry = (e: ExtensionEntry, path: string): SpecEntry => {
    if (e.component !== undefined) {
      if (!components.has(e.component)) throw invalid(path, `component ${e.component} is not defined`);
      return e.required ? `-${e.component}` : e.component;
    }
    const tag = e.number ?? (e.name === undefined ? undefined : byName.get(e.name));
    if (tag === undefined || !fields.has(tag)) {
      throw invalid(path, `field ${e.name ?? e.number ?? "?"} is not defined (add it under fields)`);
    }
    const signed = e.required ? -tag : tag;
    if (e.group === undefined) return signed;
    if (e.group.length === 0) throw invalid(path, "a group needs at least one member");
    return [signed, ...e.group.map((m, k) => toEntry(m, `${path}.group[${k}]`))];
  };
  /** Appends entries; a field already at the top level only gets its required mark changed. */
  const merge = (list: readonly SpecEntry[], add: readonly ExtensionEntry[], path: string): SpecEntry[] => {
    const out = [...list];
    add.forEach((e, k) => {
      const entry = toEntry(e, `${path}[${k}]`);
      const tag = typeof entry === "number" ? Math.abs(entry) : undefined;
      const at = tag === undefined ? -1 : out.findIndex((x) => typeof x === "number" && Math.abs(x) === tag);
      if (at >= 0) out[at] = entry;
      else out.push(entry);
    });
    return out;
  };

  const header = ext.header ? merge(data.header, ext.header, "header") : data.header;
  const trailer = ext.trailer ? merge(data.trailer, ext.trailer, "trailer") : data.trailer;

  const messages: SpecMessage[] = [...data.messages];
  for (const [key, m] of Object.entries(ext.messages ?? {})) {
    const path = `messages.${key}`;
    const at = messages.findIndex((x) => x[1] === key || x[0] === key);
    if (at >= 0) {
      const [name, msgType, category, entries] = messages[at];
      if (m.name !== undefined && m.name !== name) throw invalid(path, `MsgType ${msgType} is ${name}, not ${m.name}`);
      messages[at] = [name, msgType, category, merge(entries, m.fields ?? [], `${path}.fields`)];
      continue;
    }
    if (m.name === undefined) throw invalid(path, `new message ${key} needs a name`);
    messages.push([m.name, key, m.category ?? "app", merge([], m.fields ?? [], `${path}.fields`)]);
    // MsgType(35) lists every message type; a new one must be allowed there too.
    const msgTypeField = fields.get(35);
    if (msgTypeField !== undefined && msgTypeField.enums.length > 0)
      addEnums(msgTypeField, [{ value: key, description: m.name }]);
  }

  const outFields: SpecField[] = [...fields.values()]
    .sort((a, b) => a.number - b.number)
    .map((f) =>
      f.enums.length > 0 ? [f.number, f.name, typeIndex(f.type), f.enums] : [f.number, f.name, typeIndex(f.type)],
    );
  return {
    beginString: data.beginString,
    types,
    fields: outFields,
    header,
    trailer,
    components: data.components,
    messages,
  };
}

function addEnums(f: MutableField, enums: ExtensionField["enums"]): void {
  for (const e of enums ?? []) {
    const value = typeof e === "string" ? e : e.value;
    const description = typeof e === "string" ? "" : (e.description ?? "");
    let found = false;
    for (let i = 0; i < f.enums.length; i += 2) {
      if (f.enums[i] === value) {
        if (description) f.enums[i + 1] = description;
        found = true;
      }
    }
    if (!found) f.enums.push(value, description);
  }
}

// ---- checking an extension read from a file ----

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function onlyKeys(x: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(x)) {
    if (!allowed.includes(k)) throw invalid(path, `unknown key "${k}" (expected one of: ${allowed.join(", ")})`);
  }
}

function optString(x: Record<string, unknown>, k: string, path: string): string | undefined {
  const v = x[k];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v === "") throw invalid(`${path}.${k}`, "must be a non-empty string");
  return v;
}

function tagNumber(v: unknown, path: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) throw invalid(path, "must be a positive integer");
  return v;
}

function parseEntry(x: unknown, path: string): ExtensionEntry {
  if (!isObject(x)) throw invalid(path, "must be an object such as { name: VenueTag, required: false }");
  onlyKeys(x, ["name", "number", "component", "group", "required"], path);
  const name = optString(x, "name", path);
  const number = x.number === undefined ? undefined : tagNumber(x.number, `${path}.number`);
  const component = optString(x, "component", path);
  if ((name !== undefined || number !== undefined) === (component !== undefined)) {
    throw invalid(path, "give a field (name or number) or a component");
  }
  if (component !== undefined && x.group !== undefined) throw invalid(path, "a component cannot have group members");
  if (x.required !== undefined && typeof x.required !== "boolean")
    throw invalid(`${path}.required`, "must be true or false");
  let group: ExtensionEntry[] | undefined;
  if (x.group !== undefined) {
    if (!Array.isArray(x.group)) throw invalid(`${path}.group`, "must be a list of members");
    group = x.group.map((m, i) => parseEntry(m, `${path}.group[${i}]`));
  }
  return { name, number, component, group, required: x.required as boolean | undefined };
}

function parseEntries(x: unknown, path: string): ExtensionEntry[] {
  if (!Array.isArray(x)) throw invalid(path, "must be a list");
  return x.map((e, i) => parseEntry(e, `${path}[${i}]`));
}

/** Checks the shape of an extension read from YAML or JSON, with the path of the first problem. */
export function parseDictionaryExtension(value: unknown): DictionaryExtension {
  if (!isObject(value)) throw invalid("extension", "must be an object with fields, header, trailer or messages");
  onlyKeys(value, ["fields", "header", "trailer", "messages"], "extension");
  let fields: ExtensionField[] | undefined;
  if (value.fields !== undefined) {
    if (!Array.isArray(value.fields)) throw invalid("fields", "must be a list");
    fields = value.fields.map((f, i) => {
      const path = `fields[${i}]`;
      if (!isObject(f)) throw invalid(path, "must be an object such as { number: 5001, name: VenueTag, type: STRING }");
      onlyKeys(f, ["number", "name", "type", "enums"], path);
      const type = optString(f, "type", path);
      if (type !== undefined && !SPEC_TYPES.has(type)) {
        throw invalid(`${path}.type`, `unknown type ${type} (one of: ${[...SPEC_TYPES].join(", ")})`);
      }
      let enums: ExtensionField["enums"];
      if (f.enums !== undefined) {
        if (!Array.isArray(f.enums)) throw invalid(`${path}.enums`, "must be a list");
        enums = f.enums.map((e, k) => {
          const p = `${path}.enums[${k}]`;
          if (typeof e === "string" || typeof e === "number") return String(e);
          if (!isObject(e)) throw invalid(p, "must be a value or { value, description }");
          onlyKeys(e, ["value", "description"], p);
          if (typeof e.value !== "string" && typeof e.value !== "number") throw invalid(`${p}.value`, "must be given");
          if (e.description !== undefined && typeof e.description !== "string") {
            throw invalid(`${p}.description`, "must be a string");
          }
          return { value: String(e.value), description: e.description as string | undefined };
        });
      }
      return { number: tagNumber(f.number, `${path}.number`), name: optString(f, "name", path), type, enums };
    });
  }
  let messages: Record<string, ExtensionMessage> | undefined;
  if (value.messages !== undefined) {
    if (!isObject(value.messages)) throw invalid("messages", "must map MsgType to { fields: [...] }");
    messages = {};
    for (const [k, m] of Object.entries(value.messages)) {
      const path = `messages.${k}`;
      if (!isObject(m)) throw invalid(path, "must be an object such as { fields: [...] }");
      onlyKeys(m, ["name", "category", "fields"], path);
      if (m.category !== undefined && m.category !== "admin" && m.category !== "app") {
        throw invalid(`${path}.category`, "must be admin or app");
      }
      messages[k] = {
        name: optString(m, "name", path),
        category: m.category as "admin" | "app" | undefined,
        fields: m.fields === undefined ? undefined : parseEntries(m.fields, `${path}.fields`),
      };
    }
  }
  return {
    fields,
    header: value.header === undefined ? undefined : parseEntries(value.header, "header"),
    trailer: value.trailer === undefined ? undefined : parseEntries(value.trailer, "trailer"),
    messages,
  };
}
