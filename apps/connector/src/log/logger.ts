/**
 * The connector's logger: pino JSON lines (`session`, `seq`, `msgType` on every line about a message), with two
 * layers against leaking secrets. pino's `redact` censors the keys that hold one (`Password`, `password`,
 * `passphrase`); and a guard on every finished line masks what redaction cannot see — each configured secret's
 * value wherever it appears (an error message, a URL), and the value of FIX Password(554), NewPassword(925) and
 * any configured PasswordTag inside raw FIX text.
 */
import pino, { type DestinationStream, type Logger } from "pino";
import type { ConnectorConfig, LogLevel } from "../config/schema.js";
import type { Secret } from "../config/secret.js";

export type { Logger } from "pino";

const CENSOR = "[REDACTED]";

/** Keys whose values are secrets, at the depths the connector's log objects have them. */
export const REDACT_PATHS = [
  "Password",
  "*.Password",
  "*.*.Password",
  "password",
  "*.password",
  "*.*.password",
  "passphrase",
  "*.passphrase",
  "*.*.passphrase",
];

/** Password(554) and NewPassword(925): masked in raw FIX text whatever the configuration says. */
export const FIX_PASSWORD_TAGS: readonly number[] = [554, 925];

export interface LoggerOptions {
  level?: LogLevel;
  /** Values to mask wherever they appear. */
  secrets?: readonly Secret[];
  /** More tags whose values are masked in raw FIX text (a session's PasswordTag). */
  passwordTags?: readonly number[];
  /** Where the lines go; default stdout, written synchronously so nothing is lost at exit. */
  destination?: DestinationStream;
  /** Fields on every line (e.g. `{ connector: "fx-1" }`). */
  base?: Record<string, unknown>;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const guard = secretGuard(opts.secrets ?? [], [...FIX_PASSWORD_TAGS, ...(opts.passwordTags ?? [])]);
  return pino(
    {
      level: opts.level ?? "info",
      base: opts.base ?? null,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      hooks: { streamWrite: guard },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** The logger a configuration asks for: its level, its secrets and password tags, the connector id on every line. */
export function loggerFor(config: ConnectorConfig, destination?: DestinationStream): Logger {
  return createLogger({
    level: config.log.level,
    secrets: config.secrets,
    passwordTags: config.sessions.map((s) => s.settings.PasswordTag),
    base: { connector: config.connector.id },
    ...(destination && { destination }),
  });
}

/**
 * A function that masks, in one finished JSON log line, every secret value (as written and as JSON escapes it)
 * and the value of each password tag inside FIX text (fields separated by SOH, shown as `\u0001` in JSON, or `|`).
 */
export function secretGuard(secrets: readonly Secret[], passwordTags: readonly number[]): (line: string) => string {
  const needles = new Set<string>();
  for (const s of secrets) {
    const v = s.reveal();
    if (v === "") continue;
    needles.add(v);
    needles.add(JSON.stringify(v).slice(1, -1));
  }
  // Longest first, so a secret that contains another is masked whole.
  const values = [...needles].sort((a, b) => b.length - a.length);
  const tags = [...new Set(passwordTags)].join("|");
  // <SOH (raw or JSON-escaped), another non-digit, or the start><tag>=<value up to SOH, '|' or the string's end>
  const field = new RegExp(`(^|\\\\u0001|[^0-9])(${tags})=(?:\\\\(?!u0001)[^]|[^\\\\"|\\x01])*`, "g");
  return (line: string): string => {
    let out = line;
    for (const v of values) if (out.includes(v)) out = out.split(v).join(CENSOR);
    return out.replace(field, `$1$2=${CENSOR}`);
  };
}
