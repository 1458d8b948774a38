import { randomUUID } from "node:crypto";
import type { AuditEvent, EventBus } from "@fixmesh/bus";

/**
 * Publishes risk's audit events (limit and kill-switch changes) on `<prefix>.risk.<action>` of the AUDIT stream,
 * one event per act with a unique id.
 */
export class AuditPublisher {
  constructor(
    private readonly bus: EventBus,
    private readonly prefix = "audit",
    private readonly now: () => number = Date.now,
  ) {}

  async publish(e: Omit<AuditEvent, "id" | "at" | "service">): Promise<AuditEvent> {
    const ev: AuditEvent = { id: randomUUID(), at: this.now(), service: "risk", ...e };
    await this.publishEvent(ev);
    return ev;
  }

  /** Publishes an event made elsewhere as it is (the gRPC security layer's denials and admin outcomes). */
  async publishEvent(ev: AuditEvent): Promise<void> {
    await this.bus.publish([
      {
        id: ev.id,
        subject: `${this.prefix}.risk.${ev.action.replace(/[^A-Za-z0-9]+/g, "_")}`,
        payload: Buffer.from(JSON.stringify(ev)),
      },
    ]);
  }
}
