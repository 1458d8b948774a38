import type { CommitInfo } from "@fixmesh/engine";
import { type FixMessage, parseUtcTimestamp, Tag } from "@fixmesh/fix";
import { Health, type SessionCounters, type SessionNotice, type SessionState } from "@fixmesh/session";
import type { Attributes, Counter, Histogram, Meter, ObservableGauge } from "@opentelemetry/api";
import { TestRequestRtt } from "./test-request-rtt.js";

/** What the metrics read of a session: a `SessionRunner` is one. */
export interface MeteredSession {
  readonly id: string;
  readonly state: Readonly<SessionState>;
  readonly connected: boolean;
  onNotice(fn: (n: SessionNotice) => void): () => void;
  onCommit(fn: (c: CommitInfo) => void): () => void;
  onMessage(fn: (msg: FixMessage, possDup: boolean) => void): () => void;
}

/** One session's leadership, as the metrics read it. */
export interface MeteredLeadership {
  session: string;
  leader: boolean;
  epoch: number;
}

/** The sessions to meter: a `SessionRegistry` (and so a `Connector`) is one. Read again at every scrape. */
export interface MeteredRegistry {
  list(): readonly MeteredSession[];
  /** Every configured session's leadership, standbys included (a Connector has it). */
  leaderships?(): readonly MeteredLeadership[];
  /**
   * Leadership changes as they happen: `transition` is `elected`, or why a term ended (`renew-deadline`, `lost`,
   * `resigned`, `stopped`, `fenced`, `failed`). Returns the unsubscribe function.
   */
  onLeadership?(fn: (t: { session: string; transition: string }) => void): () => void;
  /** Connections and Logons refused by the acceptor ports so far, by port and reason (a Connector has it). */
  acceptorRefusals?(): ReadonlyArray<{ acceptor: string; reason: string; count: number }>;
}

const HEALTHS: readonly Health[] = Object.values(Health);

// Seconds. A memory or file store commits in tens of microseconds, Redis in a loopback or LAN round trip
// (0.1–2 ms); the top buckets catch a stalled store.
const COMMIT_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
// From a colocated venue (sub-millisecond, where clock skew dominates) to a backlog replayed after a gap.
const LAG_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
// The engine's clock has millisecond resolution; a link that answers after HeartBtInt is already suspect.
const RTT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The state counters exposed as Prometheus counters: name, counter, help. */
const STATE_COUNTERS: ReadonlyArray<readonly [string, keyof SessionCounters, string]> = [
  ["fixmesh_session_messages_in_total", "messagesIn", "FIX messages received (admin and application)."],
  ["fixmesh_session_messages_out_total", "messagesOut", "FIX messages sent, resent copies and GapFills included."],
  ["fixmesh_session_gaps_total", "gapsDetected", "Inbound sequence gaps detected (MsgSeqNum higher than expected)."],
  ["fixmesh_session_resend_requests_sent_total", "resendRequestsSent", "ResendRequests sent to the counterparty."],
  [
    "fixmesh_session_resend_requests_served_total",
    "resendRequestsServed",
    "ResendRequests from the counterparty served.",
  ],
  [
    "fixmesh_session_messages_resent_total",
    "messagesResent",
    "Application messages replayed (PossDupFlag=Y) in answer to ResendRequests.",
  ],
  [
    "fixmesh_session_duplicates_ignored_total",
    "duplicatesIgnored",
    "Inbound messages dropped as duplicates (PossDupFlag=Y, MsgSeqNum already seen).",
  ],
  [
    "fixmesh_session_garbled_total",
    "garbled",
    "Inbound messages discarded as garbled (bad framing, BodyLength or CheckSum).",
  ],
  ["fixmesh_session_rejects_received_total", "rejectsReceived", "Session-level Rejects (35=3) received."],
  ["fixmesh_session_logons_total", "logons", "Logons completed (both sides exchanged Logon)."],
  [
    "fixmesh_session_test_requests_sent_total",
    "testRequestsSent",
    "TestRequests sent after a silence of TestRequestThreshold × HeartBtInt.",
  ],
];

interface Watch {
  readonly attrs: Attributes;
  readonly healthAttrs: ReadonlyMap<Health, Attributes>;
  readonly rtt: TestRequestRtt;
  readonly unsubscribe: ReadonlyArray<() => void>;
}

/**
 * The per-session instruments. Values the session keeps (health, sequence numbers, its counters) are observable
 * instruments read at scrape time, so they are exact whenever the metrics started; what only a notice says (a
 * reject's reason, who started a logout) and what happens per commit or message is recorded as it happens.
 * Labels are the session id and small closed sets (health, reason code, us/them): never message contents.
 */
