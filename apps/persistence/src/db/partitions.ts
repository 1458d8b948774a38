/**
 * Day partitions of `fix_messages`: created before the first message of a day is written (ahead of time for
 * today and tomorrow, and on demand for a replayed old day), and dropped once older than the retention.
 */
import type { Db, Queryable } from "./db.js";

const DAY_MS = 86_400_000;

/** The UTC day of an epoch-ms time, as `YYYY-MM-DD`. */
export function utcDay(ms: number): string {
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}

export class Partitions {
  private readonly known = new Set<string>();

  constructor(private readonly db: Db) {}

  /** Makes sure a partition exists for each of `days` (in its own statement, outside the caller's batch). */
  async ensure(days: Iterable<string>): Promise<void> {
    for (const day of days) {
      if (this.known.has(day)) continue;
      await this.db.query("SELECT fixmesh_ensure_day_partition($1::date)", [day]);
      this.known.add(day);
    }
  }

  /** Today and tomorrow (UTC), so midnight never waits for DDL. */
  async ensureAhead(now = Date.now()): Promise<void> {
    await this.ensure([utcDay(now), utcDay(now + DAY_MS)]);
  }

  /**
   * Drops message partitions older than `retentionDays` full days, and deletes the other tables' rows of that
   * age. Returns the dropped partitions.
   */
  async applyRetention(retentionDays: number, now = Date.now()): Promise<{ dropped: string[]; deleted: number }> {
    const cutoffDay = utcDay(now - retentionDays * DAY_MS);
    const r = await this.db.query<{ name: string }>("SELECT fixmesh_drop_day_partitions($1::date) AS name", [
      cutoffDay,
    ]);
    for (const { name } of r.rows)
      this.known.delete(`${name.slice(13, 17)}-${name.slice(17, 19)}-${name.slice(19, 21)}`);
    let deleted = 0;
    await this.db.transaction(async (tx: Queryable) => {
      for (const [table, col] of [
        ["executions", "recorded_at"],
        ["order_events", "at"],
        ["orders", "updated_at"],
        ["session_events", "at"],
        ["dead_letters", "failed_at"],
      ] as const) {
        const d = await tx.query(`DELETE FROM ${table} WHERE ${col} < $1::date`, [cutoffDay]);
        deleted += d.rowCount;
      }
    });
    return { dropped: r.rows.map((x) => x.name), deleted };
  }
}
