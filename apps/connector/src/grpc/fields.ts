import { create } from "@bufbuild/protobuf";
import { type Field, FieldSchema, RpcError } from "@fixmesh/contracts";
import { type FieldList, type FixMessage, STANDARD_DATA_FIELDS } from "@fixmesh/fix";
import { isAdmin } from "@fixmesh/session";

// Requests carry FIX fields as protobuf `Field`s; the engine takes a flat FieldList. Everything is checked
// here, at the edge, so that the session core only ever encodes well-formed fields (STYLE: validate at the
// edges, trust typed values inside).

/** Tags the session layer writes itself (header, trailer, resend flags): never taken from a request. */
const SESSION_OWNED = new Set([8, 9, 10, 34, 35, 43, 49, 52, 56, 97, 122]);
/** Largest tag accepted: FIX engines keep tags in a signed 32-bit int. */
const MAX_TAG = 2 ** 31 - 1;
/** Data field tag → its length field's tag (RawData 96 → RawDataLength 95, …). */
const LENGTH_TAG_OF = new Map([...STANDARD_DATA_FIELDS].map(([lengthTag, dataTag]) => [dataTag, lengthTag]));
const SOH = 1;

/**
 * MsgType(35) of an application message: 1 to 32 printable ASCII characters other than `=`, and not a
 * session-level type (those belong to the session core). Returns a problem or null.
 */
export function msgTypeProblem(msgType: string): string | null {
  if (msgType.length === 0) return "is required";
  if (msgType.length > 32) return "is longer than 32 characters";
  for (let i = 0; i < msgType.length; i++) {
    const c = msgType.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x3d) return "must be printable ASCII without '='";
  }
  if (isAdmin(msgType)) return `${msgType} is a session-level message; the session sends those itself`;
  return null;
}

/**
 * The fields as the engine's FieldList, or INVALID_ARGUMENT naming the first bad one (`<path>[i].tag`,
 * `<path>[i].value`). Header fields come out in ascending tag order (the encoder merges them with the standard
 * header that way) and may not repeat; body fields keep their order (repeating groups).
 */
export function toFieldList(fields: readonly Field[], path: string | (() => string), header: boolean): FieldList {
  // The path names a bad field in the error only: built then, not for every field of every request.
  const at = (i: number) => `${typeof path === "string" ? path : path()}[${i}]`;
  const out: FieldList = new Array(fields.length * 2);
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    const tag = f.tag;
    if (tag < 1 || tag > MAX_TAG)
      throw RpcError.invalidField(`${at(i)}.tag`, `${tag} is not a FIX tag (1..${MAX_TAG})`);
    if (SESSION_OWNED.has(tag)) {
      throw RpcError.invalidField(`${at(i)}.tag`, `tag ${tag} is written by the session, not taken from a request`);
    }
    out[i * 2] = tag;
    switch (f.value.case) {
      case "stringValue": {
        const problem = textProblem(f.value.value);
        if (problem !== null) throw RpcError.invalidField(`${at(i)}.value`, `tag ${tag}: ${problem}`);
        out[i * 2 + 1] = f.value.value;
        break;
      }
      case "bytesValue": {
        const b = f.value.value;
        if (b.length === 0) throw RpcError.invalidField(`${at(i)}.value`, `tag ${tag}: a FIX field cannot be empty`);
        if (b.indexOf(SOH) >= 0 && !lengthPrecedes(fields, i, b.length)) {
          throw RpcError.invalidField(
            `${at(i)}.value`,
            `tag ${tag}: SOH is allowed only in a data field right after its length field, which must match`,
          );
        }
        out[i * 2 + 1] = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
        break;
      }
      default:
        throw RpcError.invalidField(`${at(i)}.value`, `tag ${tag}: a value is required`);
    }
  }
  return header ? sortedHeader(out, fields, typeof path === "string" ? path : path()) : out;
}

/** Header fields in ascending tag order, each tag once. */
function sortedHeader(list: FieldList, fields: readonly Field[], path: string): FieldList {
  const order = [...fields.keys()].sort((a, b) => fields[a].tag - fields[b].tag);
  const out: FieldList = new Array(list.length);
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    if (k > 0 && fields[order[k - 1]].tag === fields[i].tag) {
      throw RpcError.invalidField(`${path}[${i}].tag`, `header tag ${fields[i].tag} appears twice`);
    }
    out[k * 2] = list[i * 2];
    out[k * 2 + 1] = list[i * 2 + 1];
  }
  return out;
}

function textProblem(s: string): string | null {
  if (s.length === 0) return "a FIX field cannot be empty";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === SOH) return "text may not contain SOH (0x01)";
    // Strings are written as ISO-8859-1; anything beyond would be silently mangled.
    if (c > 0xff) return `character U+${c.toString(16).toUpperCase().padStart(4, "0")} is not ISO-8859-1; send bytes`;
  }
  return null;
}

/** The field before `i` is the length field of data field `i` and says `length`. */
function lengthPrecedes(fields: readonly Field[], i: number, length: number): boolean {
  const lengthTag = LENGTH_TAG_OF.get(fields[i].tag);
  if (lengthTag === undefined || i === 0) return false;
  const prev = fields[i - 1];
  if (prev.tag !== lengthTag) return false;
  const v = prev.value.case === "stringValue" ? prev.value.value : undefined;
  return v !== undefined && Number(v) === length;
}

/** Every field of a parsed message in wire order; data fields as bytes, the rest as ISO-8859-1 text. */
export function fieldsOf(msg: FixMessage): Field[] {
  const out: Field[] = new Array(msg.count);
  for (let i = 0; i < msg.count; i++) {
    const tag = msg.tagAt(i);
    out[i] = create(FieldSchema, {
      tag,
      value: LENGTH_TAG_OF.has(tag)
        ? { case: "bytesValue", value: Uint8Array.from(msg.bytesAt(i)) }
        : { case: "stringValue", value: msg.valueAt(i) },
    });
  }
  return out;
}
