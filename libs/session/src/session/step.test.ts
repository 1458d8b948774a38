import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CoreHarness, kinds, sent } from "./testkit.js";
import { Health, Status } from "./types.js";

describe("logon", () => {
  it("answers a Logon with a Logon echoing HeartBtInt, at MsgSeqNum 1", () => {
    const h = new CoreHarness();
    const acts = h.logon(30);
    assert.deepEqual(sent(acts), ["35=A|34=1|98=0|108=30"]);
    assert.equal(h.st.status, Status.LoggedOn);
    assert.equal(h.st.health, Health.Live);
    assert.equal(h.st.nextTargetSeq, 2);
  });

  it("closes without a word when the first message is not a Logon", () => {
    const h = new CoreHarness();
    h.ev({ type: "connected" });
    const acts = h.recv("0");
    assert.deepEqual(kinds(acts), ["disconnect"]);
    assert.equal(h.st.status, Status.Disconnected);
  });

  it("closes without a word on a Logon whose SendingTime is off by more than MaxLatency", () => {
    const h = new CoreHarness();
    h.ev({ type: "connected" });
    const acts = h.recv("A", [98, 0, 108, 30], { sendingTime: h.now - 121_000 });
    assert.deepEqual(kinds(acts), ["disconnect"]);
  });

  it("resets both sequence numbers on a Logon with ResetSeqNumFlag=Y and answers with 141=Y", () => {
    const h = new CoreHarness({}, { nextSenderSeq: 11, nextTargetSeq: 11 });
    h.ev({ type: "connected" });
    const acts = h.recv("A", [98, 0, 108, 30, 141, "Y"], { seq: 1 });
    assert.equal(acts[0].type, "resetStore");
    assert.deepEqual(sent(acts), ["35=A|34=1|98=0|108=30|141=Y"]);
    assert.equal(h.st.nextTargetSeq, 2);
  });

  it("initiator connects, sends its Logon and reconnects with backoff after a logon timeout", () => {
    const h = new CoreHarness({ ConnectionType: "initiator", HeartBtInt: 5, LogonTimeout: 2, ReconnectInterval: 1 });
    assert.deepEqual(kinds(h.ev({ type: "timer" })), ["connect"]);
    const logon = h.ev({ type: "connected" });
    assert.deepEqual(sent(logon), ["35=A|34=1|98=0|108=5"]);
    assert.equal(h.st.health, Health.LogonSent);
    const timedOut = h.runFor(2000);
    assert.deepEqual(kinds(timedOut), ["disconnect"]);
    assert.equal(h.st.status, Status.Connecting);
    const retry = h.runFor(1000);
    assert.deepEqual(kinds(retry), ["connect"]);
  });

  it("initiator sends Username and Password but stores the Logon with the password masked", () => {
    const h = new CoreHarness({ ConnectionType: "initiator", Username: "u1", Password: "s3cret" });
    h.ev({ type: "timer" });
    const acts = h.ev({ type: "connected" });
    const send = acts.find((a) => a.type === "send");
    assert.ok(send && send.type === "send");
    assert.match(send.bytes.toString("latin1"), /\x01554=s3cret\x01/);
    assert.ok(send.stored);
    assert.doesNotMatch(send.stored.toString("latin1"), /s3cret/);
  });

  it("initiator with ForceSeqNumReset=2 resets and sends 141=Y on every logon", () => {
    const h = new CoreHarness(
      { ConnectionType: "initiator", ForceSeqNumReset: 2 },
      { nextSenderSeq: 7, nextTargetSeq: 9 },
    );
    h.ev({ type: "timer" });
    const acts = h.ev({ type: "connected" });
    assert.equal(acts[0].type, "resetStore");
    assert.deepEqual(sent(acts), ["35=A|34=1|98=0|108=30|141=Y"]);
  });
});

