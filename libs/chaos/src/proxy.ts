import { EventEmitter } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import type { FramerOptions } from "@fixmesh/fix";
import { checkLiteral, type Endpoint, formatEndpoint, resolveChecked } from "./address.js";
import { DirectionCore, DirectionFaults, type DirectionStats, type ProxyHost } from "./direction.js";
import { InvalidOptionError } from "./errors.js";
import type { ChaosEvents, CloseReason, FaultEvent } from "./events.js";
import { Flow } from "./flow.js";

export interface ChaosProxyOptions {
  /** Where clients connect. Default 127.0.0.1 on a free port (read it from `start()` or `address`). */
  listen?: { host?: string; port?: number };
  /** Where the proxy forwards: the FIX acceptor under test. */
  target: Endpoint;
  /**
   * Allow a listen or target address outside 127.0.0.0/8 and ::1. Off by default so that a test or a typo cannot
   * point the fault injector at a real venue.
   */
  allowNonLoopback?: boolean;
  /** Source of randomness for latency jitter and shuffled replays (default Math.random); pass a seeded one to replay a run. */
  random?: () => number;
  /** Largest FIX message framed, in bytes (default 1 MiB); a larger one is forwarded as garbled bytes. */
  maxMessageSize?: number;
}

export interface ConnectionInfo {
  /** Numbered from 1 in accept order; events name connections by this id. */
  id: number;
  /** The client's address and port. */
  remote: string;
  /** When it was accepted (ms since the epoch). */
  since: number;
}

export interface ChaosStats {
  connections: { accepted: number; refused: number; open: number };
  toServer: DirectionStats;
  toClient: DirectionStats;
}

/**
 * A FIX-aware fault-injection TCP proxy. Clients connect to it instead of to the target; each client connection gets
 * its own connection to the target, and the bytes in each direction are framed into whole FIX messages so faults act
 * on messages, never on half of one. Bytes that are not a valid message pass through as they are.
 *
 * ```ts
 * const proxy = new ChaosProxy({ target: { host: "127.0.0.1", port: venuePort } });
 * const { port } = await proxy.start();
 * proxy.toClient.drop({ msgType: MsgType.ExecutionReport, count: 1 });
 * ```
 */
export class ChaosProxy {
  /** Faults on the bytes the client sends to the target. */
  readonly toServer: DirectionFaults;
  /** Faults on the bytes the target sends back to the client. */
  readonly toClient: DirectionFaults;

  private readonly opts: ChaosProxyOptions;
  private readonly framerOptions: FramerOptions;
  private readonly cores: readonly [DirectionCore, DirectionCore];
  private readonly emitter = new EventEmitter();
  private readonly links = new Map<number, Link>();
  private server: Server | null = null;
  private bound: Endpoint | null = null;
  private targetAddress = "";
  private stopping = false;
  private refusing = false;
  private isPartitioned = false;
  private partitionTimer: NodeJS.Timeout | null = null;
  private healWaiters: Array<() => void> = [];
  private nextConnection = 1;
  private ruleIds = 1;
  private accepted = 0;
  private refused = 0;

  constructor(opts: ChaosProxyOptions) {
    const allow = opts.allowNonLoopback === true;
    checkPort("target.port", opts.target.port, false);
    checkPort("listen.port", opts.listen?.port ?? 0, true);
    checkLiteral("target", opts.target.host, allow);
    checkLiteral("listen", opts.listen?.host ?? "127.0.0.1", allow);
    this.opts = opts;
    this.framerOptions = opts.maxMessageSize === undefined ? {} : { maxMessageSize: opts.maxMessageSize };
    const random = opts.random ?? Math.random;
    const host: ProxyHost = {
      emit: (e) => this.emitter.emit("fault", e),
      random,
      nextRuleId: () => this.ruleIds++,
      partitioned: () => this.isPartitioned,
    };
    this.cores = [new DirectionCore("toServer", host), new DirectionCore("toClient", host)];
    this.toServer = new DirectionFaults(this.cores[0]);
    this.toClient = new DirectionFaults(this.cores[1]);
  }

  /** Where the proxy listens (after `start()`). */
  get address(): Endpoint {
    if (this.bound === null) throw new Error("ChaosProxy is not started");
    return { ...this.bound };
  }

