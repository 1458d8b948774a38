import type { SessionRunner } from "@fixmesh/engine";

/** The sessions a connector owns, by id (`FIX.4.4:SENDER->TARGET`, see `sessionIdOf`). */
export interface SessionRegistry {
  list(): SessionRunner[];
  get(id: string): SessionRunner | undefined;
}
