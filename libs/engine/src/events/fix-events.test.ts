import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Encoder, type FieldList, type FixMessage, MsgType, Parser, Tag } from "@fixmesh/fix";
import { type FixMessageEvent, maskSecrets, messageEvent } from "./fix-events.js";

// The payload is written by hand on the send path; consumers (persistence, order-entry, risk) JSON.parse it and
// a stored outbox may hold payloads of the earlier version. These tests pin it to what JSON.stringify made of
// the FixMessageEvent object before: the same bytes, keys in the same order.

/** The payload as the previous version built it: the object, then JSON.stringify. */
function reference(
  session: string,
  cycle: string,
  dir: "in" | "out",
  m: FixMessage,
  seq: number,
  at: number,
  extraTags: readonly number[] = [],
): Buffer {
  const body: FixMessageEvent = {
    session,
    cycle,
    dir,
    seq,
    msgType: m.msgType,
    possDup: false,
    at,
    raw: maskSecrets(m.raw, extraTags).toString("base64"),
  };
  body.possDup = m.flag(Tag.PossDupFlag);
  body.sendingTime = m.get(Tag.SendingTime);
  const pick = (tag: number) => {
    const v = m.get(tag);
    return v === undefined || v === "" ? undefined : v;
  };
  body.clOrdId = pick(Tag.ClOrdID);
  body.origClOrdId = pick(Tag.OrigClOrdID);
  body.orderId = pick(Tag.OrderID);
  body.execId = pick(Tag.ExecID);
  return Buffer.from(JSON.stringify(body));
}

const enc = new Encoder("FIX.4.4", "CLIENT", "VENUE");

function message(msgType: string, seq: number, body: FieldList, header?: FieldList): FixMessage {
  const bytes = Buffer.from(enc.encode(msgType, seq, "20261127-10:00:00.123", body, header));
  const m = new Parser().parse(bytes);
  if (typeof m === "string") throw new Error(m);
  return m;
}

const cases: Array<{ name: string; msgType: string; body: FieldList; header?: FieldList }> = [
  {
    name: "a NewOrderSingle",
    msgType: MsgType.NewOrderSingle,
    body: [Tag.ClOrdID, "1000001", Tag.Symbol, "AAPL", Tag.Side, "1", Tag.OrderQty, 100, Tag.OrdType, "2"],
  },
  {
    name: "an ExecutionReport with every routing field",
    msgType: MsgType.ExecutionReport,
    body: [Tag.OrderID, "O-1", Tag.ClOrdID, "C-2", Tag.OrigClOrdID, "C-1", Tag.ExecID, "E-9", Tag.Symbol, "X"],
  },
  {
    name: "a resent copy (PossDupFlag=Y)",
    msgType: MsgType.NewOrderSingle,
    body: [Tag.ClOrdID, "7", Tag.Symbol, "AAPL"],
    header: [Tag.PossDupFlag, "Y"],
  },
  {
    name: "values JSON must escape (quote, backslash, control and non-ASCII characters)",
    msgType: MsgType.NewOrderSingle,
    body: [Tag.ClOrdID, 'a"b\\c', Tag.Symbol, "A\x7fB", Tag.Text, "\x02", Tag.Account, Buffer.from([0xe9, 0x41])],
  },
  { name: "an empty ClOrdID is left out", msgType: MsgType.NewOrderSingle, body: [Tag.Symbol, "S"] },
  { name: "a Logon with a password (masked)", msgType: MsgType.Logon, body: [Tag.HeartBtInt, 30, Tag.Password, "pw"] },
  { name: "a Heartbeat (no routing fields)", msgType: MsgType.Heartbeat, body: null as unknown as FieldList },
];

describe("messageEvent payload", () => {
  for (const c of cases) {
    it(`is the bytes JSON.stringify made of the event object: ${c.name}`, () => {
      const m = message(c.msgType, 42, c.body ?? [], c.header);
      const expected = reference("FIX.4.4:CLIENT->VENUE", "20261127-c1", "in", m, 42, 1_790_000_000_123);
      const inbound = messageEvent("FIX.4.4:CLIENT->VENUE", "20261127-c1", "in", m, 1_790_000_000_123);
      assert.equal(inbound.payload.toString("utf8"), expected.toString("utf8"));
      assert.deepEqual(inbound.payload, expected);
      // Outbound: the stored bytes are parsed again for the routing fields; the same payload but for `dir`.
      const stored = { seq: 42, msgType: c.msgType, bytes: Buffer.from(m.raw) };
      const out = messageEvent("FIX.4.4:CLIENT->VENUE", "20261127-c1", "out", stored, 1_790_000_000_123);
      const expectedOut = reference("FIX.4.4:CLIENT->VENUE", "20261127-c1", "out", m, 42, 1_790_000_000_123);
      assert.deepEqual(out.payload, expectedOut);
      assert.equal(out.id, "FIX.4.4:CLIENT->VENUE:20261127-c1:out:42");
      assert.equal(out.subject, `fix.FIX_4_4_CLIENT_VENUE.out.${c.msgType}`);
    });
  }

  it("matches for messages of every length modulo 3 (base64 padding) and 0 to 40 extra bytes", () => {
    for (let n = 1; n <= 40; n++) {
      const m = message(MsgType.ExecutionReport, 1000 + n, [Tag.ClOrdID, "x".repeat(n), Tag.ExecID, String(n)]);
      const got = messageEvent("S", "c", "in", m, n);
      assert.deepEqual(got.payload, reference("S", "c", "in", m, 1000 + n, n), `ClOrdID of ${n}`);
    }
  });

  it("escapes a session id and cycle that JSON must escape, as JSON.stringify does", () => {
    const m = message(MsgType.NewOrderSingle, 3, [Tag.ClOrdID, "1"]);
    const session = 'S"é\\1';
    const got = messageEvent(session, "c\n", "in", m, 5);
    assert.deepEqual(got.payload, reference(session, "c\n", "in", m, 3, 5));
    assert.equal((JSON.parse(got.payload.toString("utf8")) as FixMessageEvent).session, session);
  });

  it("masks a PasswordTag other than 554 when asked, and keeps the message's own bytes untouched", () => {
    const m = message(MsgType.Logon, 1, [Tag.HeartBtInt, 30, 9999, "secret"]);
    const before = Buffer.from(m.raw);
    const got = messageEvent("S", "c", "in", m, 1, "fix", [9999]);
    assert.deepEqual(got.payload, reference("S", "c", "in", m, 1, 1, [9999]));
    const raw = Buffer.from((JSON.parse(got.payload.toString()) as FixMessageEvent).raw, "base64").toString("latin1");
    assert.ok(raw.includes("\x019999=********\x01"), raw);
    assert.ok(!raw.includes("secret"));
    assert.deepEqual(m.raw, before);
  });
});
