import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { cp, mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { StaleEpochError, StoreConflictError, StoreCorruptError } from "../errors.js";
import { FileStore, type FsyncPolicy, sessionDirName } from "./file.js";
import { CHECKPOINT_LENGTH, encodeHeader } from "./record.js";
import type { OutboxEvent } from "./store.js";
import {
  assertGrowingPositions,
  assertSameEvents,
  assertSameMessages,
  event,
  events,
  message,
  messages,
  NOW,
  storeSuite,
} from "./store-suite.js";

const SESSION = "FIX.4.4-ISLD-TW44";

const tempDir = () => mkdtemp(join(tmpdir(), "fixmesh-store-"));

/**
 * Makes `path` hold the first `cut` bytes of `full`, as a new file (the previous one removed first), and checks that it
 * does. A CI run once found the bytes of the previous iteration's longer file behind the rewritten ones (a record
 * where the cut ended); a new file cannot keep them, and a rewrite that did not take fails here, not in the store.
 */
async function cutTo(path: string, full: Buffer, cut: number): Promise<void> {
  await rm(path, { force: true });
  await writeFile(path, full.subarray(0, cut));
  assert.equal((await stat(path)).size, cut, `the log cut at ${cut} has ${cut} bytes`);
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await tempDir();
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const store = (dir: string, fsync: FsyncPolicy = "never") => new FileStore({ dir, session: SESSION, fsync });

storeSuite("file", async () => {
  const dir = await tempDir();
  return { create: () => store(dir), dispose: () => rm(dir, { recursive: true, force: true }) };
});

/** The message bytes the crash test's child writes for `seq`; self-contained, its source goes to the child. */
function crashBody(seq: number): Buffer {
  return Buffer.from(`8=FIX.4.4\x0135=D\x0134=${seq}\x0111=${"o".repeat((seq % 97) * 40)}\x0110=000\x01`, "latin1");
}

/** Opens the store, checks it against what a commit log must look like, and returns the next sender seq. */
async function checkCrashLog(dir: string, acked: number): Promise<number> {
  const s = store(dir);
  try {
    const state = await s.open(NOW);
    assert.ok(state.nextSenderSeq >= acked, `acknowledged up to ${acked}, recovered ${state.nextSenderSeq}`);
    assert.equal(state.nextTargetSeq, 2 * state.nextSenderSeq, "both seqs come from the same checkpoint");
    const stored = await s.getRange(1, Number.MAX_SAFE_INTEGER);
    assert.equal(stored.length, state.nextSenderSeq - 1, "every seq below the next sender seq is stored");
    for (const m of stored) assert.ok(m.bytes.equals(crashBody(m.seq)), `seq ${m.seq} reads back exactly`);
    return state.nextSenderSeq;
  } finally {
    await s.close();
  }
}

describe("file store on disk", () => {
  it("keeps a session's files in one directory named after the session", async () => {
    await withDir(async (dir) => {
      const s = store(dir);
      await s.open(NOW);
      assert.equal(s.path, join(dir, SESSION));
      assert.equal(dirname(s.logPath!), s.path);
      assert.deepEqual((await readdir(s.path)).sort(), [basename(s.logPath!), "meta.json"].sort());
      await s.close();
    });
  });

  it("maps session ids to distinct, safe directory names", () => {
    assert.equal(sessionDirName("FIX.4.4-ISLD-TW44"), "FIX.4.4-ISLD-TW44");
    assert.equal(sessionDirName("FIXT.1.1:A/B->C"), "FIXT.1.1%3AA%2FB-%3EC");
    assert.equal(sessionDirName(".."), "%2E.");
    assert.notEqual(sessionDirName("a/b"), sessionDirName("a%2Fb"));
    const long = sessionDirName("X".repeat(300));
    assert.ok(long.length <= 200);
    assert.notEqual(long, sessionDirName(`${"X".repeat(299)}Y`));
  });

  it("a commit survives a reopen under every fsync policy", async () => {
    for (const fsync of ["always", "interval", "never"] as const) {
      await withDir(async (dir) => {
        const a = store(dir, fsync);
        await a.open(NOW);
        await a.commit({ outbound: messages(1, 16), nextSenderSeq: 17, nextTargetSeq: 3 });
        await a.close();
        const b = store(dir, fsync);
        assert.equal((await b.open(NOW)).nextSenderSeq, 17, fsync);
        assertSameMessages(await b.getRange(1, 16), messages(1, 16));
        await b.close();
      });
    }
  });

  it("the old cycle's log is deleted by a reset", async () => {
    await withDir(async (dir) => {
      const s = store(dir);
      await s.open(NOW);
      const old = s.logPath!;
      await s.reset(NOW + 1000);
      assert.notEqual(s.logPath, old);
      assert.deepEqual((await readdir(s.path)).sort(), [basename(s.logPath!), "meta.json"].sort());
      await s.close();
    });
  });
});

describe("file store crash safety", () => {
  it("a log cut at any byte of its last batch reopens at the batch before, and the next commit reads back after another reopen", async () => {
    await withDir(async (dir) => {
      const s = store(dir);
      await s.open(NOW);
      await s.commit({ outbound: messages(1, 3), nextSenderSeq: 4, nextTargetSeq: 2 });
      const logPath = s.logPath!;
      const before = (await stat(logPath)).size;
      await s.commit({ outbound: messages(4, 6), nextSenderSeq: 7, nextTargetSeq: 5 });
      await s.close();
      const full = await readFile(logPath);
      assert.ok(full.length - before > 100);
      for (let cut = before; cut < full.length; cut++) {
        await cutTo(logPath, full, cut);
        const a = store(dir);
        const state = await a.open(NOW);
        assert.equal(state.nextSenderSeq, 4, `cut at ${cut}`);
        assert.equal(state.nextTargetSeq, 2, `cut at ${cut}`);
        assertSameMessages(await a.getRange(1, 10), messages(1, 3));
        await a.commit({ outbound: [message(4, "AE")], nextSenderSeq: 5, nextTargetSeq: 3 });
        await a.close();
        const b = store(dir);
        const after = await b.open(NOW);
        assert.equal(after.nextSenderSeq, 5, `cut at ${cut}`);
        assert.equal(after.nextTargetSeq, 3, `cut at ${cut}`);
        assertSameMessages(await b.getRange(1, 10), [...messages(1, 3), message(4, "AE")]);
        await b.close();
      }
    });
  });

  it("opening a log with a torn tail leaves the file as it is; the next commit appends after the tail", async () => {
    await withDir(async (dir) => {
      const s = store(dir);
      await s.open(NOW);
      await s.commit({ outbound: messages(1, 3), nextSenderSeq: 4, nextTargetSeq: 2 });
      await s.commit({ outbound: messages(4, 6), nextSenderSeq: 7, nextTargetSeq: 5 });
      const logPath = s.logPath!;
      await s.close();
      const torn = (await readFile(logPath)).subarray(0, -7);
      await writeFile(logPath, torn);
      const a = store(dir);
      await a.open(NOW);
      assert.ok((await readFile(logPath)).equals(torn), "open does not write");
      await a.commit({ outbound: [], nextSenderSeq: 4, nextTargetSeq: 3 });
      await a.close();
      assert.ok((await readFile(logPath)).subarray(0, torn.length).equals(torn), "nothing was truncated");
    });
  });

  it("a flipped byte anywhere but the last record fails the open with StoreCorruptError naming the log; in the last record it reads as a torn tail", async () => {
    await withDir(async (dir) => {
      const s = store(dir);
      await s.open(NOW);
      await s.commit({ outbound: messages(1, 2), nextSenderSeq: 3, nextTargetSeq: 2 });
      await s.trim(2);
      await s.commit({ outbound: messages(3, 4), nextSenderSeq: 5, nextTargetSeq: 3 });
      await s.commit({ outbound: messages(5, 5), nextSenderSeq: 6, nextTargetSeq: 4 });
      const logPath = s.logPath!;
      await s.close();
      const full = await readFile(logPath);
      const lastRecord = full.length - CHECKPOINT_LENGTH;
      for (let at = 0; at < full.length; at++) {
        const damaged = Buffer.from(full);
        damaged[at] ^= 0x5a;
        await writeFile(logPath, damaged);
        const a = store(dir);
        if (at < lastRecord) {
          await assert.rejects(
            a.open(NOW),
            (e: unknown) => e instanceof StoreCorruptError && e.path === logPath && e.message.includes(logPath),
            `byte ${at}`,
          );
        } else {
          const state = await a.open(NOW);
          assert.equal(state.nextSenderSeq, 5, `byte ${at}`);
          assertSameMessages(await a.getRange(1, 10), messages(2, 4));
        }
        await a.close();
      }
    });
  });

  it("a message damaged on disk after the open fails getRange with StoreCorruptError", async () => {
    await withDir(async (dir) => {
      const s = store(dir);
      await s.open(NOW);
      await s.commit({ outbound: messages(1, 3), nextSenderSeq: 4, nextTargetSeq: 2 });
      const full = await readFile(s.logPath!);
      const at = full.indexOf(message(2).bytes) + 20;
      const fh = await open(s.logPath!, "r+");
      await fh.write(Buffer.from([full[at] ^ 1]), 0, 1, at);
      await fh.close();
      assertSameMessages(await s.getRange(3, 3), messages(3, 3));
      await assert.rejects(s.getRange(1, 3), (e: unknown) => e instanceof StoreCorruptError && e.path === s.logPath);
      await s.close();
    });
  });

  it("a writer killed with SIGKILL while committing reopens to a consistent prefix, again and again", async () => {
    await withDir(async (dir) => {
      const here = dirname(fileURLToPath(import.meta.url));
      const script = join(dir, "writer.mjs");
      await writeFile(
        script,
        `import { FileStore } from ${JSON.stringify(pathToFileURL(join(here, "file.js")).href)};
const body = ${crashBody.toString()};
const [dir, session, fsync] = process.argv.slice(2);
const store = new FileStore({ dir, session, fsync });
let next = (await store.open(Date.now())).nextSenderSeq;
for (;;) {
  const n = 1 + (next % 17);
  const outbound = [];
  for (let i = 0; i < n; i++) outbound.push({ seq: next + i, msgType: "D", bytes: body(next + i) });
  await store.commit({ outbound, nextSenderSeq: next + n, nextTargetSeq: 2 * (next + n) });
  next += n;
  process.stdout.write(next + "\\n");
}
`,
      );
      const data = join(dir, "data");
      await mkdir(data);
      let next = 1;
      for (const fsync of ["never", "always", "never"] as const) {
        const child = spawn(process.execPath, [script, data, SESSION, fsync], { stdio: ["ignore", "pipe", "inherit"] });
        let acked = 0;
        let text = "";
        // fsync=always pays one disk flush per commit (tens of ms on a busy VM): fewer commits keep it bounded.
        const target = next + (fsync === "always" ? 150 : 2500);
        const watchdog = setTimeout(() => child.kill("SIGKILL"), 30_000);
        child.stdout.setEncoding("utf8");
        child.stdout.on("data", (chunk: string) => {
          text += chunk;
          const lines = text.split("\n");
          text = lines.pop()!;
          if (lines.length > 0) acked = Number(lines[lines.length - 1]);
          if (acked >= target) child.kill("SIGKILL");
        });
        const [, signal] = await once(child, "exit");
        clearTimeout(watchdog);
        assert.equal(signal, "SIGKILL");
        assert.ok(acked >= target, `the child committed up to ${acked} before the watchdog`);
        next = await checkCrashLog(data, acked);
      }
    });
  });

  it("a reset that crashed after sealing the old log leaves the old cycle current and writable", async () => {
    await withDir(async (dir) => {
      const s = store(dir);
      const first = await s.open(NOW);
      await s.commit({ outbound: messages(1, 3), nextSenderSeq: 4, nextTargetSeq: 2 });
      const backup = join(dir, "backup");
      await cp(s.path, join(backup, sessionDirName(SESSION)), { recursive: true });
      const oldLog = await open(s.logPath!, "r");
      const oldName = basename(s.logPath!);
      await s.reset(NOW + 1000);
      // The reset sealed the old log and then deleted it; put the sealed log beside the old metadata: that is
      // the disk after a crash between sealing and switching metadata.
      await writeFile(join(backup, sessionDirName(SESSION), oldName), await oldLog.readFile());
      await oldLog.close();
      await s.close();
      const a = store(backup);
      assert.deepEqual(await a.open(NOW), { ...first, nextSenderSeq: 4, nextTargetSeq: 2 });
      await a.commit({ outbound: messages(4, 4), nextSenderSeq: 5, nextTargetSeq: 3 });
      await a.close();
      const b = store(backup);
      assert.equal((await b.open(NOW)).nextSenderSeq, 5);
      assertSameMessages(await b.getRange(1, 10), messages(1, 4));
      await b.close();
    });
  });
});

describe("file store with two writers on one directory", () => {
  it("two writers with the same epoch: each one's next commit after the other's fails with StoreConflictError", async () => {
    await withDir(async (dir) => {
      const a = store(dir);
      const b = store(dir);
      await a.open(NOW);
      await b.open(NOW);
      await a.commit({ outbound: messages(1, 1), nextSenderSeq: 2, nextTargetSeq: 1 });
      const conflict = (e: unknown) => e instanceof StoreConflictError;
      await assert.rejects(b.commit({ outbound: [message(1, "AE")], nextSenderSeq: 2, nextTargetSeq: 1 }), conflict);
      await assert.rejects(a.commit({ outbound: messages(2, 2), nextSenderSeq: 3, nextTargetSeq: 1 }), conflict);
      await a.close();
      await b.close();
    });
  });

  it("a writer still holding the log of a cycle another writer reset is refused", async () => {
    await withDir(async (dir) => {
      const a = store(dir);
      const b = store(dir);
      await a.open(NOW);
      await a.commit({ outbound: messages(1, 2), nextSenderSeq: 3, nextTargetSeq: 1 });
      await b.open(NOW);
      const fresh = await b.reset(NOW + 1000);
      await assert.rejects(
        a.commit({ outbound: messages(3, 3), nextSenderSeq: 4, nextTargetSeq: 1 }),
        (e: unknown) => e instanceof StoreConflictError,
      );
      await a.close();
      await b.close();
      const c = store(dir);
      assert.deepEqual(await c.open(NOW), fresh);
      assert.deepEqual(await c.getRange(1, 10), []);
      await c.close();
    });
  });

  it("a writer that opened a cycle another writer has since reset is refused once that one fenced", async () => {
    await withDir(async (dir) => {
      const a = store(dir);
      const b = store(dir);
      await a.open(NOW);
      await b.open(NOW);
      await b.fence(4);
      await b.reset(NOW + 1000);
      await assert.rejects(a.setSequences(5, 5), (e: unknown) => e instanceof StaleEpochError && e.currentEpoch === 4);
      await a.close();
      await b.close();
    });
  });

  it("fences racing from two instances are serialised: the higher epoch wins and the other writer is deposed", async () => {
    await withDir(async (dir) => {
      const a = store(dir);
      const b = store(dir);
      await a.open(NOW);
      await b.open(NOW);
      const [fa, fb] = await Promise.allSettled([a.fence(3), b.fence(4)]);
      assert.equal(fb.status, "fulfilled");
      if (fa.status === "rejected") assert.ok(fa.reason instanceof StaleEpochError);
      await assert.rejects(
        a.commit({ outbound: messages(1, 1), nextSenderSeq: 2, nextTargetSeq: 1 }),
        (e: unknown) => e instanceof StaleEpochError && e.currentEpoch === 4,
      );
      await b.commit({ outbound: messages(1, 1), nextSenderSeq: 2, nextTargetSeq: 1 });
      await a.close();
      await b.close();
      const c = store(dir);
      const state = await c.open(NOW);
      assert.equal(state.epoch, 4);
      assert.equal(state.nextSenderSeq, 2);
      await c.close();
    });
  });

  it("a metadata lock left by a dead process does not stop a fence", async () => {
    await withDir(async (dir) => {
      const s = store(dir);
      await s.open(NOW);
      const child = spawn(process.execPath, ["-e", "0"]);
      await once(child, "exit");
      const since = Date.now();
      await writeFile(
        join(s.path, "lock"),
        JSON.stringify({ pid: child.pid, host: hostname(), token: "dead", what: "fence", since }),
      );
      await s.fence(1);
      assert.ok(Date.now() - since < 1000, "did not wait for the lock to age");
      assert.deepEqual(
        (await readdir(s.path)).filter((n) => n.startsWith("lock")),
        [],
      );
      await s.close();
    });
  });
});

describe("file store outbox on disk", () => {
  it("a log cut at any byte of a commit unit carrying events keeps all of the unit's events or none", async () => {
    await withDir(async (dir) => {
      const s = store(dir);
      await s.open(NOW);
      await s.commit({ outbound: messages(1, 3), nextSenderSeq: 4, nextTargetSeq: 2, events: events(1, 2) });
      const kept = await s.readOutbox(10);
      const logPath = s.logPath!;
      const before = (await stat(logPath)).size;
      await s.commit({ outbound: messages(4, 5), nextSenderSeq: 6, nextTargetSeq: 3, events: events(3, 5) });
      const all = await s.readOutbox(10);
      await s.close();
      const full = await readFile(logPath);
      for (let cut = before; cut <= full.length; cut++) {
        await cutTo(logPath, full, cut);
        const a = store(dir);
        const state = await a.open(NOW);
        const whole = cut === full.length;
        assert.equal(state.nextSenderSeq, whole ? 6 : 4, `cut at ${cut}`);
        assert.deepEqual(await a.readOutbox(10), whole ? all : kept, `cut at ${cut}`);
        // The next commit (after a Discard voiding the torn unit) adds its events after the surviving ones.
        await a.commit({ outbound: [], nextSenderSeq: state.nextSenderSeq, nextTargetSeq: 9, events: events(6, 6) });
        await a.close();
        const b = store(dir);
        await b.open(NOW);
        const after = await b.readOutbox(10);
        assertSameEvents(after, whole ? events(1, 6) : [...events(1, 2), event(6)]);
        assert.deepEqual(after.slice(0, -1), whole ? all : kept, `cut at ${cut}`);
        assertGrowingPositions(after);
        await b.close();
      }
    });
  });

  it("a log cut at any byte of an ack unit either acknowledges or not", async () => {
    await withDir(async (dir) => {
      const s = store(dir);
      await s.open(NOW);
      await s.commit({ outbound: [], nextSenderSeq: 1, nextTargetSeq: 1, events: events(1, 3) });
      const all = await s.readOutbox(10);
      const logPath = s.logPath!;
      const before = (await stat(logPath)).size;
      await s.ackOutbox(all[1].pos);
      await s.close();
      const full = await readFile(logPath);
      for (let cut = before; cut <= full.length; cut++) {
        await cutTo(logPath, full, cut);
        const a = store(dir);
        await a.open(NOW);
        assert.deepEqual(await a.readOutbox(10), cut === full.length ? all.slice(2) : all, `cut at ${cut}`);
        await a.close();
      }
    });
  });

  it("a flipped byte in an event or ack record fails the open with StoreCorruptError; in the last record it reads as a torn tail", async () => {
    await withDir(async (dir) => {
      const s = store(dir);
      await s.open(NOW);
      await s.commit({ outbound: messages(1, 2), nextSenderSeq: 3, nextTargetSeq: 1, events: events(1, 2) });
      await s.ackOutbox((await s.readOutbox(1))[0].pos);
      await s.commit({ outbound: [], nextSenderSeq: 3, nextTargetSeq: 1, events: events(3, 3) });
      const expected = await s.readOutbox(10);
      await s.commit({ outbound: messages(3, 3), nextSenderSeq: 4, nextTargetSeq: 1, events: events(4, 4) });
      const logPath = s.logPath!;
      await s.close();
      const full = await readFile(logPath);
      const lastRecord = full.length - CHECKPOINT_LENGTH;
      for (let at = 0; at < full.length; at++) {
        const damaged = Buffer.from(full);
        damaged[at] ^= 0x5a;
        await writeFile(logPath, damaged);
        const a = store(dir);
        if (at < lastRecord) {
          await assert.rejects(
            a.open(NOW),
            (e: unknown) => e instanceof StoreCorruptError && e.path === logPath,
            `byte ${at}`,
          );
        } else {
          assert.equal((await a.open(NOW)).nextSenderSeq, 3, `byte ${at}`);
          assert.deepEqual(await a.readOutbox(10), expected, `byte ${at}`);
        }
        await a.close();
      }
    });
  });

  it("readOutbox reads the events from the log: one damaged on disk after the open fails it with StoreCorruptError", async () => {
    await withDir(async (dir) => {
      const s = store(dir);
      await s.open(NOW);
      await s.commit({ outbound: [], nextSenderSeq: 1, nextTargetSeq: 1, events: events(1, 3) });
      const full = await readFile(s.logPath!);
      const at = full.indexOf(event(2).payload) + 5;
      const fh = await open(s.logPath!, "r+");
      await fh.write(Buffer.from([full[at] ^ 1]), 0, 1, at);
      await fh.close();
      assertSameEvents(await s.readOutbox(1), events(1, 1));
      await assert.rejects(
        s.readOutbox(3),
        (e: unknown) => e instanceof StoreCorruptError && e.path === s.logPath && /outbox event 2/.test(e.message),
      );
      await s.close();
    });
  });

  it("a reset that crashes at any step leaves every unacknowledged event in the current log exactly once", async () => {
    await withDir(async (dir) => {
      const s = store(dir);
      const first = await s.open(NOW);
      await s.commit({ outbound: messages(1, 3), nextSenderSeq: 4, nextTargetSeq: 2, events: events(1, 3) });
      await s.commit({ outbound: messages(4, 4), nextSenderSeq: 5, nextTargetSeq: 3, events: events(4, 5) });
      await s.ackOutbox((await s.readOutbox(2))[1].pos);
      const unacked = await s.readOutbox(100);
      assertSameEvents(unacked, events(3, 5));
      const oldName = basename(s.logPath!);
      const oldMeta = await readFile(join(s.path, "meta.json"));
      const oldLog = await readFile(s.logPath!);
      // The reset seals the old log and then deletes it: read it through a handle opened before.
      const oldHandle = await open(s.logPath!, "r");
      const reset = await s.reset(NOW + 1000);
      const newName = basename(s.logPath!);
      const newLog = await readFile(s.logPath!);
      const newMeta = await readFile(join(s.path, "meta.json"));
      const sealedOld = await oldHandle.readFile();
      await oldHandle.close();
      await s.close();
      assert.ok(sealedOld.length > oldLog.length && sealedOld.subarray(0, oldLog.length).equals(oldLog));

      // The disk after a crash at each step of the reset: the new log being written (cut at every byte), the new
      // log complete, the old log sealed, metadata switched (the old log not yet deleted).
      const cases: { label: string; files: Record<string, Buffer>; cycle: string; goOn: boolean }[] = [];
      for (let cut = 0; cut < newLog.length; cut++) {
        cases.push({
          label: `new log cut at ${cut}`,
          files: { "meta.json": oldMeta, [oldName]: oldLog, [newName]: newLog.subarray(0, cut) },
          cycle: first.cycle,
          goOn: cut === 0 || cut === newLog.length >> 1,
        });
      }
      cases.push(
        {
          label: "new log written, old log not sealed",
          files: { "meta.json": oldMeta, [oldName]: oldLog, [newName]: newLog },
          cycle: first.cycle,
          goOn: true,
        },
        {
          label: "old log sealed, metadata not switched",
          files: { "meta.json": oldMeta, [oldName]: sealedOld, [newName]: newLog },
          cycle: first.cycle,
          goOn: true,
        },
        {
          label: "metadata switched, old log not deleted",
          files: { "meta.json": newMeta, [oldName]: sealedOld, [newName]: newLog },
          cycle: reset.cycle,
          goOn: true,
        },
      );
      for (const [i, c] of cases.entries()) {
        const root = join(dir, `crash-${i}`);
        const sessionDir = join(root, sessionDirName(SESSION));
        await mkdir(sessionDir, { recursive: true });
        for (const [name, data] of Object.entries(c.files)) await writeFile(join(sessionDir, name), data);
        const a = store(root);
        const state = await a.open(NOW);
        assert.equal(state.cycle, c.cycle, c.label);
        assert.deepEqual(await a.readOutbox(100), unacked, c.label);
        if (c.goOn) {
          // The session goes on from there: one more event, a reset that completes, a reopen.
          await a.commit({ outbound: [], nextSenderSeq: 9, nextTargetSeq: 9, events: events(6, 6) });
          await a.reset(NOW + 2000);
        }
        await a.close();
        if (c.goOn) {
          const b = store(root);
          await b.open(NOW);
          const after = await b.readOutbox(100);
          assertSameEvents(after, events(3, 6));
          assert.deepEqual(after.slice(0, 3), unacked, c.label);
          assertGrowingPositions(after);
          assert.equal((await readdir(b.path)).filter((n) => n.endsWith(".log")).length, 1, `${c.label}: one log left`);
          await b.close();
        }
        await rm(root, { recursive: true, force: true });
      }
    });
  });

  it("a reset carries a backlog larger than one carry unit: each event once, in order, with its position", async () => {
    await withDir(async (dir) => {
      const big = (n: number): OutboxEvent => ({ ...event(n), payload: Buffer.alloc(700, n & 0xff) });
      const s = store(dir);
      await s.open(NOW);
      for (let from = 1; from <= 12_000; from += 4000) {
        const batch = Array.from({ length: 4000 }, (_, i) => big(from + i));
        await s.commit({ outbound: [], nextSenderSeq: 1, nextTargetSeq: 1, events: batch });
      }
      await s.ackOutbox((await s.readOutbox(1000))[999].pos);
      const before = await s.readOutbox(Number.POSITIVE_INFINITY);
      assert.equal(before.length, 11_000);
      await s.reset(NOW + 1000);
      assert.deepEqual(await s.readOutbox(Number.POSITIVE_INFINITY), before);
      await s.close();
      const b = store(dir);
      await b.open(NOW);
      const after = await b.readOutbox(Number.POSITIVE_INFINITY);
      assert.deepEqual(after, before);
      assertSameEvents(after.slice(0, 2), [big(1001), big(1002)]);
      await b.close();
    });
  });

  it("a log written before the outbox (format 1 header) opens with an empty outbox and numbers events from 1", async () => {
    await withDir(async (dir) => {
      const s = store(dir);
      await s.open(NOW);
      await s.commit({ outbound: messages(1, 2), nextSenderSeq: 3, nextTargetSeq: 1 });
      const logPath = s.logPath!;
      await s.close();
      const full = await readFile(logPath);
      const headerLength = full.readUInt32LE(0);
      const { outboxPos: _, ...header } = JSON.parse(full.toString("utf8", 5, headerLength - 4));
      await writeFile(logPath, Buffer.concat([encodeHeader({ ...header, format: 1 }), full.subarray(headerLength)]));
      const a = store(dir);
      assert.equal((await a.open(NOW)).nextSenderSeq, 3);
      assertSameMessages(await a.getRange(1, 2), messages(1, 2));
      assert.deepEqual(await a.readOutbox(10), []);
      await a.commit({ outbound: [], nextSenderSeq: 3, nextTargetSeq: 1, events: events(1, 2) });
      assert.deepEqual(
        (await a.readOutbox(10)).map((e) => e.pos),
        [1, 2],
      );
      await a.close();
    });
  });
});
