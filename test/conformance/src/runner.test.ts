import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type FakeAcceptor, type Handler, sessionLike, stamp, startFakeAcceptor } from "./fake-acceptor.js";
import { type RunOptions, runAll, runFolder, runScript } from "./runner.js";

const root = mkdtempSync(join(tmpdir(), "fixmesh-runner-"));

/** Writes a script (`|` stands for SOH) as `<root>/<folder>/<name>.def` and returns its path. */
function script(folder: string, name: string, lines: string[]): string {
  mkdirSync(join(root, folder), { recursive: true });
  const path = join(root, folder, `${name}.def`);
  writeFileSync(path, Buffer.from(lines.join("\n").replaceAll("|", "\x01"), "latin1"));
  return path;
}

const LOGON = "I8=FIX.4.2|35=A|34=1|49=TW42|52=<TIME>|56=ISLD|98=0|108=30|";
const LOGON_ANSWER = "E8=FIX.4.2|9=63|35=A|34=1|49=ISLD|52=00000000-00:00:00.000|56=TW42|98=0|108=30|10=0|";
const LOGOUT = "I8=FIX.4.2|35=5|34=2|49=TW42|52=<TIME>|56=ISLD|";
const LOGOUT_ANSWER = "E8=FIX.4.2|9=51|35=5|34=2|49=ISLD|52=00000000-00:00:00.000|56=TW42|10=0|";
const testRequest = (seq: number, id: string) => `I8=FIX.4.2|35=1|34=${seq}|49=TW42|52=<TIME>|56=ISLD|112=${id}|`;

let acceptor: FakeAcceptor;
// Shared acceptor with the usual behaviour; tests that need another one start their own.
before(async () => {
  acceptor = await startFakeAcceptor(sessionLike);
});
after(() => acceptor.close());

const opts = (port: number, extra: Partial<RunOptions> = {}): RunOptions => ({
  host: "127.0.0.1",
  port,
  timeoutMs: 2000,
  pauseMs: 10,
  ...extra,
});

async function withAcceptor<T>(handler: Handler, body: (a: FakeAcceptor) => Promise<T>): Promise<T> {
  const a = await startFakeAcceptor(handler);
  try {
    return await body(a);
  } finally {
    await a.close();
  }
}

test("a logon/logout script against a matching acceptor passes", async () => {
  const path = script("fix42", "1a_Pass", ["iCONNECT", LOGON, LOGON_ANSWER, LOGOUT, LOGOUT_ANSWER, "eDISCONNECT"]);
  const r = await runScript(path, opts(acceptor.port));
  assert.equal(r.failure, undefined);
  assert.equal(r.passed, true);
  assert.equal(r.name, "fix42/1a_Pass");
});

test("<TIME> in an I line goes out as the current UTC time in seconds", async () => {
  const seen: string[] = [];
  await withAcceptor(
    (m, f, c) => {
      seen.push(f.get("52") ?? "");
      sessionLike(m, f, c);
    },
    async (a) => {
      const path = script("fix42", "time", ["iCONNECT", LOGON, LOGON_ANSWER]);
      assert.equal((await runScript(path, opts(a.port))).passed, true);
    },
  );
  assert.equal(seen.length, 1);
  assert.match(seen[0], /^\d{8}-\d{2}:\d{2}:\d{2}$/);
  const t = seen[0];
  const sent = Date.parse(`${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(9)}Z`);
  assert.ok(Math.abs(Date.now() - sent) < 5000, `${t} is now`);
});

test("a value that differs fails at that E line with both messages and the field", async () => {
  const wrong = LOGON_ANSWER.replace("108=30", "108=31");
  const path = script("fix42", "value", ["iCONNECT", LOGON, "# the answer", wrong, LOGOUT, LOGOUT_ANSWER]);
  const r = await runScript(path, opts(acceptor.port));
  assert.equal(r.passed, false);
  assert.equal(r.failure?.line, 4);
  assert.equal(r.failure?.field, 8);
  assert.match(r.failure?.detail ?? "", /tag 108: expected "108=31", received "108=30"/);
  assert.equal(r.failure?.expected, wrong.slice(1));
  assert.match(r.failure?.received ?? "", /^8=FIX\.4\.2\|9=63\|35=A\|.*\|108=30\|10=\d{3}\|$/);
  assert.equal(r.failure?.step, wrong);
});

