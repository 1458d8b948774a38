import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type ScheduleConfig, ScheduleConfigError, SessionSchedule } from "./schedule.js";

/** An instant from an ISO string; write the local offset in it so the wall-clock time is visible. */
const at = (iso: string): number => {
  const t = Date.parse(iso);
  assert.ok(Number.isFinite(t), `bad test timestamp ${iso}`);
  return t;
};
const HOUR = 3_600_000;

// Calendar used below (2024): Mon 1 Jul … Fri 5, Sat 6, Sun 7, Mon 8 Jul.
// New York: EST→EDT on Sun 10 Mar at 02:00 local, EDT→EST on Sun 3 Nov at 02:00 local.
// London: GMT→BST on Sun 31 Mar at 01:00 UTC, BST→GMT on Sun 27 Oct at 01:00 UTC.

describe("daily session", () => {
  const s = new SessionSchedule({ startTime: "08:00:00", endTime: "17:00:00" });

  test("is in session from StartTime through EndTime inclusive", () => {
    assert.equal(s.isInSession(at("2024-07-02T08:00:00Z")), true);
    assert.equal(s.isInSession(at("2024-07-02T12:34:56Z")), true);
    assert.equal(s.isInSession(at("2024-07-02T17:00:00.000Z")), true);
  });

  test("is out of session before StartTime and after EndTime", () => {
    assert.equal(s.isInSession(at("2024-07-02T07:59:59.999Z")), false);
    assert.equal(s.isInSession(at("2024-07-02T17:00:00.001Z")), false);
    assert.equal(s.isInSession(at("2024-07-02T23:00:00Z")), false);
  });

  test("windowStart and windowEnd give today's window inside it and null outside", () => {
    assert.equal(s.windowStart(at("2024-07-02T12:00:00Z")), at("2024-07-02T08:00:00Z"));
    assert.equal(s.windowEnd(at("2024-07-02T12:00:00Z")), at("2024-07-02T17:00:00Z"));
    assert.equal(s.windowStart(at("2024-07-02T18:00:00Z")), null);
    assert.equal(s.windowEnd(at("2024-07-02T07:00:00Z")), null);
  });

  test("nextWindowStart is tomorrow's start from inside, today's from before, tomorrow's from after", () => {
    assert.equal(s.nextWindowStart(at("2024-07-02T12:00:00Z")), at("2024-07-03T08:00:00Z"));
    assert.equal(s.nextWindowStart(at("2024-07-02T03:00:00Z")), at("2024-07-02T08:00:00Z"));
    assert.equal(s.nextWindowStart(at("2024-07-02T20:00:00Z")), at("2024-07-03T08:00:00Z"));
  });

  test("nextWindowStart at the exact start instant is the following day's start", () => {
    assert.equal(s.nextWindowStart(at("2024-07-02T08:00:00Z")), at("2024-07-03T08:00:00Z"));
  });

  test("isSameSession is true for two instants in the same window, in either order", () => {
    assert.equal(s.isSameSession(at("2024-07-02T09:00:00Z"), at("2024-07-02T16:00:00Z")), true);
    assert.equal(s.isSameSession(at("2024-07-02T16:00:00Z"), at("2024-07-02T09:00:00Z")), true);
    assert.equal(s.isSameSession(at("2024-07-02T09:00:00Z"), at("2024-07-02T09:00:00Z")), true);
  });

  test("isSameSession is false across windows and when either instant is out of session", () => {
    assert.equal(s.isSameSession(at("2024-07-02T12:00:00Z"), at("2024-07-03T12:00:00Z")), false);
    assert.equal(s.isSameSession(at("2024-07-02T12:00:00Z"), at("2024-07-02T18:00:00Z")), false);
    assert.equal(s.isSameSession(at("2024-07-02T18:00:00Z"), at("2024-07-02T19:00:00Z")), false);
  });

  test("accepts surrounding whitespace in times, as QuickFIX does", () => {
    const t = new SessionSchedule({ startTime: " 08:00:00", endTime: "17:00:00 " });
    assert.equal(t.windowStart(at("2024-07-02T12:00:00Z")), at("2024-07-02T08:00:00Z"));
  });
});