describe("NextExpectedMsgSeqNum (789)", () => {
  it("acceptor puts 789 in its Logon answer and replays what the counterparty says it never received", () => {
    const h = new CoreHarness({ SendNextExpectedMsgSeqNum: true }, { nextSenderSeq: 4, nextTargetSeq: 3 });
    h.stored.push(
      ...[1, 2, 3].map((seq) => ({ seq, msgType: "D", bytes: h.msg("D", [11, `O${seq}`], { seq: 90 + seq }).raw })),
    );
    h.ev({ type: "connected" });
    const acts = h.recv("A", [98, 0, 108, 30, 789, 2], { seq: 3 });
    assert.deepEqual(sent(acts), ["35=A|34=4|98=0|108=30|789=4"]);
    assert.deepEqual(kinds(acts), ["send", "loadResend"]);
    const replay = h.serveLoads(acts);
    assert.deepEqual(sent(replay).length, 2);
    assert.match(sent(replay)[0], /^35=D\|34=2\|43=Y/);
  });

  it("goes SAFE and logs out when 789 is beyond anything we sent", () => {
    const h = new CoreHarness({ SendNextExpectedMsgSeqNum: true }, { nextSenderSeq: 4, nextTargetSeq: 1 });
    h.ev({ type: "connected" });
    const acts = h.recv("A", [98, 0, 108, 30, 789, 9]);
    assert.ok(kinds(acts).includes("disconnect"));
    assert.match(sent(acts)[1], /NextExpectedMsgSeqNum\(789\) 9 is beyond/);
    assert.equal(h.st.health, Health.Safe);
  });
});

