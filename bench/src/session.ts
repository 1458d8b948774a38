/**
 * Session benchmark: how many inbound application messages per second the session engine takes in, from the pure
 * core alone up to the whole runtime over a real socket. Target (the issue): the session engine processes
 * ≥ 300,000 inbound application messages/s through `step` with the memory store.
 *
 * Messages: FIX 4.4 ExecutionReports (~310 bytes: a partial fill, body in dictionary order, a new ExecID each),
 * sent by the counterparty (VENUE_B) to our acceptor session (BROKER_A), in sequence from MsgSeqNum 2 (1 is the
 * Logon), with a SendingTime of the time they were built, checked by the session (CheckLatency=Y, MaxLatency=120).
 *
 * Cases (each in messages per second):
 * - step only: `step` on a logged-on acceptor session (connected, then the counterparty's Logon, as the core's
 *   test kit does) with a `{type:"message"}` event per pre-parsed message, answering each `deliver` action with a
 *   `{type:"resume"}` event as the runtime does; `now` is fixed, close to the messages' SendingTime. Anything but
 *   one `deliver` per message fails the run. No dictionary validation, no framing, no store.
 * - framer + parse + validate + step: the raw bytes in 64 KiB chunks through `Framer.push` (framing, one-pass
 *   parse, BodyLength and CheckSum checks), each message through `step` with `validate(msg, FIX.4.4)` as the
 *   session's validator, `deliver` answered with `resume`.
 * - runtime, memory store: a `SessionRunner` (acceptor, MemoryStore, the same validator) behind an `Acceptor` on
 *   127.0.0.1; a raw client socket writes a Logon, waits for the answer, then writes N pre-encoded messages in
 *   1 MiB writes. The clock runs from the first write until the application's `onMessage` has received all N.
 *   Each round uses a fresh runner, store and connection, and N is sized from the warm-up for ~--seconds per round.
 *   Note what the store does here: `SessionRunner` commits the inbound MsgSeqNum only with its next outbound batch
 *   (or at a disconnect), and inbound-only traffic produces none, so the store is written at the Logon and not
 *   again during the round. The figure holds no per-message store cost; it will drop if the runner starts to
 *   commit inbound sequence numbers on its own.
 * - baseline: `Framer.push` and its parser alone over the same bytes and chunks (reading each message's field
 *   count): what a session fed from a socket cannot beat. Every case's ratio is to this figure.
 *
 * Cases 1, 2 and the baseline start a fresh logged-on session (and framer) each time they reach the end of their
 * 100,000 pre-built messages; that costs one Logon step per 100,000 messages and is inside the timing.
 *
 * Method: each case is warmed up, then measured for ~1.5 s in 3 rounds (cases interleaved round by round); the
 * figure is the median of the rounds.
 *
 * Usage: node bench/dist/session.js [--json] [--seconds=1.5] [--rounds=3]
 */
import { connect, type Socket } from "node:net";
import { Acceptor, SessionRunner } from "@fixmesh/engine";
import {
  Encoder,
  type FieldList,
  type FixMessage,
  Framer,
  formatUtcTimestamp,
  loadDictionary,
  MsgType,
  Parser,
  Tag,
  validate,
} from "@fixmesh/fix";
import {
  createSession,
  Health,
  MemoryStore,
  resolveSettings,
  type SessionAction,
  type SessionSettings,
  type SessionState,
  Status,
  step,
  type Validator,
} from "@fixmesh/session";

/** Our side: the acceptor under test. */
const US = "BROKER_A";
/** The counterparty, sending the ExecutionReports. */
const THEM = "VENUE_B";
const BEGIN_STRING = "FIX.4.4";
/** Messages pre-built for cases 1, 2 and the baseline. */
const BATCH = 100_000;
/** TCP-sized chunks for the framer (what a socket read typically returns under load). */
const CHUNK = 64 * 1024;
/** Client writes in the runtime case. */
const WRITE = 1024 * 1024;
const TARGET_RATE = 300_000;
/** A runtime round that has not received all its messages by then has failed. */
const RUNTIME_TIMEOUT_MS = 60_000;

