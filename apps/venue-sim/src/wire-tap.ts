import type { Socket } from "node:net";
import type { SessionRunner } from "@fixmesh/engine";
import { Framer } from "@fixmesh/fix";

/**
 * Keeps chosen outbound messages of a session off the wire, after the engine has numbered and persisted them —
 * the venue's side of a message lost in transit. Used for `skipHeartbeats`: the engine has no way to hold back its
 * own Heartbeats (they are produced by the pure session core from its timer and as answers to TestRequest), so
 * the venue drops them on their way to the socket.
 *
 * How: the acceptor hands each accepted socket to `runner.attach`; this wraps that one method of this one runner
 * instance so that the socket's `write` goes through a filter first. The runner writes whole messages (one batch
 * per event-loop turn), so each write is split into messages with a Framer and the dropped ones left out. With
 * no filter active, writes pass through untouched. The engine change that would make this unnecessary is an
 * outbound hook on `SessionRunnerOptions` (see the README).
 */
export function tapOutbound(runner: SessionRunner, filter: OutboundFilter): void {
  const attach = runner.attach.bind(runner);
  runner.attach = (socket, framer, framed) => {
    filterWrites(socket, filter);
    return attach(socket, framer, framed);
  };
}

export interface OutboundFilter {
  /** Whether any message may be dropped now (when not, writes are not even looked at). */
  active(): boolean;
  /** Whether to keep this message off the wire. */
  drop(msgType: string): boolean;
}

type Write = (chunk: unknown, ...rest: unknown[]) => boolean;

function filterWrites(socket: Socket, filter: OutboundFilter): void {
  const target = socket as unknown as { write: Write };
  const write: Write = target.write.bind(socket);
  const framer = new Framer();
  target.write = (chunk, ...rest) => {
    // The runner writes whole messages, so skipping the framer for some writes leaves it with nothing half-read.
    if (!Buffer.isBuffer(chunk) || !filter.active()) return write(chunk, ...rest);
    const keep: Buffer[] = [];
    let dropped = false;
    framer.push(
      chunk,
      (m) => {
        if (filter.drop(m.msgType)) dropped = true;
        else keep.push(m.raw);
      },
      (g) => keep.push(g.bytes),
    );
    if (!dropped) return write(chunk, ...rest);
    if (keep.length === 0) return true;
    // Buffer.concat copies: the kept messages may be views into the framer's buffer.
    return write(Buffer.concat(keep), ...rest);
  };
}
