import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StoreCorruptError, type StoredMessage } from "@fixmesh/session";
import fc from "fast-check";
import { memberLength, readMember, writeMember } from "./record.js";

const encode = (m: StoredMessage) => {
  const buf = Buffer.alloc(memberLength(m));
  assert.equal(writeMember(buf, 0, m), buf.length);
  return buf;
};

describe("message record", () => {
  it("reads back any seq, MsgType and bytes exactly", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 48 - 1 }),
        fc.string({
          unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
          minLength: 1,
          maxLength: 255,
        }),
        fc.uint8Array({ maxLength: 600 }),
        (seq, msgType, bytes) => {
          const m = { seq, msgType, bytes: Buffer.from(bytes) };
          const back = readMember(encode(m), "k");
          assert.equal(back.seq, seq);
          assert.equal(back.msgType, msgType);
          assert.ok(back.bytes.equals(m.bytes));
        },
      ),
    );
  });

  it("makes messages with equal bytes but different seqs distinct members", () => {
    const bytes = Buffer.from("8=FIX.4.4\x019=5\x0135=0\x0110=000\x01", "latin1");
    assert.ok(!encode({ seq: 1, msgType: "0", bytes }).equals(encode({ seq: 2, msgType: "0", bytes })));
  });

  it("refuses a member that is not a record", () => {
    assert.throws(() => readMember(Buffer.from("hello"), "k"), StoreCorruptError);
    assert.throws(() => readMember(Buffer.from([2, 0, 0, 0, 0, 0, 1, 1, 0x44]), "k"), StoreCorruptError);
    assert.throws(() => readMember(Buffer.from([1, 0, 0, 0, 0, 0, 1, 9, 0x44]), "k"), StoreCorruptError);
  });
});