// --- options -------------------------------------------------------------------------------------------------

const args = process.argv.slice(2);
const json = args.includes("--json");
const seconds = Number(optionValue("seconds") ?? 1.5);
const rounds = Number(optionValue("rounds") ?? 3);

function optionValue(name: string): string | undefined {
  const prefix = `--${name}=`;
  return args.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

// --- the messages --------------------------------------------------------------------------------------------

/** Body of a partial-fill ExecutionReport, in FIX 4.4 dictionary order; `n` makes the ExecID unique. */
function erBody(n: number, transactTime: string): FieldList {
  // biome-ignore format: one tag, value pair per line
  return [
    Tag.OrderID, "VENUE-ORD-7781234",
    Tag.ClOrdID, "ORD-20240105-000123",
    Tag.ExecID, `EXEC-20240105-${String(n).padStart(9, "0")}`,
    Tag.ExecType, "F",
    Tag.OrdStatus, "1",
    Tag.Account, "ACCT-0001",
    Tag.Symbol, "AAPL",
    Tag.Side, "1",
    Tag.OrderQty, 1500,
    Tag.OrdType, "2",
    Tag.Price, 123.45,
    Tag.TimeInForce, "0",
    Tag.LastQty, 500,
    Tag.LastPx, 123.44,
    Tag.LastMkt, "XNAS",
    Tag.LeavesQty, 1000,
    Tag.CumQty, 500,
    Tag.AvgPx, 123.44,
    Tag.TransactTime, transactTime,
    Tag.Text, "partial fill",
  ];
}

/** What the counterparty sends on one connection: its Logon (seq 1) and `count` ExecutionReports (seq 2…). */
interface Stream {
  logon: Buffer;
  /** The ExecutionReports back to back. */
  bytes: Buffer;
  /** Where each message starts in `bytes`, and (last entry) the end. */
  offsets: Int32Array;
  count: number;
}

/**
 * Encodes the counterparty's stream with its own encoder, SendingTime starting at `t0` and advancing by 1 ms every
 * 300 messages (the target rate), so the stamps look like live traffic.
 */
function buildStream(count: number, t0: number): Stream {
  const them = new Encoder(BEGIN_STRING, THEM, US);
  const logon = Buffer.from(
    them.encode(MsgType.Logon, 1, formatUtcTimestamp(t0), [Tag.EncryptMethod, 0, Tag.HeartBtInt, 30]),
  );
  const parts: Buffer[] = [];
  const offsets = new Int32Array(count + 1);
  let size = 0;
  let stamp = "";
  let stampMs = -1;
  for (let i = 0; i < count; i++) {
    const ms = t0 + Math.floor(i / 300);
    if (ms !== stampMs) {
      stampMs = ms;
      stamp = formatUtcTimestamp(ms);
    }
    const m = them.encode(MsgType.ExecutionReport, i + 2, stamp, erBody(i, stamp));
    offsets[i] = size;
    size += m.length;
    parts.push(m);
  }
  offsets[count] = size;
  return { logon, bytes: Buffer.concat(parts, size), offsets, count };
}

/** Parses every message of the stream once (views of its bytes). */
function parseAll(s: Stream): FixMessage[] {
  const parser = new Parser();
  const out: FixMessage[] = [];
  for (let i = 0; i < s.count; i++) {
    const m = parser.parse(s.bytes.subarray(s.offsets[i], s.offsets[i + 1]));
    if (typeof m === "string") throw new Error(`message ${i + 2} does not parse: ${m}`);
    out.push(m);
  }
  return out;
}

/** The stream cut into TCP-sized chunks (views), so messages straddle chunk boundaries as they do on a socket. */
function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let p = 0; p < bytes.length; p += size) out.push(bytes.subarray(p, Math.min(bytes.length, p + size)));
  return out;
}

// --- the session under test ----------------------------------------------------------------------------------

function settings(): SessionSettings {
  return resolveSettings({
    BeginString: BEGIN_STRING,
    SenderCompID: US,
    TargetCompID: THEM,
    ConnectionType: "acceptor",
    CheckLatency: true,
    MaxLatency: 120,
  });
}

