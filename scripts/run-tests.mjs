#!/usr/bin/env node
// Runs every compiled unit/integration test (**/dist/**/*.test.js outside node_modules) with node's test runner.
// Usage: node scripts/run-tests.mjs [substring-filter ...]
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const filters = process.argv.slice(2);
const files = [];
function walk(dir, inDist) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walk(p, inDist || name === "dist");
    else if (inDist && name.endsWith(".test.js")) files.push(relative(root, p));
  }
}
for (const top of ["libs", "apps", "test"]) {
  try {
    walk(join(root, top), false);
  } catch (e) {
    if (e.code !== "ENOENT") throw e;
  }
}
const selected = files.filter((f) => filters.length === 0 || filters.some((s) => f.includes(s))).sort();
if (selected.length === 0) {
  console.error("no test files found (did you run `pnpm build`?)");
  process.exit(1);
}
const r = spawnSync(process.execPath, ["--test", "--test-concurrency=2", "--test-timeout=120000", ...selected], {
  cwd: root,
  stdio: "inherit",
});
process.exit(r.status ?? 1);
