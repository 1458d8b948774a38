/**
 * Hand-made wire bytes for the codec's tests. BodyLength and CheckSum are computed here, independently of the
 * encoder, so a test can state the exact bytes it expects. `|` stands for SOH in every string argument.
 */

/** The text with `|` turned into SOH, as latin1 bytes. */
export function wire(text: string): Buffer {
  return Buffer.from(text.replaceAll("|", "\x01"), "latin1");
}

/** Bytes as text with SOH shown as `|`. */
export function show(bytes: Buffer | Uint8Array): string {
  return Buffer.from(bytes).toString("latin1").replaceAll("\x01", "|");
}

/** Sum of the bytes modulo 256: the FIX CheckSum of everything before `10=`. */
export function checkSumOf(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum += b;
  return sum % 256;
}

export interface FrameOptions {
  beginString?: string;
  /** BodyLength to declare instead of the true one. */
  bodyLength?: number;
  /** CheckSum to declare instead of the true one (written as given). */
  checkSum?: string;
}

/**
 * A whole message around `body` — the fields after BodyLength, starting with `35=`, each ending in `|`:
 * `8=<BeginString>|9=<length of body>|<body>10=<checksum>|`.
 */
export function frame(body: string, opts: FrameOptions = {}): Buffer {
  const bodyBytes = wire(body);
  const head = wire(`8=${opts.beginString ?? "FIX.4.4"}|9=${opts.bodyLength ?? bodyBytes.length}|`);
  const beforeCheckSum = Buffer.concat([head, bodyBytes]);
  const checkSum = opts.checkSum ?? String(checkSumOf(beforeCheckSum)).padStart(3, "0");
  return Buffer.concat([beforeCheckSum, wire(`10=${checkSum}|`)]);
}

/** A valid message with the standard header: `35=<msgType>|34=<seq>|49=CLIENT|52=…|56=VENUE|` + `fields`. */
export function message(msgType: string, seq: number, fields = "", opts: FrameOptions = {}): Buffer {
  return frame(`35=${msgType}|34=${seq}|49=CLIENT|52=20240105-14:30:15.123|56=VENUE|${fields}`, opts);
}
