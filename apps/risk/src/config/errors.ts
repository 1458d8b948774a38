/** One problem in a configuration or limits file: the field's path and the reason. */
export interface ConfigIssue {
  field: string;
  reason: string;
}

/** A configuration or limits file is invalid: every problem found, each with its field path. */
export class RiskConfigError extends Error {
  override readonly name = "RiskConfigError";
  constructor(
    readonly source: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(`invalid ${source}:\n${issues.map((i) => `  ${i.field}: ${i.reason}`).join("\n")}`);
  }
}

export function fieldOf(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out;
}

export function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return String(v);
}

const TYPE_NAMES: Record<string, string> = {
  object: "a mapping",
  array: "a list",
  string: "text",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
};

/** Zod's messages in our words; schemas with their own message keep it. */
export function describeIssue(iss: {
  code?: string;
  input?: unknown;
  expected?: string;
  values?: readonly unknown[];
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  keys?: readonly string[];
}): string | undefined {
  switch (iss.code) {
    case "invalid_type":
      if (iss.input === undefined) return "is required";
      return `must be ${TYPE_NAMES[iss.expected ?? ""] ?? iss.expected}, got ${show(iss.input)}`;
    case "invalid_value":
      return `must be one of ${(iss.values ?? []).map(String).join(", ")}, got ${show(iss.input)}`;
    case "too_small":
      if (iss.origin === "string") return "must not be empty";
      return `must be at least ${iss.minimum}, got ${show(iss.input)}`;
    case "too_big":
      return `must be at most ${iss.maximum}, got ${show(iss.input)}`;
    case "unrecognized_keys":
      return `unknown key${(iss.keys?.length ?? 0) > 1 ? "s" : ""} ${(iss.keys ?? []).join(", ")}`;
    default:
      return undefined;
  }
}