describe("daily session crossing midnight", () => {
  const s = new SessionSchedule({ startTime: "17:00:00", endTime: "16:00:00" });

  test("is in session on both sides of midnight and out between EndTime and StartTime", () => {
    assert.equal(s.isInSession(at("2024-07-02T23:00:00Z")), true);
    assert.equal(s.isInSession(at("2024-07-03T03:00:00Z")), true);
    assert.equal(s.isInSession(at("2024-07-03T16:00:00Z")), true);
    assert.equal(s.isInSession(at("2024-07-03T16:30:00Z")), false);
    assert.equal(s.isInSession(at("2024-07-03T17:00:00Z")), true);
  });

  test("the window after midnight is the one that started the evening before", () => {
    assert.equal(s.windowStart(at("2024-07-03T03:00:00Z")), at("2024-07-02T17:00:00Z"));
    assert.equal(s.windowEnd(at("2024-07-03T03:00:00Z")), at("2024-07-03T16:00:00Z"));
    assert.equal(s.isSameSession(at("2024-07-02T19:00:00Z"), at("2024-07-03T02:00:00Z")), true);
  });

  test("isSameSession is false for the same wall-clock time on consecutive days", () => {
    assert.equal(s.isSameSession(at("2024-07-02T19:00:00Z"), at("2024-07-03T19:00:00Z")), false);
  });

  test("nextWindowStart from the gap is the same day's StartTime", () => {
    assert.equal(s.nextWindowStart(at("2024-07-03T16:30:00Z")), at("2024-07-03T17:00:00Z"));
    assert.equal(s.nextWindowStart(at("2024-07-03T03:00:00Z")), at("2024-07-03T17:00:00Z"));
  });
});

describe("daily session with StartTime == EndTime", () => {
  const s = new SessionSchedule({ startTime: "08:00:00", endTime: "08:00:00", timeZone: "America/New_York" });

  test("is always in session", () => {
    for (let t = at("2024-07-01T00:00:00Z"); t < at("2024-07-03T00:00:00Z"); t += 7 * 60_000) {
      assert.equal(s.isInSession(t), true, new Date(t).toISOString());
    }
  });

  test("isSameSession is false across the daily start instant and true within the 24 h cycle", () => {
    assert.equal(s.isSameSession(at("2024-07-02T07:59:59.999-04:00"), at("2024-07-02T08:00:00-04:00")), false);
    assert.equal(s.isSameSession(at("2024-07-02T08:00:00-04:00"), at("2024-07-03T07:59:59.999-04:00")), true);
  });

  test("a new window starts at StartTime; the instant belongs to the new window", () => {
    const start = at("2024-07-02T08:00:00-04:00");
    assert.equal(s.windowStart(start), start);
    assert.equal(s.windowEnd(start - 1), start);
    assert.equal(s.windowStart(start - 1), at("2024-07-01T08:00:00-04:00"));
    assert.equal(s.nextWindowStart(start - 1), start);
    assert.equal(s.nextWindowStart(start), at("2024-07-03T08:00:00-04:00"));
  });

  test("the cycle that contains the spring-forward change is 23 hours long", () => {
    const t = at("2024-03-10T07:00:00-04:00");
    assert.equal(s.windowStart(t), at("2024-03-09T08:00:00-05:00"));
    assert.equal(s.windowEnd(t), at("2024-03-10T08:00:00-04:00"));
    assert.equal(s.windowEnd(t)! - s.windowStart(t)!, 23 * HOUR);
    assert.equal(s.windowStart(at("2024-03-10T12:00:00-04:00")), at("2024-03-10T08:00:00-04:00"));
  });
});

