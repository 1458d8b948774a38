/**
 * Test support for the dictionary tests (not exported from the package): messages from the acceptance kit's
 * text form, and the kit's scripts read step by step.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FixMessage } from "../codec/message.js";
import { Parser } from "../codec/parser.js";

/** The repository root, from `libs/fix/dist/dictionary/` or `libs/fix/src/dictionary/`. */
export const REPO_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
export const SCRIPTS_DIR = join(REPO_ROOT, "test/conformance/quickfix/definitions/server");
export const EXAMPLES_DIR = join(REPO_ROOT, "libs/fix/src/dictionary/examples");

/** The time the tests put in for `<TIME>` (whole seconds, as the kit's runner writes it). */
export const TIME = "20240315-10:20:30";

function time(offsetSeconds: number): string {
  const d = new Date(Date.UTC(2024, 2, 15, 10, 20, 30) + offsetSeconds * 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

/**
 * Completes a message line the way the kit's runner does (conformance README, "Completing a message"):
 * placeholders replaced, `|` read as SOH, BodyLength inserted after the first field when absent, CheckSum
 * appended when absent; a 9 or 10 written in the line is kept as written.
 */
export function complete(line: string): Buffer {
  let text = line
    .replace(/<TIME([+-]\d+)?>/g, (_, n: string | undefined) => time(n === undefined ? 0 : Number(n)))
    .replaceAll("|", "\x01");
  if (!text.startsWith("8=")) return Buffer.from(text, "latin1");
  if (!/(^|\x01)9=/.test(text)) {
    const first = text.indexOf("\x01") + 1;
    const cs = text.indexOf("\x0110=");
    const end = cs < 0 ? text.length : cs + 1;
    text = `${text.slice(0, first)}9=${end - first}\x01${text.slice(first)}`;
  }
  if (!/(^|\x01)10=[^\x01]*\x01?$/.test(text)) {
    let sum = 0;
    for (let i = 0; i < text.length; i++) sum += text.charCodeAt(i) & 255;
    text += `10=${String(sum % 256).padStart(3, "0")}\x01`;
  }
  return Buffer.from(text, "latin1");
}

/**
 * Splits a message on SOH without the codec's framing checks. Used only where the codec's parser rejects a
 * message QuickFIX accepts: a negative tag of -1 (`-1=HI`, script 14a) collides with the parser's "no data
 * field pending" marker and comes back as GarbledField.
 */
function split(raw: Buffer): FixMessage {
  const fields: number[] = [];
  let pos = 0;
  while (pos < raw.length) {
    const eq = raw.indexOf(61, pos);
    const soh = raw.indexOf(1, eq);
    fields.push(Number(raw.toString("latin1", pos, eq)), eq + 1, soh);
    pos = soh + 1;
  }
  const msgType = raw.toString("latin1", fields[7], fields[8]);
  return new FixMessage(raw, Int32Array.from(fields), fields.length / 3, msgType);
}

const parser = new Parser();

/** A parsed message from kit text such as `8=FIX.4.2|35=0|34=2|49=TW|52=<TIME>|56=ISLD|`. */
export function fix(line: string): FixMessage {
  const raw = complete(line);
  const r = parser.parse(raw);
  if (typeof r !== "string") return r;
  if (r === "GarbledField" && /\x01-1=/.test(raw.toString("latin1"))) return split(raw);
  throw new Error(`not a message (${r}): ${line}`);
}

/** Like `fix`, but returns the parser's GarbledReason instead of throwing. */
export function tryFix(line: string): FixMessage | string {
  try {
    return fix(line);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

export interface Step {
  /** `I`, `E`, `i` or `e`. */
  readonly command: string;
  readonly connection: number;
  readonly argument: string;
  readonly line: number;
}

/** The steps of a `.def` script (comments and empty lines dropped, CR trimmed). */
export function readScript(path: string): Step[] {
  const steps: Step[] = [];
  readFileSync(path, "latin1")
    .split("\n")
    .forEach((raw, k) => {
      const text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (text === "" || text.startsWith("#")) return;
      const m = /^([IEie])(?:(\d),)?(.*)$/s.exec(text);
      if (m === null) throw new Error(`${path}:${k + 1}: not a step: ${text}`);
      steps.push({
        command: m[1],
        connection: m[2] === undefined ? 1 : Number(m[2]),
        argument: m[3].replaceAll("\x01", "|"),
        line: k + 1,
      });
    });
  return steps;
}

/** The `.def` scripts of one version folder (`fix42`), sorted. */
export function scripts(folder: string): string[] {
  const dir = join(SCRIPTS_DIR, folder);
  return readdirSync(dir)
    .filter((f) => f.endsWith(".def"))
    .sort()
    .map((f) => join(dir, f));
}

/** The fields of a `|`-separated message line, in order. */
export function fieldsOf(line: string): [number, string][] {
  return line
    .split("|")
    .filter((f) => f !== "")
    .map((f) => {
      const eq = f.indexOf("=");
      return [Number(f.slice(0, eq)), f.slice(eq + 1)] as [number, string];
    });
}
