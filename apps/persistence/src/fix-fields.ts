/**
 * The tag=value fields of raw FIX bytes, split on SOH. Stored messages may have redacted values (so their
 * BodyLength and CheckSum no longer match), which a validating parser would refuse; reading them back for a
 * transcript or a reconciliation only needs the fields.
 */
export function fieldsOf(raw: Buffer): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  const text = raw.toString("latin1");
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\x01", start);
    if (end < 0) end = text.length;
    const eq = text.indexOf("=", start);
    if (eq > start && eq < end) {
      const tag = Number(text.slice(start, eq));
      if (Number.isInteger(tag) && tag > 0) out.push([tag, text.slice(eq + 1, end)]);
    }
    start = end + 1;
  }
  return out;
}
