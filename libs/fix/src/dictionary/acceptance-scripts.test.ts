import assert from "node:assert/strict";
import { basename } from "node:path";
import { describe, test } from "node:test";
import type { FixMessage } from "../codec/message.js";
import { loadDictionary } from "./dictionary.js";
import { fieldsOf, readScript, type Step, scripts, tryFix } from "./fixtures.js";
import { sortFieldsForEcho } from "./groups.js";
import { rejectFields } from "./reject.js";
import { validate } from "./validate.js";

/**
 * Every message the acceptance scripts send, run through the validator: where it finds a problem, the
 * script's next expected message on that connection must be the Reject QuickFIX sends for it (Text,
 * RefTagID, RefMsgType, SessionRejectReason byte for byte); where it finds none, the script must not expect
 * a validation Reject. Where the script expects an echo, `sortFieldsForEcho` must give its fields in order.
 */

const FOLDERS: [folder: string, beginString: string, applVer?: string][] = [
  ["fix40", "FIX.4.0"],
  ["fix41", "FIX.4.1"],
  ["fix42", "FIX.4.2"],
  ["fix43", "FIX.4.3"],
  ["fix44", "FIX.4.4"],
  ["fix50", "FIXT.1.1", "FIX.5.0"],
  ["fix50sp1", "FIXT.1.1", "FIX.5.0SP1"],
  ["fix50sp2", "FIXT.1.1", "FIX.5.0SP2"],
];

/** Rejects the session layer sends for messages the dictionary accepts (CompID, SendingTime, PossDup, reset). */
function isSessionReject(expected: Map<number, string>): boolean {
  const reason = expected.get(373);
  const text = expected.get(58) ?? "";
  if (reason === "9" || reason === "10") return true;
  if (reason === "1" && expected.get(371) === "122") return true;
  if (reason === "5" && expected.get(372) === "4") return true;
  if (reason === undefined) {
    return (
      text === "CompID problem" ||
      text === "SendingTime accuracy problem" ||
      text === "Required tag missing (122)" ||
      text === "Value is incorrect (out of range) for this tag" ||
      // FIX 4.0/4.1 application's answer to a message it does not handle (2r); 4.2+ sends a 35=j instead
      text === "Unsupported message type"
    );
  }
  return false;
}

/** Fields whose expected value is a pattern in the kit (fields.fmt): compare the tag only. */
const PATTERN_FIELDS = new Set([10, 42, 52, 60, 122]);

function nextOnConnection(steps: Step[], k: number): Step | undefined {
  for (let j = k + 1; j < steps.length; j++) if (steps[j].connection === steps[k].connection) return steps[j];
  return undefined;
}

function text(v: unknown): string {
  return Buffer.isBuffer(v) ? v.toString("latin1") : String(v);
}

/**
 * What the walk compared per folder, checked at the end so that a walk that silently compares nothing fails:
 * validation Rejects matched byte for byte, and echoes matched field for field.
 */
const MINIMUM: Record<string, { rejects: number; echoes: number }> = {
  fix40: { rejects: 25, echoes: 20 },
  fix41: { rejects: 27, echoes: 20 },
  fix42: { rejects: 29, echoes: 22 },
  fix43: { rejects: 29, echoes: 22 },
  fix44: { rejects: 29, echoes: 22 },
  fix50: { rejects: 29, echoes: 22 },
  fix50sp1: { rejects: 29, echoes: 22 },
  fix50sp2: { rejects: 29, echoes: 22 },
};
for (const [folder, beginString, applVer] of FOLDERS) {
  const dict = loadDictionary(beginString, applVer);
  const compared = { rejects: 0, echoes: 0 };
  describe(`acceptance scripts ${folder}`, () => {
    for (const path of scripts(folder)) {
      test(`${folder}/${basename(path, ".def")}: validation answers as the script expects`, () => {
        const steps = readScript(path);
        steps.forEach((step, k) => {
          if (step.command !== "I" || !step.argument.startsWith(`8=${beginString}|`)) return;
          const parsed = tryFix(step.argument);
          if (typeof parsed === "string") return; // garbled on purpose: dropped before validation
          const msg: FixMessage = parsed;
          const next = nextOnConnection(steps, k);
          const expected = next?.command === "E" ? fieldsOf(next.argument) : [];
          const exp = new Map(expected);
          const where = `line ${step.line}: ${step.argument}`;
          const err = validate(msg, dict);
          const isRejectOfThis = exp.get(35) === "3" && exp.get(45) === msg.get(34);
          if (err !== null) {
            // A Logon that fails validation is answered by disconnecting: no Reject before logon.
            if (msg.msgType === "A" && next?.command === "e" && next.argument === "DISCONNECT") return;
            assert.ok(
              isRejectOfThis,
              `${where}\n  validation says ${JSON.stringify(err)}, script expects ${next?.argument}`,
            );
            const got = rejectFields(beginString, msg.msgType, err).map(text);
            const want = expected
              .filter(([t]) => t === 58 || t === 371 || t === 372 || t === 373)
              .flat()
              .map(String);
            assert.deepEqual(got, want, where);
            compared.rejects++;
            return;
          }
          if (isRejectOfThis) {
            assert.ok(isSessionReject(exp), `${where}\n  validation passed, script expects ${next?.argument}`);
            return;
          }
          // An echo (NewOrderSingle, SecurityDefinition, Email): same fields, QuickFIX's order.
          if (exp.get(35) === msg.msgType && ["D", "d", "C"].includes(msg.msgType) && exp.get(34) === msg.get(34)) {
            const echo = sortFieldsForEcho(msg, dict);
            const header = [];
            for (let i = 0; i < echo.header.length; i += 2) {
              const t = echo.header[i] as number;
              if (t !== 43 && t !== 122) header.push([t, text(echo.header[i + 1])]);
            }
            const body = [];
            for (let i = 0; i < echo.body.length; i += 2) body.push([echo.body[i] as number, text(echo.body[i + 1])]);
            const standard = new Set([8, 9, 35, 34, 49, 52, 56, 10, 1128]);
            const wanted = expected.filter(([t]) => !standard.has(t));
            const got = [...header, ...body].filter(([t]) => !standard.has(t as number));
            const mask = (l: (string | number)[][]) =>
              l.map(([t, v]) => (PATTERN_FIELDS.has(t as number) ? [t] : [t, v]));
            assert.deepEqual(mask(got), mask(wanted), `${where}\n  echo`);
            compared.echoes++;
          }
        });
      });
    }

    test(`${folder}: the walk compared the validation Rejects and echoes it should`, () => {
      assert.ok(compared.rejects >= MINIMUM[folder].rejects, `only ${compared.rejects} Rejects compared`);
      assert.ok(compared.echoes >= MINIMUM[folder].echoes, `only ${compared.echoes} echoes compared`);
    });
  });
}
