import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type InboundMessage, InboundMessageSchema, LogoutInitiator } from "@fixmesh/contracts";
import type { SessionRunner } from "@fixmesh/engine";
import { type FixMessage, Parser, Tag } from "@fixmesh/fix";
import { Health, type SessionNotice } from "@fixmesh/session";
import { fieldsOf } from "./fields.js";

const parser = new Parser();

/** One inbound application message as the gRPC layer keeps it: its own copy of the bytes. */
export class InboundEntry {
  private plain: InboundMessage | null = null;
  private full: InboundMessage | null = null;

  constructor(
    readonly sessionId: string,
    readonly seq: number,
    readonly msgType: string,
    readonly possDup: boolean,
    readonly raw: Buffer,
    readonly receivedAt: number,
    /** Which sequence cycle of the tap it belongs to (MsgSeqNum starts again at each reset). */
    readonly cycle: number,
  ) {}

  /** As sent to clients; built once and shared by every subscriber. */
  message(includeFields: boolean): InboundMessage {
    if (!includeFields) {
      this.plain ??= create(InboundMessageSchema, {
        sessionId: this.sessionId,
        msgSeqNum: this.seq,
        msgType: this.msgType,
        possDup: this.possDup,
        raw: this.raw,
        receivedAt: timestampFromMs(this.receivedAt),
      });
      return this.plain;
    }
    if (this.full === null) {
      // Parsed again from the copy: the engine's parse of it indexes buffers that are not ours to keep.
      const parsed = parser.parse(this.raw);
      this.full = create(InboundMessageSchema, {
        ...this.message(false),
        fields: typeof parsed === "object" ? fieldsOf(parsed) : [],
      });
    }
    return this.full;
  }
}

export interface LogonRecord {
  at: number;
  reset: boolean;
  heartBtInt: number;
}

export interface LogoutRecord {
  at: number;
  reason: string;
  initiatedBy: LogoutInitiator;
}

/** Receives new entries, at most once per turn of the event loop (so a burst becomes one stream frame). */
export type InboundListener = (entries: readonly InboundEntry[]) => void;

/**
 * What the gRPC layer watches of one session: its inbound application messages (the latest `historySize`
 * kept, for StreamMessages from a given point) and its last logon, logout and health reason (for GetSession).
 *
 * Inbound messages are not in the message store (it keeps the outbound log for resends), so the history a late
 * subscriber can ask for starts when this tap was attached. Older messages come from the persistence service
 * once the JetStream events land.
 */
export class SessionTap {
  lastLogon: LogonRecord | null = null;
  lastLogout: LogoutRecord | null = null;
  healthReason = "";
  /** Sequence cycles seen: a MsgSeqNum at or below the last one means the numbers were reset. */
  cycle = 0;
  private lastSeq = 0;
  /** The first MsgSeqNum of the current cycle from which every application message is held. */
  private coveredFrom: number;
  private readonly ring: Array<InboundEntry | undefined>;
  private start = 0;
  private count = 0;
  private readonly listeners = new Set<InboundListener>();
  private pending: InboundEntry[] = [];
  private flushQueued = false;
  private readonly unsubscribe: Array<() => void>;
  /** A Logout (either side) was seen since the last logon. */
  private loggedOut = false;

  constructor(
    readonly runner: SessionRunner,
    historySize: number,
    private readonly now: () => number = Date.now,
  ) {
    this.ring = new Array(Math.max(0, historySize));
    this.coveredFrom = runner.state.nextTargetSeq;
    this.unsubscribe = [
      runner.onMessage((m, possDup) => this.onMessage(m, possDup)),
      runner.onNotice((n) => this.onNotice(n)),
    ];
  }

  close(): void {
    for (const u of this.unsubscribe) u();
    this.listeners.clear();
  }

  /**
   * Held messages of the current cycle with MsgSeqNum ≥ `from`, in order; or, when `from` is older than what
   * is held, the first MsgSeqNum that can be served.
   */
  since(from: number): InboundEntry[] | { oldest: number } {
    if (from < this.coveredFrom) return { oldest: this.coveredFrom };
    // Binary search: MsgSeqNums within a cycle only grow.
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid).seq < from) lo = mid + 1;
      else hi = mid;
    }
    const out: InboundEntry[] = new Array(this.count - lo);
    for (let i = lo; i < this.count; i++) out[i - lo] = this.at(i);
    return out;
  }

  /** New entries from now on. Register in the same turn as `since` to miss nothing and repeat nothing. */
  listen(fn: InboundListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private at(i: number): InboundEntry {
    return this.ring[(this.start + i) % this.ring.length] as InboundEntry;
  }

  private onMessage(msg: FixMessage, possDup: boolean): void {
    const seq = msg.getInt(Tag.MsgSeqNum) ?? 0;
    if (seq <= this.lastSeq) {
      // Numbers were reset: what is held belongs to the previous cycle. Everything of the new cycle before this
      // message was session-level (it would have come through here otherwise), so it is covered from 1.
      this.cycle++;
      this.start = 0;
      this.count = 0;
      this.ring.fill(undefined);
      this.coveredFrom = 1;
    }
    this.lastSeq = seq;
    const raw = Buffer.allocUnsafe(msg.raw.length);
    msg.raw.copy(raw);
    const entry = new InboundEntry(this.runner.id, seq, msg.msgType, possDup, raw, this.now(), this.cycle);
    this.hold(entry);
    if (this.listeners.size === 0) return;
    this.pending.push(entry);
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => this.flush());
    }
  }

  private hold(entry: InboundEntry): void {
    const cap = this.ring.length;
    if (cap === 0) {
      this.coveredFrom = entry.seq + 1;
      return;
    }
    if (this.count === cap) {
      const dropped = this.at(0);
      this.start = (this.start + 1) % cap;
      this.count--;
      this.coveredFrom = dropped.seq + 1;
    }
    this.ring[(this.start + this.count) % cap] = entry;
    this.count++;
  }

  private flush(): void {
    this.flushQueued = false;
    const batch = this.pending;
    this.pending = [];
    for (const l of this.listeners) l(batch);
  }

  private onNotice(n: SessionNotice): void {
    const now = this.now();
    switch (n.kind) {
      case "logon":
        this.lastLogon = { at: now, reset: n.reset, heartBtInt: n.heartBtInt };
        this.loggedOut = false;
        return;
      case "logout":
        this.lastLogout = {
          at: now,
          reason: n.reason,
          initiatedBy: n.initiatedBy === "us" ? LogoutInitiator.LOCAL : LogoutInitiator.COUNTERPARTY,
        };
        this.loggedOut = true;
        return;
      case "health":
        this.healthReason = n.reason;
        // A link lost without a Logout: record it as the last logout, with the reason the core kept.
        if (n.to === Health.Disconnected && this.lastLogon !== null && !this.loggedOut) {
          this.lastLogout = {
            at: now,
            reason: this.runner.state.lastLogoutReason || n.reason,
            initiatedBy: LogoutInitiator.UNSPECIFIED,
          };
          this.loggedOut = true;
        }
        return;
      default:
        return;
    }
  }
}
