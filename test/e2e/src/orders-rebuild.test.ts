/**
 * `fixmesh order-entry rebuild`: orders go through real processes (connector, order-entry) on real Redis and NATS
 * — a fill, partial fills, a cancel, a replace, a venue reject, one left resting — then order-entry is stopped, its
 * Redis prefix wiped, the store rebuilt from the FIX stream, and order-entry started again: every order is there
 * with the same status, quantities and average price, found by its id and its ClOrdIDs, a duplicated
 * ExecutionReport arriving after the rebuild is dropped, and the next order gets a ClOrdID never used before.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { JetStreamBus } from "@fixmesh/bus";
import { type Order, OrderStatus } from "@fixmesh/contracts";
import { type OrderEntryClient, orderEntryClient } from "@fixmesh/order-entry";
import { Redis } from "ioredis";
import {
  CLI,
  eventually,
  NATS_URL,
  OrdersStack,
  REDIS_URL,
  REPO,
  SESSION,
  type ServiceProcess,
  spawnFixmesh,
  submitReq,
} from "./orders-harness.js";

const md = () => ({ deadline: Date.now() + 10_000 });

async function settled(c: OrderEntryClient, orderId: string, ok: (o: Order) => boolean, what: string) {
  return eventually(
    async () => {
      const o = (await c.rpc.getOrder({ orderId }, md())).order;
      return o && !o.pending && ok(o) ? o : undefined;
    },
    20_000,
    `order ${orderId} ${what}`,
  );
}

/** What a client sees of an order, compared before and after the rebuild. */
function view(o: Order) {
  return {
    orderId: o.orderId,
    clOrdId: o.clOrdId,
    origClOrdId: o.origClOrdId,
    status: OrderStatus[o.status],
    quantity: o.quantity,
    price: o.price,
    cumQty: o.cumQty,
    leavesQty: o.leavesQty,
    avgPx: o.avgPx,
    account: o.account,
    symbol: o.symbol,
  };
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    p.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const t = setTimeout(() => p.kill("SIGKILL"), 60_000);
    p.on("exit", (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("order-entry rebuilds its store from the FIX stream", { timeout: 240_000 }, () => {
  const stack = new OrdersStack();
  let file = "";
  let oe: ServiceProcess;
  let client: OrderEntryClient;

  const startOrderEntry = async () => {
    oe = await spawnFixmesh("order-entry", ["order-entry", "--config", file]);
    stack.orderEntries.push(oe);
    client = orderEntryClient(`127.0.0.1:${oe.listening as number}`);
  };

  before(async () => {
    await stack.start();
    file = join(stack.dir, "order-entry-rebuild.yaml");
    writeFileSync(file, stack.orderEntryYaml({ id: "oe-rebuild" }));
    await startOrderEntry();
  });
  after(async () => {
    client?.close();
    await stack.stop();
  });

  it("finds the same orders after a wipe and a rebuild, and still drops a duplicated ExecutionReport", async () => {
    // --- orders through the live service ----------------------------------------------------------------------
    const ids: string[] = [];
    const filled = (await client.rpc.submitOrder(submitReq("IBM"), md())).order!.orderId;
    ids.push(filled);
    await settled(client, filled, (o) => o.status === OrderStatus.FILLED, "FILLED");
    const partial = (await client.rpc.submitOrder(submitReq("PART", { quantity: "90" }), md())).order!.orderId;
    ids.push(partial);
    await settled(client, partial, (o) => o.status === OrderStatus.FILLED, "FILLED in parts");
    const canceled = (await client.rpc.submitOrder(submitReq("BOOK", { price: "90" }), md())).order!.orderId;
    ids.push(canceled);
    await settled(client, canceled, (o) => o.status === OrderStatus.NEW, "NEW");
    await client.rpc.cancelOrder({ orderId: canceled, sessionId: "", clOrdId: "", idempotencyKey: "" }, md());
    await settled(client, canceled, (o) => o.status === OrderStatus.CANCELED, "CANCELED");
    const replaced = (await client.rpc.submitOrder(submitReq("BOOK", { price: "91" }), md())).order!.orderId;
    ids.push(replaced);
    await settled(client, replaced, (o) => o.status === OrderStatus.NEW, "NEW");
    await client.rpc.replaceOrder(
      { orderId: replaced, sessionId: "", clOrdId: "", quantity: "60", price: "92", idempotencyKey: "" },
      md(),
    );
    await settled(client, replaced, (o) => o.quantity === "60", "replaced");
    const rejected = (await client.rpc.submitOrder(submitReq("REJ"), md())).order!.orderId;
    ids.push(rejected);
    await settled(client, rejected, (o) => o.status === OrderStatus.REJECTED, "REJECTED");
    const resting = (await client.rpc.submitOrder(submitReq("BOOK", { price: "89" }), md())).order!.orderId;
    ids.push(resting);
    await settled(client, resting, (o) => o.status === OrderStatus.NEW, "NEW");
    const before = new Map<string, ReturnType<typeof view>>();
    const clOrdIds = new Set<string>();
    for (const id of ids) {
      const o = (await client.rpc.getOrder({ orderId: id }, md())).order!;
      before.set(id, view(o));
      clOrdIds.add(o.clOrdId);
      if (o.origClOrdId) clOrdIds.add(o.origClOrdId);
    }
    assert.equal(before.get(partial)?.cumQty, "90");
    assert.equal(before.get(replaced)?.origClOrdId !== "", true);

    // --- stop, wipe, rebuild ------------------------------------------------------------------------------------
    client.close();
    await oe.stop();
    const redis = new Redis(REDIS_URL);
    const prefix = `${stack.names.redisPrefix}-oe`;
    try {
      const keys = await redis.keys(`${prefix}:*`);
      assert.ok(keys.length > 0);
      await redis.unlink(...keys);
      assert.equal((await redis.keys(`${prefix}:*`)).length, 0, "wiped");
    } finally {
      await redis.quit();
    }
    const r = await run(["order-entry", "rebuild", "--config", file]);
    assert.equal(r.code, 0, r.stderr);
    const summary = (JSON.parse(r.stdout.trim().split("\n").at(-1) as string) as { rebuilt: Record<string, number> })
      .rebuilt;
    assert.equal(summary.orders, ids.length);
    assert.equal(summary.idsFromOrdersStream, ids.length);
    // A second run refuses: the prefix is no longer empty.
    const again = await run(["order-entry", "rebuild", "--config", file]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /empty prefix/);

    // --- the same orders ------------------------------------------------------------------------------------------
    await startOrderEntry();
    for (const id of ids) {
      const o = (await client.rpc.getOrder({ orderId: id }, md())).order!;
      assert.deepEqual(view(o), before.get(id));
    }
    const { clOrdId: firstCl, origClOrdId } = before.get(replaced)!;
    for (const cl of [firstCl, origClOrdId]) {
      const byCl = await client.rpc.getOrder({ orderId: "", sessionId: SESSION, clOrdId: cl }, md());
      assert.equal(byCl.order?.orderId, replaced);
    }
    const listed = await client.rpc.listOrders(
      { sessionId: "", account: "", symbol: "", openOnly: true, pageSize: 100, pageToken: "" },
      md(),
    );
    assert.deepEqual(listed.orders.map((o) => o.orderId).sort(), [replaced, resting].sort());

    // --- a duplicate ExecutionReport after the rebuild is dropped ---------------------------------------------------
    const fixBus = await JetStreamBus.connect({
      servers: NATS_URL,
      stream: stack.names.fixStream,
      subjects: [`${stack.names.fixPrefix}.>`],
    });
    try {
      const fillClOrdId = before.get(filled)!.clOrdId;
      const last = await fixBus.lastSeq();
      let fill: { subject: string; id: string; payload: Uint8Array } | undefined;
      let seen = 0;
      const sub = await fixBus.subscribe(
        `${stack.names.fixPrefix}.>`,
        (d) => {
          seen = d.seq;
          if (!d.subject.endsWith(".in.8")) return;
          const b = JSON.parse(Buffer.from(d.payload).toString()) as { clOrdId?: string; raw: string };
          // The fill: ExecType(150)=F.
          if (b.clOrdId === fillClOrdId && Buffer.from(b.raw, "base64").toString("latin1").includes("\x01150=F\x01"))
            fill = { subject: d.subject, id: d.id, payload: d.payload };
        },
        { fromSeq: 1 },
      );
      await eventually(() => seen >= last, 10_000, "the FIX stream read");
      await sub.unsubscribe();
      assert.ok(fill, "the fill's ExecutionReport on the stream");
      const dupBefore = (await stack.storeCounters()).duplicates ?? 0;
      // The same report again, under another event id (the stream's own duplicate window would drop the same id).
      await fixBus.publish([{ id: `${fill.id}:again`, subject: fill.subject, payload: fill.payload }]);
      await eventually(
        async () => ((await stack.storeCounters()).duplicates ?? 0) > dupBefore,
        15_000,
        "the duplicate dropped",
      );
      const o = (await client.rpc.getOrder({ orderId: filled }, md())).order!;
      assert.deepEqual(view(o), before.get(filled), "the duplicate changed nothing");
    } finally {
      await fixBus.close();
    }

    // --- the next order gets a ClOrdID the session never used --------------------------------------------------------
    const next = (await client.rpc.submitOrder(submitReq("IBM"), md())).order!;
    assert.ok(!clOrdIds.has(next.clOrdId), `${next.clOrdId} is new`);
    await settled(client, next.orderId, (o) => o.status === OrderStatus.FILLED, "FILLED");
  });
});
