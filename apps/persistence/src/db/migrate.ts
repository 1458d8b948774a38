/**
 * Versioned SQL migrations (apps/persistence/migrations/*.sql) applied with node-pg-migrate, on PostgreSQL and
 * on PGlite alike. Concurrent starts wait for each other on node-pg-migrate's advisory lock.
 */
import { fileURLToPath } from "node:url";
import { runner } from "node-pg-migrate";
import type { Db } from "./db.js";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../../migrations", import.meta.url));
export const MIGRATIONS_TABLE = "fixmesh_migrations";

export interface MigrationResult {
  /** Names of the migrations applied by this run (empty when the schema was already current). */
  applied: string[];
}

export async function migrate(
  db: Db,
  opts: { direction?: "up" | "down"; count?: number } = {},
): Promise<MigrationResult> {
  const ran = await db.withMigrationClient((client) =>
    runner({
      // node-pg-migrate types its client as pg's ClientBase; it only calls `query` on it.
      dbClient: client as never,
      dir: MIGRATIONS_DIR,
      migrationsTable: MIGRATIONS_TABLE,
      direction: opts.direction ?? "up",
      ...(opts.count !== undefined && { count: opts.count }),
      advisoryLockMode: "wait",
      log: () => undefined,
      logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    }),
  );
  return { applied: ran.map((m) => m.name) };
}