test("eDISCONNECT passes when the acceptor closes without a word (FIN)", async () => {
  const path = script("fix42", "1c", ["iCONNECT", LOGON.replace("49=TW42", "49=WT"), "eDISCONNECT"]);
  const r = await runScript(path, opts(acceptor.port));
  assert.equal(r.failure, undefined);
});

test("eDISCONNECT passes when the acceptor resets the connection", async () => {
  await withAcceptor(
    (_m, _f, c) => c.reset(),
    async (a) => {
      const r = await runScript(script("fix42", "rst", ["iCONNECT", LOGON, "eDISCONNECT"]), opts(a.port));
      assert.equal(r.failure, undefined);
    },
  );
});

test("eDISCONNECT fails when a byte arrives before the close", async () => {
  // The acceptor answers the Logout and then closes; the script skipped the E for the answer.
  const path = script("fix42", "bytesFirst", ["iCONNECT", LOGON, LOGON_ANSWER, LOGOUT, "eDISCONNECT"]);
  const r = await runScript(path, opts(acceptor.port));
  assert.equal(r.passed, false);
  assert.equal(r.failure?.line, 5);
  assert.match(r.failure?.detail ?? "", /expected disconnect of connection 1, received data first/);
  assert.match(r.failure?.received ?? "", /^8=FIX\.4\.2\|9=51\|35=5\|/);
});

test("eDISCONNECT fails after the limit when the acceptor keeps the connection open", async () => {
  const path = script("fix42", "hang", ["iCONNECT", LOGON, LOGON_ANSWER, "eDISCONNECT"]);
  const r = await runScript(path, opts(acceptor.port, { timeoutMs: 200 }));
  assert.equal(r.failure?.line, 4);
  assert.match(r.failure?.detail ?? "", /still open after 200 ms/);
});

test("E times out with the partial data received so far", async () => {
  await withAcceptor(
    (_m, f, c) => {
      if (f.get("35") === "A") c.raw("8=FIX.4.2|9=63|35=A|34=1|");
    },
    async (a) => {
      const r = await runScript(
        script("fix42", "partial", ["iCONNECT", LOGON, LOGON_ANSWER]),
        opts(a.port, { timeoutMs: 200 }),
      );
      assert.equal(r.failure?.line, 3);
      assert.match(r.failure?.detail ?? "", /no complete message within 200 ms/);
      assert.equal(r.failure?.received, "8=FIX.4.2|9=63|35=A|34=1|");
      assert.match(r.failure?.expected ?? "", /^8=FIX\.4\.2\|9=63\|35=A\|/);
    },
  );
});

test("E times out showing (nothing) when nothing arrived", async () => {
  const path = script("fix42", "silence", [
    "iCONNECT",
    "I8=FIX.4.2|35=0|34=1|49=TW42|52=<TIME>|56=ISLD|",
    LOGON_ANSWER,
  ]);
  const r = await runScript(path, opts(acceptor.port, { timeoutMs: 150 }));
  assert.equal(r.failure?.received, "(nothing)");
});

test("E fails at once when the acceptor closes instead of answering", async () => {
  const path = script("fix42", "closed", ["iCONNECT", LOGON.replace("49=TW42", "49=WT"), LOGON_ANSWER]);
  const started = Date.now();
  const r = await runScript(path, opts(acceptor.port, { timeoutMs: 5000 }));
  assert.match(r.failure?.detail ?? "", /connection 1 closed by the acceptor/);
  assert.ok(Date.now() - started < 2000);
});

