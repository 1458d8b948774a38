import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { canonical, Decimal } from "./decimal.js";

const d = Decimal.of;

describe("Decimal", () => {
  it("parses FIX floats with sign, leading point and trailing zeros", () => {
    assert.equal(d("100").toString(), "100");
    assert.equal(d("-12.50").toString(), "-12.5");
    assert.equal(d(".5").toString(), "0.5");
    assert.equal(d("+7.").toString(), "7");
    assert.equal(d("0.000").toString(), "0");
    assert.equal(d("-0").toString(), "0");
  });

  it("refuses text that is not a FIX float (exponent, spaces, empty, two points)", () => {
    for (const s of ["", "1e5", " 1", "1.2.3", "abc", "-", ".", "0x10", "Infinity", "NaN"]) {
      assert.equal(Decimal.parse(s), undefined, s);
    }
    assert.throws(() => d("1e5"), RangeError);
  });

  it("adds 0.1 and 0.2 to exactly 0.3, where floats give 0.30000000000000004", () => {
    assert.equal(d("0.1").add(d("0.2")).toString(), "0.3");
    assert.ok(d("0.1").add(d("0.2")).eq(d("0.3")));
  });

  it("sums a thousand fills of 0.001 to exactly 1", () => {
    let sum = Decimal.ZERO;
    for (let i = 0; i < 1000; i++) sum = sum.add(d("0.001"));
    assert.equal(sum.toString(), "1");
  });

  it("multiplies exactly, keeping every digit", () => {
    assert.equal(d("123.456").mul(d("0.001")).toString(), "0.123456");
    assert.equal(d("99999999.99999999").mul(d("99999999.99999999")).toString(), "9999999999999998.0000000000000001");
  });

  it("compares across scales", () => {
    assert.equal(d("1.50").cmp(d("1.5")), 0);
    assert.equal(d("1.499").cmp(d("1.5")), -1);
    assert.equal(d("-2").cmp(d("1")), -1);
    assert.ok(d("10").gt(d("9.9999")));
  });

  it("divides rounding half-even at the requested digits", () => {
    assert.equal(d("10").div(d("3"), 4).toString(), "3.3333");
    assert.equal(d("20").div(d("3"), 4).toString(), "6.6667");
    assert.equal(d("0.125").div(d("1"), 2).toString(), "0.12"); // half to even: 2
    assert.equal(d("0.135").div(d("1"), 2).toString(), "0.14"); // half to even: 4
    assert.equal(d("-10").div(d("3"), 2).toString(), "-3.33");
    assert.equal(d("1").div(d("-8"), 2).toString(), "-0.12");
    assert.throws(() => d("1").div(Decimal.ZERO, 2), RangeError);
  });

  it("gives half a unit in the last written place", () => {
    assert.equal(d("10.25").halfUlp().toString(), "0.005");
    assert.equal(d("10").halfUlp().toString(), "0.5");
  });

  it("canonicalises text or gives undefined", () => {
    assert.equal(canonical("100.500"), "100.5");
    assert.equal(canonical("x"), undefined);
  });
});
