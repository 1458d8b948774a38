import type { Delivered, EventBus, Subscription } from "./bus.js";
import type { BusEvent } from "./events.js";
import { JetStreamBus, type JetStreamBusOptions } from "./jetstream.js";

/**
 * A JetStream bus that may not be reachable yet: the first connection is attempted in the background and again
 * on every publish until it succeeds, so a service starts (and its FIX sessions run) while NATS is down; its
 * outbox publisher simply retries. Once connected, the NATS client reconnects by itself.
 */
export class ResilientJetStreamBus implements EventBus {
  readonly kind = "jetstream";
  private inner: JetStreamBus | null = null;
  private connecting: Promise<JetStreamBus> | null = null;
  private closed = false;

  /**
   * The outcome of the first connection attempt: a service awaits it to fail at start on what retrying cannot fix
   * (a wrong password, an untrusted certificate) while still starting when NATS is merely down.
   */
  readonly firstAttempt: Promise<void>;

  constructor(private readonly opts: JetStreamBusOptions) {
    this.firstAttempt = this.connect().then(() => undefined);
    this.firstAttempt.catch(() => undefined);
  }

  get connected(): boolean {
    return this.inner !== null;
  }

  private connect(): Promise<JetStreamBus> {
    if (this.inner !== null) return Promise.resolve(this.inner);
    this.connecting ??= JetStreamBus.connect({ connectTimeoutMs: 2000, ...this.opts }).then(
      (bus) => {
        this.connecting = null;
        if (this.closed) {
          void bus.close();
          throw new Error("bus closed");
        }
        this.inner = bus;
        return bus;
      },
      (err: unknown) => {
        this.connecting = null;
        throw err;
      },
    );
    return this.connecting;
  }

  async publish(events: readonly BusEvent[]): Promise<{ accepted: number; duplicates: number }> {
    return (await this.connect()).publish(events);
  }

  async subscribe(
    filter: string,
    handler: (e: Delivered) => unknown,
    opts?: { fromSeq?: number },
  ): Promise<Subscription> {
    return (await this.connect()).subscribe(filter, handler, opts);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.inner?.close();
    this.inner = null;
  }
}
