import { Encoder, type FieldList, type FixMessage, formatUtcTimestamp, Parser } from "@fixmesh/fix";
import type { StoredMessage } from "../store/store.js";
import type { SessionSchedulePort } from "./schedule-port.js";
import { resolveSettings, type SessionSettings } from "./settings.js";
import { createSession, nextDeadline, step } from "./step.js";
import type { SessionAction, SessionEvent, SessionState } from "./types.js";

/** Test kit for the pure core: a fake clock, a counterparty encoder, and the actions collected. */
export class CoreHarness {
  now: number;
  readonly st: SessionState;
  readonly actions: SessionAction[] = [];
  /** Everything "persisted" (send actions with persist), for serving resends. */
  readonly stored: StoredMessage[] = [];
  private readonly them: Encoder;
  private theirSeq = 1;
  private readonly parser = new Parser();

  constructor(
    over: Partial<SessionSettings> = {},
    opts: { start?: number; nextSenderSeq?: number; nextTargetSeq?: number; schedule?: SessionSchedulePort } = {},
  ) {
    this.now = opts.start ?? Date.UTC(2026, 10, 27, 9, 0, 0);
    const settings = resolveSettings({
      BeginString: "FIX.4.4",
      SenderCompID: "ISLD",
      TargetCompID: "TW",
      ConnectionType: "acceptor",
      ...over,
    });
    this.st = createSession(
      settings,
      {
        nextSenderSeq: opts.nextSenderSeq ?? 1,
        nextTargetSeq: opts.nextTargetSeq ?? 1,
        cycle: "c1",
        creationTime: this.now,
        epoch: 0,
      },
      this.now,
      { schedule: opts.schedule ?? null },
    );
    this.them = new Encoder(settings.BeginString, settings.TargetCompID, settings.SenderCompID);
  }

  /** Steps one event and returns the actions it produced (also kept in `actions`). */
  ev(e: SessionEvent): SessionAction[] {
    const { actions } = step(this.st, e, this.now);
    this.actions.push(...actions);
    for (const a of actions)
      if (a.type === "send" && a.persist) this.stored.push({ seq: a.seq, msgType: a.msgType, bytes: a.bytes });
    return actions;
  }

  /** Builds a counterparty message; `seq` defaults to their next number. */
  msg(
    msgType: string,
    body: FieldList = [],
    o: { seq?: number; header?: FieldList; sendingTime?: number } = {},
  ): FixMessage {
    const seq = o.seq ?? this.theirSeq;
    this.theirSeq = Math.max(this.theirSeq, seq + 1);
    const bytes = this.them.encode(msgType, seq, formatUtcTimestamp(o.sendingTime ?? this.now, 3), body, o.header);
    const m = this.parser.parse(Buffer.from(bytes));
    if (typeof m === "string") throw new Error(`test message garbled: ${m}`);
    return m;
  }

  /**
   * A counterparty message whose text was edited after encoding (a wrong CompID, another BeginString…), with
   * BodyLength and CheckSum made right again so that only the edit is wrong.
   */
  tampered(msgType: string, edit: (text: string) => string, body: FieldList = []): FixMessage {
    const text = edit(this.msg(msgType, body).raw.toString("latin1"));
    const head = text.slice(0, text.indexOf("\x0135=") + 1);
    const rest = text.slice(head.length, text.lastIndexOf("10="));
    const withLength = `${head.slice(0, head.indexOf("\x019=") + 3)}${rest.length}\x01${rest}`;
    let sum = 0;
    for (let i = 0; i < withLength.length; i++) sum += withLength.charCodeAt(i);
    const m = this.parser.parse(Buffer.from(`${withLength}10=${String(sum % 256).padStart(3, "0")}\x01`, "latin1"));
    if (typeof m === "string") throw new Error(`tampered message garbled: ${m}`);
    return m;
  }

  /** Delivers a counterparty message and returns the actions. */
  recv(
    msgType: string,
    body: FieldList = [],
    o: { seq?: number; header?: FieldList; sendingTime?: number } = {},
  ): SessionAction[] {
    return this.ev({ type: "message", msg: this.msg(msgType, body, o) });
  }

  /** Connect and log on (acceptor side) with the given HeartBtInt. */
  logon(hb = 30, body: FieldList = []): SessionAction[] {
    this.ev({ type: "connected" });
    return this.recv("A", [98, 0, 108, hb, ...body]);
  }

  advance(ms: number): SessionAction[] {
    this.now += ms;
    return this.ev({ type: "timer" });
  }

  /** Runs timers up to `ms` later, firing at every deadline the core asks for. */
  runFor(ms: number): SessionAction[] {
    const end = this.now + ms;
    const out: SessionAction[] = [];
    for (let i = 0; i < 10_000; i++) {
      const at = nextDeadline(this.st, this.now);
      if (!(at <= end)) break;
      this.now = Math.max(at, this.now);
      out.push(...this.ev({ type: "timer" }));
    }
    this.now = end;
    return out;
  }

  /** Answers pending loadResend actions from `stored`, as a runtime would. */
  serveLoads(actions: SessionAction[]): SessionAction[] {
    const out: SessionAction[] = [];
    let pending: SessionAction[] = actions.filter((a) => a.type === "loadResend");
    while (pending.length > 0) {
      const next: SessionAction[] = [];
      for (const a of pending) {
        if (a.type !== "loadResend") continue;
        const messages = this.stored.filter((m) => m.seq >= a.begin && m.seq <= a.end);
        const r = this.ev({ type: "resendData", begin: a.begin, end: a.end, messages });
        out.push(...r);
        next.push(...r.filter((x) => x.type === "loadResend"));
      }
      pending = next;
    }
    return out;
  }
}

/** The messages in a list of actions, as `35=X|34=n|…` strings without 8/9/49/52/56/10 (for assertions). */
export function sent(actions: SessionAction[]): string[] {
  const p = new Parser();
  const out: string[] = [];
  for (const a of actions) {
    if (a.type !== "send") continue;
    const m = p.parse(Buffer.from(a.bytes));
    if (typeof m === "string") throw new Error(`core produced a garbled message: ${m}`);
    const parts: string[] = [];
    for (let i = 0; i < m.count; i++) {
      const t = m.tagAt(i);
      if (t === 8 || t === 9 || t === 10 || t === 49 || t === 56 || t === 52 || t === 122) continue;
      parts.push(`${t}=${m.valueAt(i)}`);
    }
    out.push(parts.join("|"));
  }
  return out;
}

export function kinds(actions: SessionAction[]): string[] {
  return actions.filter((a) => a.type !== "notice").map((a) => a.type);
}
