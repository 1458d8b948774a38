/**
 * What the trace tests share: the venue simulator (FIX 4.4 VENUE↔CLIENT, immediate fills), a connector
 * configuration for it, a test's own JetStream stream, and reading that stream's events with their headers.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Delivered, JetStreamBus, type Subscription } from "@fixmesh/bus";
import { parseVenueSimConfig, startVenueSim, type VenueSim } from "@fixmesh/venue-sim";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

export const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const SESSION = "FIX.4.4:CLIENT->VENUE";

export function rand(): string {
  return Math.random().toString(36).slice(2, 10);
}

/** A stream, subject prefix and Redis prefix no other test uses. */
export function testNames(): { stream: string; subjectPrefix: string; redisPrefix: string } {
  const r = rand();
  return { stream: `TRACETEST_${r}`, subjectPrefix: `tr_${r}`, redisPrefix: `fixmesh-trace-${r}` };
}

/** Deletes a test's JetStream stream (a stream another run never reads: without this, every run left one behind). */
export async function deleteTestStream(stream: string): Promise<void> {
  const nc = await connect({ servers: NATS_URL });
  try {
    await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false);
  } finally {
    await nc.close();
  }
}

export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function startVenue(): Promise<VenueSim> {
  return startVenueSim(
    parseVenueSimConfig({
      listen: { host: "127.0.0.1", port: 0 },
      sessions: [
        { BeginString: "FIX.4.4", SenderCompID: "VENUE", TargetCompID: "CLIENT", HeartBtInt: 30, NonStopSession: true },
      ],
      policy: { fill: "immediate", referencePrice: 100, priceBandPercent: 50 },
    }),
  );
}

/** One initiator session CLIENT→VENUE, memory store, events to `nats`; gRPC and metrics on free ports. */
export function connectorYaml(o: {
  venuePort: number;
  nats: { stream: string; subjectPrefix: string };
  grpcPort?: number;
}): string {
  return `${[
    "connector: { id: trace-test }",
    "store: { kind: memory }",
    "sessions:",
    "  - BeginString: FIX.4.4",
    "    SenderCompID: CLIENT",
    "    TargetCompID: VENUE",
    "    ConnectionType: initiator",
    "    HeartBtInt: 30",
    "    NonStopSession: Y",
    "    ReconnectInterval: 1",
    `    initiator: { hosts: [{ host: 127.0.0.1, port: ${o.venuePort} }] }`,
    `grpc: { plaintext: true, host: 127.0.0.1, port: ${o.grpcPort ?? 0} }`,
    "metrics: { host: 127.0.0.1, port: 0 }",
    `nats: { url: "${NATS_URL}", stream: ${o.nats.stream}, subjectPrefix: ${o.nats.subjectPrefix} }`,
    "log: { level: warn }",
  ].join("\n")}\n`;
}

/** The events of a test's stream as they arrive (from its first message), with their headers. */
export class StreamReader {
  private constructor(
    private readonly bus: JetStreamBus,
    readonly events: Delivered[],
    private readonly sub: Subscription,
  ) {}

  static async open(names: { stream: string; subjectPrefix: string }): Promise<StreamReader> {
    const bus = await JetStreamBus.connect({
      servers: NATS_URL,
      stream: names.stream,
      subjects: [`${names.subjectPrefix}.>`],
    });
    const events: Delivered[] = [];
    const sub = await bus.subscribe(`${names.subjectPrefix}.>`, (d) => events.push(d), { fromSeq: 1 });
    return new StreamReader(bus, events, sub);
  }

  /** Message events (in or out) whose ClOrdID is `clOrdId`. */
  ofOrder(clOrdId: string, dir: "in" | "out", msgType: string): Delivered[] {
    return this.events.filter((e) => {
      if (!e.subject.endsWith(`.${dir}.${msgType}`)) return false;
      const body = JSON.parse(Buffer.from(e.payload).toString("utf8")) as { clOrdId?: string };
      return body.clOrdId === clOrdId;
    });
  }

  /** Deletes the stream and disconnects. */
  async close(): Promise<void> {
    await this.sub.unsubscribe();
    await this.bus.deleteStream();
    await this.bus.close();
  }
}

/** The trace id and span id of a traceparent. */
export function ids(traceparent: string | undefined): { traceId: string; spanId: string } | undefined {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/.exec(traceparent ?? "");
  return m === null ? undefined : { traceId: m[1], spanId: m[2] };
}

// --- services as child processes --------------------------------------------------------------------------------

export const CLI = fileURLToPath(new URL("../../../apps/cli/dist/main.js", import.meta.url));

/** A `fixmesh <command>` child process: its stdout lines, its stderr, and a bounded stop by its PID. */
export class ServiceProcess {
  readonly stdout: string[] = [];
  stderr = "";
  readonly exited: Promise<number | null>;
  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    let buf = "";
    proc.stdout?.setEncoding("utf8").on("data", (d: string) => {
      buf += d;
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        this.stdout.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    proc.stderr?.setEncoding("utf8").on("data", (d: string) => {
      this.stderr += d;
    });
    this.exited = new Promise((resolve) => proc.once("exit", (code) => resolve(code)));
  }

  static start(name: string, args: string[], env: Record<string, string>): ServiceProcess {
    const proc = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    return new ServiceProcess(name, proc);
  }

  /** The first stdout line that parses as JSON and has `key` (e.g. the `listening` line with the ports). */
  async line<T>(key: string, ms = 20_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      for (const l of this.stdout) {
        try {
          const v = JSON.parse(l) as Record<string, unknown>;
          if (v !== null && typeof v === "object" && key in v) return v[key] as T;
        } catch {
          // a log line that is not JSON: not the one asked for
        }
      }
      if (this.proc.exitCode !== null) {
        throw new Error(`${this.name} exited with ${this.proc.exitCode} before printing "${key}": ${this.stderr}`);
      }
      if (Date.now() > end) throw new Error(`${this.name} printed no "${key}" line within ${ms} ms: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within `ms`; resolves with the exit code. */
  async stop(ms = 10_000): Promise<number | null> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.proc.exitCode;
    this.proc.kill("SIGTERM");
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), ms);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A temporary directory for a test's configuration files; `write` puts one in it, `remove` deletes it all. */
export function tempFiles(): { dir: string; write(name: string, text: string): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "fixmesh-trace-"));
  return {
    dir,
    write(name, text) {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
