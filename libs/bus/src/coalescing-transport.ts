/**
 * NATS connections whose protocol writes are gathered into one socket write per turn of the microtask queue.
 *
 * nats.js flushes its outbound buffer on a microtask after the first command, so commands issued by successive
 * steps of one async flow — a durable pull's UNSUB, the acknowledgement of the message it returned, the SUB and
 * PUB of the next pull — each became a write(2) of its own: 8 to 10 per order in order-entry and risk at a modest
 * rate, each costing 50–150 µs of CPU on a loaded 2-core machine (the write wakes nats-server). Here `send` keeps
 * the frames of one turn and writes them together on `process.nextTick`, which runs once the microtask queue has
 * drained, before any I/O callback: no timer and no extra wait for I/O, only the writes of one burst of work
 * become one.
 *
 * Built on @nats-io/transport-node's own NodeTransport (plain TCP and TLS alike): only `send` and `close` change.
 * Frames still waiting when the connection closes are written first, as nats.js's own close flushes its buffer.
 */
import { Buffer } from "node:buffer";
import {
  type NatsConnection,
  NatsConnectionImpl,
  type NodeConnectionOptions,
  setTransportFactory,
} from "@nats-io/transport-node";
import { NodeTransport, nodeResolveHost } from "@nats-io/transport-node/lib/node_transport.js";

export class CoalescingTransport extends NodeTransport {
  private pending: Uint8Array[] | null = null;
  /** Socket writes made and frames handed to `send` (for tests and benchmarks). */
  writes = 0;
  frames = 0;

  override send(frame: Uint8Array): void {
    this.frames++;
    if (this.pending !== null) {
      this.pending.push(frame);
      return;
    }
    this.pending = [frame];
    process.nextTick(() => this.flushGathered());
  }

  private flushGathered(): void {
    const frames = this.pending;
    this.pending = null;
    if (frames === null || frames.length === 0) return;
    this.writes++;
    super.send(frames.length === 1 ? (frames[0] as Uint8Array) : Buffer.concat(frames));
  }

  override close(err?: Error): Promise<void> {
    this.flushGathered();
    return super.close(err);
  }
}

/**
 * `connect` of @nats-io/transport-node with a CoalescingTransport under the connection (and under every
 * reconnection of it: the factory is asked again then).
 */
export function connectCoalescing(opts: NodeConnectionOptions): Promise<NatsConnection> {
  setTransportFactory({ factory: () => new CoalescingTransport(), dnsResolveFn: nodeResolveHost });
  return NatsConnectionImpl.connect(opts);
}
