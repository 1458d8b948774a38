import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Secret } from "../config/secret.js";
import { createLogger, secretGuard } from "./logger.js";

const PLANTED = "pl4nted-S3cret";

function capture(secrets: Secret[] = [], passwordTags: number[] = []) {
  const lines: string[] = [];
  const log = createLogger({
    level: "trace",
    secrets,
    passwordTags,
    destination: { write: (s: string) => lines.push(s) },
  });
  return { log, lines, text: () => lines.join("") };
}

describe("logger: secrets never reach a log line", () => {
  it("masks FIX Password(554) inside raw FIX text, SOH- or |-separated, and leaves other tags alone", () => {
    const { log, text } = capture();
    const raw = `8=FIX.4.4\x019=80\x0135=A\x0134=1\x0149=C\x0156=V\x01553=user\x01554=${PLANTED}\x011554=keep\x0110=000\x01`;
    log.info({ session: "FIX.4.4:C->V", seq: 1, msgType: "A", raw }, "in");
    log.info({ raw: raw.replaceAll("\x01", "|") }, "in");
    log.warn(`logon refused: 58=bad|554=${PLANTED}|925=new-${PLANTED}|`);
    const out = text();
    assert.ok(!out.includes(PLANTED), out);
    assert.match(out, /\\u0001554=\[REDACTED\]\\u0001/);
    assert.match(out, /\|554=\[REDACTED\]\|/);
    assert.match(out, /\|925=\[REDACTED\]\|/);
    assert.match(out, /1554=keep/, "tag 1554 is not a password");
    assert.match(out, /553=user/);
  });

  it("masks a session's own PasswordTag", () => {
    const { log, text } = capture([], [9554]);
    log.info({ raw: `35=A|9554=${PLANTED}|` });
    assert.ok(!text().includes(PLANTED));
  });

  it("censors Password/password/passphrase keys in objects", () => {
    const { log, text } = capture();
    log.info({ settings: { Password: PLANTED }, Password: PLANTED, redis: { password: PLANTED } }, "settings");
    log.info({ state: { settings: { Password: PLANTED } } }, "deep");
    assert.ok(!text().includes(PLANTED), text());
  });

  it("masks every configured secret wherever it appears: messages, errors, URLs, JSON-escaped", () => {
    const secret = new Secret(`${PLANTED}"\\`, "env TEST");
    const { log, lines, text } = capture([secret]);
    log.error({ err: new Error(`auth failed for redis://u:${secret.reveal()}@cache`) }, "store failed");
    log.info(`the password is ${secret.reveal()}`);
    log.info({ note: secret.reveal() });
    log.info({ secret }, "a Secret object prints as [REDACTED]");
    const out = text();
    assert.ok(!out.includes(PLANTED), out);
    for (const l of lines) assert.match(l, /\[REDACTED\]/);
  });

  it("secretGuard is a no-op on lines without secrets", () => {
    const g = secretGuard([new Secret("zzz-not-here", "test")], [554]);
    const line = '{"msg":"8=FIX.4.2|35=D|11=A1|"}';
    assert.equal(g(line), line);
  });
});
