/**
 * The limits file: a YAML list of limit sets, checked by one schema. Every problem is reported at once with its
 * path (`limits[1].degraded.maxOrderQty: must be a decimal of 0 or more, got "ten"`).
 *
 * ```yaml
 * limits:
 *   - normal: { maxOrderQty: 10000, maxNotional: 1000000, priceCollarPct: 5, maxOrdersPerSec: 50 }
 *     degraded: { maxOrderQty: 1000, maxOrdersPerSec: 5 }
 *     referencePrices: { IBM: "187.50" }
 *   - scope: { account: ACC1 }
 *     normal: { maxPosition: 5000, maxOpenOrders: 20, restrictedSymbols: [GME] }
 *   - scope: { session: "FIX.4.4:CLIENT->VENUE", account: ACC1 }
 *     normal: { maxOrderQty: 500 }
 * ```
 */
import { Decimal } from "@fixmesh/orders";
import { parse as parseYaml, YAMLError } from "yaml";
import { z } from "zod";
import type { LimitSet, Limits } from "../engine/limits.js";
import { scopeKey } from "../engine/limits.js";
import { type ConfigIssue, describeIssue, fieldOf, RiskConfigError, show } from "./errors.js";

function decimal(min: "zero" | "positive") {
  const reason = min === "zero" ? "must be a decimal of 0 or more" : "must be a decimal greater than 0";
  return z.union([z.string(), z.number()], { error: (i) => `${reason}, got ${show(i.input)}` }).transform((v, ctx) => {
    const text = typeof v === "number" ? String(v) : v.trim();
    const d = Decimal.parse(text);
    if (d === undefined || d.isNegative() || (min === "positive" && d.isZero())) {
      ctx.addIssue({ code: "custom", message: `${reason}, got ${show(v)}` });
      return z.NEVER;
    }
    return d;
  });
}

function count(max: number, what: string) {
  const reason = `must be a whole number of ${what} from 1 to ${max}`;
  return z
    .number({ error: (i) => `${reason}, got ${show(i.input)}` })
    .int({ error: reason })
    .min(1, { error: reason })
    .max(max, { error: reason });
}

const symbol = z
  .string({ error: (i) => `must be a symbol, got ${show(i.input)}` })
  .min(1, { error: "must not be empty" });

export const limitsSchema = z.strictObject({
  maxOrderQty: decimal("zero").optional(),
  maxNotional: decimal("zero").optional(),
  priceCollarPct: decimal("positive").optional(),
  maxOpenOrders: count(1_000_000, "orders").optional(),
  maxPosition: decimal("zero").optional(),
  maxOrdersPerSec: count(1_000_000, "orders per second").optional(),
  duplicateWindowMs: count(86_400_000, "milliseconds").optional(),
  restrictedSymbols: z.array(symbol).optional(),
});

const limitSetSchema = z.strictObject({
  scope: z
    .strictObject({
      session: z.string().optional(),
      account: z.string().optional(),
    })
    .optional(),
  normal: limitsSchema.optional(),
  degraded: limitsSchema.optional(),
  referencePrices: z.record(z.string(), decimal("positive")).optional(),
});

const fileSchema = z.strictObject({
  limits: z.array(limitSetSchema, { error: (i) => `must be a list of limit sets, got ${show(i.input)}` }),
});

function toLimits(v: z.infer<typeof limitsSchema> | undefined): Limits {
  const out: Limits = {};
  if (v === undefined) return out;
  for (const [k, val] of Object.entries(v)) if (val !== undefined) (out as Record<string, unknown>)[k] = val;
  return out;
}

/** Parses the limits file's text. Throws `RiskConfigError` naming every bad field. */
export function parseLimitsFile(text: string, source = "limits file"): LimitSet[] {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true }) ?? {};
  } catch (e) {
    if (!(e instanceof YAMLError)) throw e;
    throw new RiskConfigError(source, [{ field: "(yaml)", reason: e.message.replace(/\s+$/, "") }]);
  }
  const r = fileSchema.safeParse(raw, { error: describeIssue });
  if (!r.success) throw new RiskConfigError(source, zodIssues(r.error.issues));
  const sets: LimitSet[] = [];
  const seen = new Map<string, number>();
  const issues: ConfigIssue[] = [];
  r.data.limits.forEach((s, i) => {
    const set: LimitSet = {
      scope: { sessionId: s.scope?.session ?? "", account: s.scope?.account ?? "" },
      normal: toLimits(s.normal),
      degraded: toLimits(s.degraded),
      referencePrices: new Map(Object.entries(s.referencePrices ?? {})),
    };
    const key = scopeKey(set.scope);
    const first = seen.get(key);
    if (first !== undefined) issues.push({ field: `limits[${i}].scope`, reason: `the same scope as limits[${first}]` });
    seen.set(key, i);
    sets.push(set);
  });
  if (issues.length > 0) throw new RiskConfigError(source, issues);
  return sets;
}

export function zodIssues(
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string; code?: string; keys?: readonly string[] }>,
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const iss of issues) {
    if (iss.code === "unrecognized_keys" && iss.keys) {
      for (const k of iss.keys) out.push({ field: fieldOf([...iss.path, k]), reason: "unknown setting" });
      continue;
    }
    out.push({ field: fieldOf(iss.path) || "(top level)", reason: iss.message });
  }
  return out;
}

/** One limit set in the file's form (as `limitSetToPlain` writes it) → LimitSet; throws RiskConfigError. */
export function limitSetFromPlain(value: unknown, source = "limit set"): LimitSet {
  const r = limitSetSchema.safeParse(value, { error: describeIssue });
  if (!r.success) throw new RiskConfigError(source, zodIssues(r.error.issues));
  const s = r.data;
  return {
    scope: { sessionId: s.scope?.session ?? "", account: s.scope?.account ?? "" },
    normal: toLimits(s.normal),
    degraded: toLimits(s.degraded),
    referencePrices: new Map(Object.entries(s.referencePrices ?? {})),
  };
}

/** The limit sets as the file writes them (for `fixmesh risk limits --json` and tests). */
export function limitSetToPlain(s: LimitSet): Record<string, unknown> {
  const plain = (l: Limits) => {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(l)) {
      if (v === undefined) continue;
      o[k] = v instanceof Decimal ? v.toString() : v;
    }
    return o;
  };
  const scope: Record<string, string> = {};
  if (s.scope.sessionId !== "") scope.session = s.scope.sessionId;
  if (s.scope.account !== "") scope.account = s.scope.account;
  return {
    ...(Object.keys(scope).length > 0 && { scope }),
    normal: plain(s.normal),
    degraded: plain(s.degraded),
    referencePrices: Object.fromEntries([...s.referencePrices].map(([k, v]) => [k, v.toString()])),
  };
}
