/**
 * A short-lived lock file (`lock`, created with O_EXCL) that serialises the file store's metadata changes —
 * creating a cycle, fencing, resetting — between instances in any process on the host (or on a shared
 * volume). It is held for milliseconds, never for a store's lifetime: a lifetime lock would stop a new leader
 * from taking over a session whose old leader is hung, which is what fencing is for.
 */
import { randomBytes } from "node:crypto";
import { type FileHandle, link, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { StoreConflictError } from "../errors.js";

/** A lock older than this is taken to be a crashed holder's. Metadata changes take milliseconds. */
const STALE_MS = 10_000;
const WAIT_MS = 5_000;

/** Tokens of locks held by this process, to recognise a dead previous incarnation that had our pid. */
const heldHere = new Set<string>();

interface LockInfo {
  pid: number;
  host: string;
  token: string;
  what: string;
  since: number;
}

export async function withDirLock<T>(dir: string, what: string, fn: () => Promise<T>): Promise<T> {
  const path = join(dir, "lock");
  const me: LockInfo = { pid: process.pid, host: hostname(), token: randomBytes(8).toString("hex"), what, since: 0 };
  const deadline = Date.now() + WAIT_MS;
  // Registered before the file exists, so another instance in this process never takes it for a lock left
  // by a dead process that had our pid.
  heldHere.add(me.token);
  try {
    for (let delay = 1; !(await tryCreate(path, me)); delay = Math.min(delay * 2, 50)) {
      const holder = await readHolder(path);
      if (holder === undefined) continue; // released meanwhile
      if (await isStale(path, holder)) {
        await breakLock(path, holder.token);
        continue;
      }
      if (Date.now() > deadline) {
        throw new StoreConflictError(
          dir,
          `lock held by pid ${holder.pid} on ${holder.host} (${holder.what}) since ${new Date(holder.since).toISOString()}`,
        );
      }
      await sleep(delay);
    }
  } catch (err) {
    heldHere.delete(me.token);
    throw err;
  }
  try {
    return await fn();
  } finally {
    heldHere.delete(me.token);
    await release(path, me.token);
  }
}

/** Removes the lock if it is still ours (it is not if it was judged stale and broken). */
async function release(path: string, token: string): Promise<void> {
  const holder = await readHolder(path);
  if (holder?.token !== token) return;
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

/** Creates the lock file with our details; false if it exists. */
async function tryCreate(path: string, me: LockInfo): Promise<boolean> {
  me.since = Date.now();
  let fh: FileHandle;
  try {
    fh = await open(path, "wx");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
  try {
    await fh.writeFile(JSON.stringify(me));
  } catch (err) {
    await fh.close();
    await unlink(path);
    throw err;
  }
  await fh.close();
  return true;
}

async function readHolder(path: string): Promise<LockInfo | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as LockInfo;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    // Created but not yet written (or written by a holder that crashed in between): judge it by its age.
    if (err instanceof SyntaxError) return { pid: 0, host: "", token: "", what: "unknown", since: 0 };
    throw err;
  }
}

async function isStale(path: string, holder: LockInfo): Promise<boolean> {
  if (holder.host === hostname() && holder.pid > 0) {
    if (holder.pid === process.pid) return !heldHere.has(holder.token);
    if (!pidAlive(holder.pid)) return true;
  }
  try {
    return Date.now() - (await stat(path)).mtimeMs > STALE_MS;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Moves the stale lock aside (atomic: of two breakers racing, one renames, the other gets ENOENT). If what
 * was moved is not the lock judged stale (its holder released it and a new one was taken in between), it is
 * put back with link(), which fails rather than overwrite a lock taken meanwhile.
 */
async function breakLock(path: string, staleToken: string): Promise<void> {
  const aside = `${path}.stale-${randomBytes(4).toString("hex")}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  const moved = await readHolder(aside);
  if (moved !== undefined && moved.token !== staleToken) {
    try {
      await link(aside, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  await unlink(aside);
}
