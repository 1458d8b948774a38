/**
 * Session health from the connector's own state events (`<prefix>.<session>.state`, one per change, published by
 * the session's leader through its outbox), the way risk follows them: order-entry sees a session go SAFE or
 * DISCONNECTED within the event's latency instead of at its next GetSession poll.
 */
import { type EventBus, healthNoticeOf, type Subscription } from "@fixmesh/bus";
import { SessionHealth } from "@fixmesh/contracts";

/** Where the health of a session goes (`ConnectorClient.noteHealth`). */
export interface HealthSink {
  noteHealth(sessionId: string, health: SessionHealth, reason: string): void;
}

export interface HealthFeedLogger {
  warn(obj: object, msg: string): void;
}

/** A health notice's target state, or undefined for any other event (logon, gap, reject, ...). */
export function healthOfEvent(
  payload: Uint8Array,
): { session: string; health: SessionHealth; reason: string } | undefined {
  const n = healthNoticeOf(payload);
  if (n === undefined) return undefined;
  // The session core's health names are the contract's enum names (LIVE, DEGRADED, SAFE, DISCONNECTED, ...).
  const health = SessionHealth[n.to as keyof typeof SessionHealth];
  if (typeof health !== "number") return undefined;
  return { session: n.session, health, reason: n.reason };
}

/**
 * Follows every session's state events from now on and hands each health change to the sink of its session.
 * New events only: the state before the subscription is read with GetSession right after it (the caller's job).
 */
export function followSessionHealth(opts: {
  bus: EventBus;
  /** FIX stream subject prefix (`fix`). */
  subjectPrefix: string;
  sinks: ReadonlyMap<string, HealthSink>;
  logger: HealthFeedLogger;
}): Promise<Subscription> {
  return opts.bus.subscribe(`${opts.subjectPrefix}.*.state`, (d) => {
    let h: ReturnType<typeof healthOfEvent>;
    try {
      h = healthOfEvent(d.payload);
    } catch (err) {
      // An unreadable event cannot say anything about health; the fallback poll still reads it.
      opts.logger.warn({ err, subject: d.subject, seq: d.seq }, "unreadable session state event skipped");
      return;
    }
    if (h === undefined) return;
    opts.sinks.get(h.session)?.noteHealth(h.session, h.health, h.reason);
  });
}
