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
import { CHECKPOINT_LENGTH } from "./record.js";
import { assertSameMessages, message, messages, NOW, storeSuite } from "./store-suite.js";

const SESSION = "FIX.4.4-ISLD-TW44";

const tempDir = () => mkdtemp(join(tmpdir(), "fixmesh-store-"));

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
        await writeFile(logPath, full.subarray(0, cut));
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
