import type { BusEvent } from "./events.js";

/** A delivered event, with the bus's position for it (stream sequence), for resumable consumers. */
export interface Delivered extends BusEvent {
  seq: number;
}

export interface Subscription {
  unsubscribe(): Promise<void>;
}

/**
 * Where events go. `publish` resolves once every event is durably accepted (JetStream: acknowledged by the
 * stream), in order; an event whose id was already accepted within the duplicate window is dropped by the bus
 * and counted, not re-delivered.
 */
export interface EventBus {
  readonly kind: string;
  publish(events: readonly BusEvent[]): Promise<{ accepted: number; duplicates: number }>;
  /**
   * Every event on subjects matching `filter`, from `fromSeq` (default: new ones only). A handler that returns a
   * promise is handed the next event once it settles (JetStream: nothing more is pulled meanwhile, so a slow reader
   * of a long stream holds a bounded number of events); the in-process bus, whose events are in memory anyway,
   * does not wait.
   */
  subscribe(filter: string, handler: (e: Delivered) => unknown, opts?: { fromSeq?: number }): Promise<Subscription>;
  close(): Promise<void>;
}

/** Where a bus reports what it mends by itself (pino's `warn(fields, message)` fits). */
export interface BusLog {
  warn(fields: Record<string, unknown>, msg: string): void;
}