const dictionary = loadDictionary(BEGIN_STRING);
const dictionaryValidator: Validator = (m) => validate(m, dictionary);

/** An acceptor session after `connected` and the counterparty's Logon (seq 1), as the core's test kit builds it. */
function loggedOnSession(stream: Stream, now: number, validator: Validator | null): SessionState {
  const st = createSession(
    settings(),
    { nextSenderSeq: 1, nextTargetSeq: 1, cycle: "bench", creationTime: now, epoch: 0 },
    now,
    { validate: validator, schedule: null },
  );
  step(st, { type: "connected" }, now);
  const logon = new Parser().parse(stream.logon);
  if (typeof logon === "string") throw new Error(`Logon does not parse: ${logon}`);
  const { actions } = step(st, { type: "message", msg: logon }, now);
  if (st.status !== Status.LoggedOn || st.health !== Health.Live || st.nextTargetSeq !== 2) {
    throw new Error(`session not logged on after the Logon: ${st.status}/${st.health}, actions ${kinds(actions)}`);
  }
  return st;
}

function kinds(actions: SessionAction[]): string {
  return actions.map((a) => (a.type === "notice" ? `notice:${a.notice.kind}` : a.type)).join(",");
}

/**
 * Steps one inbound message and answers its `deliver` with `resume`, as `SessionRunner` does. Anything but one
 * `deliver` (a Reject, a ResendRequest, a Logout…) means the benchmark is not measuring the in-sequence path.
 * Returns a value read from the delivered message, so the work is not dead.
 */
function stepOne(st: SessionState, msg: FixMessage, now: number): number {
  const { actions } = step(st, { type: "message", msg }, now);
  if (actions.length !== 1 || actions[0].type !== "deliver") {
    throw new Error(`message ${msg.get(Tag.MsgSeqNum)}: expected one deliver, got ${kinds(actions)}`);
  }
  const resumed = step(st, { type: "resume" }, now).actions;
  if (resumed.length !== 0) throw new Error(`resume after ${msg.get(Tag.MsgSeqNum)}: got ${kinds(resumed)}`);
  return actions[0].msg.count;
}

// --- cases ---------------------------------------------------------------------------------------------------

/** Processes at least `n` messages and returns how many it processed. */
type Op = (n: number) => number;

/** Case 1: `step` on pre-parsed messages. */
function stepOnly(stream: Stream, now: number): Op {
  const messages = parseAll(stream);
  let st = loggedOnSession(stream, now, null);
  let next = 0;
  return (n) => {
    let acc = 0;
    for (let k = 0; k < n; k++) {
      if (next === messages.length) {
        st = loggedOnSession(stream, now, null);
        next = 0;
      }
      acc += stepOne(st, messages[next++], now);
    }
    sink += acc;
    return n;
  };
}

/**
 * Feeds the stream's chunks to a framer, whole chunks at a time, until at least `n` messages came out; starts
 * over (fresh framer and `onStart()`) at the end of the stream.
 */
function chunkLoop(stream: Stream, onStart: () => void, onMessage: (m: FixMessage) => void): Op {
  const chunks = chunksOf(stream.bytes, CHUNK);
  let framer = new Framer();
  let next = 0;
  let framed = 0;
  const garbled = (g: { reason: string }) => {
    throw new Error(`framer: garbled input (${g.reason})`);
  };
  const counting = (m: FixMessage) => {
    framed++;
    onMessage(m);
  };
  onStart();
  return (n) => {
    const before = framed;
    while (framed - before < n) {
      if (next === chunks.length) {
        if (framer.buffered !== 0) throw new Error("framer holds bytes at the end of the stream");
        framer = new Framer();
        onStart();
        next = 0;
      }
      framer.push(chunks[next++], counting, garbled);
    }
    return framed - before;
  };
}

/** Case 2: framer + parser + dictionary validation + `step`. */
function parseValidateStep(stream: Stream, now: number): Op {
  let st: SessionState | null = null;
  return chunkLoop(
    stream,
    () => {
      st = loggedOnSession(stream, now, dictionaryValidator);
    },
    (m) => {
      sink += stepOne(st as SessionState, m, now);
    },
  );
}