export class SessionMeters {
  private readonly watched = new Map<MeteredSession, Watch>();
  private readonly rejectsSent: Counter;
  private readonly logouts: Counter;
  private readonly commitSeconds: Histogram;
  private readonly committedMessages: Counter;
  private readonly rttSeconds: Histogram;
  private readonly lagSeconds: Histogram;
  private readonly unsubscribeLeadership: (() => void) | undefined;

  constructor(
    meter: Meter,
    private readonly registry: MeteredRegistry,
    /** The wall clock inbound SendingTime(52) is compared with. */
    private readonly now: () => number = Date.now,
  ) {
    const sessions = meter.createObservableGauge("fixmesh_sessions", {
      description: "FIX sessions this connector owns.",
    });
    const health = meter.createObservableGauge("fixmesh_session_health", {
      description:
        "1 for the session's current health (LIVE, DEGRADED, RECOVERY, SAFE, LOGON_SENT, CONNECTING, DISCONNECTED), 0 for the others.",
    });
    const connected = meter.createObservableGauge("fixmesh_session_connected", {
      description: "1 while the session has a transport connection (TCP/TLS), else 0.",
    });
    const connectTime = meter.createObservableGauge("fixmesh_session_connect_time_seconds", {
      description: "Unix time the current connection was made, 0 when there is none (uptime = time() - this).",
      unit: "s",
    });
    const nextSenderSeq = meter.createObservableGauge("fixmesh_session_next_sender_seq", {
      description: "MsgSeqNum of the next message this side sends.",
    });
    const nextTargetSeq = meter.createObservableGauge("fixmesh_session_next_target_seq", {
      description: "MsgSeqNum expected on the next message from the counterparty.",
    });
    const stateCounters = STATE_COUNTERS.map(
      ([name, key, description]) => [meter.createObservableCounter(name, { description }), key] as const,
    );
    this.rejectsSent = meter.createCounter("fixmesh_session_rejects_sent_total", {
      description: "Session-level Rejects (35=3) sent, by SessionRejectReason(373) code.",
    });
    this.logouts = meter.createCounter("fixmesh_session_logouts_total", {
      description: "Logouts, by who sent the first Logout (us or them).",
    });
    this.commitSeconds = meter.createHistogram("fixmesh_store_commit_seconds", {
      description:
        "Duration of one store commit (outbound messages, sequence numbers and events of one event-loop turn).",
      unit: "s",
      advice: { explicitBucketBoundaries: COMMIT_BUCKETS },
    });
    this.committedMessages = meter.createCounter("fixmesh_store_committed_messages_total", {
      description: "Outbound messages persisted by store commits (persist before send).",
    });
    this.rttSeconds = meter.createHistogram("fixmesh_session_test_request_rtt_seconds", {
      description:
        "Time from a TestRequest sent to the first message received after it (its Heartbeat, or traffic in flight), by the engine's millisecond clock.",
      unit: "s",
      advice: { explicitBucketBoundaries: RTT_BUCKETS },
    });
    this.lagSeconds = meter.createHistogram("fixmesh_inbound_lag_seconds", {
      description:
        "Delivery time of an inbound application message minus its SendingTime(52). Includes clock skew between the counterparty and this host; negative values count as 0.",
      unit: "s",
      advice: { explicitBucketBoundaries: LAG_BUCKETS },
    });

    const leader = meter.createObservableGauge("fixmesh_leader", {
      description: "1 while this connector leads the session (0 on standby); always 1 without election.",
    });
    const epoch = meter.createObservableGauge("fixmesh_epoch", {
      description: "The fencing epoch of the session's current (or last) leadership term here; 0 without election.",
    });
    const transitions = meter.createCounter("fixmesh_leader_transitions_total", {
      description: "Leadership changes of the session on this connector: elected, or why a term ended.",
    });
    this.unsubscribeLeadership = registry.onLeadership?.((t) =>
      transitions.add(1, { session: t.session, transition: t.transition }),
    );

    const gauges: ObservableGauge[] = [
      sessions,
      health,
      connected,
      connectTime,
      nextSenderSeq,
      nextTargetSeq,
      leader,
      epoch,
    ];
    meter.addBatchObservableCallback(
      (r) => {
        const list = this.sync();
        r.observe(sessions, list.length);
        for (const s of list) {
          const w = this.watched.get(s) as Watch;
          w.rtt.check();
          const st = s.state;
          for (const [h, attrs] of w.healthAttrs) r.observe(health, st.health === h ? 1 : 0, attrs);
          r.observe(connected, s.connected ? 1 : 0, w.attrs);
          r.observe(connectTime, st.connectedAt > 0 ? st.connectedAt / 1000 : 0, w.attrs);
          r.observe(nextSenderSeq, st.nextSenderSeq, w.attrs);
          r.observe(nextTargetSeq, st.nextTargetSeq, w.attrs);
          for (const [counter, key] of stateCounters) r.observe(counter, st.counters[key], w.attrs);
        }
        for (const l of this.registry.leaderships?.() ?? []) {
          r.observe(leader, l.leader ? 1 : 0, { session: l.session });
          r.observe(epoch, l.epoch, { session: l.session });
        }
      },
      [...gauges, ...stateCounters.map(([c]) => c)],
    );
    // Refused connections and Logons (address, connection_limit, credentials, unknown_session, tls_handshake…):
    // a rising rate is someone probing the port or a counterparty with a wrong password.
    const refused = meter.createObservableCounter("fixmesh_acceptor_refused_total", {
      description: "Connections and Logons the acceptor ports refused, by port and reason.",
    });
    refused.addCallback((r) => {
      for (const x of this.registry.acceptorRefusals?.() ?? []) {
        r.observe(x.count, { acceptor: x.acceptor, reason: x.reason });
      }
    });
    this.sync();
  }

