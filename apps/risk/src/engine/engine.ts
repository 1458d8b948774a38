import type { OrderEvent, OrderSide, OrderTypeName } from "@fixmesh/bus";
import { Decimal } from "@fixmesh/orders";
import { type ApplyOutcome, ExposureBook, sideKey } from "./exposure.js";
import { DuplicateDetector, RateWindow } from "./flow.js";
import { describeKillSwitch, KillSwitchBook, type KillSwitchState } from "./kill-switches.js";
import { type EffectiveLimits, LimitBook, type LimitSet } from "./limits.js";
import { type Decision, type LimitSetName, Rule, refuse } from "./rules.js";

/** A session's health as the session core names it (SessionHealth in session.proto without its prefix). */
export type HealthName =
  | "DISCONNECTED"
  | "CONNECTING"
  | "LOGON_SENT"
  | "RECOVERY"
  | "LIVE"
  | "DEGRADED"
  | "SAFE"
  | (string & {});

export type CheckKind = "NEW" | "REPLACE";

/** One order to check, validated at the edge (quantities positive, price present where the type needs it). */
export interface CheckInput {
  kind: CheckKind;
  sessionId: string;
  account: string;
  symbol: string;
  side: OrderSide;
  /** For a replace: the new OrderQty. */
  quantity: Decimal;
  orderType: OrderTypeName;
  price?: Decimal;
  /** The session's health as the caller last saw it; undefined when it did not say. */
  sessionHealth?: HealthName;
  /** For a replace: the order being replaced (its open quantity is not counted twice). */
  orderId?: string;
  idempotencyKey?: string;
}

export interface RiskEngineOptions {
  /** How long an allowed new order counts as open before its first order event arrives. Default 10 s. */
  reservationTtlMs?: number;
  limits?: readonly LimitSet[];
}

const HUNDRED = Decimal.fromBigInt(100n);

/** 0 LIVE, 1 DEGRADED, 2 anything else (refused). */
function healthRank(h: string): number {
  return h === "LIVE" ? 0 : h === "DEGRADED" ? 1 : 2;
}

/**
 * The pre-trade risk engine: limits, kill switches, session health, positions and open exposure, and the
 * rules that remember recent orders. No I/O and no clock: the adapters feed it (order events, session health,
 * kill-switch changes, limit changes) and pass `now` to every check.
 *
 * A check runs, in order: kill switch, session health, restricted symbol, max order quantity, max notional,
 * price collar, duplicate order, max open orders, max position, order rate — the first rule that refuses
 * answers, naming the rule, the limit and the value. An allowed order is recorded (rate, duplicates) and, when
 * new, reserved as open exposure until its first order event.
 */
export class RiskEngine {
  readonly limits: LimitBook;
  readonly killSwitches = new KillSwitchBook();
  readonly exposure = new ExposureBook();
  private readonly rate = new RateWindow();
  private readonly duplicates = new DuplicateDetector();
  private readonly health = new Map<string, HealthName>();
  private readonly reservationTtlMs: number;
  private reservationSeq = 0;

  constructor(opts: RiskEngineOptions = {}) {
    this.limits = new LimitBook(opts.limits);
    this.reservationTtlMs = opts.reservationTtlMs ?? 10_000;
  }

  setSessionHealth(sessionId: string, health: HealthName): void {
    this.health.set(sessionId, health);
  }

  sessionHealth(sessionId: string): HealthName | undefined {
    return this.health.get(sessionId);
  }

  applyKillSwitch(s: KillSwitchState): boolean {
    return this.killSwitches.apply(s);
  }

  applyOrderEvent(ev: OrderEvent): ApplyOutcome {
    return this.exposure.applyOrderEvent(ev);
  }

  /**
   * The health that decides: the worse of what the caller reported and what the session's own events said
   * (fail closed: a stale LIVE on either side never overrides a SAFE on the other).
   */
  effectiveHealth(sessionId: string, reported: HealthName | undefined): HealthName | undefined {
    const watched = this.health.get(sessionId);
    if (watched === undefined) return reported;
    if (reported === undefined) return watched;
    return healthRank(reported) > healthRank(watched) ? reported : watched;
  }

