/**
 * KNOWN_GAPS.md: scripts our engine fails on purpose or has not caught up with yet. It is a markdown table;
 * any cell holding `fixNN/ScriptName` names a gap. A known gap still counts as failed — the list only labels
 * the failure so a new one stands out.
 */
import { readFileSync } from "node:fs";

const GAP = /\b(fix[0-9a-z]+\/[a-z0-9_.-]+)/gi;

/** The `fixNN/ScriptName` entries found in the table cells of a KNOWN_GAPS.md text. */
export function parseKnownGaps(markdown: string): Set<string> {
  const gaps = new Set<string>();
  for (const line of markdown.split("\n")) {
    const row = line.trim();
    if (!row.startsWith("|")) continue;
    for (const cell of row.split("|")) {
      for (const m of cell.matchAll(GAP)) gaps.add(m[1].replace(/\.def$/, ""));
    }
  }
  return gaps;
}

/** Reads the file; a missing file means no known gaps. */
export function loadKnownGaps(path: string): Set<string> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return new Set();
    throw e;
  }
  return parseKnownGaps(text);
}