describe("sequence numbers", () => {
  it("sends ResendRequest for 5..9 when 10 arrives after 4, then processes the queued 10", () => {
    const h = new CoreHarness();
    h.logon();
    for (let i = 0; i < 3; i++) h.recv("0");
    const gap = h.recv("0", [], { seq: 10 });
    assert.deepEqual(sent(gap), ["35=2|34=2|7=5|16=0"]);
    assert.equal(h.st.health, Health.Recovery);
    for (let s = 5; s <= 9; s++) h.recv("0", [], { seq: s });
    assert.equal(h.st.nextTargetSeq, 11);
    assert.equal(h.st.resendRange, null);
    assert.equal(h.st.health, Health.Live);
  });

  it("both sides recovering: their ResendRequest ahead of the sequence is answered and passed over, one recovery", () => {
    // We expect 5; their Logon comes as 9 (they sent 5..8 to a process of ours that died), then their own
    // ResendRequest as 10 (they missed our last messages too). Their replay of 5.. ends with one GapFill over
    // 9 and 10 under MsgSeqNum 9 — a number we have passed once we took the queued Logon.
    const h = new CoreHarness({}, { nextSenderSeq: 3, nextTargetSeq: 5 });
    for (const seq of [1, 2]) h.stored.push({ seq, msgType: "D", bytes: h.msg("D", [11, `O${seq}`], { seq }).raw });
    h.ev({ type: "connected" });
    const logon = h.recv("A", [98, 0, 108, 30], { seq: 9 });
    assert.deepEqual(sent(logon), ["35=A|34=3|98=0|108=30", "35=2|34=4|7=5|16=0"]);
    assert.equal(h.st.health, Health.Recovery);
    const served = h.serveLoads(h.recv("2", [7, 1, 16, 0], { seq: 10 }));
    // Our two orders again, and a GapFill over our Logon and ResendRequest.
    assert.deepEqual(
      sent(served).map((m) => m.slice(0, 15)),
      ["35=D|34=1|43=Y|", "35=D|34=2|43=Y|", "35=4|34=3|43=Y|"],
      "their ResendRequest answered at once",
    );
    const poss = [43, "Y", 122, "20261127-08:59:59.000"];
    for (const seq of [5, 6, 7, 8]) h.recv("0", [], { seq, header: poss });
    assert.equal(h.st.nextTargetSeq, 11, "the queued Logon and ResendRequest passed over");
    assert.equal(h.st.health, Health.Live);
    const fill = h.recv("4", [36, 11, 123, "Y"], { seq: 9, header: poss });
    assert.deepEqual(sent(fill), [], "the GapFill over 9..10 is a PossDup copy of what we have");
    const next = h.recv("0", [], { seq: 11 });
    assert.deepEqual(sent(next), [], "no second ResendRequest");
    assert.equal(h.st.nextTargetSeq, 12);
    assert.equal(h.st.health, Health.Live);
  });

  it("sends only one ResendRequest while a gap is open", () => {
    const h = new CoreHarness();
    h.logon();
    h.recv("0", [], { seq: 5 });
    const again = h.recv("0", [], { seq: 6 });
    assert.deepEqual(sent(again), []);
  });

  it("asks in chunks of ResendRequestChunkSize, the next chunk when one is filled, the last one to the end", () => {
    const h = new CoreHarness({ ResendRequestChunkSize: 3 });
    h.logon();
    assert.deepEqual(sent(h.recv("0", [], { seq: 10 })), ["35=2|34=2|7=2|16=4"]);
    h.recv("0", [], { seq: 2 });
    h.recv("0", [], { seq: 3 });
    assert.deepEqual(sent(h.recv("0", [], { seq: 4 })), ["35=2|34=3|7=5|16=7"]);
    for (const s of [5, 6]) h.recv("0", [], { seq: s });
    assert.deepEqual(sent(h.recv("0", [], { seq: 7 })), ["35=2|34=4|7=8|16=0"]);
    for (const s of [8, 9]) h.recv("0", [], { seq: s });
    assert.equal(h.st.nextTargetSeq, 11);
  });

  it("asks for the next chunk when a GapFill closes the chunk it asked for but not the gap", () => {
    const h = new CoreHarness({ ResendRequestChunkSize: 3 });
    h.logon();
    assert.deepEqual(sent(h.recv("0", [], { seq: 10 })), ["35=2|34=2|7=2|16=4"]);
    const fill = (seq: number, next: number) =>
      h.recv("4", [36, next, 123, "Y"], { seq, header: [43, "Y", 122, "20261127-08:59:59.000"] });
    assert.deepEqual(sent(fill(2, 5)), ["35=2|34=3|7=5|16=7"]);
    assert.deepEqual(sent(fill(5, 8)), ["35=2|34=4|7=8|16=0"]);
    fill(8, 10);
    assert.equal(h.st.nextTargetSeq, 11, "the queued 10 processed");
    assert.equal(h.st.resendRange, null);
    assert.equal(h.st.health, Health.Live);
  });

  it("answers MsgSeqNum too low without PossDupFlag with a Logout, disconnects and goes SAFE", () => {
    const h = new CoreHarness();
    h.logon();
    for (let i = 0; i < 3; i++) h.recv("0");
    const acts = h.recv("0", [], { seq: 2 });
    assert.deepEqual(sent(acts), ["35=5|34=2|58=MsgSeqNum too low, expecting 5 but received 2"]);
    assert.ok(kinds(acts).includes("disconnect"));
    assert.equal(h.st.health, Health.Safe);
  });

  it("refuses application sends while SAFE and leaves SAFE only when cleared", () => {
    const h = new CoreHarness();
    h.logon();
    h.recv("0");
    h.recv("0", [], { seq: 1 });
    h.logon(30, []);
    const refused = h.ev({ type: "send", msgType: "D", body: [11, "X"] });
    assert.equal(refused[0].type, "sendRefused");
    h.ev({ type: "clearSafe", reason: "checked with venue" });
    assert.equal(h.st.health, Health.Live);
  });

  it("initiator SAFE on MsgSeqNum too low stays down until an operator logs it on", () => {
    const h = new CoreHarness({ ConnectionType: "initiator", ReconnectInterval: 1 });
    h.ev({ type: "timer" });
    h.ev({ type: "connected" });
    h.recv("A", [98, 0, 108, 30]);
    h.recv("0");
    const acts = h.recv("0", [], { seq: 1 });
    assert.ok(kinds(acts).includes("disconnect"));
    assert.equal(h.st.health, Health.Safe);
    assert.equal(h.st.status, Status.Disconnected);
    assert.deepEqual(kinds(h.runFor(60_000)), [], "no reconnect by itself");
    assert.deepEqual(kinds(h.ev({ type: "logon" })), ["connect"], "the operator's logon connects");
    assert.equal(h.st.health, Health.Safe, "still SAFE until cleared or reset");
  });

  it("ignores a PossDup message with a too-low MsgSeqNum", () => {
    const h = new CoreHarness();
    h.logon();
    h.recv("0");
    const acts = h.recv("0", [], { seq: 2, header: [43, "Y", 122, "20261127-08:59:59.000"] });
    assert.deepEqual(sent(acts), []);
    assert.equal(h.st.counters.duplicatesIgnored, 1);
  });

  it("rejects a PossDup message without OrigSendingTime (371=122, 373=1)", () => {
    const h = new CoreHarness();
    h.logon();
    h.recv("0");
    const acts = h.recv("0", [], { seq: 2, header: [43, "Y"] });
    assert.deepEqual(sent(acts), ["35=3|34=2|45=2|58=Required tag missing|371=122|372=0|373=1"]);
  });

  it("moves the expected number up on SequenceReset-GapFill and rejects a lower NewSeqNo (373=5)", () => {
    const h = new CoreHarness();
    h.logon();
    h.recv("4", [36, 20, 123, "Y"]);
    assert.equal(h.st.nextTargetSeq, 20);
    const acts = h.recv("4", [36, 5], { seq: 0 });
    assert.deepEqual(sent(acts), ["35=3|34=2|45=0|58=Value is incorrect (out of range) for this tag|372=4|373=5"]);
    assert.equal(h.st.nextTargetSeq, 20);
  });
});

