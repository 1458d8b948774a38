/**
 * When a FIX session may be connected, and when its daily/weekly sequence reset is due — QuickFIX's session
 * time settings (`StartTime`, `EndTime`, `StartDay`, `EndDay`, `Weekdays`, `TimeZone`, `NonStopSession`).
 *
 * Pure: every query takes the time as epoch milliseconds; nothing here reads a clock or sets a timer.
 *
 * Model (as QuickFIX/J's DefaultSessionSchedule): a schedule is a sequence of windows. Each window opens at
 * StartTime on its start day (local wall-clock time in `TimeZone`) and closes at the first EndTime after
 * that (on EndDay for a weekly session). Both ends are inclusive, so a 08:00–17:00 session is still in session
 * at 17:00:00.000. An instant belongs to the window with the latest start at or before it; when a window's end
 * coincides with the next window's start (StartTime == EndTime), that instant belongs to the new window.
 *
 * Wall-clock times that a DST change skips (02:30 on the spring-forward day in New York) resolve to the same
 * offset from the gap's end (03:30); times that occur twice (01:30 on the fall-back day) resolve to the first.
 */

/** A schedule setting is invalid; `field` names the `ScheduleConfig` key (with an index for `weekdays`). */
export class ScheduleConfigError extends Error {
  override readonly name = "ScheduleConfigError";
  constructor(
    readonly field: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`session schedule ${field}: ${reason}`, options);
  }
}

/** The session time settings, named as in QuickFIX. `UseLocalTime` is deliberately not supported: use `timeZone`. */
export interface ScheduleConfig {
  /** `StartTime`, `HH:MM:SS` local to `timeZone`. Required unless `nonStop`. */
  startTime?: string;
  /** `EndTime`, `HH:MM:SS` local to `timeZone`. Required unless `nonStop`. */
  endTime?: string;
  /** `StartDay`: makes the session weekly. A day name or a prefix of at least two letters (`Sunday`, `sun`, `su`). */
  startDay?: string;
  /** `EndDay`: required with `startDay`. */
  endDay?: string;
  /** `Weekdays`: the days on which a daily session starts. Not combinable with `startDay`/`endDay`. */
  weekdays?: string[];
  /** `TimeZone`: an IANA name (`America/New_York`); default UTC. */
  timeZone?: string;
  /** `NonStopSession`: always in session, never a scheduled reset. The other settings are then ignored. */
  nonStop?: boolean;
}

const SECOND_MS = 1000;
const DAY_MS = 86_400_000;
const DAY_NAMES = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"] as const;
const TIME_OF_DAY = /^(\d{2}):(\d{2}):(\d{2})$/;

/** Day of week (0 = Sunday) of a local civil day number (days since 1970-01-01, a Thursday). */
function dayOfWeek(day: number): number {
  return (((day + 4) % 7) + 7) % 7;
}

function parseTimeOfDay(field: string, value: string): number {
  const m = TIME_OF_DAY.exec(value.trim());
  if (m === null) throw new ScheduleConfigError(field, `'${value}' is not a time of day in the form HH:MM:SS`);
  const h = Number(m[1]);
  const min = Number(m[2]);
  const s = Number(m[3]);
  if (h > 23 || min > 59 || s > 59) throw new ScheduleConfigError(field, `'${value}' is not a valid time of day`);
  return (h * 3600 + min * 60 + s) * SECOND_MS;
}

/** A day name or an unambiguous prefix of one, case-insensitive; two letters are the shortest unambiguous prefix. */
function parseDay(field: string, value: string): number {
  const name = value.trim().toLowerCase();
  if (name.length >= 2) {
    const day = DAY_NAMES.findIndex((d) => d.startsWith(name));
    if (day >= 0) return day;
  }
  throw new ScheduleConfigError(
    field,
    `'${value}' is not a day of the week (Sunday … Saturday, or a prefix like 'sun')`,
  );
}

/**
 * Converts between instants and local wall-clock time in one IANA zone, DST-correct. "Local ms" is the wall-clock
 * reading expressed as if it were UTC (so `Math.floor(local / DAY_MS)` is the local civil day).
 */
class ZoneClock {
  /** The canonical zone name (`america/new_york` → `America/New_York`, `GMT` → `UTC`). */
  readonly timeZone: string;
  private readonly fmt: Intl.DateTimeFormat | null;

  constructor(timeZone: string) {
    const fmt = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    this.timeZone = fmt.resolvedOptions().timeZone;
    // UTC (also spelled GMT, Etc/UTC) needs no formatter on the hot path.
    this.fmt = this.timeZone === "UTC" ? null : fmt;
  }

