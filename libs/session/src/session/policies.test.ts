import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CoreHarness, kinds, sent } from "./testkit.js";
import { Health, Status } from "./types.js";

describe("reset policies", () => {
  it("ResetOnDisconnect starts a new cycle when the connection drops", () => {
    const h = new CoreHarness({ ResetOnDisconnect: true }, { nextSenderSeq: 9, nextTargetSeq: 9 });
    h.ev({ type: "connected" });
    h.recv("A", [98, 0, 108, 30], { seq: 9 });
    const acts = h.ev({ type: "disconnected", reason: "peer closed" });
    assert.deepEqual(kinds(acts), ["resetStore"]);
    assert.equal(h.st.nextSenderSeq, 1);
    assert.equal(h.st.nextTargetSeq, 1);
  });

  it("ResetOnLogout resets right after the Logout exchange", () => {
    const h = new CoreHarness({ ResetOnLogout: true });
    h.logon();
    const acts = h.recv("5");
    assert.deepEqual(kinds(acts), ["send", "resetStore", "disconnect"]);
    assert.equal(h.st.nextSenderSeq, 1);
  });

  it("ForceSeqNumReset=1 sends 141=Y only on the first logon of a fresh cycle", () => {
    const fresh = new CoreHarness({ ConnectionType: "initiator", ForceSeqNumReset: 1 });
    fresh.ev({ type: "timer" });
    assert.deepEqual(sent(fresh.ev({ type: "connected" })), ["35=A|34=1|98=0|108=30|141=Y"]);
    const used = new CoreHarness(
      { ConnectionType: "initiator", ForceSeqNumReset: 1 },
      { nextSenderSeq: 5, nextTargetSeq: 7 },
    );
    used.ev({ type: "timer" });
    assert.deepEqual(sent(used.ev({ type: "connected" })), ["35=A|34=5|98=0|108=30"]);
  });

  it("a counterparty Logon with ResetSeqNumFlag=Y is answered with 141=Y and clears SAFE", () => {
    const h = new CoreHarness({}, { nextSenderSeq: 20, nextTargetSeq: 20 });
    h.st.safeReason = "earlier reset mismatch";
    h.ev({ type: "connected" });
    const acts = h.recv("A", [98, 0, 108, 30, 141, "Y"], { seq: 1 });
    assert.deepEqual(sent(acts), ["35=A|34=1|98=0|108=30|141=Y"]);
    assert.equal(h.st.health, Health.Live);
  });
});

describe("connection lifecycle", () => {
  it("acceptor drops a connection that sends no Logon within LogonTimeout", () => {
    const h = new CoreHarness({ LogonTimeout: 3 });
    h.ev({ type: "connected" });
    assert.deepEqual(kinds(h.runFor(2_999)), []);
    assert.deepEqual(kinds(h.runFor(1)), ["disconnect"]);
  });

  it("garbled bytes before the Logon close the connection; after it they are counted and ignored", () => {
    const before = new CoreHarness();
    before.ev({ type: "connected" });
    assert.deepEqual(kinds(before.ev({ type: "garbled", reason: "BadCheckSum" })), ["disconnect"]);
    const afterLogon = new CoreHarness();
    afterLogon.logon();
    assert.deepEqual(kinds(afterLogon.ev({ type: "garbled", reason: "BadCheckSum" })), []);
    assert.equal(afterLogon.st.counters.garbled, 1);
    assert.equal(afterLogon.st.status, Status.LoggedOn);
  });

  it("initiator backs off exponentially between failed connection attempts", () => {
    const h = new CoreHarness({ ConnectionType: "initiator", ReconnectInterval: 1, ReconnectMaxInterval: 8 });
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      h.runFor(60_000);
      const t0 = h.now;
      h.ev({ type: "connectFailed", reason: "refused" });
      delays.push(h.st.nextConnectAt - t0);
    }
    // 1, 2, 4, 8, 8 seconds, each shortened by at most 25 % jitter.
    const bases = [1000, 2000, 4000, 8000, 8000];
    for (const [i, d] of delays.entries()) {
      assert.ok(d <= bases[i] && d >= bases[i] * 0.75, `attempt ${i + 1}: ${d} ms`);
    }
  });

  it("gives up after ReconnectMaxTries failed attempts", () => {
    const h = new CoreHarness({ ConnectionType: "initiator", ReconnectMaxTries: 2, ReconnectInterval: 1 });
    h.ev({ type: "timer" });
    h.ev({ type: "connectFailed", reason: "refused" });
    h.runFor(2_000);
    h.ev({ type: "connectFailed", reason: "refused" });
    assert.equal(h.st.status, Status.Disconnected);
    assert.equal(h.st.enabled, false);
    assert.deepEqual(kinds(h.runFor(60_000)), []);
  });

  it("an operator logout disables the session: a new Logon is refused until `logon`", () => {
    const h = new CoreHarness();
    h.logon();
    h.ev({ type: "logout", reason: "maintenance" });
    h.recv("5");
    h.ev({ type: "connected" });
    assert.deepEqual(kinds(h.recv("A", [98, 0, 108, 30], { seq: 3 })), ["disconnect"]);
    h.ev({ type: "logon" });
    h.ev({ type: "connected" });
    assert.deepEqual(sent(h.recv("A", [98, 0, 108, 30], { seq: 3 })), ["35=A|34=3|98=0|108=30"]);
  });
});

