import { type SessionState, Status } from "@fixmesh/session";

/** The part of a session's state the round-trip measure reads. */
export type RttState = Pick<SessionState, "status" | "lastSentAt" | "lastReceivedAt" | "counters">;

/**
 * TestRequest round-trip time, derived from the session's state without help from the engine (which announces
 * no "TestRequest sent" notice): when `counters.testRequestsSent` has moved, the TestRequest went out at
 * `lastSentAt`; the first message received after it (`lastReceivedAt` at or past that instant) ends the round
 * trip. A TestRequest is only sent after a silence of TestRequestThreshold × HeartBtInt, so that first message
 * is the Heartbeat answering it or traffic that was already in flight — either way, the time the counterparty
 * took to show it is alive.
 *
 * `check` is called after every store commit (the TestRequest is committed before it is written, and every
 * message received advances the inbound checkpoint, which commits), on every notice and at every scrape.
 * Precision: the engine's millisecond clock; a send in the same turn as the TestRequest or during its commit
 * moves `lastSentAt` a little later. A disconnect drops an unanswered TestRequest (the link-dead rule of
 * HeartbeatTimeoutThreshold measures that case, not this).
 *
 * Heartbeats on their own are one-way and have no round trip to measure.
 */
export class TestRequestRtt {
  private seen: number;
  private sentAt: number | null = null;

  constructor(
    private readonly state: RttState,
    private readonly observe: (seconds: number) => void,
  ) {
    this.seen = state.counters.testRequestsSent;
  }

  check(): void {
    const st = this.state;
    const sent = st.counters.testRequestsSent;
    if (st.status !== Status.LoggedOn && st.status !== Status.LogoutSent) {
      // No transport or no logon: an outstanding TestRequest will never be answered on this connection, and
      // the next connection resets lastReceivedAt, which must not read as an answer.
      this.sentAt = null;
      this.seen = sent;
      return;
    }
    if (sent !== this.seen) {
      this.seen = sent;
      // From the first unanswered TestRequest: a second one (after another threshold of silence) does not
      // restart the clock.
      this.sentAt ??= st.lastSentAt;
    }
    if (this.sentAt !== null && st.lastReceivedAt >= this.sentAt) {
      this.observe((st.lastReceivedAt - this.sentAt) / 1000);
      this.sentAt = null;
    }
  }
}
