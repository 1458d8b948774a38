/**
 * Kill switches: global, per session, per account. While one that covers an order is engaged, the order is
 * refused (rule KILL_SWITCH). The book is the engine's view; where switches live (memory, Redis) and how every
 * instance learns of a change is the KillSwitchStore's job (state/).
 */
export const KillSwitchScope = {
  Global: "GLOBAL",
  Session: "SESSION",
  Account: "ACCOUNT",
} as const;
export type KillSwitchScope = (typeof KillSwitchScope)[keyof typeof KillSwitchScope];

export interface KillSwitchState {
  scope: KillSwitchScope;
  /** The session id or account; "" for GLOBAL. */
  target: string;
  engaged: boolean;
  reason: string;
  operator: string;
  /** Epoch ms of the change. */
  at: number;
  /** When engaging: order-entry cancels the open orders it covers. */
  cancelOpenOrders: boolean;
}

export function killSwitchKey(scope: KillSwitchScope, target: string): string {
  return `${scope}:${target}`;
}

/** "global", "session FIX.4.4:A->B", "account ACC1". */
export function describeKillSwitch(s: Pick<KillSwitchState, "scope" | "target">): string {
  return s.scope === KillSwitchScope.Global ? "global" : `${s.scope.toLowerCase()} ${s.target}`;
}

/** Does the switch cover an order of this account on this session? */
export function covers(s: Pick<KillSwitchState, "scope" | "target">, sessionId: string, account: string): boolean {
  switch (s.scope) {
    case KillSwitchScope.Global:
      return true;
    case KillSwitchScope.Session:
      return s.target === sessionId;
    case KillSwitchScope.Account:
      return s.target === account;
  }
}

export class KillSwitchBook {
  private readonly switches = new Map<string, KillSwitchState>();
  private engagedCount = 0;

  /** Records a switch's latest state; an older change than the one held is ignored (late pub/sub message). */
  apply(s: KillSwitchState): boolean {
    const key = killSwitchKey(s.scope, s.target);
    const old = this.switches.get(key);
    if (old !== undefined && old.at > s.at) return false;
    if (old?.engaged) this.engagedCount--;
    if (s.engaged) this.engagedCount++;
    this.switches.set(key, s);
    return true;
  }

  /** The engaged switch that covers the order, narrowest first reported as global → session → account. */
  covering(sessionId: string, account: string): KillSwitchState | undefined {
    if (this.engagedCount === 0) return undefined;
    const g = this.switches.get("GLOBAL:");
    if (g?.engaged) return g;
    const s = this.switches.get(`SESSION:${sessionId}`);
    if (s?.engaged) return s;
    const a = this.switches.get(`ACCOUNT:${account}`);
    if (a?.engaged) return a;
    return undefined;
  }

  list(): KillSwitchState[] {
    return [...this.switches.values()];
  }
}
