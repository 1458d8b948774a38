/**
 * Risk benchmark: what the pre-trade check adds to an order, in process. Target (the issue): the risk check adds
 * < 200 µs p99 in process.
 *
 * State: 1,000 accounts × 20 symbols, every rule configured and none refusing (so every check runs every rule:
 * kill switches (two engaged on other accounts), session health, restricted symbols, max order qty, notional,
 * price collar, duplicates, open orders, position with open exposure, rate), global + account limit sets, and
 * positions built from order events. Orders rotate over accounts and symbols with varying quantities and prices;
 * after each timed check the allowed order's order events (NEW, then a fill and FILLED a few orders later) are
 * applied outside the timing, as the order feed would, so the open exposure and reservations stay realistic.
 *
 * Cases, each timed per call with `process.hrtime.bigint()`:
 * - engine.check: `RiskEngine.check` on a typed `CheckInput`.
 * - edge + check: what the gRPC server does per stream message besides transport: protobuf decode of the
 *   CheckOrderRequest, validation into a `CheckInput` (decimals parsed), the check, the response built and
 *   protobuf-encoded.
 * - baseline: the timer alone around an empty call — the floor every per-call figure includes.
 *
 * Method: 50,000 warm-up calls, then --rounds (default 3) rounds of --calls (default 200,000) calls per case,
 * interleaved; p50/p99/p99.9/max per round, the median round reported.
 *
 * Usage: pnpm bench:risk [--json] [--calls=N] [--rounds=N]
 */
import {
  type CheckOrderRequest,
  grpcServiceDefinition,
  OrderType,
  RiskCheckKind,
  RiskService,
  SessionHealth,
  Side,
} from "@fixmesh/contracts";
import { type CheckInput, checkInputFrom, checkResponse, Decimal, type LimitSet, RiskEngine } from "@fixmesh/risk";

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=");
    return [k, v ?? "true"] as const;
  }),
);
const JSON_ONLY = args.has("json");
const CALLS = Number(args.get("calls") ?? 200_000);
const ROUNDS = Number(args.get("rounds") ?? 3);
const ACCOUNTS = 1000;
const SYMBOLS = 20;
const SESSION = "FIX.4.4:CLIENT->VENUE";
const T0 = Date.UTC(2026, 10, 27, 9, 0, 0);

const d = Decimal.of;
const symbols = Array.from({ length: SYMBOLS }, (_, i) => `SYM${i}`);
const refs = new Map(symbols.map((s, i) => [s, d(String(50 + i * 10))]));

function limitSets(): LimitSet[] {
  const sets: LimitSet[] = [
    {
      scope: { sessionId: "", account: "" },
      normal: {
        maxOrderQty: d("100000"),
        maxNotional: d("100000000"),
        priceCollarPct: d("10"),
        maxOpenOrders: 100_000,
        maxPosition: d("100000000"),
        maxOrdersPerSec: 1_000_000,
        duplicateWindowMs: 1000,
        restrictedSymbols: ["GME", "AMC"],
      },
      degraded: { maxOrderQty: d("1000") },
      referencePrices: refs,
    },
  ];
  for (let a = 0; a < ACCOUNTS; a += 10) {
    sets.push({
      scope: { sessionId: "", account: `ACC${a}` },
      normal: { maxPosition: d("50000000") },
      degraded: {},
      referencePrices: new Map(),
    });
  }
  return sets;
}

function makeEngine(): RiskEngine {
  const engine = new RiskEngine({ limits: limitSets() });
  engine.setSessionHealth(SESSION, "LIVE");
  for (const target of ["ACC999999", "ACC888888"]) {
    engine.applyKillSwitch({
      scope: "ACCOUNT",
      target,
      engaged: true,
      reason: "bench",
      operator: "bench",
      at: T0,
      cancelOpenOrders: false,
    });
  }
  // Positions: one filled order per account and symbol.
  let n = 0;
  for (let a = 0; a < ACCOUNTS; a++) {
    for (const sym of symbols) {
      n++;
      engine.applyOrderEvent(
        orderEvent(`P${n}`, 1, `ACC${a}`, sym, n % 2 === 0 ? "BUY" : "SELL", "100", "FILLED", "0", `PE${n}`),
      );
    }
  }
  return engine;
}

