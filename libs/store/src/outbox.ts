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

/**
 * Bytes of an event's body. `headersJson`: `JSON.stringify(e.headers)` when it has headers (made once by the
 * caller for both this and `writeEventBody`).
 */
export function eventBodyLength(e: OutboxEvent, headersJson: string | undefined): number {
  const headersLength = headersJson === undefined ? 0 : Buffer.byteLength(headersJson, "utf8");
  return (
    2 +
    Buffer.byteLength(e.id, "utf8") +
    2 +
    Buffer.byteLength(e.subject, "utf8") +
    4 +
    headersLength +
    e.payload.length
  );
}

/**
 * Writes an event's body into `target` at `at` (room for `eventBodyLength` bytes); returns the end. Written
 * straight into the commit's buffer, no intermediate buffer per string: one event per message in and out.
 */
export function writeEventBody(target: Buffer, at: number, e: OutboxEvent, headersJson: string | undefined): number {
  const idLength = Buffer.byteLength(e.id, "utf8");
  const subjectLength = Buffer.byteLength(e.subject, "utf8");
  const headersLength = headersJson === undefined ? 0 : Buffer.byteLength(headersJson, "utf8");
  let p = target.writeUInt16BE(idLength, at);
  p += target.write(e.id, p, idLength, "utf8");
  p = target.writeUInt16BE(subjectLength, p);
  p += target.write(e.subject, p, subjectLength, "utf8");
  p = target.writeUInt32BE(headersLength, p);
  if (headersJson !== undefined) p += target.write(headersJson, p, headersLength, "utf8");
  target.set(e.payload, p);
  return p + e.payload.length;
}

/** An event's body, encoded now: the caller may reuse its payload buffer as soon as `commit` returns. */
export function encodeEventBody(e: OutboxEvent): Buffer {
  const headersJson = e.headers === undefined ? undefined : JSON.stringify(e.headers);
  const body = Buffer.allocUnsafe(eventBodyLength(e, headersJson));
  writeEventBody(body, 0, e, headersJson);
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