/** Baseline: framer + parser alone. */
function baselineParse(stream: Stream): Op {
  return chunkLoop(
    stream,
    () => {},
    (m) => {
      sink += m.count;
    },
  );
}

/**
 * Case 3: one round of the whole runtime over loopback TCP: `count` messages from a raw client socket to a
 * `SessionRunner` behind an `Acceptor`. Returns messages per second, from the first write to the last delivery.
 */
async function runtimeRound(count: number): Promise<number> {
  const stream = buildStream(count, Date.now());
  const store = new MemoryStore({ session: "bench" });
  let received = 0;
  let firstWrite = 0n;
  let lastDelivery = 0n;
  let allArrived: () => void = () => {};
  let failed: (e: Error) => void = () => {};
  const arrived = new Promise<void>((resolve, reject) => {
    allArrived = resolve;
    failed = reject;
  });
  arrived.catch(() => {}); // awaited below; this only keeps an early failure from counting as unhandled
  const runner = await SessionRunner.start({
    settings: settings(),
    store,
    validate: dictionaryValidator,
    app: {
      onMessage(msg) {
        sink += msg.count;
        if (++received === count) {
          lastDelivery = process.hrtime.bigint();
          allArrived();
        }
      },
      onNotice(n) {
        // Off the in-sequence path while the messages flow (a Reject, a gap, a Logout…): fail now rather than at
        // the timeout. The Logon before and the Logout after are expected.
        if (firstWrite !== 0n && received < count) {
          failed(new Error(`runtime: unexpected notice after ${received} messages: ${JSON.stringify(n)}`));
        }
      },
    },
  });
  const acceptor = new Acceptor({ host: "127.0.0.1", port: 0 });
  acceptor.register(runner);
  let client: Socket | null = null;
  let timer: NodeJS.Timeout | undefined;
  try {
    const port = await acceptor.listen();
    const socket = connect({ host: "127.0.0.1", port });
    client = socket;
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    // The counterparty sends its Logon and, as an initiator does, waits for the answer before sending more.
    const answered = new Promise<void>((resolve) => socket.once("data", () => resolve()));
    socket.on("data", () => {}); // keep reading whatever the acceptor sends (its Logon, its Logout at the end)
    socket.write(stream.logon);
    await answered;
    if (runner.state.status !== Status.LoggedOn) throw new Error(`runner not logged on: ${runner.state.status}`);
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`runtime: ${received} of ${count} messages after ${RUNTIME_TIMEOUT_MS} ms`)),
        RUNTIME_TIMEOUT_MS,
      );
    });
    firstWrite = process.hrtime.bigint();
    for (const chunk of chunksOf(stream.bytes, WRITE)) socket.write(chunk);
    await Promise.race([arrived, timedOut]);
    const st = runner.state;
    if (st.nextTargetSeq !== count + 2 || st.status !== Status.LoggedOn || st.health !== Health.Live) {
      throw new Error(
        `runtime: after ${count} messages the session is ${st.status}/${st.health}, next ${st.nextTargetSeq}`,
      );
    }
    return (count * 1e9) / Number(lastDelivery - firstWrite);
  } finally {
    clearTimeout(timer);
    client?.destroy();
    await runner.stop(0);
    await acceptor.close();
  }
}

// --- measurement ---------------------------------------------------------------------------------------------

let sink = 0;

/** Runs `op` in batches for about `ms` milliseconds; returns messages per second. */
function measure(op: Op, ms: number): number {
  let batch = 64;
  let done = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < ms) {
    const t0 = process.hrtime.bigint();
    done += op(batch);
    const t1 = process.hrtime.bigint();
    elapsed = Number(t1 - start) / 1e6;
    // Keep each batch near 10 ms so the clock is read rarely but the deadline is not overshot much.
    const batchMs = Number(t1 - t0) / 1e6;
    if (batchMs < 5) batch *= 2;
  }
  return (done * 1000) / elapsed;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// --- main ----------------------------------------------------------------------------------------------------

type CaseName = "stepOnly" | "parseValidateStep" | "runtimeMemoryStore" | "baselineParse";

