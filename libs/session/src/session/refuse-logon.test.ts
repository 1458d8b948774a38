/**
 * A Logon the runtime refused (wrong credentials, address not allowed): the acceptor answers with a Logout giving
 * the reason and disconnects, both numbers moving on as after QuickFIX's RejectLogon; an initiator reads that
 * Logout (and its reason) instead of dropping it as "not a Logon".
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CoreHarness, kinds, sent } from "./testkit.js";
import { Status } from "./types.js";

describe("refused Logon", () => {
  it("acceptor: Logout with the text, then disconnect; the Logout is persisted and the Logon's number consumed", () => {
    const h = new CoreHarness();
    h.ev({ type: "connected" });
    const acts = h.ev({
      type: "refuseLogon",
      msg: h.msg("A", [98, 0, 108, 30, 553, "u", 554, "pw"]),
      text: "Logon refused",
    });
    assert.deepEqual(sent(acts), ["35=5|34=1|58=Logon refused"]);
    assert.deepEqual(kinds(acts), ["send", "disconnect"]);
    assert.equal(h.stored.length, 1, "the Logout is stored like any message");
    assert.equal(h.st.status, Status.Disconnected);
    assert.equal(h.st.receivedLogon, false);
    assert.equal(h.st.nextSenderSeq, 2);
    assert.equal(h.st.nextTargetSeq, 2);
    const notice = acts.find((a) => a.type === "notice" && a.notice.kind === "logout");
    assert.deepEqual(notice?.type === "notice" && notice.notice, {
      kind: "logout",
      reason: "Logon refused",
      initiatedBy: "us",
    });
  });

  it("acceptor: a refused Logon with a number other than the expected one leaves the expected number alone", () => {
    const h = new CoreHarness({}, { nextTargetSeq: 5 });
    h.ev({ type: "connected" });
    h.ev({ type: "refuseLogon", msg: h.msg("A", [98, 0, 108, 30], { seq: 9 }), text: "Logon refused" });
    assert.equal(h.st.nextTargetSeq, 5);
  });

  it("initiator: a Logout answering its Logon is read, its reason given, and the link closed", () => {
    const h = new CoreHarness({ ConnectionType: "initiator", HeartBtInt: 30, ReconnectInterval: 30 });
    h.ev({ type: "timer" });
    h.ev({ type: "connected" });
    const acts = h.recv("5", [58, "Logon refused"]);
    const notice = acts.find((a) => a.type === "notice" && a.notice.kind === "logout");
    assert.deepEqual(notice?.type === "notice" && notice.notice, {
      kind: "logout",
      reason: "Logon refused",
      initiatedBy: "them",
    });
    assert.ok(kinds(acts).includes("disconnect"));
    assert.equal(h.st.nextTargetSeq, 2, "the Logout's number is taken");
  });
});
