/**
 * stopOnSignal in a real child process: SIGTERM runs the graceful stop (exit 0); a stop that hangs is cut short by
 * a second signal (exit 1, said on stderr); a stop that fails is exit 1 with the reason.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";

const SIGNALS = new URL("./signals.js", import.meta.url).href;

/** A child that waits for a signal, then stops in the way `stop` says; resolves with its exit code and stderr. */
function child(stop: "quick" | "hang" | "fail", signals: number): Promise<{ code: number | null; stderr: string }> {
  const body = {
    quick: "async () => undefined",
    hang: "() => new Promise(() => undefined)",
    fail: "async () => { throw new Error('the store would not close'); }",
  }[stop];
  const script = `
    const { stopOnSignal, lineSignalLogger } = await import(${JSON.stringify(SIGNALS)});
    const keep = setInterval(() => undefined, 1000);
    const stopped = stopOnSignal(lineSignalLogger("svc", (l) => process.stderr.write(l + "\\n")), ${body}, "stopped with errors");
    // Only now that the handlers are in place may the test signal.
    process.stdout.write("ready\\n");
    const code = await stopped;
    clearInterval(keep);
    process.exit(code);
  `;
  const p = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  p.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      p.kill("SIGKILL");
      reject(new Error(`the child did not exit (stderr: ${stderr})`));
    }, 10_000);
    p.stdout.once("data", async () => {
      for (let i = 0; i < signals; i++) {
        p.kill("SIGTERM");
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    p.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe("stopOnSignal", { timeout: 30_000 }, () => {
  it("stops gracefully on SIGTERM: exit 0", async () => {
    assert.deepEqual(await child("quick", 1), { code: 0, stderr: "" });
  });

  it("a second signal while the stop hangs exits at once with 1, saying so", async () => {
    const r = await child("hang", 2);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /svc: second signal while stopping; exiting without waiting/);
  });

  it("a stop that fails is exit 1 with the reason", async () => {
    const r = await child("fail", 1);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /svc: stopped with errors: the store would not close/);
  });
});