  get port(): number {
    return this.address.port;
  }

  get partitioned(): boolean {
    return this.isPartitioned;
  }

  /** Checks and resolves the addresses (loopback only unless allowed), then listens. Resolves with where it listens. */
  async start(): Promise<Endpoint> {
    if (this.server !== null) throw new Error("ChaosProxy is already started");
    const allow = this.opts.allowNonLoopback === true;
    this.targetAddress = await resolveChecked("target", this.opts.target.host, allow);
    const listenHost = await resolveChecked("listen", this.opts.listen?.host ?? "127.0.0.1", allow);
    const server = createServer({ allowHalfOpen: true }, (s) => this.onClient(s));
    this.server = server;
    this.stopping = false;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.listen?.port ?? 0, listenHost, () => {
        server.off("error", reject);
        resolve();
      });
    }).catch((e: unknown) => {
      this.server = null;
      throw e;
    });
    const a = server.address();
    if (a === null || typeof a === "string") throw new Error(`unexpected listen address ${String(a)}`);
    this.bound = { host: a.address, port: a.port };
    return { ...this.bound };
  }

  /** Closes every connection and stops listening. Pending partitions heal (their promises resolve). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.endPartition();
    for (const link of [...this.links.values()]) link.close("stopped");
    const s = this.server;
    this.server = null;
    if (s !== null) await new Promise<void>((r) => s.close(() => r()));
  }

  /**
   * Destroys every connection now, both sides (the proxy keeps listening; clients may reconnect). With `reset` the
   * sockets are closed with RST rather than FIN. Returns how many connections were cut.
   */
  cut(opts: { reset?: boolean } = {}): number {
    const reset = opts.reset === true;
    const links = [...this.links.values()];
    for (const link of links) link.close("cut", undefined, reset);
    this.emitter.emit("fault", { kind: "cut", connections: links.length, reset } satisfies FaultEvent);
    return links.length;
  }

  /** Stalls both directions (see `DirectionFaults.stall`): the link looks alive and carries nothing. */
  stall(opts: { discard?: boolean } = {}): void {
    this.toServer.stall(opts);
    this.toClient.stall(opts);
  }

  /** Resumes both directions. */
  resume(): void {
    this.toServer.resume();
    this.toClient.resume();
  }

  /**
   * Stalls both directions of every connection for `ms`, then heals: bytes are held, not lost, as TCP would deliver
   * them once the network is back. Connections still open meanwhile (the partition is per byte flow) unless
   * `refuseConnections(true)`. Resolves when healed. A second call while partitioned restarts the clock.
   */
  partition(ms: number): Promise<void> {
    if (!(Number.isFinite(ms) && ms >= 0)) throw new InvalidOptionError("partition", `ms must be ≥ 0, got ${ms}`);
    this.isPartitioned = true;
    if (this.partitionTimer !== null) clearTimeout(this.partitionTimer);
    this.partitionTimer = setTimeout(() => this.heal(), ms);
    this.emitter.emit("fault", { kind: "partition", ms } satisfies FaultEvent);
    return new Promise<void>((resolve) => this.healWaiters.push(resolve));
  }

  /** Ends a partition now; what was held flows in order (except in a direction that is itself stalled). */
  heal(): void {
    if (!this.isPartitioned) return;
    this.endPartition();
    let released = 0;
    for (const c of this.cores) if (c.stall === null) released += c.queuedMessages();
    this.emitter.emit("fault", { kind: "heal", released } satisfies FaultEvent);
    for (const c of this.cores) c.pumpAll();
  }

  /** While on, a new client connection is accepted and reset at once (existing connections are not touched). */
  refuseConnections(on = true): void {
    this.refusing = on;
    this.emitter.emit("fault", { kind: "refuseConnections", on } satisfies FaultEvent);
  }

  /** Back to a clean proxy: heals, accepts connections and clears both directions. Connections stay up. */
  reset(): void {
    this.heal();
    if (this.refusing) this.refuseConnections(false);
    this.toServer.clear();
    this.toClient.clear();
  }

  stats(): ChaosStats {
    return {
      connections: { accepted: this.accepted, refused: this.refused, open: this.links.size },
      toServer: this.toServer.stats(),
      toClient: this.toClient.stats(),
    };
  }

  /** The connection pairs open now. */
  connections(): ConnectionInfo[] {
    return [...this.links.values()].map((l) => l.info);
  }

  on<K extends keyof ChaosEvents>(event: K, listener: (e: ChaosEvents[K]) => void): this {
    this.emitter.on(event, listener);
    return this;
  }

  once<K extends keyof ChaosEvents>(event: K, listener: (e: ChaosEvents[K]) => void): this {
    this.emitter.once(event, listener);
    return this;
  }

  off<K extends keyof ChaosEvents>(event: K, listener: (e: ChaosEvents[K]) => void): this {
    this.emitter.off(event, listener);
    return this;
  }

  private endPartition(): void {
    this.isPartitioned = false;
    if (this.partitionTimer !== null) clearTimeout(this.partitionTimer);
    this.partitionTimer = null;
    const waiters = this.healWaiters;
    this.healWaiters = [];
    for (const w of waiters) w();
  }

  private onClient(client: Socket): void {
    const remote = formatEndpoint({ host: client.remoteAddress ?? "?", port: client.remotePort ?? 0 });
    if (this.stopping || this.refusing || this.server === null) {
      this.refused++;
      // The reset is the point; an error the client's side of it raises here (EPIPE, ECONNRESET) says nothing new.
      client.on("error", () => undefined);
      client.resetAndDestroy();
      this.emitter.emit("fault", { kind: "refuse", remote } satisfies FaultEvent);
      return;
    }
    this.accepted++;
    const id = this.nextConnection++;
    const upstream = connect({ host: this.targetAddress, port: this.opts.target.port, allowHalfOpen: true });
    const link = new Link(
      { id, remote, since: Date.now() },
      client,
      upstream,
      this.cores,
      this.framerOptions,
      (r, e) => {
        this.links.delete(id);
        this.emitter.emit(
          "disconnect",
          e === undefined ? { connection: id, reason: r } : { connection: id, reason: r, error: e },
        );
      },
    );
    this.links.set(id, link);
    this.emitter.emit("connect", { connection: id, remote });
  }
}

