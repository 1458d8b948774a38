/**
 * An order-entry instance SIGKILLed in the middle of a burst of orders and restarted, every service its own process
 * on real Redis and NATS, a second instance sharing the work. What is asserted is what a client and the venue see: answers,
 * the NewOrderSingles on the wire (the connector's own events), every order's final state, and the update stream.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { OrderStatus } from "@fixmesh/contracts";
import type { OrderEntryClient } from "@fixmesh/order-entry";
import { eventually, OrdersStack, sleep, submitReq, UpdateCollector } from "./orders-harness.js";

const deadline = (ms = 10_000) => ({ deadline: Date.now() + ms });

async function filled(c: OrderEntryClient, orderId: string) {
  return eventually(
    async () => {
      const o = (await c.rpc.getOrder({ orderId }, deadline(5000))).order;
      return o?.status === OrderStatus.FILLED ? o : undefined;
    },
    20_000,
    `order ${orderId} FILLED`,
  );
}

describe("orders end to end, an instance SIGKILLed", { timeout: 300_000 }, () => {
  const stack = new OrdersStack();
  let b: OrderEntryClient;

  before(async () => {
    await stack.start();
    b = (await stack.startOrderEntry({ id: "oe-b" })).client;
  });
  after(async () => {
    await stack.stop();
  });

  it("loses nothing and applies nothing twice when an instance is SIGKILLed mid-flow and restarted", async () => {
    const { client: victim, proc } = await stack.startOrderEntry({ id: "oe-victim" });
    const watch = new UpdateCollector(b, 1n);
    await sleep(300);
    const resumeFrom = watch.lastPosition;
    const stream = new UpdateCollector(victim, resumeFrom + 1n);
    const reqs = [...Array(40)].map(() => submitReq("PART"));
    const answers = new Map<string, string>();
    const failures: string[] = [];
    const pending = reqs.map((r) =>
      victim.rpc.submitOrder(r, deadline(30_000)).then(
        (x) => answers.set(r.idempotencyKey, x.order!.orderId),
        (e: Error) => failures.push(e.message),
      ),
    );
    await eventually(() => answers.size >= 10 || failures.length > 0, 60_000, "ten answers before the kill");
    assert.deepEqual(failures, [], "no submit failed before the kill");
    await proc.kill();
    await Promise.all(pending);
    await eventually(() => stream.ended, 10_000, "the victim's stream to end with the process");
    const seenBeforeKill = stream.updates.length;

    const { client: again } = await stack.startOrderEntry({ id: "oe-victim" });
    // The client resumes its update stream from its last position, and retries every submit without an answer.
    const resumed = new UpdateCollector(again, (stream.updates.at(-1)?.position ?? resumeFrom) + 1n);
    for (const r of reqs) {
      if (answers.has(r.idempotencyKey)) continue;
      const x = await eventually(() => again.rpc.submitOrder(r, deadline(20_000)), 30_000, "a retried submit answered");
      answers.set(r.idempotencyKey, x.order!.orderId);
    }
    assert.equal(answers.size, reqs.length);
    const ids = [...answers.values()];
    assert.equal(new Set(ids).size, ids.length, "one order per key");
    for (const id of ids) {
      const o = await filled(again, id);
      assert.equal(o.cumQty, "100");
      assert.equal(o.executions.length, 3, `order ${id}: each fill applied once`);
    }
    // The client's stream, before the kill and after the resume, is complete: strictly increasing positions with no
    // gap and no repeat, every order's updates with versions 1..n, its three fills once each. (Two instances consume
    // the executions, so an ACK may be applied after a fill — then it changes nothing a client sees and makes no
    // update: the order's status already outranks New.)
    const wanted = new Set(ids);
    const all = () => [...stream.updates.slice(0, seenBeforeKill), ...resumed.updates];
    await eventually(
      () =>
        ids.every(
          (id) =>
            all()
              .filter((u) => u.order?.orderId === id)
              .at(-1)?.change === "FILL",
        ),
      20_000,
      "every order's FILL on the resumed stream",
    );
    const got = all();
    const positions = got.map((u) => Number(u.position));
    for (let i = 1; i < positions.length; i++)
      assert.equal(positions[i], (positions[i - 1] as number) + 1, `no gap or repeat at ${positions[i - 1]}`);
    const byOrder = new Map<string, typeof got>();
    for (const u of got)
      if (wanted.has(u.order!.orderId)) byOrder.set(u.order!.orderId, [...(byOrder.get(u.order!.orderId) ?? []), u]);
    const versions = new Map<string, number>();
    for (const id of ids) {
      const us = byOrder.get(id) ?? [];
      assert.equal(us[0]?.change, "NEW_REQUEST", `first update of ${id}`);
      const fills = us.filter((u) => u.change === "PARTIAL_FILL" || u.change === "FILL");
      // Three fills, each once; two instances may apply them in either order, CumQty still only goes up.
      const cums = fills.map((u) => Number(u.order?.cumQty));
      assert.equal(cums.length, 3, `three fill updates for ${id}`);
      assert.ok(
        cums[0]! < cums[1]! && cums[1]! < cums[2]! && cums[2] === 100,
        `CumQty of ${id} goes up to 100: ${cums}`,
      );
      assert.ok(us.filter((u) => u.change === "ACK").length <= 1, `at most one ACK for ${id}`);
      assert.equal(us.length, fills.length + 1 + us.filter((u) => u.change === "ACK").length, `nothing else for ${id}`);
      versions.set(id, us.length);
    }
    // On the wire: one NewOrderSingle per order.
    const sent = await stack.sentMessages("D");
    const byCl = new Map<string, number>();
    for (const m of sent) byCl.set(m.clOrdId ?? "", (byCl.get(m.clOrdId ?? "") ?? 0) + 1);
    for (const id of ids) {
      const o = (await again.rpc.getOrder({ orderId: id })).order!;
      assert.equal(byCl.get(o.clOrdId), 1, `NewOrderSingle ${o.clOrdId} sent once`);
    }
    // On ORDERS: every version of every order, once.
    const events = await eventually(
      async () => {
        const ev = await stack.orderEvents();
        return ids.every((id) => [...Array(versions.get(id))].every((_, v) => ev.get(`${id}:${v + 1}`) === 1))
          ? ev
          : undefined;
      },
      20_000,
      "every order event on ORDERS",
    );
    for (const id of ids)
      assert.equal(events.has(`${id}:${(versions.get(id) ?? 0) + 1}`), false, `no event beyond the stream for ${id}`);
    watch.cancel();
    resumed.cancel();
  });
});
