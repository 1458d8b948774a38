/**
 * Interop with a counterparty that is not our engine: QuickFIX C++ 1.15.1 (Debian's libquickfix-dev), driven as a
 * child process (../quickfix/venue.cpp). Our engine is the initiator against QuickFIX's acceptor (FIX 4.4 and
 * 4.2), then the acceptor for QuickFIX's initiator. Every connection goes through a WireTap that records both
 * sides' messages; a failing test prints that capture and QuickFIX's own message log.
 *
 * QuickFIX C++ missing is a failure, not a skip: the message says how to install it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it, type TestContext } from "node:test";
import { Acceptor, type SessionHandle, SessionRunner, tcpConnector } from "@fixmesh/engine";
import {
  type FieldList,
  type FixMessage,
  formatUtcTimestamp,
  loadDictionary,
  MsgType,
  Tag,
  validate,
} from "@fixmesh/fix";
import { FileStore, Health, resolveSettings, type SessionNotice } from "@fixmesh/session";
import { QuickFix, type QuickFixOptions, stopAllQuickFix } from "./quickfix.js";
import { WireTap } from "./wire.js";

const OURS = "fixmesh";
const THEIRS = "quickfix";

after(async () => {
  // Whatever a failed test left running: only the processes this suite started, each by its own PID.
  await stopAllQuickFix();
});

/** What our side received of the application: enough to assert on, copied out of the shared parser buffer. */
interface AppMessage {
  msgType: string;
  seq: number;
  clOrdId: string;
  execType: string;
  execId: string;
  possDup: boolean;
}

function appMessage(m: FixMessage, possDup: boolean): AppMessage {
  return {
    msgType: m.msgType,
    seq: m.getInt(Tag.MsgSeqNum) ?? 0,
    clOrdId: m.get(Tag.ClOrdID) ?? "",
    execType: m.get(Tag.ExecType) ?? "",
    execId: m.get(Tag.ExecID) ?? "",
    possDup,
  };
}

/** What our side saw, recorded by its application callbacks. */
interface Observed {
  received: AppMessage[];
  notices: SessionNotice[];
  /** When each notice came (performance.now(), the clock of the wire capture). */
  noticeTimes: number[];
  /** Sends of our acceptor's application that the session refused or could not persist. */
  sendFailures: string[];
}

interface OurSession extends Observed {
  runner: SessionRunner;
}

function observed(): Observed {
  return { received: [], notices: [], noticeTimes: [], sendFailures: [] };
}

function recordNotice(o: Observed, n: SessionNotice): void {
  o.notices.push(n);
  o.noticeTimes.push(performance.now());
}

/** One test's world: temp dirs, QuickFIX processes, taps and our sessions, all closed at the end. */
class Scenario {
  readonly taps: WireTap[] = [];
  readonly quickfixes: QuickFix[] = [];
  readonly ours: OurSession[] = [];
  private readonly dirs: string[] = [];
  private readonly closers: Array<() => Promise<void>> = [];

  dir(): string {
    const d = mkdtempSync(join(tmpdir(), "fixmesh-interop-"));
    this.dirs.push(d);
    return d;
  }

  async quickfix(opts: Omit<QuickFixOptions, "dir">): Promise<QuickFix> {
    const q = await QuickFix.start({ dir: this.dir(), ...opts });
    this.quickfixes.push(q);
    return q;
  }

  async tap(targetPort: number, names: { client: string; server: string }): Promise<WireTap> {
    const t = new WireTap(targetPort, names);
    await t.listen();
    this.taps.push(t);
    return t;
  }

