import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ChildConfig } from "./crash-child.js";
import { waitFor } from "./wait.js";

const SCRIPT = fileURLToPath(new URL("./crash-child.js", import.meta.url));

/**
 * A running crash child (`crash-child.ts`): its stdout lines as they come, what it persisted and received, and a
 * SIGKILL sent to its PID.
 */
export class Child {
  readonly lines: string[] = [];
  readonly persisted: string[] = [];
  readonly execs: Array<{ execId: string; seq: number; possDup: boolean }> = [];
  readonly exited: Promise<number | null>;
  private readonly proc: ChildProcess;
  private buf = "";
  private alive = true;

  constructor(cfg: ChildConfig) {
    this.proc = spawn(process.execPath, [SCRIPT, JSON.stringify(cfg)], { stdio: ["pipe", "pipe", "inherit"] });
    this.proc.stdout?.on("data", (d: Buffer) => this.onData(d));
    this.exited = new Promise((resolve) =>
      this.proc.on("exit", (code) => {
        this.alive = false;
        resolve(code);
      }),
    );
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  get running(): boolean {
    return this.alive;
  }

  /** Resolves with the first line (already seen or to come) that `match` accepts. */
  async line(match: (l: string) => boolean, ms: number, what: string): Promise<string> {
    await waitFor(() => this.lines.some(match) || !this.alive, ms, what);
    const l = this.lines.find(match);
    if (l === undefined) throw new Error(`the child exited before ${what}`);
    return l;
  }

  send(command: string): void {
    this.proc.stdin?.write(`${command}\n`);
  }

  /** Asks for its sequence numbers and resolves with the answer. */
  async state(): Promise<{ nextSender: number; nextTarget: number; health: string }> {
    const before = this.lines.length;
    this.send("state");
    await waitFor(() => this.lines.slice(before).some((l) => l.startsWith("state ")), 5000, "state answer");
    const [, s, t, h] = (this.lines.slice(before).find((l) => l.startsWith("state ")) ?? "").split(" ");
    return { nextSender: Number(s), nextTarget: Number(t), health: h };
  }

  /** SIGKILL, by PID; resolves once it is gone. */
  async kill(): Promise<void> {
    if (this.alive) process.kill(this.pid, "SIGKILL");
    await this.exited;
  }

  private onData(d: Buffer): void {
    this.buf += d.toString();
    for (let i = this.buf.indexOf("\n"); i >= 0; i = this.buf.indexOf("\n")) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      this.lines.push(line);
      const parts = line.split(" ");
      if (parts[0] === "persisted") this.persisted.push(parts[1]);
      else if (parts[0] === "exec")
        this.execs.push({ execId: parts[1], seq: Number(parts[2]), possDup: parts[3] === "Y" });
    }
  }
}
