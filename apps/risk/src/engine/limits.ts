import type { Decimal } from "@fixmesh/orders";

/**
 * Limits and their scopes. A limit set belongs to a scope — global (no session, no account), a session, an
 * account (on any session) or an account on one session — and holds a normal set (the session is LIVE), a
 * degraded set (the session is DEGRADED) and reference prices for the collar.
 *
 * Resolution for an order of account A on session S: global → session S → account A → A on S, the narrowest
 * scope that sets a field wins. Two exceptions keep a wider scope's protection from being lifted by a narrower
 * one: restricted symbols are the union of every scope's list, and the degraded set is never looser than the
 * normal one (each degraded figure is the tighter of the degraded chain and the normal chain).
 */
export interface Limits {
  maxOrderQty?: Decimal;
  maxNotional?: Decimal;
  /** Allowed distance from the reference price, in percent ("5" = ±5 %). */
  priceCollarPct?: Decimal;
  maxOpenOrders?: number;
  /** Absolute net position per account and symbol, open orders counted. */
  maxPosition?: Decimal;
  /** New and replaced orders per second, per account. */
  maxOrdersPerSec?: number;
  /** Same account, symbol, side, quantity and price within this window is a duplicate. */
  duplicateWindowMs?: number;
  restrictedSymbols?: readonly string[];
}

export interface LimitScope {
  /** "" for every session. */
  sessionId: string;
  /** "" for every account. */
  account: string;
}

export interface LimitSet {
  scope: LimitScope;
  normal: Limits;
  degraded: Limits;
  /** Reference prices for the collar (and the notional of market orders), by symbol. */
  referencePrices: ReadonlyMap<string, Decimal>;
}

/** The limits that apply to one order: every field resolved, restricted symbols as a set. */
export interface EffectiveLimits {
  maxOrderQty?: Decimal;
  maxNotional?: Decimal;
  priceCollarPct?: Decimal;
  maxOpenOrders?: number;
  maxPosition?: Decimal;
  maxOrdersPerSec?: number;
  duplicateWindowMs?: number;
  restrictedSymbols: ReadonlySet<string>;
}

export interface ResolvedLimits {
  normal: EffectiveLimits;
  degraded: EffectiveLimits;
  referencePrices: ReadonlyMap<string, Decimal>;
}

export function scopeKey(scope: LimitScope): string {
  return `${scope.sessionId}\u0000${scope.account}`;
}

/** "global", "session S", "account A", "account A on session S". */
export function describeScope(scope: LimitScope): string {
  if (scope.sessionId === "" && scope.account === "") return "global";
  if (scope.account === "") return `session ${scope.sessionId}`;
  if (scope.sessionId === "") return `account ${scope.account}`;
  return `account ${scope.account} on session ${scope.sessionId}`;
}

type DecimalField = "maxOrderQty" | "maxNotional" | "priceCollarPct" | "maxPosition";
type CountField = "maxOpenOrders" | "maxOrdersPerSec";
const DECIMAL_FIELDS: readonly DecimalField[] = ["maxOrderQty", "maxNotional", "priceCollarPct", "maxPosition"];
const COUNT_FIELDS: readonly CountField[] = ["maxOpenOrders", "maxOrdersPerSec"];

function narrowest<K extends keyof Limits>(chain: readonly Limits[], field: K): Limits[K] {
  for (let i = chain.length - 1; i >= 0; i--) {
    const v = chain[i][field];
    if (v !== undefined) return v;
  }
  return undefined;
}

function minDecimal(a: Decimal | undefined, b: Decimal | undefined): Decimal | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a.lt(b) ? a : b;
}

function minCount(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

function resolveChain(chain: readonly Limits[]): EffectiveLimits {
  const restricted = new Set<string>();
  for (const l of chain) for (const s of l.restrictedSymbols ?? []) restricted.add(s);
  const out: EffectiveLimits = { restrictedSymbols: restricted };
  for (const f of DECIMAL_FIELDS) out[f] = narrowest(chain, f);
  for (const f of COUNT_FIELDS) out[f] = narrowest(chain, f);
  out.duplicateWindowMs = narrowest(chain, "duplicateWindowMs");
  return out;
}

/** The degraded set, never looser than the normal one. */
function tighter(degraded: EffectiveLimits, normal: EffectiveLimits): EffectiveLimits {
  const out: EffectiveLimits = {
    restrictedSymbols: new Set([...normal.restrictedSymbols, ...degraded.restrictedSymbols]),
  };
  for (const f of DECIMAL_FIELDS) out[f] = minDecimal(degraded[f], normal[f]);
  for (const f of COUNT_FIELDS) out[f] = minCount(degraded[f], normal[f]);
  const dw = degraded.duplicateWindowMs;
  const nw = normal.duplicateWindowMs;
  out.duplicateWindowMs = dw === undefined ? nw : nw === undefined ? dw : Math.max(dw, nw);
  return out;
}

/**
 * Every limit set, by scope, with the resolved limits of each (session, account) cached until the next change
 * (a check resolves nothing on the hot path after the first order of a pair).
 */
export class LimitBook {
  private readonly sets = new Map<string, LimitSet>();
  private readonly cache = new Map<string, ResolvedLimits>();

  constructor(sets: readonly LimitSet[] = []) {
    for (const s of sets) this.sets.set(scopeKey(s.scope), s);
  }

  /** Replaces every set (a reloaded file). */
  replaceAll(sets: readonly LimitSet[]): void {
    this.sets.clear();
    for (const s of sets) this.sets.set(scopeKey(s.scope), s);
    this.cache.clear();
  }

  /** Replaces the set of one scope (SetLimits). */
  put(set: LimitSet): void {
    this.sets.set(scopeKey(set.scope), set);
    this.cache.clear();
  }

  get(scope: LimitScope): LimitSet | undefined {
    return this.sets.get(scopeKey(scope));
  }

  list(): LimitSet[] {
    return [...this.sets.values()];
  }

  resolve(sessionId: string, account: string): ResolvedLimits {
    const key = `${sessionId}\u0000${account}`;
    let r = this.cache.get(key);
    if (r === undefined) {
      const scopes = [
        this.sets.get("\u0000"),
        sessionId === "" ? undefined : this.sets.get(`${sessionId}\u0000`),
        account === "" ? undefined : this.sets.get(`\u0000${account}`),
        sessionId === "" || account === "" ? undefined : this.sets.get(key),
      ].filter((s): s is LimitSet => s !== undefined);
      const normal = resolveChain(scopes.map((s) => s.normal));
      const degraded = tighter(resolveChain(scopes.map((s) => s.degraded)), normal);
      const referencePrices = new Map<string, Decimal>();
      for (const s of scopes) for (const [sym, px] of s.referencePrices) referencePrices.set(sym, px);
      r = { normal, degraded, referencePrices };
      this.cache.set(key, r);
    }
    return r;
  }
}
