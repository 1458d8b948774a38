/**
 * `fixmesh start` as a newcomer uses it: the embedded stack in a child process, and the CLI — each command its own
 * child process — placing an order, seeing it filled, the position it made and the transcript of what was sent and
 * received; then SIGTERM, and a clean exit.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("./main.js", import.meta.url));
const SESSION = "FIX.4.4:CLIENT->VENUE";
const dir = mkdtempSync(join(tmpdir(), "fixmesh-start-"));
const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  addresses: Record<string, string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `fixmesh start` on free ports; resolves once it prints that it runs (bounded). */
async function start(data: string, extra: string[] = []): Promise<Running> {
  const child = spawn(
    process.execPath,
    [
      MAIN,
      "start",
      "--data",
      data,
      "--order-entry-port",
      "0",
      "--risk-port",
      "0",
      "--audit-port",
      "0",
      "--connector-port",
      "0",
      ...extra,
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, OTEL_TRACES_EXPORTER: "none" } },
  );
  children.add(child);
  let out = "";
  let err = "";
  child.stdout?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on("data", (b: Buffer) => {
    err += b.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const by = Date.now() + 180_000; // a first start creates the PGlite database: slow on a busy machine
  while (!out.includes("Ctrl-C stops it.")) {
    if (child.exitCode !== null) assert.fail(`fixmesh start exited ${child.exitCode}:\n${out}\n${err}`);
    if (Date.now() > by) assert.fail(`fixmesh start did not come up within 180 s:\n${out}\n${err}`);
    await sleep(100);
  }
  const addresses: Record<string, string> = {};
  for (const name of ["order-entry", "risk", "audit", "connector", "venue"]) {
    const m = new RegExp(`^ {2}${name} +(127\\.0\\.0\\.1:\\d+) `, "m").exec(out);
    assert.ok(m, `no ${name} address in:\n${out}`);
    addresses[name] = m[1] as string;
  }
  return { child, stdout: () => out, stderr: () => err, addresses, exited };
}

/** One CLI command as its own process: exit code and output. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 120_000, encoding: "utf8" }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function stopAndExpectClean(r: Running): Promise<void> {
  r.child.kill("SIGTERM");
  const bounded = await Promise.race([r.exited, sleep(30_000).then(() => null)]);
  assert.ok(bounded, `fixmesh start did not exit within 30 s of SIGTERM:\n${r.stdout()}\n${r.stderr()}`);
  assert.deepEqual(bounded, { code: 0, signal: null }, `${r.stdout()}\n${r.stderr()}`);
  assert.match(r.stdout(), /stopped cleanly/);
}

describe("fixmesh start (the whole platform in one process)", { timeout: 600_000 }, () => {
  it("serves order entry, risk and audit: an order placed with the CLI fills, moves the position, is in the transcript; SIGTERM stops it cleanly", async () => {
    const data = join(dir, "a");
    const r = await start(data);
    const oe = r.addresses["order-entry"] as string;

    // Submit, as the README shows.
    const sub = await cli([
      "order",
      "submit",
      "--address",
      oe,
      "--session",
      SESSION,
      "--account",
      "ACC1",
      "--symbol",
      "IBM",
      "--side",
      "buy",
      "--qty",
      "100",
      "--price",
      "100.5",
      "--json",
    ]);
    assert.equal(sub.code, 0, sub.stderr);
    const submitted = JSON.parse(sub.stdout.trim().split("\n")[0] as string) as { orderId: string; clOrdId: string };
    assert.ok(submitted.orderId && submitted.clOrdId, sub.stdout);

    // Wait for FILLED through `order get --json` (bounded).
    let order: { status?: string; cumQty?: string; leavesQty?: string; avgPx?: string } = {};
    const by = Date.now() + 30_000;
    while (order.status !== "ORDER_STATUS_FILLED" && order.status !== "FILLED") {
      assert.ok(Date.now() < by, `order not filled within 30 s: ${JSON.stringify(order)}`);
      const g = await cli(["order", "get", "--address", oe, "--order", submitted.orderId, "--json"]);
      assert.equal(g.code, 0, g.stderr);
      order = JSON.parse(g.stdout.trim()) as typeof order;
      if (order.status !== "ORDER_STATUS_FILLED" && order.status !== "FILLED") await sleep(200);
    }
    assert.equal(order.cumQty, "100");
    assert.equal(order.avgPx, "100.5");

    // The position the fills made, through the risk CLI.
    let position: { netQty?: string; boughtQty?: string } | undefined;
    const pBy = Date.now() + 15_000;
    while (position?.netQty !== "100") {
      assert.ok(Date.now() < pBy, `position not 100 within 15 s: ${JSON.stringify(position)}`);
      const p = await cli([
        "risk",
        "positions",
        "--address",
        r.addresses.risk as string,
        "--account",
        "ACC1",
        "--json",
      ]);
      assert.equal(p.code, 0, p.stderr);
      const all = JSON.parse(p.stdout.trim()) as Array<{ symbol: string; netQty: string; boughtQty: string }>;
      position = all.find((x) => x.symbol === "IBM");
      if (position?.netQty !== "100") await sleep(200);
    }
    assert.equal(position.boughtQty, "100");

    // The transcript: our NewOrderSingle out, the venue's ExecutionReports in, for this ClOrdID.
    let transcript = "";
    const tBy = Date.now() + 15_000;
    for (;;) {
      const t = await cli(["audit", "transcript", "--address", r.addresses.audit as string, "--session", SESSION]);
      assert.equal(t.code, 0, t.stderr);
      transcript = t.stdout;
      const reports = transcript.split("\n").filter((l) => /<- \d+ 8\b/.test(l)).length;
      if (/-> \d+ D\b/.test(transcript) && reports >= 3) break;
      assert.ok(Date.now() < tBy, `transcript incomplete after 15 s:\n${transcript}`);
      await sleep(300);
    }
    assert.ok(transcript.includes(submitted.clOrdId), `ClOrdID ${submitted.clOrdId} not in:\n${transcript}`);
    assert.match(transcript, /-> \d+ D NewOrderSingle/);
    assert.match(transcript, /<- \d+ 8 ExecutionReport/);

    // The first terminal showed the order's life as it happened.
    assert.match(r.stdout(), /-> NewOrderSingle seq \d+ ClOrdID/);
    assert.match(r.stdout(), new RegExp(`${submitted.orderId} .*FILL -> FILLED 100/100`));

    await stopAndExpectClean(r);
    // The services' JSON logs went to the file, not to the terminal.
    assert.ok(readFileSync(join(data, "fixmesh.log"), "utf8").includes('"order-entry listening"'));
  });

  it("a second start on the same folder carries on: FIX sequence numbers continue and the transcript keeps the first run", async () => {
    const data = join(dir, "a");
    const r = await start(data, ["--quiet"]);
    const m = /LIVE \(next seq out (\d+), in (\d+)\)/.exec(r.stdout());
    assert.ok(m, r.stdout());
    assert.ok(Number(m[1]) > 3, `outbound sequence numbers restarted: ${m[0]}`);
    const t = await cli(["audit", "transcript", "--address", r.addresses.audit as string, "--session", SESSION]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /-> \d+ D NewOrderSingle/, "the first run's order is gone from the transcript");
    // The first run stored its last events before it exited: its Logout is in the transcript.
    assert.match(t.stdout, /-> \d+ 5 Logout/, "the first run's Logout was not stored before it exited");
    await stopAndExpectClean(r);
  });

  it("a port already taken fails the start, naming the service and the flag, with exit code 1", async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", () => r()));
    const port = (taken.address() as AddressInfo).port;
    try {
      const r = await cli([
        "start",
        "--data",
        join(dir, "a"),
        "--risk-port",
        String(port),
        "--order-entry-port",
        "0",
        "--audit-port",
        "0",
        "--connector-port",
        "0",
      ]);
      assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, /risk did not start: .*EADDRINUSE.*choose another port with --risk-port/);
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it("refuses a bad flag with a clear message and exit code 2", async () => {
    const bad = await cli(["start", "--risk-port", "http"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--risk-port: must be a port number from 0 to 65535, got "http"/);
    const demo = await cli(["start", "--orders", "3"]);
    assert.equal(demo.code, 2);
    assert.match(demo.stderr, /fixmesh demo/);
  });
});