describe("weekly session", () => {
  test("runs from StartDay StartTime to EndDay EndTime within the week", () => {
    // FX-style week: Sunday 17:00 to Friday 17:00 New York time.
    const s = new SessionSchedule({
      startDay: "Sunday",
      startTime: "17:00:00",
      endDay: "Friday",
      endTime: "17:00:00",
      timeZone: "America/New_York",
    });
    assert.equal(s.isInSession(at("2024-07-07T16:59:59-04:00")), false);
    assert.equal(s.isInSession(at("2024-07-07T17:00:00-04:00")), true);
    assert.equal(s.isInSession(at("2024-07-10T03:00:00-04:00")), true);
    assert.equal(s.isInSession(at("2024-07-12T17:00:00-04:00")), true);
    assert.equal(s.isInSession(at("2024-07-12T17:00:01-04:00")), false);
    assert.equal(s.isInSession(at("2024-07-13T12:00:00-04:00")), false);
    assert.equal(s.windowStart(at("2024-07-10T03:00:00-04:00")), at("2024-07-07T17:00:00-04:00"));
    assert.equal(s.windowEnd(at("2024-07-10T03:00:00-04:00")), at("2024-07-12T17:00:00-04:00"));
    assert.equal(s.nextWindowStart(at("2024-07-13T12:00:00-04:00")), at("2024-07-14T17:00:00-04:00"));
  });

  test("a window that wraps the week end is one session from StartDay to EndDay", () => {
    // Friday 22:00 to Monday 06:00 UTC.
    const s = new SessionSchedule({ startDay: "fri", startTime: "22:00:00", endDay: "MON", endTime: "06:00:00" });
    assert.equal(s.isInSession(at("2024-07-05T21:59:59Z")), false);
    assert.equal(s.isInSession(at("2024-07-05T22:00:00Z")), true);
    assert.equal(s.isInSession(at("2024-07-06T12:00:00Z")), true);
    assert.equal(s.isInSession(at("2024-07-07T12:00:00Z")), true);
    assert.equal(s.isInSession(at("2024-07-08T06:00:00Z")), true);
    assert.equal(s.isInSession(at("2024-07-08T06:00:01Z")), false);
    assert.equal(s.isInSession(at("2024-07-10T12:00:00Z")), false);
    assert.equal(s.windowStart(at("2024-07-08T05:00:00Z")), at("2024-07-05T22:00:00Z"));
    assert.equal(s.windowEnd(at("2024-07-06T05:00:00Z")), at("2024-07-08T06:00:00Z"));
    assert.equal(s.isSameSession(at("2024-07-05T23:00:00Z"), at("2024-07-08T05:00:00Z")), true);
    assert.equal(s.isSameSession(at("2024-07-05T23:00:00Z"), at("2024-07-12T23:00:00Z")), false);
    assert.equal(s.nextWindowStart(at("2024-07-06T12:00:00Z")), at("2024-07-12T22:00:00Z"));
    assert.equal(s.nextWindowStart(at("2024-07-10T12:00:00Z")), at("2024-07-12T22:00:00Z"));
  });

  test("StartDay == EndDay with EndTime before StartTime runs a whole week less the gap", () => {
    // QuickFIX's example: Saturday 18:00 to the following Saturday 03:00.
    const s = new SessionSchedule({ startDay: "sa", startTime: "18:00:00", endDay: "sat", endTime: "03:00:00" });
    assert.equal(s.isInSession(at("2024-07-06T10:00:00Z")), false);
    assert.equal(s.isInSession(at("2024-07-06T18:00:00Z")), true);
    assert.equal(s.isInSession(at("2024-07-06T03:00:00Z")), true);
    assert.equal(s.isInSession(at("2024-07-06T03:00:01Z")), false);
    assert.equal(s.windowStart(at("2024-07-06T03:00:00Z")), at("2024-06-29T18:00:00Z"));
    assert.equal(s.isSameSession(at("2024-07-06T03:00:00Z"), at("2024-07-06T18:00:00Z")), false);
  });

  test("StartDay == EndDay with StartTime == EndTime is always in session and resets weekly", () => {
    const s = new SessionSchedule({ startDay: "Sunday", startTime: "00:00:00", endDay: "Sunday", endTime: "00:00:00" });
    assert.equal(s.isInSession(at("2024-07-06T23:59:59.999Z")), true);
    assert.equal(s.isInSession(at("2024-07-07T00:00:00Z")), true);
    assert.equal(s.isSameSession(at("2024-07-01T00:00:00Z"), at("2024-07-06T23:59:59.999Z")), true);
    assert.equal(s.isSameSession(at("2024-07-06T23:59:59.999Z"), at("2024-07-07T00:00:00Z")), false);
  });

  test("StartDay == EndDay with EndTime after StartTime is a window on that one day each week", () => {
    const s = new SessionSchedule({ startDay: "Monday", startTime: "08:00:00", endDay: "Monday", endTime: "17:00:00" });
    assert.equal(s.isInSession(at("2024-07-08T12:00:00Z")), true);
    assert.equal(s.isInSession(at("2024-07-09T12:00:00Z")), false);
    assert.equal(s.nextWindowStart(at("2024-07-08T12:00:00Z")), at("2024-07-15T08:00:00Z"));
  });

  test("a weekly window spanning a DST change keeps its wall-clock start and end", () => {
    const s = new SessionSchedule({
      startDay: "Sunday",
      startTime: "17:00:00",
      endDay: "Friday",
      endTime: "17:00:00",
      timeZone: "America/New_York",
    });
    // Sun 3 Nov 17:00 is already EST; the window before it started in EDT.
    assert.equal(s.windowStart(at("2024-11-04T12:00:00-05:00")), at("2024-11-03T17:00:00-05:00"));
    assert.equal(s.windowStart(at("2024-03-11T12:00:00-04:00")), at("2024-03-10T17:00:00-04:00"));
    assert.equal(s.windowEnd(at("2024-03-11T12:00:00-04:00")), at("2024-03-15T17:00:00-04:00"));
  });
});