describe("serving ResendRequests", () => {
  it("resends application messages with PossDupFlag and OrigSendingTime and gap-fills admin runs", () => {
    const h = new CoreHarness();
    h.logon();
    h.ev({ type: "send", msgType: "D", body: [11, "A", 55, "IBM"] });
    h.recv("1", [112, "X"]); // our Heartbeat answer takes seq 3
    h.ev({ type: "send", msgType: "D", body: [11, "B", 55, "IBM"] });
    const req = h.recv("2", [7, 1, 16, 0]);
    assert.deepEqual(kinds(req), ["loadResend"]);
    const out = h.serveLoads(req);
    assert.deepEqual(sent(out), [
      "35=4|34=1|43=Y|36=2|123=Y",
      "35=D|34=2|43=Y|11=A|55=IBM",
      "35=4|34=3|43=Y|36=4|123=Y",
      "35=D|34=4|43=Y|11=B|55=IBM",
    ]);
  });

  it("holds inbound messages while stored messages load, so replies keep their order", () => {
    const h = new CoreHarness();
    h.logon();
    h.ev({ type: "send", msgType: "D", body: [11, "A"] });
    const req = h.recv("2", [7, 2, 16, 2]);
    const hb = h.recv("1", [112, "T"]);
    assert.deepEqual(sent(hb), []);
    const out = h.serveLoads(req);
    assert.deepEqual(sent(out), ["35=D|34=2|43=Y|11=A", "35=0|34=3|112=T"]);
  });

  it("ignores a duplicate ResendRequest for a range being replayed when IgnoreDuplicateResendRequests=Y", () => {
    const h = new CoreHarness({ IgnoreDuplicateResendRequests: true });
    h.logon();
    h.ev({ type: "send", msgType: "D", body: [11, "A"] });
    const first = h.recv("2", [7, 1, 16, 0]);
    assert.deepEqual(kinds(first), ["loadResend"]);
    // The duplicate arrives while the first replay is loading: it is held, then found redundant.
    h.recv("2", [7, 1, 16, 0]);
    const out = h.serveLoads(first);
    assert.equal(out.filter((a) => a.type === "loadResend").length, 0);
  });

  it("goes SAFE when the counterparty asks for the same range ResendLoopLimit times", () => {
    const h = new CoreHarness({ ResendLoopLimit: 3 });
    h.logon();
    for (let i = 0; i < 3; i++) h.serveLoads(h.recv("2", [7, 1, 16, 1]));
    assert.equal(h.st.health, Health.Safe);
  });
});

describe("heartbeats and test requests", () => {
  it("sends a Heartbeat after HeartBtInt without sending", () => {
    const h = new CoreHarness();
    h.logon(10);
    h.now += 9_000;
    h.recv("0");
    assert.deepEqual(sent(h.runFor(1_000)), ["35=0|34=2"]);
  });

  it("sends TestRequest after 1.5 × HeartBtInt of silence and drops the link at 2 ×", () => {
    const h = new CoreHarness();
    h.logon(10);
    const out = h.runFor(15_000);
    assert.deepEqual(sent(out), ["35=0|34=2", "35=1|34=3|112=TEST"]);
    assert.equal(h.st.status, Status.LoggedOn);
    const dead = h.runFor(5_000);
    assert.ok(kinds(dead).includes("disconnect"));
    assert.equal(h.st.status, Status.Disconnected);
  });

  it("answers a TestRequest with a Heartbeat carrying its TestReqID", () => {
    const h = new CoreHarness();
    h.logon();
    assert.deepEqual(sent(h.recv("1", [112, "HELLO"])), ["35=0|34=2|112=HELLO"]);
  });
});

