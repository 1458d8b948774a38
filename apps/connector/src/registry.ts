import type { SessionRunner } from "@fixmesh/engine";
import type { Leadership } from "./election/elected-session.js";

/** The sessions a connector owns, by id (`FIX.4.4:SENDER->TARGET`, see `sessionIdOf`). */
export interface SessionRegistry {
  /** The sessions this connector runs now: under election, those it leads. */
  list(): SessionRunner[];
  /** The session's runner; undefined when unknown here or, under election, on standby. */
  get(id: string): SessionRunner | undefined;
  /** Leadership of a session configured here (undefined for an unknown id). */
  leadership?(id: string): Leadership | undefined;
}
