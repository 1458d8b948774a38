import { type OutboxEntry, type OutboxEvent, StoreCorruptError } from "@fixmesh/session";

/**
 * One outbox event as a member of the session's outbox sorted set (score = its position):
 *
 *   u8 format (1) · u48 pos, big-endian · u16 id length · id (UTF-8) · u16 subject length · subject (UTF-8)
 *   · u32 headers length · headers (a JSON object, UTF-8; length 0 when the event has none) · the payload bytes
 *
 * The client encodes everything from the id length on (the body); the commit script prepends the format and the
 * position it takes from the session's counter (`struct.pack('>I6', pos)`), inside the same atomic call. The
 * position in the member keeps two equal events two members, and names the position without WITHSCORES.
 */
const FORMAT = 1;
const HEADER = 7;

/** An event's body, encoded now: the caller may reuse its payload buffer as soon as `commit` returns. */
export function encodeEventBody(e: OutboxEvent): Buffer {
  const id = Buffer.from(e.id, "utf8");
  const subject = Buffer.from(e.subject, "utf8");
  const headers = e.headers === undefined ? undefined : Buffer.from(JSON.stringify(e.headers), "utf8");
  const headersLength = headers?.length ?? 0;
  const body = Buffer.allocUnsafe(2 + id.length + 2 + subject.length + 4 + headersLength + e.payload.length);
  let at = body.writeUInt16BE(id.length, 0);
  at += id.copy(body, at);
  at = body.writeUInt16BE(subject.length, at);
  at += subject.copy(body, at);
  at = body.writeUInt32BE(headersLength, at);
  if (headers !== undefined) at += headers.copy(body, at);
  body.set(e.payload, at);
  return body;
}

/** Reads a member back. The payload is a view of `member` (see readMember in record.ts for why no copy). */
export function readEventMember(member: Buffer, key: string): OutboxEntry {
  const corrupt = (detail: string) => new StoreCorruptError(key, `outbox member of ${member.length} bytes: ${detail}`);
  if (member.length < HEADER + 8 || member[0] !== FORMAT) throw corrupt(`not a format ${FORMAT} event record`);
  const pos = member.readUIntBE(1, 6);
  let at = HEADER;
  const field = (lengthBytes: 2 | 4, what: string): Buffer => {
    if (at + lengthBytes > member.length) throw corrupt(`${what} length overruns the record`);
    const length = lengthBytes === 2 ? member.readUInt16BE(at) : member.readUInt32BE(at);
    at += lengthBytes;
    if (at + length > member.length) throw corrupt(`${what} overruns the record`);
    at += length;
    return member.subarray(at - length, at);
  };
  const id = field(2, "id").toString("utf8");
  const subject = field(2, "subject").toString("utf8");
  const headers = field(4, "headers");
  const entry: OutboxEntry = { id, subject, payload: member.subarray(at), pos };
  if (headers.length > 0) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(headers.toString("utf8"));
    } catch (cause) {
      throw new StoreCorruptError(key, `outbox event ${pos}: headers are not JSON`, { cause });
    }
    if (
      typeof parsed !== "object" ||
      parsed === null ||
      Array.isArray(parsed) ||
      !Object.values(parsed).every((v) => typeof v === "string")
    ) {
      throw corrupt(`event ${pos}: headers are not an object of strings`);
    }
    entry.headers = parsed as Record<string, string>;
  }
  return entry;
}
