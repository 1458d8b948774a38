import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Status } from "@fixmesh/session";
import { type RttState, TestRequestRtt } from "./test-request-rtt.js";

/** A logged-on session's state as the tracker reads it, last message both ways at t=1000. */
function loggedOn(): RttState & { counters: { testRequestsSent: number } } {
  return {
    status: Status.LoggedOn,
    lastSentAt: 1000,
    lastReceivedAt: 1000,
    counters: {
      messagesIn: 1,
      messagesOut: 1,
      gapsDetected: 0,
      resendRequestsSent: 0,
      resendRequestsServed: 0,
      messagesResent: 0,
      duplicatesIgnored: 0,
      garbled: 0,
      rejectsSent: 0,
      rejectsReceived: 0,
      logons: 1,
      testRequestsSent: 0,
    },
  };
}

describe("TestRequest round-trip time", () => {
  it("measures from the TestRequest sent to the first message received after it", () => {
    const st = loggedOn();
    const seen: number[] = [];
    const rtt = new TestRequestRtt(st, (s) => seen.push(s));
    st.counters.testRequestsSent = 1;
    st.lastSentAt = 46_000;
    rtt.check();
    assert.deepEqual(seen, [], "nothing received yet");
    st.lastReceivedAt = 46_250;
    rtt.check();
    rtt.check();
    assert.deepEqual(seen, [0.25]);
  });

  it("times from the first of several unanswered TestRequests", () => {
    const st = loggedOn();
    const seen: number[] = [];
    const rtt = new TestRequestRtt(st, (s) => seen.push(s));
    st.counters.testRequestsSent = 1;
    st.lastSentAt = 46_000;
    rtt.check();
    st.counters.testRequestsSent = 2;
    st.lastSentAt = 91_000;
    rtt.check();
    st.lastReceivedAt = 91_100;
    rtt.check();
    assert.deepEqual(seen, [45.1]);
  });

  it("drops an unanswered TestRequest when the connection goes, and ignores the next connection's start", () => {
    const st = loggedOn();
    const seen: number[] = [];
    const rtt = new TestRequestRtt(st, (s) => seen.push(s));
    st.counters.testRequestsSent = 1;
    st.lastSentAt = 46_000;
    rtt.check();
    st.status = Status.Connecting;
    rtt.check();
    // The next connection sets both clocks to its start; that is not an answer.
    st.status = Status.LoggedOn;
    st.lastSentAt = 60_000;
    st.lastReceivedAt = 60_000;
    rtt.check();
    assert.deepEqual(seen, []);
  });

  it("does not count TestRequests sent before it started watching", () => {
    const st = loggedOn();
    st.counters.testRequestsSent = 3;
    st.lastSentAt = 46_000;
    const seen: number[] = [];
    const rtt = new TestRequestRtt(st, (s) => seen.push(s));
    st.lastReceivedAt = 46_100;
    rtt.check();
    assert.deepEqual(seen, []);
  });
});
