import type { ReplayOrder } from "./replay.js";

/** A byte flow: client → target (`toServer`) or target → client (`toClient`). */
export type DirectionName = "toServer" | "toClient";

/** What a message looked like, for events: MsgType(35), MsgSeqNum(34) when readable, PossDupFlag(43). */
export interface MessageInfo {
  msgType: string;
  seq: number | undefined;
  possDup: boolean;
}

/**
 * Everything the proxy did on purpose, one event per action. Control changes (cut, stall, latency, partition…) are
 * reported once; rule actions (drop, duplicate, replay hold and release) once per message or chunk. Messages held
 * by a stall or partition are counted (`stats().*.held`) and reported together by the `resume` or `heal` event.
 */
export type FaultEvent =
  | { kind: "cut"; connections: number; reset: boolean }
  | { kind: "stall"; direction: DirectionName; discard: boolean }
  | { kind: "resume"; direction: DirectionName; released: number }
  | { kind: "latency"; direction: DirectionName; min: number; max: number }
  | ({ kind: "drop"; direction: DirectionName; connection: number; rule: number } & MessageInfo)
  | ({ kind: "duplicate"; direction: DirectionName; connection: number; rule: number; copies: number } & MessageInfo)
  | {
      kind: "discard";
      direction: DirectionName;
      connection: number;
      /** `stalled`: arrived while stalled with `discard`; `closed`: still held or queued when the connection closed. */
      reason: "stalled" | "closed";
      messages: number;
      bytes: number;
    }
  | ({ kind: "hold"; direction: DirectionName; connection: number } & MessageInfo)
  | {
      kind: "release";
      direction: DirectionName;
      connection: number;
      order: ReplayOrder;
      /** MsgSeqNums of the chunk in the order released. */
      seqs: Array<number | undefined>;
    }
  | { kind: "holdReplay"; direction: DirectionName; chunk: number; order: ReplayOrder; releaseAfterMs: number }
  | { kind: "holdReplayOff"; direction: DirectionName }
  | { kind: "partition"; ms: number }
  | { kind: "heal"; released: number }
  | { kind: "refuse"; remote: string }
  | { kind: "refuseConnections"; on: boolean };

export type FaultKind = FaultEvent["kind"];

/** Why a connection pair ended. */
export type CloseReason = "closed" | "cut" | "error" | "stopped";

export interface ChaosEvents {
  fault: FaultEvent;
  /** A client connected and the proxy opened its connection to the target. */
  connect: { connection: number; remote: string };
  /** A connection pair ended; `error` is the socket error's message when there was one. */
  disconnect: { connection: number; reason: CloseReason; error?: string };
}