/** A client connection and the proxy's connection to the target for it: they live and die together. */
class Link {
  private readonly up: Flow;
  private readonly down: Flow;
  private closed = false;

  constructor(
    readonly info: ConnectionInfo,
    private readonly client: Socket,
    private readonly upstream: Socket,
    cores: readonly [DirectionCore, DirectionCore],
    framerOptions: FramerOptions,
    private readonly onClose: (reason: CloseReason, error?: string) => void,
  ) {
    this.up = new Flow(cores[0], info.id, upstream, framerOptions);
    this.down = new Flow(cores[1], info.id, client, framerOptions);
    for (const [source, flow] of [
      [client, this.up],
      [upstream, this.down],
    ] as const) {
      // Without delay: latency is the proxy's to add, and one-byte writes must not wait for Nagle.
      source.setNoDelay(true);
      source.on("data", (d: Buffer) => flow.onData(d));
      source.on("end", () => flow.onEnd());
      source.on("error", (e) => this.close("error", e.message));
      // A side fully closed: both FINs went through it. The other side closes the same way once the flow into it
      // has passed on everything and its FIN (latency may hold that back); the pair ends when both flows are done.
      source.on("close", () => {
        if (this.up.finished && this.down.finished) this.close("closed");
      });
    }
  }

  close(reason: CloseReason, error?: string, reset = false): void {
    if (this.closed) return;
    this.closed = true;
    this.up.close();
    this.down.close();
    for (const s of [this.client, this.upstream]) {
      if (reset && !s.destroyed) s.resetAndDestroy();
      else s.destroy();
    }
    this.onClose(reason, error);
  }
}

function checkPort(option: string, port: number, zeroOk: boolean): void {
  if (!(Number.isInteger(port) && port >= (zeroOk ? 0 : 1) && port <= 65535)) {
    throw new InvalidOptionError(option, `must be a port number${zeroOk ? " (0: any free port)" : ""}, got ${port}`);
  }
}
