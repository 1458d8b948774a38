/**
 * The readable view of a stored message: each field with its dictionary name and, for enums, the meaning of
 * its value — from the dictionary of the message's own BeginString (FIXT 1.1: ApplVerID(1128), else FIX 5.0
 * SP2 for application messages). Names and meanings are looked up once per dictionary, tag and value.
 */
import { applVerIdToBeginString, type Dictionary, loadDictionary } from "@fixmesh/fix";
import { fieldsOf } from "../fix-fields.js";

export interface ReadableField {
  tag: number;
  name: string;
  value: string;
  meaning: string;
}

export interface Readable {
  msgTypeName: string;
  /** Empty unless asked for. */
  fields: ReadableField[];
  /** `MsgType(35)=D (NewOrderSingle) | ClOrdID(11)=A1 | …` */
  text: string;
}

interface Lookup {
  dict: Dictionary | undefined;
  names: Map<number, string>;
  meanings: Map<string, string>;
}

const lookups = new Map<string, Lookup>();

function lookupFor(fields: ReadonlyArray<[number, string]>): Lookup {
  const begin = fields.find(([t]) => t === 8)?.[1] ?? "";
  const applVerId = begin.startsWith("FIXT") ? (fields.find(([t]) => t === 1128)?.[1] ?? "") : "";
  const key = `${begin}|${applVerId}`;
  let l = lookups.get(key);
  if (l === undefined) {
    let dict: Dictionary | undefined;
    try {
      dict = begin.startsWith("FIXT")
        ? loadDictionary(begin, (applVerId && applVerIdToBeginString(applVerId)) || "FIX.5.0SP2")
        : loadDictionary(begin);
    } catch {
      // A BeginString we have no dictionary for: tags are shown by number.
      dict = undefined;
    }
    l = { dict, names: new Map(), meanings: new Map() };
    lookups.set(key, l);
  }
  return l;
}

function nameOf(l: Lookup, tag: number): string {
  let n = l.names.get(tag);
  if (n === undefined) {
    n = l.dict?.fieldName(tag) ?? "";
    l.names.set(tag, n);
  }
  return n;
}

function meaningOf(l: Lookup, tag: number, value: string): string {
  if (l.dict === undefined) return "";
  const key = `${tag}=${value}`;
  let m = l.meanings.get(key);
  if (m === undefined) {
    m = "";
    if (tag === 35 || l.dict.hasEnum(tag)) {
      try {
        m = l.dict.enumDescription(tag, value) ?? "";
      } catch {
        m = "";
      }
    }
    // Free-text values (ClOrdID, prices) are not enums: only enum lookups are worth keeping.
    if (tag === 35 || l.dict.hasEnum(tag)) {
      if (l.meanings.size > 100_000) l.meanings.clear();
      l.meanings.set(key, m);
    }
  }
  return m;
}

export function readable(raw: Buffer, withFields = true): Readable {
  const fields = fieldsOf(raw);
  const l = lookupFor(fields);
  const out: ReadableField[] = [];
  const parts: string[] = [];
  let msgTypeName = "";
  for (const [tag, value] of fields) {
    const name = nameOf(l, tag);
    const meaning = meaningOf(l, tag, value);
    if (tag === 35) msgTypeName = meaning;
    if (withFields) out.push({ tag, name, value, meaning });
    parts.push(meaning ? `${name || "Tag"}(${tag})=${value} (${meaning})` : `${name || "Tag"}(${tag})=${value}`);
  }
  return { msgTypeName, fields: out, text: parts.join(" | ") };
}