describe("inbound checks", () => {
  it("a message in another FIX version mid-session is answered with Logout 'Incorrect BeginString'", () => {
    const h = new CoreHarness();
    h.logon();
    const parsed = h.tampered("0", (t) => t.replace("8=FIX.4.4", "8=FIX.4.3"));
    assert.deepEqual(sent(h.ev({ type: "message", msg: parsed })), ["35=5|34=2|58=Incorrect BeginString"]);
  });

  it("a PossDup resend whose OrigSendingTime is after its SendingTime gets Reject 373=10 and a Logout", () => {
    const h = new CoreHarness();
    h.logon();
    h.recv("0");
    const acts = h.recv("0", [], { seq: 2, header: [43, "Y", 122, "20261127-09:00:10.000"] });
    assert.deepEqual(sent(acts), ["35=3|34=2|45=2|58=SendingTime accuracy problem|372=0|373=10", "35=5|34=3"]);
  });

  it("an incoming Reject takes its sequence number and is reported", () => {
    const h = new CoreHarness();
    h.logon();
    const acts = h.recv("3", [45, 1, 58, "bad"]);
    assert.equal(h.st.nextTargetSeq, 3);
    assert.ok(acts.some((a) => a.type === "notice" && a.notice.kind === "rejectReceived"));
  });

  it("SequenceReset-Reset beyond an open gap closes the gap", () => {
    const h = new CoreHarness();
    h.logon();
    h.recv("0", [], { seq: 5 });
    assert.notEqual(h.st.resendRange, null);
    h.recv("4", [36, 10], { seq: 0 });
    assert.equal(h.st.nextTargetSeq, 10);
    assert.equal(h.st.resendRange, null);
  });

  it("hands an application message out and waits for `resume` before processing the ones queued behind it", () => {
    const h = new CoreHarness();
    h.logon();
    h.recv("D", [11, "B"], { seq: 3 });
    const fill = h.recv("D", [11, "A"], { seq: 2 });
    assert.deepEqual(kinds(fill), ["deliver"]);
    const rest = h.ev({ type: "resume" });
    assert.deepEqual(kinds(rest), ["deliver"]);
    assert.equal(h.st.nextTargetSeq, 4);
  });

  it("refuses session-level MsgTypes from the application but lets it send a Reject", () => {
    const h = new CoreHarness();
    h.logon();
    assert.equal(h.ev({ type: "send", msgType: "0", body: null })[0].type, "sendRefused");
    assert.equal(h.ev({ type: "send", msgType: "3", body: [45, 1, 58, "no"] })[0].type, "send");
  });
});

describe("notices", () => {
  it("a counterparty Logout gives one logout notice, theirs, with their reason", () => {
    const h = new CoreHarness();
    h.logon();
    const acts = h.recv("5", [58, "end of day"]);
    const logouts = acts.filter((a) => a.type === "notice" && a.notice.kind === "logout");
    assert.equal(logouts.length, 1);
    assert.deepEqual(logouts[0].type === "notice" && logouts[0].notice, {
      kind: "logout",
      reason: "end of day",
      initiatedBy: "them",
    });
  });

  it("reports how many messages a ResendRequest resent and how many GapFills it took", () => {
    const h = new CoreHarness();
    h.logon();
    h.ev({ type: "send", msgType: "D", body: [11, "A"] });
    const out = h.serveLoads(h.recv("2", [7, 1, 16, 0]));
    const served = out.find((a) => a.type === "notice" && a.notice.kind === "resendServed");
    assert.ok(served && served.type === "notice" && served.notice.kind === "resendServed");
    assert.equal(served.notice.resent, 1);
    assert.equal(served.notice.gapFilled, 1);
  });
});