describe("logout", () => {
  it("answers a Logout with a Logout and disconnects", () => {
    const h = new CoreHarness();
    h.logon();
    const acts = h.recv("5");
    assert.deepEqual(sent(acts), ["35=5|34=2"]);
    assert.ok(kinds(acts).includes("disconnect"));
  });

  it("disconnects LogoutTimeout after our Logout when no answer comes", () => {
    const h = new CoreHarness({ LogoutTimeout: 2 });
    h.logon();
    h.ev({ type: "logout", reason: "bye" });
    assert.equal(h.st.status, Status.LogoutSent);
    assert.deepEqual(kinds(h.runFor(2_000)), ["disconnect"]);
  });

  it("with IntradayLogoutTolerance=N the next logon starts a new cycle", () => {
    const h = new CoreHarness({ IntradayLogoutTolerance: false });
    h.logon();
    h.recv("5");
    h.ev({ type: "connected" });
    const acts = h.recv("A", [98, 0, 108, 30], { seq: 1 });
    assert.equal(acts[0].type, "resetStore");
  });
});

describe("validation and routing", () => {
  it("rejects a CompID problem with 373=9 and logs out", () => {
    const h = new CoreHarness();
    h.logon();
    const parsed = h.tampered("0", (t) => t.replace("49=TW", "49=XX"));
    const acts = h.ev({ type: "message", msg: parsed });
    assert.deepEqual(sent(acts), ["35=3|34=2|45=2|58=CompID problem|372=0|373=9", "35=5|34=3"]);
  });

  it("reverses OnBehalfOf/DeliverTo routing on a Reject", () => {
    const h = new CoreHarness({ MaxLatency: 1 });
    h.logon();
    const acts = h.recv("0", [], { header: [115, "ONB", 128, "DLV"], sendingTime: h.now - 5000 });
    assert.equal(sent(acts)[0], "35=3|34=2|115=DLV|128=ONB|45=2|58=SendingTime accuracy problem|372=0|373=10");
  });

  it("refuses application sends before logon", () => {
    const h = new CoreHarness();
    const acts = h.ev({ type: "send", msgType: "D", body: [11, "A"] });
    assert.equal(acts[0].type, "sendRefused");
  });
});

describe("health", () => {
  it("goes DEGRADED when the queued backlog passes DegradedBacklog and back to LIVE only after the recovery period", () => {
    const h = new CoreHarness({ DegradedBacklog: 5, DegradedRecoverySeconds: 5 });
    h.logon();
    for (let s = 10; s < 16; s++) h.recv("0", [], { seq: s });
    assert.equal(h.st.health, Health.Degraded);
    for (let s = 2; s < 10; s++) h.recv("0", [], { seq: s });
    assert.equal(h.st.nextTargetSeq, 16);
    assert.equal(h.st.health, Health.Degraded, "hysteresis: not LIVE at once");
    h.runFor(5_000);
    assert.equal(h.st.health, Health.Live);
  });
});

describe("schedule", () => {
  it("does not connect outside the session window and resets the cycle when a new window starts", () => {
    let open = false;
    const schedule = {
      isInSession: () => open,
      isSameSession: (a: number, b: number) => Math.floor(a / 86_400_000) === Math.floor(b / 86_400_000),
    };
    const h = new CoreHarness({ ConnectionType: "initiator" }, { schedule, nextSenderSeq: 5, nextTargetSeq: 5 });
    assert.deepEqual(kinds(h.ev({ type: "timer" })), []);
    open = true;
    h.now += 86_400_000;
    const acts = h.ev({ type: "timer" });
    assert.deepEqual(kinds(acts), ["resetStore"]);
    h.ev({ type: "storeReset" });
    assert.deepEqual(kinds(h.ev({ type: "timer" })), ["connect"]);
  });
});