  /** Offset of local time from UTC at `t`, in ms (New York in winter: -5 h). */
  offsetAt(t: number): number {
    if (this.fmt === null) return 0;
    let year = 0;
    let month = 0;
    let day = 0;
    let hour = 0;
    let minute = 0;
    let second = 0;
    for (const part of this.fmt.formatToParts(t)) {
      switch (part.type) {
        case "year":
          year = Number(part.value);
          break;
        case "month":
          month = Number(part.value);
          break;
        case "day":
          day = Number(part.value);
          break;
        case "hour":
          hour = Number(part.value) % 24; // some ICU versions print midnight as 24 even with h23
          break;
        case "minute":
          minute = Number(part.value);
          break;
        case "second":
          second = Number(part.value);
          break;
      }
    }
    const wallSeconds = Date.UTC(year, month - 1, day, hour, minute, second);
    return wallSeconds - (t - (((t % SECOND_MS) + SECOND_MS) % SECOND_MS));
  }

  toLocal(t: number): number {
    return t + this.offsetAt(t);
  }

  /** The instant at which the local wall clock reads `local` (gap: shifted forward by the gap; overlap: the first). */
  toInstant(local: number): number {
    const before = this.offsetAt(local - DAY_MS);
    const after = this.offsetAt(local + DAY_MS);
    const early = local - before;
    if (before === after) return early;
    // A transition lies within a day of this wall-clock time: find which offset(s) actually read `local`.
    const late = local - after;
    const earlyValid = this.offsetAt(early) === before;
    const lateValid = this.offsetAt(late) === after;
    if (earlyValid && lateValid) return Math.min(early, late); // fall-back overlap: the first occurrence
    if (earlyValid) return early;
    if (lateValid) return late;
    // Spring-forward gap: `early` lies after the transition and reads `local` plus the gap length.
    return early;
  }
}

type Kind = "nonStop" | "daily" | "weekly";

/** A parsed, validated schedule. Queries cache the current window, so calling them on every timer tick is cheap. */
export class SessionSchedule {
  readonly kind: Kind;
  private readonly clock: ZoneClock;
  private readonly startMs: number; // StartTime as ms after local midnight
  private readonly endMs: number;
  private readonly startDow: number; // weekly only: 0 = Sunday
  /** Days from a window's start day to its end day. */
  private readonly endDayOffset: number;
  /** Daily only: whether a window may start on each day of week (0 = Sunday). */
  private readonly startsOn: readonly boolean[];

  // The window that owns [cacheStart, cacheNext): opened at cacheStart, closes at cacheEnd, next opens at cacheNext.
  private cacheStart = Number.NaN;
  private cacheEnd = Number.NaN;
  private cacheNext = Number.NaN;

  constructor(cfg: ScheduleConfig) {
    const timeZone = cfg.timeZone ?? "UTC";
    try {
      this.clock = new ZoneClock(timeZone);
    } catch (e) {
      throw new ScheduleConfigError("timeZone", `'${timeZone}' is not a known IANA time zone`, { cause: e });
    }
    // Values present are validated even when unused (non-stop), so a typo fails at start rather than later.
    const startMs = cfg.startTime === undefined ? undefined : parseTimeOfDay("startTime", cfg.startTime);
    const endMs = cfg.endTime === undefined ? undefined : parseTimeOfDay("endTime", cfg.endTime);
    const startDow = cfg.startDay === undefined ? undefined : parseDay("startDay", cfg.startDay);
    const endDow = cfg.endDay === undefined ? undefined : parseDay("endDay", cfg.endDay);
    const weekdays = cfg.weekdays?.map((d, i) => parseDay(`weekdays[${i}]`, d));

    this.startMs = startMs ?? 0;
    this.endMs = endMs ?? 0;
    this.startDow = startDow ?? 0;
    this.endDayOffset = 0;
    this.startsOn = [true, true, true, true, true, true, true];

    if (cfg.nonStop === true) {
      this.kind = "nonStop";
      return;
    }
    if (startMs === undefined) throw new ScheduleConfigError("startTime", "is required unless nonStop is set");
    if (endMs === undefined) throw new ScheduleConfigError("endTime", "is required unless nonStop is set");
    if (startDow !== undefined && endDow === undefined) {
      throw new ScheduleConfigError("endDay", "is required when startDay is set");
    }
    if (endDow !== undefined && startDow === undefined) {
      throw new ScheduleConfigError("startDay", "is required when endDay is set");
    }

    if (startDow !== undefined && endDow !== undefined) {
      if (weekdays !== undefined) {
        throw new ScheduleConfigError("weekdays", "cannot be combined with startDay/endDay (a weekly session)");
      }
      this.kind = "weekly";
      // The first EndDay EndTime after StartDay StartTime; the same day and time means a full week.
      const days = (endDow - startDow + 7) % 7;
      this.endDayOffset = days === 0 && endMs <= startMs ? 7 : days;
      return;
    }

    this.kind = "daily";
    this.endDayOffset = endMs > startMs ? 0 : 1; // StartTime == EndTime: a 24 h cycle
    if (weekdays !== undefined) {
      if (weekdays.length === 0) throw new ScheduleConfigError("weekdays", "lists no day; omit it for every day");
      this.startsOn = DAY_NAMES.map((_, d) => weekdays.includes(d));
    }
  }

