/**
 * Parser for QuickFIX `.def` acceptance scripts (see /work/shared/conformance/README.md, "The .def format").
 *
 * A script is bytes: it is read as latin1 so that every character is one byte and the SOH separators inside
 * message lines survive untouched. Placeholders (`<TIME>`…) are NOT expanded here: they are evaluated when the
 * step runs (complete.ts), because a Logon must carry a SendingTime close to the acceptor's clock.
 */
import { readFileSync } from "node:fs";

export const StepKind = {
  /** `iCONNECT`: open a TCP connection to the acceptor. */
  Connect: "connect",
  /** `iDISCONNECT`: close the connection from the script's side, at once. */
  Disconnect: "disconnect",
  /** `eDISCONNECT`: the acceptor must close the connection before sending another byte. */
  ExpectDisconnect: "expectDisconnect",
  /** `I<message>`: send a message (completed with 9/10 when the step runs). */
  Send: "send",
  /** `E<message>`: the next message received must match this one. */
  Expect: "expect",
} as const;
export type StepKind = (typeof StepKind)[keyof typeof StepKind];

export interface Step {
  kind: StepKind;
  /** Connection number; 1 when the line has none. */
  conn: number;
  /** The message text of `I`/`E` steps, as written (placeholders unexpanded, SOH literal). */
  text?: string;
  /** 1-based line number in the file. */
  line: number;
  /** The line as written (without its line end), for reports. */
  source: string;
}

/** A line that is neither empty, a comment, nor one of the known commands. */
export class DefSyntaxError extends Error {
  override readonly name = "DefSyntaxError";
  constructor(
    readonly file: string,
    readonly line: number,
    readonly source: string,
    readonly reason: string,
  ) {
    super(`${file}:${line}: syntax error: ${reason}`);
  }
}

// The connection number follows the command letter: `I2,…`, `e1,DISCONNECT`. QuickFIX reads one digit,
// QuickFIX/J several; we accept several (only 1 and 2 occur). `I8=FIX…` is not a number prefix: no comma.
const COMMAND = /^([IEie])(?:(\d+),)?/;

/** Parses a whole script. `file` only names the script in error messages. Throws DefSyntaxError. */
export function parseDef(content: Buffer | string, file = "<script>"): Step[] {
  const text = typeof content === "string" ? content : content.toString("latin1");
  const steps: Step[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let source = lines[i];
    // Some fix50* files use CRLF line ends: drop one trailing CR, never more (a CR could be data).
    if (source.endsWith("\r")) source = source.slice(0, -1);
    if (source === "" || source.startsWith("#")) continue;
    steps.push(parseLine(source, i + 1, file));
  }
  return steps;
}

/** Reads and parses a script file. */
export function readDef(path: string): Step[] {
  return parseDef(readFileSync(path), path);
}

function parseLine(source: string, line: number, file: string): Step {
  const m = COMMAND.exec(source);
  if (m === null) {
    throw new DefSyntaxError(file, line, source, `unknown command ${JSON.stringify(source.slice(0, 1))}`);
  }
  const letter = m[1];
  const conn = m[2] === undefined ? 1 : Number(m[2]);
  const arg = source.slice(m[0].length);
  switch (letter) {
    case "I":
      return { kind: StepKind.Send, conn, text: arg, line, source };
    case "E":
      return { kind: StepKind.Expect, conn, text: arg, line, source };
    case "i":
      if (arg === "CONNECT") return { kind: StepKind.Connect, conn, line, source };
      if (arg === "DISCONNECT") return { kind: StepKind.Disconnect, conn, line, source };
      throw new DefSyntaxError(file, line, source, `"i" takes CONNECT or DISCONNECT, not ${JSON.stringify(arg)}`);
    default:
      if (arg === "DISCONNECT") return { kind: StepKind.ExpectDisconnect, conn, line, source };
      if (arg === "CONNECT") {
        // Only client-side scripts wait for an initiator; this runner drives an acceptor.
        throw new DefSyntaxError(file, line, source, "eCONNECT (wait for an initiator) is not supported");
      }
      throw new DefSyntaxError(file, line, source, `"e" takes DISCONNECT, not ${JSON.stringify(arg)}`);
  }
}