test("a received message with a wrong CheckSum fails even though 10 is pattern-compared", async () => {
  await withAcceptor(
    (_m, f, c) => {
      if (f.get("35") !== "A") return;
      c.raw(`8=FIX.4.2|9=63|35=A|34=1|49=ISLD|52=${stamp()}|56=TW42|98=0|108=30|10=999|`);
    },
    async (a) => {
      const r = await runScript(script("fix42", "badsum", ["iCONNECT", LOGON, LOGON_ANSWER]), opts(a.port));
      assert.match(r.failure?.detail ?? "", /received CheckSum is 999 but the bytes sum to \d{3}/);
    },
  );
});

test("consecutive I lines reach the acceptor back to back, in one read", async () => {
  let conn: FakeAcceptor["connections"][number] | undefined;
  await withAcceptor(
    (m, f, c) => {
      conn = c;
      sessionLike(m, f, c);
    },
    async (a) => {
      const path = script("fix42", "burst", [
        "iCONNECT",
        LOGON,
        LOGON_ANSWER,
        testRequest(2, "one"),
        testRequest(3, "two"),
        testRequest(4, "three"),
        "E8=FIX.4.2|9=59|35=0|34=2|49=ISLD|52=00000000-00:00:00.000|56=TW42|112=one|10=0|",
      ]);
      const r = await runScript(path, opts(a.port));
      assert.equal(r.failure, undefined);
    },
  );
  const chunks = conn?.chunks.map((c) => c.toString("latin1")) ?? [];
  assert.equal(chunks.length, 2, "the Logon, then the three TestRequests together");
  assert.equal(chunks[1].match(/\x0135=1\x01/g)?.length, 3);
});

test("two connections: the second is closed by the acceptor while the first stays usable (1b)", async () => {
  let logons = 0;
  await withAcceptor(
    (m, f, c) => {
      // The second Logon is for a session already logged on: close that connection without a word.
      if (f.get("35") === "A" && ++logons === 2) return c.end();
      sessionLike(m, f, c);
    },
    async (a) => {
      const path = script("fix42", "1b", [
        "i1,CONNECT",
        LOGON.replace("I", "I1,"),
        LOGON_ANSWER.replace("E", "E1,"),
        "i2,CONNECT",
        LOGON.replace("I", "I2,"),
        "e2,DISCONNECT",
        LOGOUT.replace("I", "I1,"),
        LOGOUT_ANSWER.replace("E", "E1,"),
        "e1,DISCONNECT",
      ]);
      const r = await runScript(path, opts(a.port));
      assert.equal(r.failure, undefined);
    },
  );
});

test("a script reconnects on the same number after the acceptor closed it, and may send into a closed one", async () => {
  const path = script("fix42", "reconnect", [
    "iCONNECT",
    LOGON.replace("49=TW42", "49=WT"),
    "eDISCONNECT",
    // Writing after the close is not a failure by itself.
    LOGOUT,
    "iCONNECT",
    LOGON,
    LOGON_ANSWER,
    LOGOUT,
    LOGOUT_ANSWER,
    "eDISCONNECT",
  ]);
  const r = await runScript(path, opts(acceptor.port));
  assert.equal(r.failure, undefined);
});

test("iDISCONNECT right after I lines still delivers them, then closes", async () => {
  const seen: string[] = [];
  await withAcceptor(
    (m, f, c) => {
      seen.push(f.get("35") ?? "");
      if (f.get("35") === "A") sessionLike(m, f, c);
    },
    async (a) => {
      const path = script("fix42", "disconnect", [
        "iCONNECT",
        LOGON,
        LOGON_ANSWER,
        testRequest(2, "x"),
        LOGOUT,
        "iDISCONNECT",
      ]);
      const r = await runScript(path, opts(a.port));
      assert.equal(r.failure, undefined);
      await waitFor(() => seen.length === 3);
    },
  );
  assert.deepEqual(seen, ["A", "1", "5"]);
});

