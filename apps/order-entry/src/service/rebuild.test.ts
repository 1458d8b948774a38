/**
 * The rebuild reads a long FIX stream through a store slower than the bus and keeps a bounded number of events
 * read ahead (real NATS JetStream on 127.0.0.1:4222, a stream of its own): every order is rebuilt, and no more than
 * `REPLAY_BUFFER` events were ever held — before, the subscription pushed the whole stream into memory as fast as
 * NATS delivered it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { JetStreamBus } from "@fixmesh/bus";
import { Encoder, formatUtcTimestamp, MsgType, Tag } from "@fixmesh/fix";
import pino from "pino";
import type { OrderRecord } from "../model/record.js";
import { MemoryOrderStore } from "../store/memory.js";
import { REPLAY_BUFFER, rebuildFromStream } from "./rebuild.js";

const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const rand = () => Math.random().toString(36).slice(2, 10);
const SESSION = "FIX.4.4:OE->VENUE";

/** A store whose order creation takes two milliseconds: far slower than the bus delivers, even on a busy machine. */
class SlowStore extends MemoryOrderStore {
  override async create(record: OrderRecord, at: number) {
    await new Promise((r) => setTimeout(r, 2));
    return super.create(record, at);
  }
}

describe("order-entry rebuild over a long stream", { timeout: 120_000 }, () => {
  it("rebuilds every order while holding at most REPLAY_BUFFER events read ahead of a slow store", async () => {
    const prefix = `rb${rand()}`;
    const bus = await JetStreamBus.connect({
      servers: NATS_URL,
      stream: `RBTEST_${prefix}`,
      subjects: [`${prefix}.>`],
    });
    try {
      const n = REPLAY_BUFFER * 3;
      const enc = new Encoder("FIX.4.4", "OE", "VENUE");
      const at = Date.now();
      const events = Array.from({ length: n }, (_, i) => {
        const seq = i + 2;
        const raw = enc.encode(MsgType.NewOrderSingle, seq, formatUtcTimestamp(at), [
          Tag.ClOrdID,
          `20261127-${(i + 1).toString(36)}`,
          Tag.Account,
          "ACC-RB",
          Tag.Symbol,
          "IBM",
          Tag.Side,
          "1",
          Tag.TransactTime,
          formatUtcTimestamp(at),
          Tag.OrderQty,
          "100",
          Tag.OrdType,
          "2",
          Tag.Price,
          "100",
        ]);
        const body = { session: SESSION, dir: "out", seq, msgType: "D", at, raw: raw.toString("base64") };
        return {
          id: `${SESSION}:c1:out:${seq}`,
          subject: `${prefix}.OE_VENUE.out.D`,
          payload: Buffer.from(JSON.stringify(body)),
        };
      });
      for (let i = 0; i < n; i += 500) await bus.publish(events.slice(i, i + 500));

      const repo = new SlowStore();
      const summary = await rebuildFromStream({
        fix: bus,
        fixSubjectPrefix: prefix,
        repo,
        sessions: new Set([SESSION]),
        logger: pino({ level: "silent" }),
      });
      assert.equal(summary.events, n);
      assert.equal(summary.orders, n, "every NewOrderSingle on the stream is an order again");
      assert.equal(summary.skipped, 0);
      assert.ok(
        summary.maxBuffered <= REPLAY_BUFFER,
        `at most ${REPLAY_BUFFER} events held ahead of the store, held ${summary.maxBuffered}`,
      );
      assert.ok(
        summary.maxBuffered >= REPLAY_BUFFER / 2,
        `the bus did run ahead of the slow store (held ${summary.maxBuffered}): the bound was what stopped it`,
      );
      const listed = await repo.list({ openOnly: false }, 10, undefined);
      assert.equal(listed.records.length, 10);
    } finally {
      await bus.deleteStream().catch(() => undefined);
      await bus.close();
    }
  });
});
