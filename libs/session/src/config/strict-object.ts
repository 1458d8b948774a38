/**
 * Configuration objects whose unknown keys are errors: a typo must not silently fall back to a default. Shared by
 * the connector's and the venue simulator's YAML schemas (QuickFIX-style session settings and the sections around
 * them).
 */
import { z } from "zod";

/**
 * `shape` as a zod object that reports each unknown key at its own path, with the nearest known key as a
 * suggestion (or, for an object of at most `listUpTo` keys, the list of them) — also when a known key failed, so
 * that one run reports every mistake of the file.
 */
export function strictObject<T extends z.ZodRawShape>(shape: T, listUpTo = 10) {
  const known = Object.keys(shape);
  return z.looseObject(shape).superRefine(
    (v, ctx) => {
      if (v === null || typeof v !== "object" || Array.isArray(v)) return;
      for (const k of Object.keys(v)) {
        if (!known.includes(k)) ctx.addIssue({ code: "custom", path: [k], message: unknownKey(k, known, listUpTo) });
      }
    },
    { when: () => true },
  );
}

/** "unknown setting; did you mean X?" for a near miss (case, prefix, or two edits), else the known keys. */
export function unknownKey(key: string, known: readonly string[], listUpTo = 10): string {
  const lower = key.toLowerCase();
  const near = known.find((k) => k.toLowerCase() === lower || (lower.length >= 3 && k.toLowerCase().startsWith(lower)));
  const close = near ?? known.find((k) => editDistance(k.toLowerCase(), lower) <= 2);
  if (close !== undefined) return `unknown setting; did you mean ${close}?`;
  return known.length <= listUpTo ? `unknown setting; expected one of ${known.join(", ")}` : "unknown setting";
}

/** Levenshtein distance, cut off at 3 (all that matters here). */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}