describe("daily session on listed weekdays", () => {
  const s = new SessionSchedule({
    startTime: "08:00:00",
    endTime: "17:00:00",
    weekdays: ["Mon", "tue", "Wednesday", "thu", "FRI"],
  });

  test("is out of session all Saturday and Sunday", () => {
    assert.equal(s.isInSession(at("2024-07-06T12:00:00Z")), false);
    assert.equal(s.isInSession(at("2024-07-07T12:00:00Z")), false);
    assert.equal(s.windowStart(at("2024-07-06T12:00:00Z")), null);
  });

  test("is in session on a listed day", () => {
    assert.equal(s.isInSession(at("2024-07-05T12:00:00Z")), true);
    assert.equal(s.isInSession(at("2024-07-08T12:00:00Z")), true);
  });

  test("nextWindowStart after Friday's window is Monday's start", () => {
    assert.equal(s.nextWindowStart(at("2024-07-05T12:00:00Z")), at("2024-07-08T08:00:00Z"));
    assert.equal(s.nextWindowStart(at("2024-07-06T12:00:00Z")), at("2024-07-08T08:00:00Z"));
  });

  test("a window crossing midnight belongs to the day it starts on", () => {
    const night = new SessionSchedule({
      startTime: "17:00:00",
      endTime: "16:00:00",
      weekdays: ["mo", "tu", "we", "th", "fr"],
    });
    // Friday's window runs into Saturday; none starts on Saturday or Sunday.
    assert.equal(night.isInSession(at("2024-07-06T10:00:00Z")), true);
    assert.equal(night.windowStart(at("2024-07-06T10:00:00Z")), at("2024-07-05T17:00:00Z"));
    assert.equal(night.isInSession(at("2024-07-06T18:00:00Z")), false);
    assert.equal(night.isInSession(at("2024-07-07T18:00:00Z")), false);
    // Monday morning is not covered: no window started on Sunday.
    assert.equal(night.isInSession(at("2024-07-08T10:00:00Z")), false);
    assert.equal(night.nextWindowStart(at("2024-07-06T18:00:00Z")), at("2024-07-08T17:00:00Z"));
  });
});