function orderEvent(
  orderId: string,
  version: number,
  account: string,
  symbol: string,
  side: "BUY" | "SELL",
  qty: string,
  status: "NEW" | "FILLED",
  leaves: string,
  execId?: string,
  idempotencyKey?: string,
) {
  return {
    orderId,
    version,
    change: status,
    at: T0,
    order: {
      orderId,
      sessionId: SESSION,
      clOrdId: orderId,
      origClOrdId: "",
      account,
      symbol,
      side,
      orderType: "LIMIT" as const,
      timeInForce: "DAY" as const,
      quantity: qty,
      price: "100",
      status,
      cumQty: status === "FILLED" ? qty : "0",
      leavesQty: leaves,
      avgPx: "100",
      pending: false,
      createdAt: T0,
      updatedAt: T0,
      ...(idempotencyKey !== undefined && { idempotencyKey }),
    },
    ...(execId !== undefined && {
      execution: { execId, execType: "F", lastQty: qty, lastPx: "100", msgSeqNum: 1 },
    }),
  };
}

interface Order {
  account: string;
  symbol: string;
  side: "BUY" | "SELL";
  qty: string;
  price: string;
  key: string;
}

function orderAt(i: number): Order {
  const a = (i * 7919) % ACCOUNTS;
  const s = i % SYMBOLS;
  const ref = 50 + s * 10;
  return {
    account: `ACC${a}`,
    symbol: symbols[s],
    side: i % 3 === 0 ? "SELL" : "BUY",
    qty: String(1 + (i % 500)),
    price: (ref * (0.95 + (i % 97) / 1000)).toFixed(2),
    key: `k${i}`,
  };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

interface Figures {
  p50us: number;
  p99us: number;
  p999us: number;
  maxus: number;
  meanus: number;
  refused: number;
}

type Case = (i: number, now: number) => boolean;

/** Times `calls` calls of `fn` one by one; after each, `after` runs untimed. */
function measure(fn: Case, calls: number, start: number, after: (i: number, now: number) => void): Figures {
  const times = new Float64Array(calls);
  let refused = 0;
  let sum = 0;
  for (let k = 0; k < calls; k++) {
    const i = start + k;
    const now = T0 + Math.floor(i / 50); // 50 orders per ms: 50,000/s across 1,000 accounts
    const t0 = process.hrtime.bigint();
    const ok = fn(i, now);
    const t1 = process.hrtime.bigint();
    const us = Number(t1 - t0) / 1000;
    times[k] = us;
    sum += us;
    if (!ok) refused++;
    after(i, now);
  }
  times.sort();
  return {
    p50us: percentile(times, 0.5),
    p99us: percentile(times, 0.99),
    p999us: percentile(times, 0.999),
    maxus: times[times.length - 1],
    meanus: sum / calls,
    refused,
  };
}

function feedEvents(engine: RiskEngine, orders: (i: number) => Order): (i: number, now: number) => void {
  return (i) => {
    const o = orders(i);
    engine.applyOrderEvent(orderEvent(`O${i}`, 1, o.account, o.symbol, o.side, o.qty, "NEW", o.qty, undefined, o.key));
    // Orders fill a few orders later: open exposure stays a handful per account.
    const j = i - 8;
    if (j >= 0) {
      const f = orders(j);
      engine.applyOrderEvent(orderEvent(`O${j}`, 2, f.account, f.symbol, f.side, f.qty, "FILLED", "0", `E${j}`));
    }
  };
}

function engineCase(): { run: Case; after: (i: number, now: number) => void } {
  const engine = makeEngine();
  const inputs = (i: number): CheckInput => {
    const o = orderAt(i);
    return {
      kind: "NEW",
      sessionId: SESSION,
      account: o.account,
      symbol: o.symbol,
      side: o.side,
      quantity: d(o.qty),
      orderType: "LIMIT",
      price: d(o.price),
      sessionHealth: "LIVE",
      idempotencyKey: o.key,
    };
  };
  // Inputs are built outside the timing (this case times the engine alone).
  let next: CheckInput = inputs(0);
  let nextI = 0;
  return {
    run: (i, now) => {
      if (nextI !== i) next = inputs(i);
      const r = engine.check(next, now).allowed;
      return r;
    },
    after: (i, now) => {
      feedEvents(engine, orderAt)(i, now);
      next = inputs(i + 1);
      nextI = i + 1;
    },
  };
}

// The serializers the gRPC server uses for CheckOrder (the stream's frames wrap the same two messages).
const method = grpcServiceDefinition(RiskService).checkOrder;

function edgeCase(): { run: Case; after: (i: number, now: number) => void } {
  const engine = makeEngine();
  const wire = (i: number): Buffer => {
    const o = orderAt(i);
    return method.requestSerialize({
      kind: RiskCheckKind.NEW,
      sessionId: SESSION,
      account: o.account,
      symbol: o.symbol,
      side: o.side === "BUY" ? Side.BUY : Side.SELL,
      quantity: o.qty,
      orderType: OrderType.LIMIT,
      price: o.price,
      sessionHealth: SessionHealth.LIVE,
      idempotencyKey: o.key,
    });
  };
  let next = wire(0);
  let nextI = 0;
  return {
    run: (i, now) => {
      if (nextI !== i) next = wire(i);
      const req = method.requestDeserialize(next) as CheckOrderRequest;
      const decision = engine.check(checkInputFrom(req), now);
      const bytes = method.responseSerialize(checkResponse(decision));
      return decision.allowed && bytes.length > 0;
    },
    after: (i, now) => {
      feedEvents(engine, orderAt)(i, now);
      next = wire(i + 1);
      nextI = i + 1;
    },
  };
}

function baselineCase(): { run: Case; after: (i: number, now: number) => void } {
  let x = 0;
  return {
    run: (i) => {
      x ^= i;
      return true;
    },
    after: () => {
      if (x === -1) console.log(x);
    },
  };
}

function median(rounds: Figures[]): Figures {
  const sorted = [...rounds].sort((a, b) => a.p99us - b.p99us);
  return sorted[Math.floor(sorted.length / 2)];
}

function main(): void {
  const cases = { "engine.check": engineCase(), "edge + check": edgeCase(), baseline: baselineCase() };
  const results: Record<string, Figures[]> = {};
  let start = 0;
  for (const [name, c] of Object.entries(cases)) {
    measure(c.run, 50_000, start, c.after);
    results[name] = [];
  }
  start = 50_000;
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, c] of Object.entries(cases)) results[name].push(measure(c.run, CALLS, start, c.after));
    start += CALLS;
  }
  const out = Object.entries(results).map(([name, rounds]) => {
    const f = median(rounds);
    return {
      case: name,
      calls: CALLS,
      p50us: +f.p50us.toFixed(2),
      p99us: +f.p99us.toFixed(2),
      p999us: +f.p999us.toFixed(2),
      maxus: +f.maxus.toFixed(1),
      meanus: +f.meanus.toFixed(2),
      refused: f.refused,
    };
  });
  const engineP99 = out.find((o) => o.case === "edge + check")?.p99us ?? Number.POSITIVE_INFINITY;
  const verdict = {
    target: "risk check p99 < 200 µs in process (edge + check)",
    p99us: engineP99,
    pass: engineP99 < 200,
  };
  if (JSON_ONLY) {
    console.log(JSON.stringify({ accounts: ACCOUNTS, symbols: SYMBOLS, rounds: ROUNDS, cases: out, ...verdict }));
    return;
  }
  console.log(
    `risk check, ${ACCOUNTS} accounts × ${SYMBOLS} symbols, every rule on; median of ${ROUNDS} rounds × ${CALLS} calls`,
  );
  console.log(
    `${"case".padEnd(16)}${"p50 µs".padStart(10)}${"p99 µs".padStart(10)}${"p99.9 µs".padStart(10)}${"max µs".padStart(10)}${"mean µs".padStart(10)}${"refused".padStart(9)}`,
  );
  for (const o of out) {
    console.log(
      `${o.case.padEnd(16)}${o.p50us.toFixed(2).padStart(10)}${o.p99us.toFixed(2).padStart(10)}${o.p999us.toFixed(2).padStart(10)}${o.maxus.toFixed(1).padStart(10)}${o.meanus.toFixed(2).padStart(10)}${String(o.refused).padStart(9)}`,
    );
  }
  console.log(`${verdict.target}: ${verdict.p99us} µs → ${verdict.pass ? "PASS" : "FAIL"}`);
}

main();