const LABELS: Record<CaseName, string> = {
  stepOnly: "step only (pre-parsed)",
  parseValidateStep: "framer + parse + validate + step",
  runtimeMemoryStore: "runtime: TCP + SessionRunner + MemoryStore",
  baselineParse: "baseline: framer + parse",
};

async function main(): Promise<void> {
  // One stream for the synchronous cases; `now` stays within a second of its SendingTimes.
  const t0 = Date.now();
  const stream = buildStream(BATCH, t0);
  const now = t0 + 500;
  const bytesPerMessage = Math.round(stream.bytes.length / stream.count);

  // Before anything is timed: the messages pass the FIX 4.4 dictionary.
  for (const m of parseAll(stream).slice(0, 10)) {
    const bad = validate(m, dictionary);
    if (bad !== null) throw new Error(`benchmark message fails validation: ${bad.text} (${bad.refTagId})`);
  }

  const sync: Array<{ name: CaseName; op: Op; samples: number[] }> = [
    { name: "baselineParse", op: baselineParse(stream), samples: [] },
    { name: "stepOnly", op: stepOnly(stream, now), samples: [] },
    { name: "parseValidateStep", op: parseValidateStep(stream, now), samples: [] },
  ];
  const runtimeSamples: number[] = [];

  const ms = seconds * 1000;
  for (const c of sync) measure(c.op, Math.min(500, ms / 3)); // warm-up: let V8 optimise each path
  // Runtime warm-up, also sizing its rounds: about `seconds` each at the warm-up's rate, within bounds that keep
  // the pre-built bytes in memory reasonable (~300 B a message).
  const warm = await runtimeRound(50_000);
  const runtimeCount = Math.max(50_000, Math.min(1_000_000, Math.round((warm * seconds) / 10_000) * 10_000));
  for (let r = 0; r < rounds; r++) {
    for (const c of sync) c.samples.push(measure(c.op, ms));
    runtimeSamples.push(await runtimeRound(runtimeCount));
  }

  const rate = {} as Record<CaseName, number>;
  for (const c of sync) rate[c.name] = median(c.samples);
  rate.runtimeMemoryStore = median(runtimeSamples);
  const base = rate.baselineParse;
  const ratio = (n: number) => Math.round((n / base) * 100) / 100;
  const targetMet = rate.stepOnly >= TARGET_RATE && rate.runtimeMemoryStore >= TARGET_RATE;
  const result = {
    stepOnly: Math.round(rate.stepOnly),
    parseValidateStep: Math.round(rate.parseValidateStep),
    runtimeMemoryStore: Math.round(rate.runtimeMemoryStore),
    baselineParse: Math.round(base),
    ratios: {
      stepOnly: ratio(rate.stepOnly),
      parseValidateStep: ratio(rate.parseValidateStep),
      runtimeMemoryStore: ratio(rate.runtimeMemoryStore),
    },
    targetMet,
  };

  if (sink === 0) throw new Error("benchmark did no work");
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }

  const fmt = (n: number) => n.toLocaleString("en-US");
  const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
  const lines: string[] = [
    `session benchmark — Node ${process.version}, ${rounds} rounds × ${seconds} s per case, median msgs/s`,
    `inbound FIX 4.4 ExecutionReports, ~${bytesPerMessage} B; runtime rounds of ${fmt(runtimeCount)} messages`,
    "",
    `${"case".padEnd(46)}${"msgs/s".padStart(12)}${"vs baseline".padStart(13)}`,
  ];
  for (const name of ["baselineParse", "stepOnly", "parseValidateStep", "runtimeMemoryStore"] as const) {
    lines.push(
      `${LABELS[name].padEnd(46)}${fmt(result[name]).padStart(12)}${`${ratio(rate[name]).toFixed(2)}×`.padStart(13)}`,
    );
  }
  lines.push(
    "",
    `target ≥ ${fmt(TARGET_RATE)} msgs/s: step only ${verdict(rate.stepOnly >= TARGET_RATE)}, ` +
      `runtime with memory store ${verdict(rate.runtimeMemoryStore >= TARGET_RATE)}`,
  );
  process.stdout.write(`${lines.join("\n")}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