describe("time zones and DST", () => {
  const ny = new SessionSchedule({ startTime: "08:00:00", endTime: "17:00:00", timeZone: "America/New_York" });

  test("New York window stays at 08:00–17:00 local across the March change", () => {
    assert.equal(ny.windowStart(at("2024-03-08T12:00:00-05:00")), at("2024-03-08T13:00:00Z"));
    assert.equal(ny.windowEnd(at("2024-03-08T12:00:00-05:00")), at("2024-03-08T22:00:00Z"));
    assert.equal(ny.windowStart(at("2024-03-11T12:00:00-04:00")), at("2024-03-11T12:00:00Z"));
    assert.equal(ny.windowEnd(at("2024-03-11T12:00:00-04:00")), at("2024-03-11T21:00:00Z"));
    assert.equal(ny.isInSession(at("2024-03-11T12:30:00Z")), true); // 08:30 EDT, but 07:30 EST
    assert.equal(ny.nextWindowStart(at("2024-03-08T20:00:00Z")), at("2024-03-09T13:00:00Z"));
    assert.equal(ny.nextWindowStart(at("2024-03-10T20:00:00Z")), at("2024-03-11T12:00:00Z"));
  });

  test("New York window stays at 08:00–17:00 local across the November change", () => {
    assert.equal(ny.windowStart(at("2024-11-01T12:00:00-04:00")), at("2024-11-01T12:00:00Z"));
    assert.equal(ny.windowStart(at("2024-11-04T12:00:00-05:00")), at("2024-11-04T13:00:00Z"));
    assert.equal(ny.isInSession(at("2024-11-04T12:30:00Z")), false); // 07:30 EST
    assert.equal(ny.nextWindowStart(at("2024-11-03T20:00:00Z")), at("2024-11-04T13:00:00Z"));
  });

  test("an overnight New York window of 22 hours lasts 21 across the March change", () => {
    const s = new SessionSchedule({ startTime: "17:00:00", endTime: "15:00:00", timeZone: "America/New_York" });
    const t = at("2024-03-10T10:00:00-04:00");
    assert.equal(s.windowStart(t), at("2024-03-09T17:00:00-05:00"));
    assert.equal(s.windowEnd(t), at("2024-03-10T15:00:00-04:00"));
    assert.equal(s.windowEnd(t)! - s.windowStart(t)!, 21 * HOUR);
  });

  test("a StartTime the spring-forward change skips opens the window when the clock jumps past it", () => {
    // 02:30 does not exist in New York on 10 Mar 2024; QuickFIX/J (java.time) moves it to 03:30 EDT.
    const s = new SessionSchedule({ startTime: "02:30:00", endTime: "20:00:00", timeZone: "America/New_York" });
    assert.equal(s.windowStart(at("2024-03-10T12:00:00-04:00")), at("2024-03-10T03:30:00-04:00"));
    assert.equal(s.isInSession(at("2024-03-10T03:15:00-04:00")), false);
  });

  test("a StartTime the fall-back change repeats opens the window at its first occurrence", () => {
    const s = new SessionSchedule({ startTime: "01:30:00", endTime: "20:00:00", timeZone: "America/New_York" });
    assert.equal(s.windowStart(at("2024-11-03T12:00:00-05:00")), at("2024-11-03T01:30:00-04:00"));
    assert.equal(s.isInSession(at("2024-11-03T01:45:00-05:00")), true); // the second 01:45
  });

  test("a window whose both ends fall in the spring-forward gap collapses to one instant that day", () => {
    // 02:10–02:50 does not exist on 10 Mar 2024 in New York; both ends move to 03:10/03:50 EDT, which keeps the
    // order here, so use ends either side of the jump: 02:59 → 03:59 EDT, 03:00 → 03:00 EDT.
    const s = new SessionSchedule({ startTime: "02:59:00", endTime: "03:00:00", timeZone: "America/New_York" });
    const start = at("2024-03-10T03:59:00-04:00");
    assert.equal(s.windowStart(start), start);
    assert.equal(s.windowEnd(start), start);
    assert.equal(s.isInSession(start + 1), false);
    assert.equal(s.windowEnd(at("2024-03-11T02:59:30-04:00")), at("2024-03-11T03:00:00-04:00"));
  });

  test("London window stays at 08:00 local across BST start and end", () => {
    const s = new SessionSchedule({ startTime: "08:00:00", endTime: "16:30:00", timeZone: "Europe/London" });
    assert.equal(s.windowStart(at("2024-03-29T12:00:00Z")), at("2024-03-29T08:00:00Z"));
    assert.equal(s.windowStart(at("2024-04-02T12:00:00Z")), at("2024-04-02T07:00:00Z"));
    assert.equal(s.windowEnd(at("2024-04-02T12:00:00Z")), at("2024-04-02T15:30:00Z"));
    assert.equal(s.windowStart(at("2024-10-28T12:00:00Z")), at("2024-10-28T08:00:00Z"));
    assert.equal(s.isInSession(at("2024-04-02T07:30:00Z")), true);
  });

  test("time zone names are matched case-insensitively and GMT is UTC", () => {
    const lower = new SessionSchedule({ startTime: "08:00:00", endTime: "17:00:00", timeZone: "america/new_york" });
    assert.equal(lower.windowStart(at("2024-07-02T12:00:00Z")), at("2024-07-02T08:00:00-04:00"));
    const gmt = new SessionSchedule({ startTime: "08:00:00", endTime: "17:00:00", timeZone: "GMT" });
    assert.equal(gmt.windowStart(at("2024-07-02T12:00:00Z")), at("2024-07-02T08:00:00Z"));
  });
});