  /** Our engine as initiator (CLIENT → VENUE) on a FileStore in `storeDir`, validating with our dictionary. */
  async initiator(
    port: number,
    storeDir: string,
    opts: { beginString?: string; reconnectInterval?: number } = {},
  ): Promise<OurSession> {
    const beginString = opts.beginString ?? "FIX.4.4";
    const dict = loadDictionary(beginString);
    const seen = observed();
    const runner = await SessionRunner.start({
      settings: resolveSettings({
        BeginString: beginString,
        SenderCompID: "CLIENT",
        TargetCompID: "VENUE",
        ConnectionType: "initiator",
        HeartBtInt: 30,
        ReconnectInterval: opts.reconnectInterval ?? 30,
      }),
      store: new FileStore({ dir: storeDir, session: `${beginString}-CLIENT-VENUE`, fsync: "never" }),
      app: {
        onMessage: (m, _s, possDup) => seen.received.push(appMessage(m, possDup)),
        onNotice: (n) => recordNotice(seen, n),
      },
      validate: (m) => validate(m, dict),
      connect: tcpConnector([{ host: "127.0.0.1", port }]),
      schedule: null,
    });
    const session: OurSession = { runner, ...seen };
    this.ours.push(session);
    this.closers.push(() => runner.stop(0));
    return session;
  }

  /** Our engine as acceptor (FIXMESH ← QFCLIENT) answering every order with an ExecutionReport New and a Fill. */
  async acceptor(): Promise<OurSession & { port: number }> {
    const dict = loadDictionary("FIX.4.4");
    const seen = observed();
    let execs = 0;
    const runner = await SessionRunner.start({
      settings: resolveSettings({
        BeginString: "FIX.4.4",
        SenderCompID: "FIXMESH",
        TargetCompID: "QFCLIENT",
        ConnectionType: "acceptor",
        HeartBtInt: 30,
      }),
      store: new FileStore({ dir: this.dir(), session: "FIX.4.4-FIXMESH-QFCLIENT", fsync: "never" }),
      app: {
        onMessage: (m, s, possDup) => {
          const msg = appMessage(m, possDup);
          seen.received.push(msg);
          if (m.msgType !== MsgType.NewOrderSingle) return;
          for (const sent of answerOrder(m, s, () => `X${++execs}`)) {
            sent.catch((err: Error) => seen.sendFailures.push(`${msg.clOrdId}: ${err.name}: ${err.message}`));
          }
        },
        onNotice: (n) => recordNotice(seen, n),
      },
      validate: (m) => validate(m, dict),
      schedule: null,
    });
    const acceptor = new Acceptor({ host: "127.0.0.1", port: 0 });
    acceptor.register(runner);
    const port = await acceptor.listen();
    const session: OurSession = { runner, ...seen };
    this.ours.push(session);
    this.closers.push(async () => {
      await runner.stop(0);
      await acceptor.close();
    });
    return { ...session, port };
  }

  /** Both sides' messages, for a failing test (or every test with FIXMESH_INTEROP_WIRE=1). */
  report(): string {
    const parts: string[] = [];
    for (const t of this.taps) parts.push("--- wire (recorded between the two engines) ---", t.transcript());
    for (const q of this.quickfixes) {
      parts.push("--- QuickFIX stdout ---", q.lines.join("\n"), "--- QuickFIX message log ---", q.messageLog());
    }
    for (const o of this.ours) {
      const lines = o.notices.map((n, i) => `${o.noticeTimes[i].toFixed(1).padStart(8)} ms  ${JSON.stringify(n)}`);
      parts.push(`--- our notices (${o.runner.id}) ---`, lines.join("\n"));
      if (o.sendFailures.length > 0) parts.push("--- our failed sends ---", o.sendFailures.join("\n"));
    }
    return parts.join("\n");
  }

