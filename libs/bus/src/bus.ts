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
  /** Every event on subjects matching `filter`, from `fromSeq` (default: new ones only). */
  subscribe(filter: string, handler: (e: Delivered) => void, opts?: { fromSeq?: number }): Promise<Subscription>;
  close(): Promise<void>;
}