describe("non-stop session", () => {
  const s = new SessionSchedule({ nonStop: true });

  test("is always in session in one window that never resets", () => {
    assert.equal(s.isInSession(at("2024-07-06T12:00:00Z")), true);
    assert.equal(s.windowStart(at("2024-07-06T12:00:00Z")), 0);
    assert.equal(s.windowEnd(at("2024-07-06T12:00:00Z")), Number.POSITIVE_INFINITY);
    assert.equal(s.nextWindowStart(at("2024-07-06T12:00:00Z")), Number.POSITIVE_INFINITY);
    assert.equal(s.isSameSession(at("2020-01-01T00:00:00Z"), at("2030-01-01T00:00:00Z")), true);
  });

  test("ignores the other settings, as QuickFIX does", () => {
    const t = new SessionSchedule({ nonStop: true, startTime: "08:00:00", endTime: "17:00:00", weekdays: ["mon"] });
    assert.equal(t.isInSession(at("2024-07-06T20:00:00Z")), true);
  });
});

describe("time argument", () => {
  test("a non-finite time is rejected with RangeError", () => {
    const s = new SessionSchedule({ startTime: "08:00:00", endTime: "17:00:00" });
    assert.throws(() => s.isInSession(Number.NaN), RangeError);
    assert.throws(() => s.nextWindowStart(Number.POSITIVE_INFINITY), RangeError);
  });
});

describe("configuration errors name the field", () => {
  const base: ScheduleConfig = { startTime: "08:00:00", endTime: "17:00:00" };
  const cases: [string, ScheduleConfig, string][] = [
    ["startTime without seconds", { ...base, startTime: "08:00" }, "startTime"],
    ["startTime with a one-digit hour", { ...base, startTime: "8:00:00" }, "startTime"],
    ["startTime out of range", { ...base, startTime: "24:00:00" }, "startTime"],
    ["endTime with a trailing zone", { ...base, endTime: "17:00:00 US/Eastern" }, "endTime"],
    ["endTime minutes out of range", { ...base, endTime: "17:60:00" }, "endTime"],
    ["startTime missing", { endTime: "17:00:00" }, "startTime"],
    ["endTime missing", { startTime: "08:00:00" }, "endTime"],
    ["unknown startDay", { ...base, startDay: "Funday", endDay: "Fri" }, "startDay"],
    ["one-letter startDay", { ...base, startDay: "s", endDay: "Fri" }, "startDay"],
    ["unknown endDay", { ...base, startDay: "Mon", endDay: "Fry" }, "endDay"],
    ["startDay without endDay", { ...base, startDay: "Mon" }, "endDay"],
    ["endDay without startDay", { ...base, endDay: "Fri" }, "startDay"],
    ["unknown weekday", { ...base, weekdays: ["Mon", "Tues", "Wen"] }, "weekdays[2]"],
    ["empty weekdays", { ...base, weekdays: [] }, "weekdays"],
    ["weekdays with a weekly session", { ...base, startDay: "Mon", endDay: "Fri", weekdays: ["Mon"] }, "weekdays"],
    ["unknown time zone", { ...base, timeZone: "Mars/Olympus_Mons" }, "timeZone"],
    ["empty time zone", { ...base, timeZone: "" }, "timeZone"],
    ["malformed time even when non-stop", { nonStop: true, startTime: "8am" }, "startTime"],
  ];
  for (const [what, cfg, field] of cases) {
    test(`${what} is rejected naming ${field}`, () => {
      assert.throws(
        () => new SessionSchedule(cfg),
        (e: unknown) => {
          assert.ok(e instanceof ScheduleConfigError);
          assert.equal(e.name, "ScheduleConfigError");
          assert.equal(e.field, field);
          assert.match(e.message, new RegExp(`^session schedule ${field.replace(/[[\]]/g, "\\$&")}: `));
          return true;
        },
      );
    });
  }

  test("day names accept any case and any prefix of two letters or more", () => {
    for (const day of ["Sunday", "SUN", "su", "sund"]) {
      const s = new SessionSchedule({ ...base, startDay: day, endDay: "thurs" });
      assert.equal(s.isInSession(at("2024-07-07T12:00:00Z")), true, day);
      assert.equal(s.isInSession(at("2024-07-05T12:00:00Z")), false, day);
    }
  });
});

