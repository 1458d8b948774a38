/**
 * Reconciliation: our fills against the venue's (its drop-copy session, or its execution file), matched by
 * ExecID. Missing: the venue reports it, we never received it. Extra: we hold it, the venue does not report
 * it. Duplicated: we hold the same ExecID in more than one message. Mismatched: same ExecID, different
 * quantity, price, symbol, side or OrderID.
 */
import { readFileSync } from "node:fs";
import type { Fill } from "./store.js";

export interface ReconcileReport {
  clean: boolean;
  ours: number;
  venue: number;
  matched: number;
  missing: Fill[];
  extra: Fill[];
  duplicated: Fill[];
  mismatched: Array<{ execId: string; differences: Array<{ field: string; ours: string; venue: string }> }>;
}

/** A decimal string in a canonical form ("100.50" and "100.5" compare equal). */
export function canonicalDecimal(v: string): string {
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(v.trim());
  if (!m) return v.trim();
  const int = m[2].replace(/^0+(?=\d)/, "") || "0";
  const frac = (m[3] ?? "").replace(/0+$/, "");
  const s = frac ? `${int}.${frac}` : int;
  return s === "0" ? "0" : `${m[1]}${s}`;
}

export function reconcile(ours: readonly Fill[], venue: readonly Fill[]): ReconcileReport {
  const mine = new Map(ours.map((f) => [f.execId, f]));
  const theirs = new Map<string, Fill>();
  for (const f of venue) if (!theirs.has(f.execId)) theirs.set(f.execId, f);
  const report: ReconcileReport = {
    clean: true,
    ours: mine.size,
    venue: theirs.size,
    matched: 0,
    missing: [],
    extra: [],
    duplicated: ours.filter((f) => f.seqs.length > 1),
    mismatched: [],
  };
  for (const [id, v] of theirs) {
    const o = mine.get(id);
    if (!o) {
      report.missing.push(v);
      continue;
    }
    const differences: Array<{ field: string; ours: string; venue: string }> = [];
    const cmp = (field: string, a: string, b: string, decimal = false) => {
      if (a === "" || b === "") return; // one side does not say: nothing to compare
      if (decimal ? canonicalDecimal(a) !== canonicalDecimal(b) : a !== b)
        differences.push({ field, ours: a, venue: b });
    };
    cmp("last_qty", o.lastQty, v.lastQty, true);
    cmp("last_px", o.lastPx, v.lastPx, true);
    cmp("symbol", o.symbol, v.symbol);
    cmp("side", o.side, v.side);
    cmp("order_id", o.orderId, v.orderId);
    if (differences.length > 0) report.mismatched.push({ execId: id, differences });
    else report.matched++;
  }
  for (const [id, o] of mine) if (!theirs.has(id)) report.extra.push(o);
  report.clean =
    report.missing.length === 0 &&
    report.extra.length === 0 &&
    report.duplicated.length === 0 &&
    report.mismatched.length === 0;
  return report;
}

export class VenueFileError extends Error {
  override readonly name = "VenueFileError";
}

const COLUMN_ALIASES: Record<string, keyof Fill> = {
  execid: "execId",
  exec_id: "execId",
  "17": "execId",
  orderid: "orderId",
  order_id: "orderId",
  "37": "orderId",
  clordid: "clOrdId",
  cl_ord_id: "clOrdId",
  "11": "clOrdId",
  symbol: "symbol",
  "55": "symbol",
  side: "side",
  "54": "side",
  lastqty: "lastQty",
  last_qty: "lastQty",
  "32": "lastQty",
  lastpx: "lastPx",
  last_px: "lastPx",
  "31": "lastPx",
};

function toFill(rec: Record<string, unknown>, where: string): Fill {
  const f: Fill = { execId: "", orderId: "", clOrdId: "", symbol: "", side: "", lastQty: "", lastPx: "", seqs: [] };
  for (const [k, v] of Object.entries(rec)) {
    const key = COLUMN_ALIASES[k.toLowerCase()];
    if (key && key !== "seqs" && v !== undefined && v !== null)
      (f as unknown as Record<string, string>)[key] = String(v).trim();
  }
  if (f.execId === "") throw new VenueFileError(`${where}: no ExecID (column execId, exec_id or 17)`);
  for (const k of ["lastQty", "lastPx"] as const) {
    if (f[k] !== "" && !/^-?\d+(\.\d+)?$/.test(f[k]))
      throw new VenueFileError(`${where}: ${k} "${f[k]}" is not a decimal`);
  }
  return f;
}

/**
 * Reads a venue execution file: a JSON array, JSON lines, or CSV with a header row. Columns (any case): execId
 * (or exec_id, 17), orderId (37), clOrdId (11), symbol (55), side (54), lastQty (32), lastPx (31).
 */
export function parseVenueFile(text: string, name = "venue file"): Fill[] {
  const t = text.trim();
  if (t === "") return [];
  if (t.startsWith("[")) {
    let arr: unknown;
    try {
      arr = JSON.parse(t);
    } catch (e) {
      throw new VenueFileError(`${name}: not valid JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(arr)) throw new VenueFileError(`${name}: expected an array`);
    return arr.map((r, i) => toFill(r as Record<string, unknown>, `${name}[${i}]`));
  }
  const lines = t.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (t.startsWith("{")) {
    return lines.map((l, i) => {
      try {
        return toFill(JSON.parse(l) as Record<string, unknown>, `${name}:${i + 1}`);
      } catch (e) {
        if (e instanceof VenueFileError) throw e;
        throw new VenueFileError(`${name}:${i + 1}: not valid JSON`);
      }
    });
  }
  const header = lines[0].split(",").map((h) => h.trim());
  return lines.slice(1).map((l, i) => {
    const cells = l.split(",");
    return toFill(Object.fromEntries(header.map((h, j) => [h, cells[j] ?? ""])), `${name}:${i + 2}`);
  });
}

export function readVenueFile(path: string): Fill[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new VenueFileError(`${path}: ${(e as Error).message}`);
  }
  return parseVenueFile(text, path);
}