  async close(): Promise<void> {
    for (const c of this.closers.reverse()) await c();
    for (const t of this.taps) await t.close();
    for (const q of this.quickfixes) await q.stop();
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}

/** Runs a scenario; on failure (or with FIXMESH_INTEROP_WIRE=1) prints both sides' messages as diagnostics. */
async function interop(t: TestContext, body: (s: Scenario) => Promise<void>): Promise<void> {
  const s = new Scenario();
  try {
    await body(s);
    if (process.env.FIXMESH_INTEROP_WIRE) for (const line of s.report().split("\n")) t.diagnostic(line);
  } catch (err) {
    for (const line of s.report().split("\n")) t.diagnostic(line);
    throw err;
  } finally {
    await s.close();
  }
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function newOrder(clOrdId: string, beginString = "FIX.4.4"): FieldList {
  const body: FieldList = [Tag.ClOrdID, clOrdId];
  if (beginString === "FIX.4.2") body.push(Tag.HandlInst, "1"); // required in 4.2, gone from 4.4's D
  body.push(
    Tag.Symbol,
    "IBM",
    Tag.Side,
    "1",
    Tag.TransactTime,
    formatUtcTimestamp(Date.now(), 3),
    Tag.OrderQty,
    100,
    Tag.OrdType,
    "2",
    Tag.Price,
    "12.5",
  );
  return body;
}

/** Our venue's answer to an order: New, then a Fill of the whole quantity (FIX 4.4 fields). */
function answerOrder(order: FixMessage, s: SessionHandle, execId: () => string): Array<Promise<number>> {
  const clOrdId = order.get(Tag.ClOrdID) ?? "";
  const qty = order.get(Tag.OrderQty) ?? "100";
  const px = order.get(Tag.Price) ?? "100";
  const common = [Tag.OrderID, `O-${clOrdId}`, Tag.ClOrdID, clOrdId];
  const instrument = [Tag.Symbol, order.get(Tag.Symbol) ?? "IBM", Tag.Side, order.get(Tag.Side) ?? "1"];
  const answerNew = s.send(MsgType.ExecutionReport, [
    ...common,
    Tag.ExecID,
    execId(),
    Tag.ExecType,
    "0",
    Tag.OrdStatus,
    "0",
    ...instrument,
    Tag.OrderQty,
    qty,
    Tag.LeavesQty,
    qty,
    Tag.CumQty,
    0,
    Tag.AvgPx,
    0,
  ]);
  const answerFill = s.send(MsgType.ExecutionReport, [
    ...common,
    Tag.ExecID,
    execId(),
    Tag.ExecType,
    "F",
    Tag.OrdStatus,
    "2",
    ...instrument,
    Tag.OrderQty,
    qty,
    Tag.LastQty,
    qty,
    Tag.LastPx,
    px,
    Tag.LeavesQty,
    0,
    Tag.CumQty,
    qty,
    Tag.AvgPx,
    px,
  ]);
  return [answerNew, answerFill];
}

const live = (o: OurSession) => o.runner.state.health === Health.Live;
const execReports = (o: OurSession, clOrdId?: string) =>
  o.received.filter((m) => m.msgType === MsgType.ExecutionReport && (clOrdId === undefined || m.clOrdId === clOrdId));
const logoutNotices = (o: OurSession) => o.notices.filter((n) => n.kind === "logout");
/** Rejects (session-level and business) either side wrote: none is expected anywhere in this suite. */
const rejects = (tap: WireTap) =>
  tap.records.filter((r) => r.msgType === MsgType.Reject || r.msgType === MsgType.BusinessMessageReject);

describe("our initiator against a QuickFIX C++ acceptor", () => {
  for (const beginString of ["FIX.4.4", "FIX.4.2"]) {
    it(`${beginString}: logs on, and every order gets an ExecutionReport New then a Fill with distinct ExecIDs`, async (t) => {
      await interop(t, async (s) => {
        const qf = await s.quickfix({});
        const tap = await s.tap(qf.port, { client: OURS, server: THEIRS });
        const ours = await s.initiator(tap.port, s.dir(), { beginString });
        await qf.waitLine(new RegExp(`^LOGON ${beginString.replaceAll(".", "\\.")}`), 5000);
        await until(() => live(ours), 5000, "our session LIVE");
        for (const id of ["A1", "A2", "A3"]) await ours.runner.send(MsgType.NewOrderSingle, newOrder(id, beginString));
        await qf.waitLines(/^ORDER /, 3, 5000);
        assert.deepEqual(qf.matching(/^ORDER /), ["ORDER A1 N", "ORDER A2 N", "ORDER A3 N"]);
        await until(() => execReports(ours).length === 6, 5000, "six execution reports");
        const fill = beginString === "FIX.4.2" ? "2" : "F";
        assert.deepEqual(
          execReports(ours).map((m) => `${m.clOrdId}:${m.execType}`),
          ["A1:0", `A1:${fill}`, "A2:0", `A2:${fill}`, "A3:0", `A3:${fill}`],
        );
        assert.equal(new Set(execReports(ours).map((m) => m.execId)).size, 6, "ExecIDs are unique");
        assert.deepEqual(rejects(tap), []);
      });
    });
  }

  it("recovers a gap QuickFIX forces by skipping 5 sequence numbers: ResendRequest, GapFill, back to LIVE", async (t) => {
    await interop(t, async (s) => {
      const qf = await s.quickfix({});
      const tap = await s.tap(qf.port, { client: OURS, server: THEIRS });
      const ours = await s.initiator(tap.port, s.dir());
      await until(() => live(ours), 5000, "our session LIVE");
      await ours.runner.send(MsgType.NewOrderSingle, newOrder("G1"));
      await until(() => execReports(ours, "G1").length === 2, 5000, "G1 answered");

      qf.command("skip 5 FIX.4.4");
      const [, , skippedFrom, skippedTo] = (await qf.waitLine(/^SKIPPED /, 2000)).split(" ");
      const gapBegin = Number(skippedFrom);
      const gapEnd = Number(skippedTo) - 1;
      await ours.runner.send(MsgType.NewOrderSingle, newOrder("G2"));

      await until(() => ours.notices.some((n) => n.kind === "gap"), 5000, "our side to see the gap");
      assert.ok(
        ours.notices.some((n) => n.kind === "gap" && n.begin === gapBegin && n.end === gapEnd),
        `gap ${gapBegin}..${gapEnd} reported: ${JSON.stringify(ours.notices.filter((n) => n.kind === "gap"))}`,
      );
      const asked = await qf.waitLine(/^IN 2 /, 5000);
      assert.equal(Number(asked.split(" ")[3]), gapBegin, `ResendRequest BeginSeqNo: ${asked}`);
      await until(() => tap.sentBy(THEIRS, MsgType.SequenceReset).length > 0, 5000, "QuickFIX's SequenceReset");
      const [gapFill] = tap.sentBy(THEIRS, MsgType.SequenceReset);
      assert.match(gapFill.text, /\|123=Y\|/, "a GapFill");
      assert.match(gapFill.text, new RegExp(`\\|34=${gapBegin}\\|`), "from the first missing number");
      assert.match(gapFill.text, new RegExp(`\\|36=${gapEnd + 1}\\|`), "to the first number QuickFIX used");
      await until(() => execReports(ours, "G2").length >= 2 && live(ours), 5000, "G2 answered and LIVE again");
      // The session carries on normally after the gap (and G3's answers come after QuickFIX's resent copies).
      await ours.runner.send(MsgType.NewOrderSingle, newOrder("G3"));
      await until(() => execReports(ours, "G3").length === 2, 5000, "G3 answered");
      assert.equal(ours.runner.state.health, Health.Live);
      assert.deepEqual(
        execReports(ours).map((m) => `${m.clOrdId}:${m.execType}:${m.possDup ? "Y" : "N"}`),
        ["G1:0:N", "G1:F:N", "G2:0:N", "G2:F:N", "G3:0:N", "G3:F:N"],
        "each ExecutionReport reaches the application once (the resent copies are duplicates)",
      );
      assert.deepEqual(rejects(tap), []);
    });
  });

  it("reconnects after the connection is cut; sequence numbers continue and QuickFIX accepts them", async (t) => {
    await interop(t, async (s) => {
      const qf = await s.quickfix({});
      const tap = await s.tap(qf.port, { client: OURS, server: THEIRS });
      const ours = await s.initiator(tap.port, s.dir(), { reconnectInterval: 0.1 });
      await until(() => live(ours), 5000, "our session LIVE");
      await ours.runner.send(MsgType.NewOrderSingle, newOrder("C1"));
      await until(() => execReports(ours, "C1").length === 2, 5000, "C1 answered");
      const before = ours.runner.state.nextSenderSeq;

      tap.cut();
      await qf.waitLine(/^LOGOUT FIX\.4\.4/, 5000);
      await qf.waitLines(/^LOGON FIX\.4\.4/, 2, 5000);
      await until(() => live(ours), 5000, "our session LIVE again");
      const logons = tap.sentBy(OURS, MsgType.Logon);
      assert.equal(logons.length, 2);
      assert.equal(logons[1].seq, before, "the new Logon takes the next number");
      assert.doesNotMatch(logons[1].text, /\|141=Y\|/, "no sequence reset");

      await ours.runner.send(MsgType.NewOrderSingle, newOrder("C2"));
      await until(() => execReports(ours, "C2").length === 2, 5000, "C2 answered");
      const theirs = await qf.sequences("FIX.4.4");
      assert.equal(theirs.nextTarget, ours.runner.state.nextSenderSeq, "QuickFIX expects what we send next");
      assert.equal(theirs.nextSender, ours.runner.state.nextTargetSeq, "we expect what QuickFIX sends next");
      assert.deepEqual(
        tap.records.filter((r) => r.msgType === MsgType.ResendRequest),
        [],
        "neither side saw a gap",
      );
      assert.deepEqual(rejects(tap), []);
    });
  });

  it("after a restart, resends with PossDupFlag=Y the orders it persisted that never reached QuickFIX", async (t) => {
    await interop(t, async (s) => {
      const qf = await s.quickfix({});
      const tap = await s.tap(qf.port, { client: OURS, server: THEIRS });
      const storeDir = s.dir();
      const first = await s.initiator(tap.port, storeDir);
      await until(() => live(first), 5000, "our session LIVE");
      await first.runner.send(MsgType.NewOrderSingle, newOrder("R1"));
      await until(() => execReports(first, "R1").length === 2, 5000, "R1 answered");

      // The network loses what we write from now on: R2 and R3 are persisted and written, never delivered.
      tap.holdClient = true;
      const lost = [
        await first.runner.send(MsgType.NewOrderSingle, newOrder("R2")),
        await first.runner.send(MsgType.NewOrderSingle, newOrder("R3")),
      ];
      await until(
        () => tap.sentBy(OURS, MsgType.NewOrderSingle).filter((r) => r.dropped).length === 2,
        5000,
        "R2, R3 lost",
      );
      tap.cut();
      await until(() => !first.runner.connected, 5000, "our side sees the cut");
      await first.runner.stop(0);
      tap.holdClient = false;
      await qf.waitLine(/^LOGOUT FIX\.4\.4/, 5000);

      // A new process on the same store: it logs on with the next number; QuickFIX sees R2, R3 missing.
      const second = await s.initiator(tap.port, storeDir);
      await qf.waitLines(/^LOGON FIX\.4\.4/, 2, 5000);
      const asked = await qf.waitLine(/^OUT 2 /, 5000);
      assert.equal(Number(asked.split(" ")[3]), lost[0], `QuickFIX asks from R2's MsgSeqNum: ${asked}`);
      await qf.waitLines(/^ORDER R[23] /, 2, 5000);
      assert.deepEqual(qf.matching(/^ORDER /), ["ORDER R1 N", "ORDER R2 Y", "ORDER R3 Y"]);
      const resent = tap.sentBy(OURS, MsgType.NewOrderSingle).filter((r) => !r.dropped && /\|11=R[23]\|/.test(r.text));
      assert.deepEqual(
        resent.map((r) => r.seq),
        lost,
        "the resent copies keep their numbers",
      );
      for (const r of resent) {
        assert.match(r.text, /\|43=Y\|/, `PossDupFlag=Y: ${r.text}`);
        assert.match(r.text, /\|122=/, `OrigSendingTime: ${r.text}`);
      }
      await until(
        () => execReports(second, "R2").length === 2 && execReports(second, "R3").length === 2 && live(second),
        5000,
        "R2 and R3 answered, LIVE",
      );
      assert.deepEqual(rejects(tap), []);
    });
  });

  it("logs out: QuickFIX answers our Logout", async (t) => {
    await interop(t, async (s) => {
      const qf = await s.quickfix({});
      const tap = await s.tap(qf.port, { client: OURS, server: THEIRS });
      const ours = await s.initiator(tap.port, s.dir());
      await until(() => live(ours), 5000, "our session LIVE");
      ours.runner.logout("end of day");
      await qf.waitLine(/^LOGOUT FIX\.4\.4/, 5000);
      await until(() => ours.notices.some((n) => n.kind === "logout"), 5000, "our logout notice");
      assert.deepEqual(logoutNotices(ours), [{ kind: "logout", reason: "end of day", initiatedBy: "us" }]);
      assert.deepEqual(
        tap.records.filter((r) => r.msgType === MsgType.Logout).map((r) => r.from),
        [OURS, THEIRS],
      );
      await until(() => !ours.runner.connected, 5000, "the connection closes");
    });
  });

  /** Logs on, then QuickFIX logs the session out (Text "venue logs out"). */
  async function loggedOutByQuickFix(s: Scenario) {
    const qf = await s.quickfix({});
    const tap = await s.tap(qf.port, { client: OURS, server: THEIRS });
    const ours = await s.initiator(tap.port, s.dir());
    await qf.waitLine(/^LOGON FIX\.4\.4/, 5000);
    await until(() => live(ours), 5000, "our session LIVE");
    qf.command("logout FIX.4.4");
    await qf.waitLine(/^LOGOUT FIX\.4\.4/, 5000);
    await until(() => ours.notices.some((n) => n.kind === "logout"), 5000, "our logout notice");
    return { qf, tap, ours };
  }

  it("is logged out by QuickFIX: answers its Logout", async (t) => {
    await interop(t, async (s) => {
      const { qf, tap, ours } = await loggedOutByQuickFix(s);
      assert.deepEqual(
        tap.records.filter((r) => r.msgType === MsgType.Logout).map((r) => r.from),
        [THEIRS, OURS],
      );
      assert.equal(qf.matching(/^IN 5 /).length, 1, "QuickFIX received our answer");
      assert.deepEqual(logoutNotices(ours)[0], { kind: "logout", reason: "venue logs out", initiatedBy: "them" });
    });
  });

  // What GetSession reports as the last logout is the last logout notice: after QuickFIX's Logout it must be
  // QuickFIX's (COUNTERPARTY, "venue logs out"), not our answer to it (LOCAL, "logout").
  it("reports QuickFIX's Logout once, as the counterparty's: no second notice saying we logged out", async (t) => {
    await interop(t, async (s) => {
      const { ours } = await loggedOutByQuickFix(s);
      await until(() => !ours.runner.connected, 5000, "the connection closes");
      assert.deepEqual(logoutNotices(ours), [{ kind: "logout", reason: "venue logs out", initiatedBy: "them" }]);
    });
  });
});

describe("a QuickFIX C++ initiator against our acceptor", () => {
  async function connected(s: Scenario) {
    const ours = await s.acceptor();
    const tap = await s.tap(ours.port, { client: THEIRS, server: OURS });
    const qf = await s.quickfix({ initiator: true, port: tap.port, senderCompId: "QFCLIENT", targetCompId: "FIXMESH" });
    await qf.waitLine(/^LOGON FIX\.4\.4/, 5000);
    await until(() => live(ours), 5000, "our session LIVE");
    return { ours, tap, qf };
  }

  it("accepts its logon and orders, and every order gets an ExecutionReport New then a Fill", async (t) => {
    await interop(t, async (s) => {
      const { ours, tap, qf } = await connected(s);
      qf.command("orders 3 Q FIX.4.4");
      await qf.waitLine(/^SENT 3/, 2000);
      await until(
        () => ours.received.filter((m) => m.msgType === MsgType.NewOrderSingle).length === 3,
        5000,
        "three orders",
      );
      assert.deepEqual(
        ours.received.map((m) => `${m.msgType}:${m.clOrdId}:${m.possDup}`),
        ["D:Q1:false", "D:Q2:false", "D:Q3:false"],
      );
      await qf.waitLines(/^EXEC /, 6, 5000);
      assert.deepEqual(ours.sendFailures, []);
      assert.deepEqual(qf.matching(/^EXEC /), [
        "EXEC Q1 0 0 N",
        "EXEC Q1 F 2 N",
        "EXEC Q2 0 0 N",
        "EXEC Q2 F 2 N",
        "EXEC Q3 0 0 N",
        "EXEC Q3 F 2 N",
      ]);
      assert.deepEqual(rejects(tap), []);
    });
  });

  it("recovers a gap QuickFIX forces on its orders: ResendRequest, GapFill, each order delivered once", async (t) => {
    await interop(t, async (s) => {
      const { ours, tap, qf } = await connected(s);
      qf.command("skip 4 FIX.4.4");
      const [, , skippedFrom, skippedTo] = (await qf.waitLine(/^SKIPPED /, 2000)).split(" ");
      qf.command("orders 2 P FIX.4.4");
      const asked = await qf.waitLine(/^IN 2 /, 5000);
      assert.equal(asked.split(" ")[3], skippedFrom, `ResendRequest BeginSeqNo: ${asked}`);
      await qf.waitLines(/^EXEC /, 4, 5000);
      assert.ok(
        ours.notices.some(
          (n) => n.kind === "gap" && n.begin === Number(skippedFrom) && n.end === Number(skippedTo) - 1,
        ),
        `gap ${skippedFrom}..${Number(skippedTo) - 1} reported`,
      );
      assert.ok(
        tap.sentBy(THEIRS, MsgType.SequenceReset).some((r) => /\|123=Y\|/.test(r.text)),
        "QuickFIX answered with a GapFill",
      );
      assert.deepEqual(
        ours.received.map((m) => `${m.clOrdId}:${m.possDup}`),
        ["P1:false", "P2:false"],
        "each order reaches the application once (the resent copies are duplicates)",
      );
      assert.equal(ours.runner.state.health, Health.Live);
      assert.deepEqual(ours.sendFailures, []);
      assert.deepEqual(rejects(tap), []);
    });
  });

  it("QuickFIX logs out: we answer its Logout", async (t) => {
    await interop(t, async (s) => {
      const { ours, tap, qf } = await connected(s);
      qf.command("logout FIX.4.4");
      await qf.waitLine(/^LOGOUT FIX\.4\.4/, 5000);
      await until(() => ours.notices.some((n) => n.kind === "logout"), 5000, "our logout notice");
      assert.deepEqual(
        tap.records.filter((r) => r.msgType === MsgType.Logout).map((r) => r.from),
        [THEIRS, OURS],
      );
      assert.equal(qf.matching(/^IN 5 /).length, 1, "QuickFIX received our answer");
      assert.deepEqual(logoutNotices(ours)[0], { kind: "logout", reason: "venue logs out", initiatedBy: "them" });
    });
  });

  it("we log out: QuickFIX answers our Logout", async (t) => {
    await interop(t, async (s) => {
      const { ours, tap, qf } = await connected(s);
      ours.runner.logout("end of day");
      await qf.waitLine(/^LOGOUT FIX\.4\.4/, 5000);
      await until(() => ours.notices.some((n) => n.kind === "logout"), 5000, "our logout notice");
      assert.deepEqual(
        tap.records.filter((r) => r.msgType === MsgType.Logout).map((r) => r.from),
        [OURS, THEIRS],
      );
      assert.equal(qf.matching(/^IN 5 /).length, 1, "QuickFIX received our Logout");
      assert.deepEqual(logoutNotices(ours), [{ kind: "logout", reason: "end of day", initiatedBy: "us" }]);
    });
  });
});
