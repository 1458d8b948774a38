#!/usr/bin/env node
/**
 * The persistence service as a process of its own: `node apps/persistence/dist/main.js --config FILE`
 * (`fixmesh persistence` does the same), or `… migrate --config FILE`.
 */
import { runPersistenceCli } from "./cli/cli.js";

runPersistenceCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? `persistence: ${err.message}` : err);
    process.exit(1);
  },
);
