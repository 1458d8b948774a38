import { hostname } from "node:os";
import { DeposeCode, type Elector, type ElectorEvents } from "./elector.js";

export interface NoElectionOptions {
  /** The epoch to lead with; default 1 (above a store's 0, which no fence ever raised). */
  epoch?: number;
  identity?: string;
}

/**
 * A single instance: leader as soon as it starts, until it stops. For one process per session with nothing to
 * contend with (a laptop, a test); two of them on one session are not kept apart by anything but the store's
 * fencing, and only when their epochs differ.
 */
export class NoElection implements Elector {
  readonly kind = "none";
  readonly identity: string;
  readonly name = "none";
  readonly epoch: number;
  private leader = false;
  private started = false;
  private readonly listeners: { [E in keyof ElectorEvents]: Set<ElectorEvents[E]> } = {
    elected: new Set(),
    deposed: new Set(),
  };

  constructor(opts: NoElectionOptions = {}) {
    const epoch = opts.epoch ?? 1;
    if (!Number.isSafeInteger(epoch) || epoch < 0)
      throw new RangeError(`epoch must be a whole number ≥ 0, got ${epoch}`);
    this.epoch = epoch;
    this.identity = opts.identity ?? defaultIdentity();
  }

  get isLeader(): boolean {
    return this.leader;
  }

  on<E extends keyof ElectorEvents>(event: E, fn: ElectorEvents[E]): () => void {
    const set = this.listeners[event] as Set<ElectorEvents[E]>;
    set.add(fn);
    return () => set.delete(fn);
  }

  /** Elected at once, synchronously. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.leader = true;
    for (const fn of this.listeners.elected) fn(this.epoch);
  }

  /** Resigning without a contender leads nowhere: the instance stays leader. */
  async resign(): Promise<void> {}

  async stop(): Promise<void> {
    if (!this.leader) return;
    this.leader = false;
    const reason = { code: DeposeCode.Stopped, message: "the elector was stopped", epoch: this.epoch };
    for (const fn of this.listeners.deposed) fn(reason);
  }
}

/** `<host name>-<pid>`: a pod's name on Kubernetes, unique among the replicas of a Deployment. */
export function defaultIdentity(): string {
  return `${hostname()}-${process.pid}`;
}
