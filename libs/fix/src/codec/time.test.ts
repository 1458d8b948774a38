import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatUtcTimestamp, parseUtcTimestamp } from "./time.js";

// 2024-01-05 14:30:15.123 UTC, plus 456.789 µs
const T = Date.UTC(2024, 0, 5, 14, 30, 15, 123);

describe("formatUtcTimestamp", () => {
  test("formats seconds, milliseconds, microseconds and nanoseconds for precision 0, 3, 6 and 9", () => {
    assert.equal(formatUtcTimestamp(T, 0), "20240105-14:30:15");
    assert.equal(formatUtcTimestamp(T, 3), "20240105-14:30:15.123");
    assert.equal(formatUtcTimestamp(T + 0.456, 6), "20240105-14:30:15.123456");
    // 0.125 ms is exact in binary; arbitrary nanoseconds are not (see the round-trip test below).
    assert.equal(formatUtcTimestamp(T + 0.125, 9), "20240105-14:30:15.123125000");
  });

  test("defaults to milliseconds and truncates them at precision 0 and 3", () => {
    assert.equal(formatUtcTimestamp(T + 0.9), "20240105-14:30:15.123");
    assert.equal(formatUtcTimestamp(T + 876, 0), "20240105-14:30:15");
  });

  test("pads every part with zeros", () => {
    assert.equal(formatUtcTimestamp(Date.UTC(2024, 2, 7, 3, 4, 5, 6), 3), "20240307-03:04:05.006");
    assert.equal(formatUtcTimestamp(Date.UTC(2024, 2, 7, 3, 4, 5, 60), 3), "20240307-03:04:05.060");
    assert.equal(formatUtcTimestamp(Date.UTC(2024, 2, 7, 3, 4, 5, 6) + 0.007, 6), "20240307-03:04:05.006007");
  });

  test("carries into the next second when the sub-millisecond part rounds up", () => {
    assert.equal(formatUtcTimestamp(Date.UTC(2024, 0, 5, 23, 59, 59, 999) + 0.9996, 6), "20240106-00:00:00.000000");
  });

  test("formats dates right when consecutive calls alternate between days", () => {
    const day1 = Date.UTC(2024, 1, 28, 23, 59, 59, 999);
    const day2 = Date.UTC(2024, 1, 29, 0, 0, 0, 0);
    const day3 = Date.UTC(2024, 2, 1, 12, 0, 0, 0);
    for (let i = 0; i < 3; i++) {
      assert.equal(formatUtcTimestamp(day1), "20240228-23:59:59.999");
      assert.equal(formatUtcTimestamp(day2), "20240229-00:00:00.000");
      assert.equal(formatUtcTimestamp(day3), "20240301-12:00:00.000");
    }
  });
});

describe("parseUtcTimestamp", () => {
  test("reads seconds and 1 to 9 fractional digits", () => {
    assert.equal(parseUtcTimestamp("20240105-14:30:15"), T - 123);
    assert.equal(parseUtcTimestamp("20240105-14:30:15.1"), T - 23);
    assert.equal(parseUtcTimestamp("20240105-14:30:15.123"), T);
    assert.ok(Math.abs(parseUtcTimestamp("20240105-14:30:15.123456") - (T + 0.456)) < 1e-6);
    assert.ok(Math.abs(parseUtcTimestamp("20240105-14:30:15.123456789") - (T + 0.456789)) < 1e-3);
  });

  test("format(parse(s)) gives s back for precision 0, 3 and 6 over every microsecond of a millisecond", () => {
    assert.equal(formatUtcTimestamp(parseUtcTimestamp("20240105-14:30:15"), 0), "20240105-14:30:15");
    for (let ms = 0; ms < 1000; ms += 37) {
      const s = `20240105-14:30:15.${String(ms).padStart(3, "0")}`;
      assert.equal(formatUtcTimestamp(parseUtcTimestamp(s), 3), s);
    }
    for (let us = 0; us < 1_000_000; us += 997) {
      const s = `20240105-14:30:15.${String(us).padStart(6, "0")}`;
      assert.equal(formatUtcTimestamp(parseUtcTimestamp(s), 6), s);
    }
  });

  test("format(parse(s)) keeps nanoseconds to within the 0.25 µs a double holds at this epoch", () => {
    for (const ns of ["000000001", "123456789", "999999999", "500000000"]) {
      const s = `20240105-14:30:15.${ns}`;
      const back = formatUtcTimestamp(parseUtcTimestamp(s), 9);
      assert.equal(back.length, s.length);
      // Compare as nanoseconds since 14:30:00 so that 15.999999999 → 16.000000000 counts as 1 ns off.
      const nanos = (t: string) => Number(t.slice(15, 17)) * 1e9 + Number(t.slice(18));
      assert.ok(Math.abs(nanos(back) - nanos(s)) <= 250, `${s} came back as ${back}`);
    }
  });

  test("parse(format(t)) is t truncated to the precision", () => {
    for (const t of [0, T, T + 999, Date.UTC(2099, 11, 31, 23, 59, 59, 999)]) {
      assert.equal(parseUtcTimestamp(formatUtcTimestamp(t, 3)), t);
      assert.equal(parseUtcTimestamp(formatUtcTimestamp(t, 0)), t - (t % 1000));
    }
  });

  test("rejects malformed timestamps with NaN", () => {
    for (const s of [
      "",
      "20240105",
      "20240105 14:30:15",
      "20240105-14-30-15",
      "2024010x-14:30:15",
      "20241305-14:30:15",
      "20240100-14:30:15",
      "20240105-24:30:15",
      "20240105-14:60:15",
      "20240105-14:30:61",
      "20240105-14:30:15.",
      "20240105-14:30:15,123",
      "20240105-14:30:15.12a",
      "20240105-14:30:15.1234567890",
    ]) {
      assert.ok(Number.isNaN(parseUtcTimestamp(s)), JSON.stringify(s));
    }
  });
});
