/**
 * Properties of the engine over random inputs: what a rule promises holds for every sequence of orders, fills
 * arriving in any order and any number of times count once, and every refusal names a rule and its figures.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { OrderEvent } from "@fixmesh/bus";
import { Decimal } from "@fixmesh/orders";
import fc from "fast-check";
import { RiskEngine } from "./engine.js";
import { limitSet, order, orderEvent, T0 } from "./testkit.js";

const qtyArb = fc.integer({ min: 1, max: 500 });

describe("engine properties", () => {
  it("a position never exceeds max position, whatever orders come and however they fill", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            sell: fc.boolean(),
            qty: qtyArb,
            fillPct: fc.integer({ min: 0, max: 100 }),
            cancel: fc.boolean(),
          }),
          { maxLength: 60 },
        ),
        (plan) => {
          const max = Decimal.of("1000");
          const engine = new RiskEngine({ limits: [limitSet({}, { maxPosition: "1000" })] });
          let net = 0;
          let now = T0;
          plan.forEach((p, i) => {
            const key = `k${i}`;
            const d = engine.check(
              order({ side: p.sell ? "SELL" : "BUY", qty: String(p.qty), idempotencyKey: key }),
              now++,
            );
            if (!d.allowed) return;
            const id = `O${i}`;
            const filled = Math.floor((p.qty * p.fillPct) / 100);
            engine.applyOrderEvent(
              orderEvent({
                orderId: id,
                version: 1,
                status: "NEW",
                leavesQty: String(p.qty),
                quantity: String(p.qty),
                side: p.sell ? "SELL" : "BUY",
                idempotencyKey: key,
              }),
            );
            if (filled > 0) {
              const left = p.qty - filled;
              engine.applyOrderEvent(
                orderEvent({
                  orderId: id,
                  version: 2,
                  status: left === 0 ? "FILLED" : "PARTIALLY_FILLED",
                  cumQty: String(filled),
                  leavesQty: String(left),
                  quantity: String(p.qty),
                  side: p.sell ? "SELL" : "BUY",
                  fill: { execId: `E${i}`, lastQty: String(filled) },
                }),
              );
              net += p.sell ? -filled : filled;
            }
            if (p.cancel) {
              engine.applyOrderEvent(
                orderEvent({
                  orderId: id,
                  version: 3,
                  status: "CANCELED",
                  cumQty: String(filled),
                  leavesQty: "0",
                  side: p.sell ? "SELL" : "BUY",
                }),
              );
            }
            assert.ok(Math.abs(net) <= 1000, `net ${net} over ${max}`);
          });
          const pos = engine.exposure.positionsOf({ account: "ACC1", symbol: "IBM" })[0];
          if (pos !== undefined) assert.equal(pos.netQty.toString(), String(net));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("fills count once however often and in whatever order their events arrive", () => {
    const fillArb = fc.record({ order: fc.integer({ min: 0, max: 4 }), qty: qtyArb, sell: fc.boolean() });
    fc.assert(
      fc.property(
        fc.array(fillArb, { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.integer(),
        (fills, dupPicks, seed) => {
          const events: OrderEvent[] = fills.map((f, i) =>
            orderEvent({
              orderId: `O${f.order}`,
              version: i + 1,
              status: "PARTIALLY_FILLED",
              leavesQty: "1",
              side: f.sell ? "SELL" : "BUY",
              fill: { execId: `E${i}`, lastQty: String(f.qty) },
            }),
          );
          // Redelivered and republished copies (same ExecID, possibly another version), shuffled.
          const all = [...events, ...dupPicks.map((p) => ({ ...events[p % events.length], version: 1000 + p }))];
          const shuffled = fc.sample(fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }), {
            numRuns: 1,
            seed,
          })[0];
          const engine = new RiskEngine();
          for (const e of shuffled) engine.applyOrderEvent(e);
          const expected = fills.reduce((n, f) => n + (f.sell ? -f.qty : f.qty), 0);
          const bought = fills.reduce((n, f) => n + (f.sell ? 0 : f.qty), 0);
          const [pos] = engine.exposure.positionsOf({});
          assert.equal(pos.netQty.toString(), String(expected));
          assert.equal(pos.boughtQty.toString(), String(bought));
          assert.equal(engine.exposure.stats().duplicateFills, dupPicks.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("no second holds more allowed orders than the rate limit", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 80 }),
        (max, gaps) => {
          const engine = new RiskEngine({ limits: [limitSet({}, { maxOrdersPerSec: max })] });
          const allowedAt: number[] = [];
          let now = T0;
          for (const g of gaps) {
            now += g;
            if (engine.check(order(), now).allowed) allowedAt.push(now);
          }
          for (let i = 0; i < allowedAt.length; i++) {
            const inWindow = allowedAt.filter((t) => t > allowedAt[i] - 1000 && t <= allowedAt[i]).length;
            assert.ok(inWindow <= max, `${inWindow} orders in the second ending ${allowedAt[i] - T0}`);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("the collar allows exactly the prices within ±pct of the reference", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }), // reference, in 1/100
        fc.integer({ min: 1, max: 2_000_000 }), // price, in 1/100
        fc.integer({ min: 1, max: 5000 }), // collar, in 1/100 %
        (refC, pxC, pctC) => {
          const text = (n: number) => (n / 100).toFixed(2);
          const engine = new RiskEngine({
            limits: [limitSet({}, { priceCollarPct: text(pctC) }, {}, { IBM: text(refC) })],
          });
          const d = engine.check(order({ price: text(pxC) }), T0);
          // Integer arithmetic: |px − ref| / ref ≤ pct/100  ⇔  |px − ref| × 100 × 100 ≤ pctC × refC.
          const within = BigInt(Math.abs(pxC - refC)) * 10_000n <= BigInt(pctC) * BigInt(refC);
          assert.equal(d.allowed, within);
          if (!d.allowed) assert.equal(d.rule, "PRICE_COLLAR");
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("every refusal names a rule, a limit and a value; quantity and kill switch are never let through", () => {
    const rules = fc.record(
      {
        maxOrderQty: fc.integer({ min: 1, max: 1000 }).map(String),
        maxNotional: fc.integer({ min: 1, max: 100000 }).map(String),
        maxOpenOrders: fc.integer({ min: 1, max: 5 }),
        maxPosition: fc.integer({ min: 1, max: 2000 }).map(String),
        maxOrdersPerSec: fc.integer({ min: 1, max: 10 }),
        duplicateWindowMs: fc.integer({ min: 1, max: 1000 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        rules,
        fc.array(
          fc.record({
            qty: qtyArb,
            px: fc.integer({ min: 1, max: 300 }),
            sell: fc.boolean(),
            account: fc.constantFrom("A", "B"),
            health: fc.constantFrom("LIVE", "LIVE", "LIVE", "DEGRADED", "SAFE", "DISCONNECTED"),
            gap: fc.integer({ min: 0, max: 300 }),
            kill: fc.constantFrom(undefined, undefined, undefined, "A"),
          }),
          { maxLength: 40 },
        ),
        (normal, orders) => {
          const engine = new RiskEngine({ limits: [limitSet({}, normal)] });
          let now = T0;
          for (const o of orders) {
            now += o.gap;
            if (o.kill) {
              engine.applyKillSwitch({
                scope: "ACCOUNT",
                target: o.kill,
                engaged: true,
                reason: "r",
                operator: "op",
                at: now,
                cancelOpenOrders: false,
              });
            }
            const d = engine.check(
              order({
                qty: String(o.qty),
                price: String(o.px),
                side: o.sell ? "SELL" : "BUY",
                account: o.account,
                sessionHealth: o.health,
              }),
              now,
            );
            if (d.allowed) {
              assert.ok(o.health === "LIVE" || o.health === "DEGRADED");
              assert.ok(engine.killSwitches.covering("x", o.account) === undefined);
              if (normal.maxOrderQty !== undefined) assert.ok(o.qty <= Number(normal.maxOrderQty));
              if (normal.maxNotional !== undefined) assert.ok(o.qty * o.px <= Number(normal.maxNotional));
            } else {
              assert.ok(d.rule && d.limit && d.value && d.message, JSON.stringify(d));
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