describe("agreement with a wall-clock reference over a year", () => {
  // Reference: QuickFIX C++'s isInRange on the local weekday and time of day, evaluated by a separate formatter.
  const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  function localClock(timeZone: string) {
    const fmt = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      weekday: "short",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    return (t: number) => {
      const p = Object.fromEntries(fmt.formatToParts(t).map((x) => [x.type, x.value]));
      const sec = (Number(p.hour) % 24) * 3600 + Number(p.minute) * 60 + Number(p.second);
      return { dow: WEEKDAYS.indexOf(p.weekday!), sec };
    };
  }
  const hms = (s: string) => s.split(":").reduce((a, x) => a * 60 + Number(x), 0);
  type Ref = (dow: number, sec: number) => boolean;
  const daily =
    (start: string, end: string, days = [0, 1, 2, 3, 4, 5, 6]): Ref =>
    (dow, sec) => {
      const [s, e] = [hms(start), hms(end)];
      if (s < e) return days.includes(dow) && sec >= s && sec <= e;
      return (days.includes(dow) && sec >= s) || (days.includes((dow + 6) % 7) && sec <= e);
    };
  const weekly =
    (sd: number, start: string, ed: number, end: string): Ref =>
    (dow, sec) => {
      const [s, e] = [hms(start), hms(end)];
      if (sd < ed ? dow < sd || dow > ed : dow < sd && dow > ed) return false;
      if (dow === sd && sec < s) return false;
      if (dow === ed && sec > e) return false;
      return true;
    };
  const cases: [string, ScheduleConfig, Ref][] = [
    ["daily", { startTime: "08:00:00", endTime: "17:00:00" }, daily("08:00:00", "17:00:00")],
    ["overnight", { startTime: "17:00:00", endTime: "16:00:00" }, daily("17:00:00", "16:00:00")],
    [
      "overnight Mon-Fri",
      { startTime: "18:15:00", endTime: "06:45:00", weekdays: ["mo", "tu", "we", "th", "fr"] },
      daily("18:15:00", "06:45:00", [1, 2, 3, 4, 5]),
    ],
    [
      "weekly Sun-Fri",
      { startDay: "sun", startTime: "17:00:00", endDay: "fri", endTime: "17:00:00" },
      weekly(0, "17:00:00", 5, "17:00:00"),
    ],
    [
      "weekly Fri-Mon",
      { startDay: "fri", startTime: "22:00:00", endDay: "mon", endTime: "06:00:00" },
      weekly(5, "22:00:00", 1, "06:00:00"),
    ],
  ];
  for (const timeZone of ["America/New_York", "Europe/London", "Asia/Tokyo"]) {
    const local = localClock(timeZone);
    for (const [what, cfg, ref] of cases) {
      test(`${what} in ${timeZone}: isInSession matches the wall clock and windows are consistent`, () => {
        const s = new SessionSchedule({ ...cfg, timeZone });
        const probe = new SessionSchedule({ ...cfg, timeZone }); // looks at the next window, so s keeps its cache
        const step = 17 * 60_000 + 13_000; // irregular, to land on many different wall-clock times
        for (let t = at("2024-01-01T00:00:00Z"); t < at("2025-01-01T00:00:00Z"); t += step) {
          const { dow, sec } = local(t);
          const label = `${new Date(t).toISOString()} (${WEEKDAYS[dow]} ${sec}s local)`;
          const inSession = s.isInSession(t);
          assert.equal(inSession, ref(dow, sec), label);
          const start = s.windowStart(t);
          const end = s.windowEnd(t);
          const next = s.nextWindowStart(t);
          assert.ok(next > t, label);
          assert.equal(probe.windowStart(next), next, label);
          if (inSession) {
            assert.ok(start !== null && end !== null && start <= t && t <= end && end <= next, label);
            assert.equal(s.isSameSession(start, t), true, label);
            assert.equal(s.isSameSession(next, t), false, label);
          } else {
            assert.equal(start, null, label);
            assert.equal(end, null, label);
          }
        }
      });
    }
  }
});
