/**
 * @fixmesh/bus — events: the in-process bus (embedded default), NATS JetStream, and the outbox publisher.
 */

// nats.js's nkey and creds authenticators, for @fixmesh/security's `natsConnectOptions`.
export { credsAuthenticator, nkeyAuthenticator } from "@nats-io/transport-node";
export type { BusLog, Delivered, EventBus, Subscription } from "./bus.js";
export {
  type DurableBus,
  DurableConfigError,
  type DurableConsumer,
  type DurableConsumerOptions,
} from "./durable.js";
export {
  type BusEvent,
  type Direction,
  type HealthNotice,
  healthNoticeOf,
  messageEventId,
  messageSubject,
  sessionToken,
  stateSubject,
  subjectMatcher,
  subjectMatches,
} from "./events.js";
export { InProcessBus } from "./in-process.js";
export { JetStreamBus, type JetStreamBusOptions } from "./jetstream.js";
export {
  AUDIT_STREAM,
  AUDIT_SUBJECTS,
  type AuditEvent,
  auditSubject,
  type ExecutionSnapshot,
  ORDERS_STREAM,
  ORDERS_SUBJECTS,
  type OrderEvent,
  type OrderSide,
  type OrderSnapshot,
  type OrderStatusName,
  type OrderTypeName,
  orderEventId,
  orderSubject,
  type TimeInForceName,
} from "./order-events.js";
export { type OutboxEntry, OutboxPublisher, type OutboxSource, type PublisherStats } from "./publisher.js";
export { ResilientJetStreamBus } from "./resilient.js";
