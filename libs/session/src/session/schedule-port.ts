/** What the session core needs of a schedule (implemented by `SessionSchedule`). */
export interface SessionSchedulePort {
  isInSession(nowMs: number): boolean;
  isSameSession(aMs: number, bMs: number): boolean;
}
