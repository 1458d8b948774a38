/**
 * Kill switches, as order-entry acts on them: when a switch with `cancel_open_orders` is engaged, the open orders
 * it covers are cancelled (MassCancel). Read from RiskService.GetKillSwitches every `pollMs` — the contract, so it
 * works against any risk deployment; risk itself refuses new orders under a switch at once. Each engagement (scope,
 * target, time) is acted on once per instance; two instances acting on it cancel each order once, since the second
 * finds the cancel already pending.
 */
import { type KillSwitch, KillSwitchScope } from "@fixmesh/contracts";
import type { Logger } from "pino";
import type { OrderEntry } from "./order-entry.js";

export interface KillSwitchWatcherOptions {
  read(): Promise<KillSwitch[]>;
  core: OrderEntry;
  sessions: readonly string[];
  pollMs: number;
  logger: Logger;
}

export class KillSwitchWatcher {
  private timer: NodeJS.Timeout | null = null;
  private readonly acted = new Set<string>();
  private running: Promise<void> = Promise.resolve();
  /** Mass cancels run because of a switch (for tests and metrics). */
  cancels = 0;

  constructor(private readonly opts: KillSwitchWatcherOptions) {}

  start(): void {
    if (this.opts.pollMs <= 0) return;
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.poll());
    }, this.opts.pollMs);
    this.timer.unref();
  }

  async poll(): Promise<void> {
    let switches: KillSwitch[];
    try {
      switches = await this.opts.read();
    } catch {
      return; // risk unreachable: new orders are refused anyway (fail closed); try again next round
    }
    for (const s of switches) {
      if (!s.engaged || !s.cancelOpenOrders) continue;
      const key = `${s.scope}:${s.target}:${s.at?.seconds ?? 0}:${s.at?.nanos ?? 0}`;
      if (this.acted.has(key)) continue;
      this.acted.add(key);
      const filters: Array<{ sessionId?: string; account?: string }> =
        s.scope === KillSwitchScope.SESSION
          ? [{ sessionId: s.target }]
          : s.scope === KillSwitchScope.ACCOUNT
            ? [{ account: s.target }]
            : this.opts.sessions.map((sessionId) => ({ sessionId }));
      for (const f of filters) {
        if (f.sessionId !== undefined && !this.opts.sessions.includes(f.sessionId)) continue;
        try {
          const r = await this.opts.core.massCancel({
            sessionId: f.sessionId ?? "",
            account: f.account ?? "",
            symbol: "",
            reason: `kill switch ${KillSwitchScope[s.scope]} ${s.target}: ${s.reason}`,
          });
          this.cancels++;
          this.opts.logger.warn(
            {
              scope: KillSwitchScope[s.scope],
              target: s.target,
              reason: s.reason,
              operator: s.operator,
              cancelled: r.orderIds.length,
              failed: r.failures.length,
            },
            "kill switch engaged: open orders cancelled",
          );
        } catch (err) {
          this.acted.delete(key);
          this.opts.logger.error(
            { err, scope: KillSwitchScope[s.scope], target: s.target },
            "kill switch mass cancel failed; will retry",
          );
        }
      }
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