  isInSession(nowMs: number): boolean {
    if (this.kind === "nonStop") return true;
    this.locate(nowMs);
    return nowMs <= this.cacheEnd;
  }

  /** Start (epoch ms) of the session window that contains nowMs, or null when outside every window. */
  windowStart(nowMs: number): number | null {
    if (this.kind === "nonStop") return 0;
    this.locate(nowMs);
    return nowMs <= this.cacheEnd ? this.cacheStart : null;
  }

  /** End (epoch ms, inclusive) of the window containing nowMs, or null. */
  windowEnd(nowMs: number): number | null {
    if (this.kind === "nonStop") return Number.POSITIVE_INFINITY;
    this.locate(nowMs);
    return nowMs <= this.cacheEnd ? this.cacheEnd : null;
  }

  /** Start of the next window strictly after nowMs (for timers: when to log on / reset next). */
  nextWindowStart(nowMs: number): number {
    if (this.kind === "nonStop") return Number.POSITIVE_INFINITY;
    this.locate(nowMs);
    return this.cacheNext;
  }

  /**
   * True when both instants fall in the same session window (QuickFIX's isSameSession): is a stored cycle created
   * at `aMs` still current at `bMs`, or is a reset due? Pass "now" as `bMs`: only it moves the cached window.
   */
  isSameSession(aMs: number, bMs: number): boolean {
    if (this.kind === "nonStop") return true;
    // Locate only bMs (callers pass "now" there), then test aMs against that window: a stored creation time
    // checked on every tick never evicts the cached current window.
    this.locate(bMs);
    if (bMs > this.cacheEnd) return false;
    // aMs < cacheNext: when StartTime == EndTime the window's end instant already belongs to the next window.
    return aMs >= this.cacheStart && aMs <= this.cacheEnd && aMs < this.cacheNext;
  }

  toString(): string {
    if (this.kind === "nonStop") return "non-stop";
    const time = (ms: number) => new Date(ms).toISOString().slice(11, 19);
    const tz = ` ${this.clock.timeZone}`;
    if (this.kind === "weekly") {
      const endDow = (this.startDow + this.endDayOffset) % 7;
      return `weekly ${DAY_NAMES[this.startDow]} ${time(this.startMs)} - ${DAY_NAMES[endDow]} ${time(this.endMs)}${tz}`;
    }
    const days = DAY_NAMES.filter((_, d) => this.startsOn[d]);
    const on = days.length === 7 ? "" : ` on ${days.join(",")}`;
    return `daily ${time(this.startMs)} - ${time(this.endMs)}${on}${tz}`;
  }

  /** Makes the cache describe the window with the latest start at or before `t`. */
  private locate(t: number): void {
    if (t >= this.cacheStart && t < this.cacheNext) return;
    if (!Number.isFinite(t)) throw new RangeError(`session schedule: time ${t} is not a finite epoch ms`);

    const clock = this.clock;
    const today = Math.floor(clock.toLocal(t) / DAY_MS);
    let day: number;
    let start: number;
    let nextDay: number;
    if (this.kind === "weekly") {
      day = today - ((dayOfWeek(today) - this.startDow + 7) % 7);
      start = clock.toInstant(day * DAY_MS + this.startMs);
      if (start > t) {
        day -= 7;
        start = clock.toInstant(day * DAY_MS + this.startMs);
      }
      nextDay = day + 7;
    } else {
      // Weekdays: a window belongs to the day it starts on, so one that crosses midnight runs on past the last day.
      day = today;
      for (;;) {
        if (this.startsOn[dayOfWeek(day)]) {
          start = clock.toInstant(day * DAY_MS + this.startMs);
          if (start <= t) break;
        }
        day -= 1;
      }
      nextDay = day + 1;
      while (!this.startsOn[dayOfWeek(nextDay)]) nextDay += 1;
    }
    const next = clock.toInstant(nextDay * DAY_MS + this.startMs);
    const end = clock.toInstant((day + this.endDayOffset) * DAY_MS + this.endMs);
    this.cacheStart = start;
    // Only a window whose both ends fall in or beside a DST gap can come out inverted; it then opens and closes
    // at once rather than running for a day.
    this.cacheEnd = Math.min(Math.max(end, start), next);
    this.cacheNext = next;
  }
}