  /** Stops listening to every session. */
  close(): void {
    this.unsubscribeLeadership?.();
    for (const w of this.watched.values()) for (const u of w.unsubscribe) u();
    this.watched.clear();
  }

  /** Starts watching sessions new in the registry and stops watching those gone from it. */
  private sync(): readonly MeteredSession[] {
    const list = this.registry.list();
    for (const s of list) if (!this.watched.has(s)) this.watched.set(s, this.watch(s));
    if (this.watched.size !== list.length) {
      const current = new Set(list);
      for (const [s, w] of this.watched) {
        if (current.has(s)) continue;
        for (const u of w.unsubscribe) u();
        this.watched.delete(s);
      }
    }
    return list;
  }

  private watch(s: MeteredSession): Watch {
    const attrs: Attributes = { session: s.id };
    const healthAttrs = new Map(HEALTHS.map((h) => [h, { session: s.id, health: h }] as const));
    const rejectAttrs = new Map<string, Attributes>();
    const logoutAttrs = { us: { session: s.id, initiated_by: "us" }, them: { session: s.id, initiated_by: "them" } };
    // Both series exist from the start, so rate() and alerts see the first logout as an increase.
    this.logouts.add(0, logoutAttrs.us);
    this.logouts.add(0, logoutAttrs.them);
    const rtt = new TestRequestRtt(s.state, (seconds) => this.rttSeconds.record(seconds, attrs));
    const onNotice = (n: SessionNotice): void => {
      if (n.kind === "reject") {
        const reason = reasonLabel(n.reason);
        let a = rejectAttrs.get(reason);
        if (a === undefined) {
          a = { session: s.id, reason };
          rejectAttrs.set(reason, a);
        }
        this.rejectsSent.add(1, a);
      } else if (n.kind === "logout") {
        this.logouts.add(1, logoutAttrs[n.initiatedBy]);
      }
      rtt.check();
    };
    const onCommit = (c: CommitInfo): void => {
      this.commitSeconds.record(c.ms / 1000, attrs);
      if (c.messages > 0) this.committedMessages.add(c.messages, attrs);
      rtt.check();
    };
    const onMessage = (msg: FixMessage): void => {
      const sendingTime = msg.get(Tag.SendingTime);
      if (sendingTime === undefined) return;
      const at = parseUtcTimestamp(sendingTime);
      // A malformed SendingTime is the session layer's to reject; it says nothing about lag.
      if (Number.isNaN(at)) return;
      this.lagSeconds.record(Math.max(0, this.now() - at) / 1000, attrs);
    };
    return {
      attrs,
      healthAttrs,
      rtt,
      unsubscribe: [s.onNotice(onNotice), s.onCommit(onCommit), s.onMessage(onMessage)],
    };
  }
}

/** SessionRejectReason(373) as a label: the code the engine chose (a closed set), or `none`. */
function reasonLabel(reason: number | undefined): string {
  return reason !== undefined && Number.isInteger(reason) && reason >= 0 ? String(reason) : "none";
}
