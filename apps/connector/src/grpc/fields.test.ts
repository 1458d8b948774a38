import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { type Field, FieldSchema, RpcError } from "@fixmesh/contracts";
import { Encoder, Parser } from "@fixmesh/fix";
import { fieldsOf, msgTypeProblem, toFieldList } from "./fields.js";

const s = (tag: number, value: string): Field => create(FieldSchema, { tag, value: { case: "stringValue", value } });
const b = (tag: number, value: Buffer): Field => create(FieldSchema, { tag, value: { case: "bytesValue", value } });

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof RpcError);
    return err.metadata.field;
  }
  assert.fail("accepted");
}

describe("request fields → FIX fields", () => {
  it("keeps body fields in order (repeating groups) and sorts header fields by tag", () => {
    assert.deepEqual(toFieldList([s(55, "IBM"), s(11, "A"), s(11, "B")], "fields", false), [
      55,
      "IBM",
      11,
      "A",
      11,
      "B",
    ]);
    assert.deepEqual(toFieldList([s(128, "X"), s(115, "Y")], "header_fields", true), [115, "Y", 128, "X"]);
  });

  it("refuses a repeated header tag, session-owned tags, empty values, SOH and non-Latin-1 text, naming the field", () => {
    assert.equal(
      fieldOf(() => toFieldList([s(115, "A"), s(115, "B")], "header_fields", true)),
      "header_fields[1].tag",
    );
    assert.equal(
      fieldOf(() => toFieldList([s(11, "A"), s(52, "x")], "fields", false)),
      "fields[1].tag",
    );
    assert.equal(
      fieldOf(() => toFieldList([s(11, "")], "fields", false)),
      "fields[0].value",
    );
    assert.equal(
      fieldOf(() => toFieldList([s(58, "a\x01b")], "fields", false)),
      "fields[0].value",
    );
    assert.equal(
      fieldOf(() => toFieldList([s(58, "日本")], "fields", false)),
      "fields[0].value",
    );
    assert.deepEqual(toFieldList([s(58, "café")], "fields", false), [58, "café"], "Latin-1 is fine");
  });

  it("allows SOH only in a data field right after its matching length field", () => {
    const data = Buffer.from("a\x01b");
    assert.deepEqual(toFieldList([s(95, "3"), b(96, data)], "fields", false), [95, "3", 96, data]);
    assert.equal(
      fieldOf(() => toFieldList([s(95, "4"), b(96, data)], "fields", false)),
      "fields[1].value",
    );
    assert.equal(
      fieldOf(() => toFieldList([b(58, data)], "fields", false)),
      "fields[0].value",
    );
  });

  it("refuses session-level and malformed MsgTypes", () => {
    assert.equal(msgTypeProblem("D"), null);
    assert.equal(msgTypeProblem("U12"), null);
    assert.match(msgTypeProblem("A") ?? "", /session-level/);
    assert.match(msgTypeProblem("") ?? "", /required/);
    assert.match(msgTypeProblem("D=") ?? "", /printable/);
  });

  it("reads a parsed message back as fields, data fields as bytes", () => {
    const raw = new Encoder("FIX.4.4", "A", "B").encode("D", 7, "20260101-00:00:00", [
      11,
      "X1",
      95,
      3,
      96,
      Buffer.from("a\x01b"),
    ]);
    const msg = new Parser().parse(raw);
    assert.ok(typeof msg === "object");
    const fields = fieldsOf(msg);
    assert.deepEqual(
      fields.slice(2, 4).map((f) => [f.tag, f.value.value]),
      [
        [35, "D"],
        [34, "7"],
      ],
    );
    const data = fields.find((f) => f.tag === 96);
    assert.equal(data?.value.case, "bytesValue");
    assert.deepEqual(Buffer.from(data?.value.value as Uint8Array), Buffer.from("a\x01b"));
  });
});
