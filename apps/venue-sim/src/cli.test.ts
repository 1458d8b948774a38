import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { runVenueSimCli } from "./cli.js";
import type { VenueSimConfigInput } from "./config.js";
import { startVenueSim } from "./sim.js";
import { startClient, waitFor } from "./testing/client.js";

const dir = mkdtempSync(join(tmpdir(), "venue-sim-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function sink() {
  const chunks: string[] = [];
  return { chunks, write: (s: string) => chunks.push(s), text: () => chunks.join("") };
}

describe("venue-sim command", () => {
  it('prints {"listening":PORT}, serves sessions from a file store, and stops cleanly on its signal', async () => {
    const file = join(dir, "venue.yaml");
    writeFileSync(
      file,
      [
        "listen: { port: 0 }",
        "store: { kind: file, dir: ./data }",
        "sessions:",
        "  - { BeginString: FIX.4.2, SenderCompID: VENUE, TargetCompID: CLIENT }",
      ].join("\n"),
    );
    const out = sink();
    const err = sink();
    const stop = new AbortController();
    const done = runVenueSimCli(["--config", file], { stdout: out, stderr: err, signal: stop.signal });
    await waitFor(() => out.text().includes("\n"), 3000, "the listening line");
    const { listening } = JSON.parse(out.text()) as { listening: number };
    assert.ok(listening > 0);
    const client = await startClient(listening, { beginString: "FIX.4.2", sender: "CLIENT" });
    await client.waitLive();
    await client.stop();
    stop.abort();
    assert.equal(await done, 0);
    assert.equal(err.text(), "", "no warnings");
  });

  it("takes fault commands on stdin with --control and answers each with a JSON line", async () => {
    const { PassThrough } = await import("node:stream");
    const file = join(dir, "control.yaml");
    writeFileSync(
      file,
      [
        "listen: { port: 0 }",
        "sessions:",
        "  - { BeginString: FIX.4.4, SenderCompID: VENUE, TargetCompID: CLIENT }",
      ].join("\n"),
    );
    const out = sink();
    const stdin = new PassThrough();
    const stop = new AbortController();
    const done = runVenueSimCli(["--config", file, "--control"], {
      stdout: out,
      stderr: sink(),
      signal: stop.signal,
      stdin,
    });
    await waitFor(() => out.text().includes("listening"), 3000, "the listening line");
    stdin.write("jump-seq 5\ncancel NOPE\nbogus\n");
    await waitFor(
      () =>
        out
          .text()
          .split("\n")
          .filter((l) => l.startsWith('{"ok"')).length === 3,
      3000,
      "three answers",
    );
    const answers = out
      .text()
      .split("\n")
      .filter((l) => l.startsWith('{"ok"'))
      .map((l) => JSON.parse(l) as { ok: boolean; result?: Record<string, unknown>; error?: string });
    assert.deepEqual(answers[0], { ok: true, command: "jump-seq 5", result: { nextSenderSeq: 6 } });
    assert.deepEqual(answers[1].result, { canceled: false });
    assert.equal(answers[2].ok, false);
    assert.match(answers[2].error ?? "", /unknown command "bogus"/);
    stop.abort();
    assert.equal(await done, 0);
  });

  it("exits 2 naming the field when the configuration is wrong", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(
      file,
      "sessions:\n  - { BeginString: FIX.4.4, SenderCompID: V, TargetCompID: C, HeartBtInt: often }\n",
    );
    const err = sink();
    assert.equal(await runVenueSimCli(["--config", file], { stdout: sink(), stderr: err }), 2);
    assert.match(err.text(), /^config sessions\[0\]\.HeartBtInt: must be a number, got "often"/);
    assert.equal(await runVenueSimCli([], { stdout: sink(), stderr: sink() }), 2, "no --config");
  });

  it("two runs have different start tokens, so ExecIDs and OrderIDs never repeat across restarts", async () => {
    const config: VenueSimConfigInput = {
      listen: { port: 0 },
      sessions: [{ BeginString: "FIX.4.4", SenderCompID: "V", TargetCompID: "C" }],
    };
    const a = await startVenueSim(config);
    await a.stop();
    const b = await startVenueSim(config);
    await b.stop();
    assert.notEqual(a.startToken, b.startToken);
  });
});
