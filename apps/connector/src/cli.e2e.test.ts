/**
 * The connector as a process: `fixmesh connector --config test/conformance/at-server.yaml --port 0`, driven by
 * the QuickFIX acceptance scripts and by one of our initiators, then stopped with SIGTERM.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { SessionRunner, tcpConnector } from "@fixmesh/engine";
import { type FixMessage, formatUtcTimestamp, MsgType, Tag } from "@fixmesh/fix";
import { Health, MemoryStore, resolveSettings, type SessionNotice } from "@fixmesh/session";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const CLI = join(REPO, "apps/cli/dist/main.js");
const AT_SERVER_YAML = join(REPO, "test/conformance/at-server.yaml");
const SERVER_DIR = join(REPO, "test/conformance/quickfix/definitions/server");

/** The conformance runner, imported by path (test/conformance depends on this package, not the other way). */
interface Runner {
  runScript(
    path: string,
    opts: { host: string; port: number; timeoutMs?: number },
  ): Promise<{ name: string; passed: boolean; failure?: { line: number; detail: string } }>;
}

/** Scripts that exercise the acceptance application (echo, BusinessMessageReject, PossResend) and validation. */
const SCRIPTS = [
  "fix44/1a_ValidLogonWithCorrectMsgSeqNum",
  "fix44/2r_UnregisteredMsgType",
  "fix44/14e_IncorrectEnumValue",
  "fix42/19a_PossResendMessageThatHAsAlreadyBeenSent",
  "fix40/2b_MsgSeqNumTooHigh",
  "fix50sp2/1a_ValidLogonWithCorrectMsgSeqNum",
];

const dataDir = mkdtempSync(join(tmpdir(), "fixmesh-e2e-"));
after(() => rmSync(dataDir, { recursive: true, force: true }));

interface Started {
  proc: ChildProcess;
  listening: { acceptor: number; acceptors: number[]; grpc: number | null };
  stdout: string[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startCli(args: string[]): Promise<Started> {
  const proc = spawn(process.execPath, [CLI, "connector", ...args], {
    cwd: REPO,
    env: {
      ...process.env,
      FIXMESH_DATA_DIR: dataDir,
      FIXMESH_GRPC_PORT: "0",
      FIXMESH_METRICS_PORT: "0",
      FIXMESH_LOG_LEVEL: "debug",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on("exit", (code, signal) => resolve({ code, signal })),
  );
  proc.stderr?.on("data", (d: Buffer) => stderr.push(d.toString()));
  return new Promise<Started>((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`no "listening" line within 10 s; stderr: ${stderr.join("")}`));
    }, 10_000);
    proc.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        stdout.push(line);
        if (line.startsWith('{"listening"')) {
          clearTimeout(timer);
          resolve({ proc, listening: JSON.parse(line).listening, stdout, stderr, exited });
        }
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening; stderr: ${stderr.join("")}`));
    });
  });
}

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("fixmesh connector (a real process)", () => {
  it("serves the acceptance scripts from at-server.yaml, then logs out and exits 0 on SIGTERM", async () => {
    const runner = (await import(join(REPO, "test/conformance/dist/runner.js"))) as Runner;
    const cli = await startCli(["--config", AT_SERVER_YAML, "--port", "0"]);
    let client: SessionRunner | undefined;
    try {
      const port = cli.listening.acceptor;
      assert.ok(port > 0 && port !== 5001, "--port 0 replaced the file's port with a free one");
      assert.deepEqual(cli.listening.acceptors, [port]);

      for (const s of SCRIPTS) {
        const r = await runner.runScript(join(SERVER_DIR, `${s}.def`), { host: "127.0.0.1", port, timeoutMs: 5000 });
        assert.ok(r.passed, `${r.name} failed at line ${r.failure?.line}: ${r.failure?.detail}`);
        await new Promise((res) => setTimeout(res, 50));
      }

      // One of our own initiators, logged on when the signal comes: it must receive the connector's Logout.
      const received: FixMessage[] = [];
      const notices: SessionNotice[] = [];
      client = await SessionRunner.start({
        settings: resolveSettings({
          BeginString: "FIX.4.4",
          SenderCompID: "TW44",
          TargetCompID: "ISLD",
          ConnectionType: "initiator",
          ResetOnLogon: true,
          ReconnectInterval: 30,
        }),
        store: new MemoryStore(),
        schedule: null,
        connect: tcpConnector([{ host: "127.0.0.1", port }]),
        app: { onMessage: (m) => received.push(m), onNotice: (n) => notices.push(n) },
      });
      const c = client;
      await waitFor(() => c.state.health === Health.Live, 5000, "logon to the connector");
      await c.send(MsgType.NewOrderSingle, [
        Tag.ClOrdID,
        "E2E-1",
        Tag.Symbol,
        "IBM",
        Tag.Side,
        "1",
        Tag.TransactTime,
        formatUtcTimestamp(Date.now()),
        Tag.OrderQty,
        "100",
        Tag.OrdType,
        "1",
      ]);
      await waitFor(() => received.length > 0, 5000, "the echo");
      assert.equal(received[0].msgType, MsgType.NewOrderSingle, "the acceptance application echoes the order");
      assert.equal(received[0].get(Tag.ClOrdID), "E2E-1");

      cli.proc.kill("SIGTERM");
      const exit = await cli.exited;
      assert.deepEqual(exit, { code: 0, signal: null }, `stderr: ${cli.stderr.join("")}`);
      assert.ok(
        notices.some((n) => n.kind === "logout" && n.initiatedBy === "them"),
        "the connector logged the session out before exiting",
      );
      assert.equal(cli.stderr.join(""), "");
      const logs = cli.stdout.filter((l) => l.startsWith('{"level"')).map((l) => JSON.parse(l));
      assert.ok(logs.some((l) => l.msg === "connector stopped"));
      assert.ok(
        logs.some((l) => l.msg === "in" && l.session === "FIX.4.4:ISLD->TW44" && l.msgType === "D" && l.seq === 2),
        "the inbound order is logged with session, seq and msgType",
      );
    } finally {
      await client?.stop(0);
      if (cli.proc.exitCode === null && cli.proc.signalCode === null) cli.proc.kill("SIGKILL");
    }
  });

  it("--port with an initiator-only configuration exits 2 and says why", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fixmesh-port-"));
    try {
      const file = join(dir, "initiator.yaml");
      writeFileSync(
        file,
        [
          "store: { kind: memory }",
          "sessions:",
          "  - { BeginString: FIX.4.4, SenderCompID: A, TargetCompID: B, ConnectionType: initiator,",
          "      initiator: { hosts: [{ host: 127.0.0.1, port: 9 }] } }",
          "",
        ].join("\n"),
      );
      const proc = spawn(process.execPath, [CLI, "connector", "--config", file, "--port", "5001"], {
        cwd: REPO,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      proc.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      const code = await new Promise<number | null>((resolve) => proc.on("exit", resolve));
      assert.equal(code, 2);
      assert.match(
        stderr,
        /--port: sets the port of the first acceptor \(acceptors\[0\]\), and this configuration has no acceptors/,
      );
      assert.match(stderr, /Remove --port, or add an acceptor/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a bad configuration exits 2 and names the field on stderr", async () => {
    const proc = spawn(process.execPath, [CLI, "connector", "--config", AT_SERVER_YAML, "--port", "99999"], {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    proc.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => proc.on("exit", resolve));
    assert.equal(code, 2);
    assert.match(
      stderr,
      /acceptors\[0\]\.port: must be a whole number from 0 to 65535 \(0 picks a free port\), got 99999 \(set by --port\)/,
    );
  });
});