test("connections left open at the end of a script are closed, unread data unchecked", async () => {
  let ended = 0;
  await withAcceptor(
    (m, f, c) => {
      sessionLike(m, f, c);
      if (f.get("35") === "A") c.onEnd(() => ended++);
    },
    async (a) => {
      const r = await runScript(
        script("fix42", "leftover", ["iCONNECT", LOGON, testRequest(2, "unread")]),
        opts(a.port),
      );
      assert.equal(r.failure, undefined);
      await waitFor(() => ended === 1);
    },
  );
});

/** Polls until `cond` holds (at most 2 s). */
async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), "condition reached");
}

test("a step on a connection the script never opened fails", async () => {
  const r = await runScript(script("fix42", "noconn", ["iCONNECT", LOGON.replace("I", "I2,")]), opts(acceptor.port));
  assert.equal(r.failure?.line, 2);
  assert.match(r.failure?.detail ?? "", /connection 2 is not open/);
});

test("a <FILE:…> that cannot be read fails its step", async () => {
  const path = script("fix42", "nofile", ["iCONNECT", "I8=FIX.4.2|35=0|58=<FILE:does-not-exist.txt>|"]);
  const r = await runScript(path, opts(acceptor.port));
  assert.equal(r.failure?.line, 2);
  assert.match(r.failure?.detail ?? "", /<FILE:.*does-not-exist\.txt>: cannot read the file/);
});

test("a syntax error fails the script at its line, before connecting", async () => {
  const r = await runScript(script("fix42", "syntax", ["# x", "iCONNECT", "X nonsense"]), opts(acceptor.port));
  assert.equal(r.failure?.line, 3);
  assert.match(r.failure?.detail ?? "", /syntax error: unknown command/);
});

test("a refused connection fails the iCONNECT line", async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const r = await runScript(script("fix42", "refused", ["# x", "iCONNECT"]), opts(port));
  assert.equal(r.failure?.line, 2);
  assert.match(r.failure?.detail ?? "", /cannot connect to 127\.0\.0\.1:\d+/);
});

test("runFolder runs a folder's scripts in name order and reports each as it finishes", async () => {
  script("folderA", "1_pass", ["iCONNECT", LOGON, LOGON_ANSWER, LOGOUT, LOGOUT_ANSWER, "eDISCONNECT"]);
  script("folderA", "2_fail", ["iCONNECT", LOGON, LOGON_ANSWER.replace("98=0", "98=1")]);
  script("folderA", "3_pass", ["iCONNECT", LOGON, LOGON_ANSWER]);
  const seen: string[] = [];
  const results = await runFolder(join(root, "folderA"), opts(acceptor.port, { onResult: (r) => seen.push(r.name) }));
  assert.deepEqual(
    results.map((r) => [r.name, r.passed]),
    [
      ["folderA/1_pass", true],
      ["folderA/2_fail", false],
      ["folderA/3_pass", true],
    ],
  );
  assert.deepEqual(seen, ["folderA/1_pass", "folderA/2_fail", "folderA/3_pass"]);
  const filtered = await runFolder(join(root, "folderA"), opts(acceptor.port, { filter: "2_" }));
  assert.deepEqual(
    filtered.map((r) => r.name),
    ["folderA/2_fail"],
  );
});

test("runAll runs version folders in parallel and keeps them apart", async () => {
  for (const v of ["verX", "verY"]) {
    script(v, "a", ["iCONNECT", LOGON, LOGON_ANSWER, LOGOUT, LOGOUT_ANSWER, "eDISCONNECT"]);
    script(v, "b", ["iCONNECT", LOGON, LOGON_ANSWER]);
  }
  const all = await runAll(["verX", "verY"], { ...opts(acceptor.port), serverDir: root });
  assert.deepEqual(
    all.map((v) => [v.version, v.results.map((r) => `${r.name}:${r.passed}`)]),
    [
      ["verX", ["verX/a:true", "verX/b:true"]],
      ["verY", ["verY/a:true", "verY/b:true"]],
    ],
  );
});
