import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { MsgType } from "@fixmesh/fix";
import { runChaosCli } from "./cli.js";
import { dial, fixMessage, Target, waitFor } from "./testing.js";

/** Runs the CLI on in-memory streams; `lines` collects every JSON line it printed. */
function run(argv: string[]) {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const lines: Array<Record<string, unknown>> = [];
  let err = "";
  let buf = "";
  stdout.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      buf = buf.slice(i + 1);
    }
  });
  stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const controller = new AbortController();
  const done = runChaosCli(argv, { stdin, stdout, stderr, signal: controller.signal });
  return { stdin, lines, done, stderr: () => err, abort: () => controller.abort() };
}

describe("runChaosCli", () => {
  it("proxies, obeys commands from stdin and prints JSON events", async (t) => {
    const target = await Target.start();
    t.after(() => target.close());
    const cli = run(["--target", `127.0.0.1:${target.port}`, "--seed", "7"]);
    await waitFor(() => cli.lines.some((l) => l.event === "listening"), 2000, "listening");
    const listening = cli.lines.find((l) => l.event === "listening")!;
    const port = Number(String(listening.listen).split(":")[1]);
    const client = await dial(port);
    t.after(() => client.destroy());
    const server = await target.peer(0);

    cli.stdin.write("drop toClient 35=8 next 1\n");
    cli.stdin.write("bogus\n");
    await waitFor(() => cli.lines.some((l) => l.event === "error"), 2000, "error answer");
    for (let seq = 1; seq <= 3; seq++) server.write(fixMessage(MsgType.ExecutionReport, seq));
    await waitFor(() => client.messages().length === 2, 2000, "survivors");
    assert.deepEqual(client.seqs(), [2, 3]);

    cli.stdin.write("stats\n");
    await waitFor(() => cli.lines.some((l) => l.event === "stats"), 2000, "stats");
    cli.stdin.end();
    assert.equal(await cli.done, 0);

    const events = cli.lines.map((l) => (l.event === "fault" ? `fault:${l.kind}` : l.event));
    assert.deepEqual(events, ["listening", "connect", "ok", "error", "fault:drop", "stats", "disconnect", "stopped"]);
    assert.deepEqual(cli.lines[2].rules, [1]);
    assert.equal(cli.lines[3].error, "ControlCommandError");
    assert.equal(cli.lines[4].seq, 1);
    const stats = cli.lines[5] as { toClient: { dropped: number; forwarded: number } };
    assert.equal(stats.toClient.dropped, 1);
    assert.equal(stats.toClient.forwarded, 2);
  });

  it("stops on quit", async (t) => {
    const target = await Target.start();
    t.after(() => target.close());
    const cli = run(["--target", String(target.port)]);
    await waitFor(() => cli.lines.some((l) => l.event === "listening"), 2000, "listening");
    cli.stdin.write("quit\n");
    assert.equal(await cli.done, 0);
    assert.equal(cli.lines.at(-1)?.event, "stopped");
  });

  it("refuses a non-loopback target with exit code 2", async () => {
    const cli = run(["--target", "10.0.0.1:9001"]);
    assert.equal(await cli.done, 2);
    assert.match(cli.stderr(), /not a loopback address/);
  });

  it("refuses missing or malformed arguments with exit code 2", async () => {
    assert.equal(await run([]).done, 2);
    assert.equal(await run(["--target", "127.0.0.1:x"]).done, 2);
    assert.equal(await run(["--target", "127.0.0.1:9001", "--bogus"]).done, 2);
  });
});
