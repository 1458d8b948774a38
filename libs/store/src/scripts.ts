import { readFileSync } from "node:fs";
import type { Cluster, Redis } from "ioredis";

/**
 * The store's Lua scripts (`lua/*.lua` beside `src/` and `dist/`), defined on a client with ioredis's
 * `defineCommand`: each call is one EVALSHA (ioredis falls back to EVAL once when the server does not have the
 * script yet, e.g. after a restart). Every script declares all the keys it touches, which Redis Cluster requires;
 * they share the session's hash tag, so one node runs each script atomically.
 */

const dir = new URL("../lua/", import.meta.url);
const read = (file: string) => readFileSync(new URL(file, dir), "utf8");
const guard = read("guard.lua");

/** Reply of the scripts that return a session's state: HMGET of the five meta fields and `safe`. */
export type StateReply = (string | null)[];

export interface StoreCommands {
  fixmeshStoreOpen(meta: string, cycle: string, now: string): Promise<StateReply>;
  fixmeshStoreFence(meta: string, epoch: string): Promise<StateReply>;
  fixmeshStoreGroupCommit(
    meta: string,
    out: string,
    outbox: string,
    idem: string,
    idemAt: string,
    ...args: (string | Buffer)[]
  ): Promise<unknown>;
  fixmeshStoreAckOutbox(meta: string, outbox: string, epoch: string, cycle: string, upTo: string): Promise<unknown>;
  fixmeshStoreSetSequences(
    meta: string,
    epoch: string,
    cycle: string,
    sender: string,
    target: string,
  ): Promise<unknown>;
  fixmeshStoreTrim(meta: string, out: string, epoch: string, cycle: string, below: string): Promise<unknown>;
  fixmeshStoreSetSafe(meta: string, epoch: string, cycle: string, safe: "0" | "1", reason: string): Promise<unknown>;
  fixmeshStoreReset(
    meta: string,
    oldOut: string,
    newOut: string,
    epoch: string,
    cycle: string,
    newCycle: string,
    now: string,
    sender: string,
    target: string,
  ): Promise<StateReply>;
}

const SCRIPTS: Record<keyof StoreCommands, { numberOfKeys: number; lua: string }> = {
  fixmeshStoreOpen: { numberOfKeys: 1, lua: read("open.lua") },
  fixmeshStoreFence: { numberOfKeys: 1, lua: read("fence.lua") },
  fixmeshStoreGroupCommit: { numberOfKeys: 5, lua: guard + read("group-commit.lua") },
  fixmeshStoreAckOutbox: { numberOfKeys: 2, lua: guard + read("ack-outbox.lua") },
  fixmeshStoreSetSequences: { numberOfKeys: 1, lua: guard + read("set-sequences.lua") },
  fixmeshStoreTrim: { numberOfKeys: 2, lua: guard + read("trim.lua") },
  fixmeshStoreSetSafe: { numberOfKeys: 1, lua: guard + read("set-safe.lua") },
  fixmeshStoreReset: { numberOfKeys: 3, lua: guard + read("reset.lua") },
};

const defined = new WeakSet<Redis | Cluster>();

/** `client` with the store's commands defined on it (once per client, however many sessions share it). */
export function withScripts(client: Redis | Cluster): (Redis | Cluster) & StoreCommands {
  if (!defined.has(client)) {
    for (const [name, def] of Object.entries(SCRIPTS)) client.defineCommand(name, def);
    defined.add(client);
  }
  return client as (Redis | Cluster) & StoreCommands;
}
