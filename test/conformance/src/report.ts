/** The runner's text output: one line per script, then a summary per version and `N passed, M failed`. */
import { formatDiff } from "./compare.js";
import type { ScriptResult, VersionResults } from "./runner.js";

/** `PASS fix44/2b_MsgSeqNumTooHigh (123 ms)`, or `FAIL … line N: detail` with the messages indented below. */
export function formatResult(result: ScriptResult, knownGaps: ReadonlySet<string>): string[] {
  if (result.passed) return [`PASS ${result.name} (${result.ms} ms)`];
  const f = result.failure;
  const label = knownGaps.has(result.name) ? "FAIL (known gap)" : "FAIL";
  if (f === undefined) return [`${label} ${result.name}`];
  const lines = [`${label} ${result.name} line ${f.line}: ${f.detail}`];
  // An E step is shown by its completed message below; other steps by the line as written.
  if (f.expected === undefined) lines.push(`    step:     ${f.step}`);
  if (f.expected !== undefined && f.received !== undefined) {
    // The report already shows SOH as `|`, which has the same width, so the carets still line up.
    lines.push(...formatDiff(f.expected, f.received, f.field, "    "));
  } else {
    if (f.expected !== undefined) lines.push(`    expected: ${f.expected}`);
    if (f.received !== undefined) lines.push(`    received: ${f.received}`);
  }
  return lines;
}

export interface Totals {
  passed: number;
  failed: number;
  knownGaps: number;
}

export function totalsOf(results: readonly ScriptResult[], knownGaps: ReadonlySet<string>): Totals {
  const failed = results.filter((r) => !r.passed);
  return {
    passed: results.length - failed.length,
    failed: failed.length,
    knownGaps: failed.filter((r) => knownGaps.has(r.name)).length,
  };
}

/** Summary per version, known gaps that now pass, and the last line exactly `N passed, M failed`. */
export function formatSummary(all: readonly VersionResults[], knownGaps: ReadonlySet<string>): string[] {
  const lines = [""];
  let passed = 0;
  let failed = 0;
  for (const { version, results } of all) {
    const t = totalsOf(results, knownGaps);
    passed += t.passed;
    failed += t.failed;
    const gaps = t.knownGaps === 0 ? "" : ` (${t.knownGaps} known gap${t.knownGaps === 1 ? "" : "s"})`;
    lines.push(`${version}: ${t.passed} passed, ${t.failed} failed${gaps}`);
  }
  for (const { results } of all) {
    for (const r of results) {
      if (r.passed && knownGaps.has(r.name)) lines.push(`note: ${r.name} passes; remove it from KNOWN_GAPS.md`);
    }
  }
  lines.push(`${passed} passed, ${failed} failed`);
  return lines;
}
