import type { Clock } from "../clock.js";
import type { AcquireResult, LeaderLock } from "../lock.js";

/** One lock shared by several `MemoryLock`s: holder, expiry (on a clock) and the epoch counter. */
export class MemoryLockTable {
  holder: { identity: string; epoch: number; expiresAt: number } | null = null;
  epoch = 0;
  /** While set, every call fails (a backend that cannot be reached). */
  down = false;
  /** While set, calls hang until `unblock` (a stalled link). */
  private blocked: Array<() => void> | null = null;
  calls = 0;

  constructor(readonly clock: Clock) {}

  block(): void {
    this.blocked ??= [];
  }

  unblock(): void {
    const waiting = this.blocked ?? [];
    this.blocked = null;
    for (const w of waiting) w();
  }

  async gate(): Promise<void> {
    this.calls++;
    if (this.blocked !== null) await new Promise<void>((r) => this.blocked?.push(r));
    if (this.down) throw new Error("backend unreachable");
  }
}

/** A LeaderLock in memory with the Redis backend's rules, for the campaign's tests on a fake clock. */
export class MemoryLock implements LeaderLock {
  readonly kind = "redis";
  readonly name = "memory";

  constructor(
    private readonly table: MemoryLockTable,
    readonly identity: string,
    private readonly ttlMs: number,
  ) {}

  async acquire(): Promise<AcquireResult> {
    await this.table.gate();
    const t = this.table;
    const now = t.clock.now();
    if (t.holder !== null && t.holder.expiresAt > now) return { acquired: false, holder: t.holder.identity };
    t.epoch++;
    t.holder = { identity: this.identity, epoch: t.epoch, expiresAt: now + this.ttlMs };
    return { acquired: true, epoch: t.epoch };
  }

  async renew(epoch: number): Promise<boolean> {
    await this.table.gate();
    const t = this.table;
    const h = t.holder;
    if (h === null || h.expiresAt <= t.clock.now() || h.identity !== this.identity || h.epoch !== epoch) return false;
    h.expiresAt = t.clock.now() + this.ttlMs;
    return true;
  }

  async release(epoch: number): Promise<void> {
    await this.table.gate();
    const h = this.table.holder;
    if (h !== null && h.identity === this.identity && h.epoch === epoch) this.table.holder = null;
  }

  async close(): Promise<void> {}
}
