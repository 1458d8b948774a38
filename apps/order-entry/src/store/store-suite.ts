/**
 * One behavioural suite for every order store (memory, Redis): what order-entry relies on, asserted through the
 * store's API only. `open()` gives two handles on one shared state (for Redis: two connections, as two
 * order-entry instances would have), and `close()` removes everything the test created.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OrderStatus } from "@fixmesh/contracts";
import type { ExecutionReport } from "@fixmesh/orders";
import { type OrderRecord, statusOf } from "../model/record.js";
import { testRecord } from "../model/record.testkit.js";
import type { LogEntry, OrderRepository } from "./types.js";

export interface SuiteBackend {
  open(): Promise<{ a: OrderRepository; b: OrderRepository; close(): Promise<void> }>;
}

const SESSION = "FIX.4.4:CLIENT->VENUE";
const T0 = Date.UTC(2026, 10, 27, 9, 0, 0);
let execN = 0;
let listSeq = 0;
const TP_ACK = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const TP_FILL = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01";

function er(
  clOrdID: string,
  over: Partial<ExecutionReport> & Pick<ExecutionReport, "execType" | "ordStatus" | "cumQty">,
): ExecutionReport {
  const cum = Number(over.cumQty);
  return {
    session: SESSION,
    execID: `E${++execN}-${Math.random().toString(36).slice(2, 8)}`,
    clOrdID,
    orderID: "V1",
    orderQty: "100",
    leavesQty: String(100 - cum),
    avgPx: cum > 0 ? "10" : "0",
    transactTime: T0 + execN,
    ...over,
  };
}

async function placed(s: OrderRepository, over: { account?: string; symbol?: string; qty?: string } = {}) {
  const clOrdId = await s.nextClOrdId(SESSION, T0);
  const seq = ++listSeq;
  const rec = testRecord(
    {
      clOrdId,
      account: over.account ?? "ACC1",
      symbol: over.symbol ?? "XYZ",
      orderQty: over.qty ?? "100",
      idempotencyKey: `k-${clOrdId}`,
    },
    seq,
    T0,
  );
  const { entry } = await s.create(rec, T0);
  return { rec, entry, clOrdId };
}

function newTicker(): () => number {
  let n = 0;
  return () => T0 + ++n * 1000;
}

export function runStoreSuite(name: string, backend: SuiteBackend): void {
  describe(`order store: ${name}`, () => {
    const withStores = (fn: (a: OrderRepository, b: OrderRepository) => Promise<void>) => async () => {
      const h = await backend.open();
      try {
        await fn(h.a, h.b);
      } finally {
        await h.close();
      }
    };

    it(
      "finds an order by internal id and by every ClOrdID of its replace chain",
      withStores(async (a, b) => {
        const { rec, clOrdId } = await placed(a);
        const rep = await a.nextClOrdId(SESSION, T0);
        const u = await a.update(
          rec.order.id,
          { type: "request", input: { type: "replaceRequest", orderId: rec.order.id, clOrdID: rep, orderQty: "50" } },
          T0 + 1,
        );
        assert.equal(u.outcome, "applied");
        assert.equal((await b.get(rec.order.id))?.order.id, rec.order.id);
        assert.equal((await b.findByClOrdId(SESSION, clOrdId))?.order.id, rec.order.id);
        assert.equal((await b.findByClOrdId(SESSION, rep))?.order.id, rec.order.id);
        assert.equal(statusOf((await b.get(rec.order.id))!), OrderStatus.PENDING_REPLACE);
      }),
    );

    it(
      "hands out ClOrdIDs that never repeat within a session, across handles, and carry the trading date",
      withStores(async (a, b) => {
        const ids = await Promise.all([...Array(50)].map((_, i) => (i % 2 ? a : b).nextClOrdId(SESSION, T0)));
        assert.equal(new Set(ids).size, 50);
        const tomorrow = await a.nextClOrdId(SESSION, T0 + 86_400_000);
        assert.ok(tomorrow.startsWith("20261128-"), tomorrow);
        assert.ok(!ids.includes(tomorrow));
      }),
    );

    it(
      "refuses a second order with a ClOrdID already used on the session",
      withStores(async (a, b) => {
        const { clOrdId } = await placed(a);
        const dup = testRecord({ clOrdId, account: "A", orderQty: "1", price: "1" }, 1, T0);
        await assert.rejects(b.create(dup, T0), { name: "DuplicateOrderError" });
      }),
    );

    it(
      "applies an execution once: plain, PossDup and PossResend copies on either handle are duplicates",
      withStores(async (a, b) => {
        const { rec, clOrdId } = await placed(a);
        const fill = er(clOrdId, { execType: "F", ordStatus: "1", cumQty: "40", lastQty: "40", lastPx: "10" });
        assert.equal(
          (await a.applyReport(SESSION, { type: "report", report: fill, msgSeqNum: 5 }, T0 + 1)).outcome,
          "applied",
        );
        const copies = [{ ...fill }, { ...fill, possDup: true }, { ...fill, possResend: true }];
        const outs = await Promise.all(
          copies.map((c, i) => (i % 2 ? a : b).applyReport(SESSION, { type: "report", report: c }, T0 + 2)),
        );
        assert.deepEqual(
          outs.map((o) => o.outcome),
          ["duplicate", "duplicate", "duplicate"],
        );
        const got = await b.get(rec.order.id);
        assert.equal(got?.order.cumQty, "40");
        assert.equal(got?.executions.length, 1);
        assert.equal(got?.send, "sent", "a venue report proves the NewOrderSingle went out");
        const c = await a.counters();
        assert.equal(c.duplicates, 3);
        assert.equal(c.duplicatesPossDup, 1);
        assert.equal(c.duplicatesPossResend, 1);
        assert.equal(c.duplicatesUnflagged, 1);
      }),
    );

    it(
      "applies fills racing on two handles, each once, CumQty their sum",
      withStores(async (a, b) => {
        const { rec, clOrdId } = await placed(a);
        const fills = [10, 20, 30, 40].map((q, i, all) => {
          const cum = all.slice(0, i + 1).reduce((x, y) => x + y, 0);
          return er(clOrdId, {
            execType: "F",
            ordStatus: cum === 100 ? "2" : "1",
            cumQty: String(cum),
            lastQty: String(q),
            lastPx: "10",
          });
        });
        const all = [...fills, ...fills];
        const outs = await Promise.all(
          all.map((f, i) => (i % 2 ? a : b).applyReport(SESSION, { type: "report", report: f }, T0 + i)),
        );
        assert.equal(outs.filter((o) => o.outcome === "applied").length, 4);
        assert.equal(outs.filter((o) => o.outcome === "duplicate").length, 4);
        const got = await a.get(rec.order.id);
        assert.equal(got?.order.cumQty, "100");
        assert.equal(statusOf(got!), OrderStatus.FILLED);
      }),
    );

    it(
      "applies an order's acknowledgement and fill given together in one commit, each logged and deduped",
      withStores(async (a, b) => {
        const { rec, clOrdId, entry } = await placed(a);
        const before = (await a.counters()).applied;
        const ack = er(clOrdId, { execType: "0", ordStatus: "0", cumQty: "0" });
        const fill = er(clOrdId, { execType: "F", ordStatus: "2", cumQty: "100", lastQty: "100", lastPx: "10" });
        const outs = await a.applyReports(
          SESSION,
          [
            { type: "report", report: ack, msgSeqNum: 7, traceparent: TP_ACK },
            { type: "report", report: fill, msgSeqNum: 8, traceparent: TP_FILL },
          ],
          T0 + 1,
        );
        assert.deepEqual(
          outs.map((o) => [o.outcome, o.entry?.position, o.entry?.event.change]),
          [
            ["applied", entry.position + 1, "ACK"],
            ["applied", entry.position + 2, "FILL"],
          ],
        );
        const got = await b.get(rec.order.id);
        assert.equal(statusOf(got!), OrderStatus.FILLED);
        assert.equal(got?.order.cumQty, "100");
        assert.equal(got?.rev, rec.rev + 1, "one commit for both reports");
        assert.equal(got?.version, 3);
        const log = await b.readLog(entry.position + 1, 10);
        assert.deepEqual(
          log.map((e) => [e.position, e.event.change, e.event.version, e.event.traceparent]),
          [
            [entry.position + 1, "ACK", 2, TP_ACK],
            [entry.position + 2, "FILL", 3, TP_FILL],
          ],
        );
        assert.equal((await a.counters()).applied, before + 2);
        // Both ExecIDs are remembered: either copy, alone or in a run again, is a duplicate on either handle.
        assert.equal(
          (await b.applyReport(SESSION, { type: "report", report: { ...ack, possDup: true } }, T0 + 2)).outcome,
          "duplicate",
        );
        const again = await b.applyReports(
          SESSION,
          [
            { type: "report", report: ack },
            { type: "report", report: fill },
          ],
          T0 + 3,
        );
        assert.deepEqual(
          again.map((o) => o.outcome),
          ["duplicate", "duplicate"],
        );
        assert.equal((await a.get(rec.order.id))?.rev, rec.rev + 1);
      }),
    );

    it(
      "applies a run holding a copy or an already-applied report exactly as one by one",
      withStores(async (a, b) => {
        const { rec, clOrdId } = await placed(a);
        const ack = er(clOrdId, { execType: "0", ordStatus: "0", cumQty: "0" });
        const part = er(clOrdId, { execType: "F", ordStatus: "1", cumQty: "40", lastQty: "40", lastPx: "10" });
        const rest = er(clOrdId, { execType: "F", ordStatus: "2", cumQty: "100", lastQty: "60", lastPx: "10" });
        assert.equal((await b.applyReport(SESSION, { type: "report", report: part }, T0 + 1)).outcome, "applied");
        const outs = await a.applyReports(
          SESSION,
          [
            { type: "report", report: ack },
            { type: "report", report: { ...part, possResend: true } },
            { type: "report", report: rest },
            { type: "report", report: { ...rest, possDup: true } },
          ],
          T0 + 2,
        );
        assert.deepEqual(
          outs.map((o) => o.outcome),
          ["applied", "duplicate", "applied", "duplicate"],
        );
        const got = await a.get(rec.order.id);
        assert.equal(got?.order.cumQty, "100");
        assert.equal(got?.executions.length, 2);
        assert.equal(statusOf(got!), OrderStatus.FILLED);
        // A run for an order this handle has never seen (the other one placed it) is applied all the same.
        const other = await placed(b);
        const runOnA = await a.applyReports(
          SESSION,
          [
            {
              type: "report",
              report: er(other.clOrdId, { execType: "0", ordStatus: "0", cumQty: "0", orderID: "V2" }),
            },
            {
              type: "report",
              report: er(other.clOrdId, {
                execType: "F",
                ordStatus: "2",
                cumQty: "100",
                lastQty: "100",
                lastPx: "10",
                orderID: "V2",
              }),
            },
          ],
          T0 + 3,
        );
        assert.deepEqual(
          runOnA.map((o) => o.outcome),
          ["applied", "applied"],
        );
        assert.equal(statusOf((await b.get(other.rec.order.id))!), OrderStatus.FILLED);
      }),
    );

    it(
      "never moves CumQty backwards: a Canceled below the fills held is held, not applied",
      withStores(async (a) => {
        const { rec, clOrdId } = await placed(a);
        const t = newTicker();
        await a.applyReport(
          SESSION,
          {
            type: "report",
            report: er(clOrdId, { execType: "F", ordStatus: "1", cumQty: "60", lastQty: "60", lastPx: "10" }),
          },
          t(),
        );
        const stale = er(clOrdId, { execType: "4", ordStatus: "4", cumQty: "20", leavesQty: "0" });
        const out = await a.applyReport(SESSION, { type: "report", report: stale }, t());
        assert.equal(out.outcome, "rejected");
        const got = await a.get(rec.order.id);
        assert.equal(got?.order.cumQty, "60");
        assert.equal(statusOf(got!), OrderStatus.PARTIALLY_FILLED);
        assert.equal(got?.order.held.length, 1);
      }),
    );

    it(
      "reports the status of highest precedence: Pending Cancel over Partially Filled, Partially Filled over a late New",
      withStores(async (a) => {
        const { rec, clOrdId } = await placed(a);
        const t = newTicker();
        await a.applyReport(
          SESSION,
          {
            type: "report",
            report: er(clOrdId, { execType: "F", ordStatus: "1", cumQty: "30", lastQty: "30", lastPx: "10" }),
          },
          t(),
        );
        await a.applyReport(
          SESSION,
          { type: "report", report: er(clOrdId, { execType: "0", ordStatus: "0", cumQty: "0" }) },
          t(),
        );
        assert.equal(statusOf((await a.get(rec.order.id))!), OrderStatus.PARTIALLY_FILLED);
        const cxl = await a.nextClOrdId(SESSION, T0);
        await a.update(
          rec.order.id,
          { type: "request", input: { type: "cancelRequest", orderId: rec.order.id, clOrdID: cxl } },
          t(),
        );
        assert.equal(statusOf((await a.get(rec.order.id))!), OrderStatus.PENDING_CANCEL);
        const out = await a.applyReport(
          SESSION,
          {
            type: "report",
            report: er(cxl, { origClOrdID: clOrdId, execType: "4", ordStatus: "4", cumQty: "30", leavesQty: "0" }),
          },
          t(),
        );
        assert.equal(out.entry?.event.change, "CANCELED");
        assert.equal(statusOf((await a.get(rec.order.id))!), OrderStatus.CANCELED);
      }),
    );

    it(
      "applies an OrderCancelReject once and returns the order to the status beneath Pending Cancel",
      withStores(async (a, b) => {
        const { rec, clOrdId } = await placed(a);
        const t = newTicker();
        await a.applyReport(
          SESSION,
          { type: "report", report: er(clOrdId, { execType: "0", ordStatus: "0", cumQty: "0" }) },
          t(),
        );
        const cxl = await a.nextClOrdId(SESSION, T0);
        await a.update(
          rec.order.id,
          { type: "request", input: { type: "cancelRequest", orderId: rec.order.id, clOrdID: cxl } },
          t(),
        );
        const rej = {
          session: SESSION,
          clOrdID: cxl,
          origClOrdID: clOrdId,
          orderID: "V1",
          ordStatus: "0",
          cxlRejResponseTo: "1",
          cxlRejReason: "0",
          text: "too late",
        };
        const first = await a.applyReport(SESSION, { type: "cancelReject", reject: rej }, t());
        assert.equal(first.entry?.event.change, "CANCEL_REJECTED");
        assert.equal(
          (await b.applyReport(SESSION, { type: "cancelReject", reject: { ...rej, possDup: true } }, t())).outcome,
          "duplicate",
        );
        const got = await b.get(rec.order.id);
        assert.equal(statusOf(got!), OrderStatus.NEW);
        assert.equal(got?.text, "too late");
      }),
    );

    it(
      "keeps a report for an unknown order, counts it, and applies it once that ClOrdID's order appears",
      withStores(async (a, b) => {
        const clOrdId = await a.nextClOrdId(SESSION, T0);
        const early = er(clOrdId, { execType: "0", ordStatus: "0", cumQty: "0" });
        assert.equal((await a.applyReport(SESSION, { type: "report", report: early }, T0)).outcome, "unknownOrder");
        assert.equal(
          (await b.applyReport(SESSION, { type: "report", report: { ...early, possDup: true } }, T0)).outcome,
          "duplicate",
        );
        assert.equal((await a.unmatched(SESSION)).length, 1);
        assert.equal((await a.counters()).unknownOrder, 1);
        const late = testRecord({ clOrdId, account: "A" }, 7, T0);
        const { released } = await b.create(late, T0 + 1);
        assert.equal(released.length, 1);
        assert.equal(released[0]?.event.change, "ACK");
        assert.equal(statusOf((await a.get(late.order.id))!), OrderStatus.NEW);
        assert.equal((await a.unmatched(SESSION)).length, 0);
      }),
    );

    it(
      "logs every visible change at strictly increasing positions, readable from any position and live on the other handle",
      withStores(async (a, b) => {
        const live: LogEntry[] = [];
        const stop = b.watchLog((e) => live.push(e));
        try {
          await new Promise((r) => setTimeout(r, 100));
          const { rec, clOrdId, entry } = await placed(a);
          await a.applyReport(
            SESSION,
            { type: "report", report: er(clOrdId, { execType: "0", ordStatus: "0", cumQty: "0" }) },
            T0 + 1,
          );
          await a.applyReport(
            SESSION,
            {
              type: "report",
              report: er(clOrdId, { execType: "F", ordStatus: "2", cumQty: "100", lastQty: "100", lastPx: "10" }),
            },
            T0 + 2,
          );
          const log = await b.readLog(entry.position, 100);
          assert.deepEqual(
            log.map((e) => e.event.change),
            ["NEW_REQUEST", "ACK", "FILL"],
          );
          assert.deepEqual(
            log.map((e) => e.position),
            [entry.position, entry.position + 1, entry.position + 2],
          );
          assert.deepEqual(
            log.map((e) => e.event.version),
            [1, 2, 3],
          );
          assert.ok(log.every((e) => e.event.orderId === rec.order.id));
          assert.equal(log[2]?.event.execution?.lastQty, "100");
          const end = Date.now() + 5000;
          while (live.length < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
          assert.deepEqual(
            live.map((e) => e.position),
            log.map((e) => e.position),
          );
          const bounds = await a.logBounds();
          assert.equal(bounds.newest, entry.position + 2);
        } finally {
          stop();
        }
      }),
    );

    it(
      "lists the entries not yet published until they are marked",
      withStores(async (a, b) => {
        const { entry } = await placed(a);
        const pending = await b.unpublished(0, T0 + 10, 100);
        assert.ok(pending.some((e) => e.position === entry.position));
        await b.markPublished([entry.position]);
        assert.ok(!(await a.unpublished(0, T0 + 10, 100)).some((e) => e.position === entry.position));
      }),
    );

    it(
      "claims an idempotency key once across handles, and releases only its own claim",
      withStores(async (a, b) => {
        const key = `key-${Math.random()}`;
        const first = { key, fingerprint: "f1", orderId: "o-1", clOrdId: "C1", at: T0 };
        assert.equal(await a.claimIdempotency(first, 60_000), null);
        const second = await b.claimIdempotency({ ...first, orderId: "o-2", fingerprint: "f2" }, 60_000);
        assert.equal(second?.orderId, "o-1");
        assert.equal(second?.fingerprint, "f1");
        await b.releaseIdempotency(key, "o-2");
        assert.equal((await a.getIdempotency(key))?.orderId, "o-1");
        await b.releaseIdempotency(key, "o-1");
        assert.equal(await a.getIdempotency(key), null);
      }),
    );

    it(
      "notes an unconfirmed cancel/replace on its claim for the other handles, clears it, and leaves others' claims alone",
      withStores(async (a, b) => {
        const key = `cancel:key-${Math.random()}`;
        const claim = { key, fingerprint: "f1", orderId: "o-1", clOrdId: "C2", at: T0 };
        assert.equal(await a.claimIdempotency(claim, 60_000), null);
        const unconfirmed = {
          kind: "cancel" as const,
          origClOrdId: "C1",
          msgType: "F",
          fields: [{ tag: 11, value: { case: "stringValue" as const, value: "C2" } }],
        };
        await a.noteIdempotency({ ...claim, unconfirmed });
        assert.deepEqual((await b.getIdempotency(key))?.unconfirmed, unconfirmed);
        // A retry elsewhere sees it through the claim it cannot take.
        assert.deepEqual((await b.claimIdempotency({ ...claim, clOrdId: "C9" }, 60_000))?.unconfirmed, unconfirmed);
        await b.noteIdempotency({ ...claim, orderId: "o-2" });
        assert.deepEqual((await a.getIdempotency(key))?.unconfirmed, unconfirmed, "another order's note is ignored");
        await b.noteIdempotency(claim);
        const cleared = await a.getIdempotency(key);
        assert.equal(cleared?.clOrdId, "C2");
        assert.equal(cleared?.unconfirmed, undefined);
        await a.releaseIdempotency(key, "o-1");
        await b.noteIdempotency({ ...claim, unconfirmed });
        assert.equal(await a.getIdempotency(key), null, "a released claim is not made again by a note");
      }),
    );

    it(
      "claims a key with a new ClOrdID in one step: one winner across handles, the others get its claim",
      withStores(async (a, b) => {
        // Quotes, backslashes and non-ASCII in the key: the claim's JSON must survive them.
        const key = `k"\\é-${Math.random()}`;
        const outs = await Promise.all(
          [...Array(6)].map((_, i) =>
            (i % 2 ? a : b).claimNew(SESSION, { key, fingerprint: `f${i}`, orderId: `o-${i}`, at: T0 }, 60_000),
          ),
        );
        const won = outs.filter((o) => o.earlier === null);
        assert.equal(won.length, 1);
        const winner = won[0] as { clOrdId: string };
        assert.ok(winner.clOrdId.startsWith("20261127-"), winner.clOrdId);
        const stored = await a.getIdempotency(key);
        assert.equal(stored?.key, key);
        assert.equal(stored?.clOrdId, winner.clOrdId);
        for (const o of outs) if (o.earlier !== null) assert.deepEqual(o.earlier, stored);
        // Fresh keys: ClOrdIDs never repeat, whichever handle, and never one handed out by nextClOrdId.
        const more = await Promise.all(
          [...Array(40)].map(async (_, i) => {
            if (i % 3 === 0) return (i % 2 ? a : b).nextClOrdId(SESSION, T0);
            const r = await (i % 2 ? a : b).claimNew(
              SESSION,
              { key: `${key}-${i}`, fingerprint: "f", orderId: `o-${i}`, at: T0 },
              60_000,
            );
            assert.equal(r.earlier, null);
            return (r as { clOrdId: string }).clOrdId;
          }),
        );
        assert.equal(new Set([...more, winner.clOrdId]).size, 41);
      }),
    );

    it(
      "applies a report on a handle whose copy of the order is stale (another handle wrote since)",
      withStores(async (a, b) => {
        const { rec, clOrdId } = await placed(a);
        const ack = er(clOrdId, { execType: "0", ordStatus: "0", cumQty: "0" });
        assert.equal((await a.applyReport(SESSION, { type: "report", report: ack }, T0 + 1)).outcome, "applied");
        const f1 = er(clOrdId, { execType: "F", ordStatus: "1", cumQty: "40", lastQty: "40", lastPx: "10" });
        assert.equal((await b.applyReport(SESSION, { type: "report", report: f1 }, T0 + 2)).outcome, "applied");
        // `a` last wrote the order before b's fill: its next report must still see the fill.
        const f2 = er(clOrdId, { execType: "F", ordStatus: "2", cumQty: "100", lastQty: "60", lastPx: "10" });
        assert.equal((await a.applyReport(SESSION, { type: "report", report: f2 }, T0 + 3)).outcome, "applied");
        assert.equal((await a.applyReport(SESSION, { type: "report", report: f1 }, T0 + 4)).outcome, "duplicate");
        const got = await b.get(rec.order.id);
        assert.equal(got?.order.cumQty, "100");
        assert.equal(got?.executions.length, 2);
        assert.equal(statusOf(got!), OrderStatus.FILLED);
      }),
    );

    it(
      "lists newest first with filters, open-only and paging that neither skips nor repeats",
      withStores(async (a, b) => {
        const made: OrderRecord[] = [];
        for (let i = 0; i < 7; i++)
          made.push((await placed(a, { account: i % 2 ? "ODD" : "EVEN", symbol: "LST" })).rec);
        const filled = made[0]!;
        await a.applyReport(
          SESSION,
          {
            type: "report",
            report: er(filled.order.clOrdID, {
              execType: "F",
              ordStatus: "2",
              cumQty: "100",
              lastQty: "100",
              lastPx: "10",
            }),
          },
          T0 + 5,
        );
        const seen: string[] = [];
        let token: string | undefined;
        do {
          const page = await b.list({ symbol: "LST" }, 3, token);
          seen.push(...page.records.map((r) => r.order.id));
          token = page.next;
        } while (token);
        const bySeq = [...made].sort((x, y) => y.seq - x.seq).map((r) => r.order.id);
        assert.deepEqual(seen, bySeq);
        const odd = await b.list({ symbol: "LST", account: "ODD" }, 100);
        assert.equal(odd.records.length, 3);
        const open = await b.list({ symbol: "LST", openOnly: true }, 100);
        assert.equal(open.records.length, 6);
        assert.ok(!open.records.some((r) => r.order.id === filled.order.id));
        // Each test has a store of its own: every open order is one of these.
        assert.equal(await b.openCount(), 6);
      }),
    );
  });
}
