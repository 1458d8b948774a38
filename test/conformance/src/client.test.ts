import assert from "node:assert/strict";
import { test } from "node:test";
import { FramingError, MessageSplitter } from "./client.js";
import { encode } from "./fake-acceptor.js";

const S = (s: string) => s.replaceAll("|", "\x01");
const A = encode("FIX.4.2", S("35=A|34=1|49=ISLD|52=20240229-23:59:58.765|56=TW42|98=0|108=30|"));
const B = encode("FIX.4.2", S("35=0|34=2|49=ISLD|52=20240229-23:59:59.000|56=TW42|112=a|b=c|"));

function drain(s: MessageSplitter): string[] {
  const out: string[] = [];
  for (let m = s.next(); m !== undefined; m = s.next()) out.push(m.toString("latin1"));
  return out;
}

test("two messages split at every byte boundary come out whole and in order", () => {
  const stream = Buffer.from(A + B, "latin1");
  for (let cut = 0; cut <= stream.length; cut++) {
    const s = new MessageSplitter();
    const got: string[] = [];
    s.push(stream.subarray(0, cut));
    got.push(...drain(s));
    s.push(stream.subarray(cut));
    got.push(...drain(s));
    assert.deepEqual(got, [A, B], `cut at ${cut}`);
    assert.equal(s.pending.length, 0);
  }
});

test("one byte per read works", () => {
  const s = new MessageSplitter();
  const got: string[] = [];
  for (const b of Buffer.from(A + B + A, "latin1")) {
    s.push(Buffer.of(b));
    got.push(...drain(s));
  }
  assert.deepEqual(got, [A, B, A]);
});

test("the body is cut by BodyLength, not by looking for 10=: a 10= inside the body stays in it", () => {
  const tricky = encode("FIX.4.2", S("35=C|58=x|10=123|59=y|"));
  const s = new MessageSplitter();
  s.push(Buffer.from(tricky + A, "latin1"));
  assert.deepEqual(drain(s), [tricky, A]);
});

test("a message stays pending until its CheckSum field ends in SOH", () => {
  const s = new MessageSplitter();
  s.push(Buffer.from(A.slice(0, -1), "latin1"));
  assert.equal(s.next(), undefined);
  assert.equal(s.pending.toString("latin1"), A.slice(0, -1));
});

test("a BodyLength that is not a number is a framing error carrying the data", () => {
  const s = new MessageSplitter();
  s.push(Buffer.from(S("8=FIX.4.2|9=6x|35=0|10=000|"), "latin1"));
  assert.throws(
    () => s.next(),
    (e: unknown) => e instanceof FramingError && e.data.length > 0,
  );
});
