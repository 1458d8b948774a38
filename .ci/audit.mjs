#!/usr/bin/env node
// The supply-chain gate of .ci/run: reads `pnpm audit --json` on stdin and fails (exit 1) on any high or critical
// advisory that audit-exceptions.json does not list with a reason. An exception without a reason, or past its
// `expires` date, does not count. When the audit could not run (registry error), it fails too — a gate that cannot
// see is not a pass — unless FIXMESH_AUDIT_ALLOW_UNAVAILABLE=1, which makes that a loud warning (exit 3: neither a pass nor a failure).
//
// audit-exceptions.json: { "exceptions": [ { "id": "GHSA-xxxx-xxxx-xxxx", "package": "name",
//   "reason": "why it does not apply / what mitigates it", "expires": "2027-01-31" } ] }
import { readFileSync } from "node:fs";

const BLOCKING = new Set(["high", "critical"]);
const file = process.argv[2] ?? "audit-exceptions.json";

function readStdin() {
  try {
    return readFileSync(0, "utf8");
  } catch {
    return "";
  }
}

const problems = [];
let exceptions = [];
try {
  const doc = JSON.parse(readFileSync(file, "utf8"));
  exceptions = Array.isArray(doc.exceptions) ? doc.exceptions : [];
  if (!Array.isArray(doc.exceptions)) problems.push(`${file}: "exceptions" must be a list`);
} catch (e) {
  problems.push(`${file}: ${e instanceof Error ? e.message : String(e)}`);
}
const today = new Date().toISOString().slice(0, 10);
const valid = new Map();
exceptions.forEach((x, i) => {
  const at = `${file} exceptions[${i}]`;
  if (typeof x?.id !== "string" || x.id === "")
    problems.push(`${at}.id: the advisory's GHSA id (or npm advisory number) is required`);
  else if (typeof x.reason !== "string" || x.reason.trim().length < 10)
    problems.push(`${at}.reason: say why ${x.id} is accepted (10 characters at least)`);
  else if (x.expires !== undefined && !(typeof x.expires === "string" && /^\d{4}-\d{2}-\d{2}$/.test(x.expires)))
    problems.push(`${at}.expires: must be a date YYYY-MM-DD`);
  else if (x.expires !== undefined && x.expires < today)
    problems.push(`${at}: the exception for ${x.id} expired on ${x.expires}: review it`);
  else valid.set(x.id, x);
});

const input = readStdin();
let report;
try {
  report = JSON.parse(input);
} catch {
  report = { error: { code: "NO_JSON", message: input.slice(0, 500) || "pnpm audit printed nothing" } };
}
if (report.error !== undefined) {
  const msg = `pnpm audit could not run: ${report.error.code ?? ""} ${report.error.message ?? ""}`.trim();
  if (process.env.FIXMESH_AUDIT_ALLOW_UNAVAILABLE === "1") {
    console.log(`WARNING: ${msg} (FIXMESH_AUDIT_ALLOW_UNAVAILABLE=1: not failing, and not counted as a pass)`);
    process.exit(problems.length > 0 ? 1 : 3);
  }
  problems.push(msg);
} else {
  const advisories = Object.values(report.advisories ?? {});
  let accepted = 0;
  for (const a of advisories) {
    if (!BLOCKING.has(a.severity)) continue;
    const ids = [a.github_advisory_id, String(a.id)].filter(Boolean);
    const x = ids.map((id) => valid.get(id)).find(Boolean);
    if (x !== undefined && (x.package === undefined || x.package === a.module_name)) {
      accepted++;
      console.log(`accepted ${a.severity} ${ids[0]} in ${a.module_name}: ${x.reason}`);
      continue;
    }
    const paths = (a.findings ?? [])
      .flatMap((f) => f.paths ?? [])
      .slice(0, 3)
      .join(", ");
    problems.push(
      `${a.severity} ${ids[0]} in ${a.module_name} ${a.vulnerable_versions ?? ""}: ${a.title} (${a.url ?? ""}) via ${paths}; fixed in ${a.patched_versions ?? "?"}`,
    );
  }
  const counts = report.metadata?.vulnerabilities ?? {};
  console.log(`audit: ${JSON.stringify(counts)}, ${accepted} accepted by ${file}`);
}
for (const p of problems) console.log(`AUDIT FAIL: ${p}`);
process.exit(problems.length > 0 ? 1 : 0);