  check(o: CheckInput, now: number): Decision {
    const ks = this.killSwitches.covering(o.sessionId, o.account);
    if (ks !== undefined) {
      return refuse(
        Rule.KillSwitch,
        describeKillSwitch(ks),
        "engaged",
        `kill switch ${describeKillSwitch(ks)} is engaged by ${ks.operator}: ${ks.reason}`,
        "",
      );
    }
    const health = this.effectiveHealth(o.sessionId, o.sessionHealth);
    const rank = health === undefined ? 2 : healthRank(health);
    if (rank === 2) {
      return refuse(
        Rule.SessionNotLive,
        "LIVE or DEGRADED",
        health ?? "UNKNOWN",
        `session ${o.sessionId} is ${health ?? "of unknown health"}; orders are accepted only while it is LIVE (or DEGRADED, with the degraded limits)`,
        "",
      );
    }
    const set: LimitSetName = rank === 0 ? "normal" : "degraded";
    const resolved = this.limits.resolve(o.sessionId, o.account);
    const l: EffectiveLimits = rank === 0 ? resolved.normal : resolved.degraded;

    if (l.restrictedSymbols.has(o.symbol)) {
      return refuse(Rule.RestrictedSymbol, "restricted", o.symbol, `symbol ${o.symbol} is restricted`, set);
    }
    if (l.maxOrderQty !== undefined && o.quantity.gt(l.maxOrderQty)) {
      return refuse(
        Rule.MaxOrderQty,
        l.maxOrderQty.toString(),
        o.quantity.toString(),
        `quantity ${o.quantity} exceeds the maximum order quantity ${l.maxOrderQty} (${set} limits)`,
        set,
      );
    }
    const ref = resolved.referencePrices.get(o.symbol);
    if (l.maxNotional !== undefined) {
      const px = o.price ?? ref;
      if (px === undefined) {
        return refuse(
          Rule.NoReferencePrice,
          `a reference price for ${o.symbol}`,
          "none",
          `a ${o.orderType} order's notional needs a reference price for ${o.symbol}, and none is configured`,
          set,
        );
      }
      const notional = o.quantity.mul(px);
      if (notional.gt(l.maxNotional)) {
        return refuse(
          Rule.MaxNotional,
          l.maxNotional.toString(),
          notional.toString(),
          `notional ${notional} (${o.quantity} × ${px}) exceeds the maximum ${l.maxNotional} (${set} limits)`,
          set,
        );
      }
    }
    if (l.priceCollarPct !== undefined && o.price !== undefined) {
      if (ref === undefined) {
        return refuse(
          Rule.NoReferencePrice,
          `a reference price for ${o.symbol}`,
          "none",
          `the price collar needs a reference price for ${o.symbol}, and none is configured`,
          set,
        );
      }
      // |price − ref| / ref × 100 > pct, kept exact: |price − ref| × 100 > pct × ref.
      if (o.price.sub(ref).abs().mul(HUNDRED).gt(l.priceCollarPct.mul(ref))) {
        const band = ref.mul(l.priceCollarPct).div(HUNDRED, ref.scale + l.priceCollarPct.scale + 2);
        const range = `[${ref.sub(band)}, ${ref.add(band)}]`;
        return refuse(
          Rule.PriceCollar,
          range,
          o.price.toString(),
          `price ${o.price} is outside ±${l.priceCollarPct}% of the reference price ${ref}: ${range} (${set} limits)`,
          set,
        );
      }
    }
    let dupKey = "";
    const idem = o.idempotencyKey ?? "";
    if (o.kind === "NEW" && l.duplicateWindowMs !== undefined && l.duplicateWindowMs > 0) {
      dupKey = DuplicateDetector.key(o.account, o.symbol, o.side, o.quantity.toString(), o.price?.toString() ?? "");
      const at = this.duplicates.find(dupKey, idem, l.duplicateWindowMs, now);
      if (at !== undefined) {
        return refuse(
          Rule.DuplicateOrder,
          `${l.duplicateWindowMs} ms`,
          `${now - at} ms`,
          `the same order (${o.account} ${o.side} ${o.quantity} ${o.symbol} @ ${o.price ?? o.orderType}) was allowed ${now - at} ms ago, within the duplicate window of ${l.duplicateWindowMs} ms`,
          set,
        );
      }
    }
    this.exposure.expire(now);
    const side = sideKey(o.side);
    const replacing = o.kind === "REPLACE" ? o.orderId : undefined;
    const p = this.exposure.project(o.account, o.symbol, replacing);
    if (o.kind === "NEW" && l.maxOpenOrders !== undefined && p.openOrders + 1 > l.maxOpenOrders) {
      return refuse(
        Rule.MaxOpenOrders,
        String(l.maxOpenOrders),
        String(p.openOrders + 1),
        `account ${o.account} would have ${p.openOrders + 1} open orders, over the maximum ${l.maxOpenOrders} (${set} limits)`,
        set,
      );
    }
    if (l.maxPosition !== undefined) {
      // The worst case on the order's side: every open order of that side filled, this one included.
      let adds = o.quantity;
      let sameSideOpen = side === "B" ? p.openBuy : p.openSell;
      if (p.replacedKnown) {
        sameSideOpen = sameSideOpen.sub(p.replacedOpen);
        adds = o.quantity.sub(p.replacedCum);
        if (adds.isNegative()) adds = Decimal.ZERO;
      }
      const worst = side === "B" ? p.net.add(sameSideOpen).add(adds) : p.net.sub(sameSideOpen).sub(adds);
      if (worst.abs().gt(l.maxPosition) && (side === "B" ? worst.isPositive() : worst.isNegative())) {
        return refuse(
          Rule.MaxPosition,
          l.maxPosition.toString(),
          worst.abs().toString(),
          `${o.account} ${o.symbol} would reach a ${side === "B" ? "long" : "short"} position of ${worst.abs()} with its open orders filled (net ${p.net}), over the maximum ${l.maxPosition} (${set} limits)`,
          set,
        );
      }
    }
    if (l.maxOrdersPerSec !== undefined) {
      const n = this.rate.count(o.account, now) + 1;
      if (n > l.maxOrdersPerSec) {
        return refuse(
          Rule.OrderRate,
          `${l.maxOrdersPerSec}/s`,
          `${n}/s`,
          `account ${o.account} would send ${n} orders within one second, over the maximum ${l.maxOrdersPerSec} (${set} limits)`,
          set,
        );
      }
    }

    // Allowed: remember it.
    if (l.maxOrdersPerSec !== undefined) this.rate.record(o.account, now);
    if (dupKey !== "") this.duplicates.record(dupKey, idem, now);
    if (o.kind === "NEW") {
      const key = idem !== "" ? idem : `#${++this.reservationSeq}`;
      this.exposure.reserve(o.account, key, o.symbol, side, o.quantity, now + this.reservationTtlMs);
    }
    return { allowed: true, limitSet: set };
  }
}
