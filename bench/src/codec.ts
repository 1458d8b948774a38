/**
 * Codec benchmark: fixmesh's one-pass Parser and template Encoder against jspurefix 5.11, measured in the same
 * process and the same run, so the ratio holds even when the machine's absolute speed drifts.
 *
 * Messages: a FIX 4.4 NewOrderSingle (~200 bytes) and ExecutionReport (~300 bytes), body fields in the order of
 * the FIX 4.4 dictionary. Both parsers get the same bytes.
 *
 * What each side does per message:
 * - parse, fixmesh: `Parser.parse` of the whole frame — every field tokenised into (tag, value offsets), BeginString,
 *   BodyLength and MsgType position checked, BodyLength checked against where CheckSum starts, CheckSum summed and
 *   compared — then ClOrdID(11), Symbol(55) and OrderQty(38) read as strings.
 * - parse, jspurefix: `AsciiParser.parseBuffer` — copies the bytes into its receive buffer, tokenises every field,
 *   finds the message structure from the dictionary and builds an `AsciiView`, which it emits; in the handler we
 *   verify the CheckSum with `view.checksum()` as its session does (`checkIntegrity`) and read ClOrdID, Symbol and
 *   OrderQty with `view.getString`. Its parser does not check BodyLength against the frame.
 * - encode, fixmesh: build the body `FieldList` (TransactTime = the fresh SendingTime string), then
 *   `Encoder.encode(msgType, seq, formatUtcTimestamp(Date.now()), body)`: header merge, BodyLength and CheckSum,
 *   output a slice of the encoder's slab.
 * - encode, jspurefix: build the body object (TransactTime = a fresh `Date`), then what its session's transmit
 *   stream does for each message: `encoder.reset()`, `AsciiMsgTransmitter.encodeMessage(msgType, obj)` (session
 *   header from its `AsciiSessionMsgFactory` with SendingTime = `new Date()`, body by `AsciiEncoder` walking the
 *   dictionary, BodyLength patched, CheckSum trailer) and `encoder.trim()` for the output Buffer. The stream
 *   plumbing and its `'encoded'` log event are left out.
 *
 * Method: each case is warmed up, then measured for ~1.5 s in 3 rounds (cases interleaved round by round); the
 * figure is the median of the rounds.
 *
 * Usage: node bench/dist/codec.js [--json] [--seconds=1.5] [--rounds=3]
 */
import { createRequire } from "node:module";
import { Encoder, type FieldList, type FixMessage, formatUtcTimestamp, Parser } from "@fixmesh/fix";
import type { AsciiParser, IJsFixConfig, ISessionDescription } from "jspurefix";
// Not re-exported from the package root: the transmitter is what its DI container hands a session for
// DITokens.MsgTransmitter, and the view is what AsciiParser emits.
import type { AsciiView } from "jspurefix/dist/buffer/ascii/ascii-view.js";
import type { AsciiMsgTransmitter } from "jspurefix/dist/transport/ascii/ascii-msg-transmitter.js";

type Jspurefix = typeof import("jspurefix");
type MsgName = "NewOrderSingle" | "ExecutionReport";
const MSG_NAMES: readonly MsgName[] = ["NewOrderSingle", "ExecutionReport"];
const MSG_TYPE: Record<MsgName, string> = { NewOrderSingle: "D", ExecutionReport: "8" };

const SENDER = "CLIENT_A";
const TARGET = "VENUE_B";

// --- options -------------------------------------------------------------------------------------------------

const args = process.argv.slice(2);
const json = args.includes("--json");
const seconds = Number(optionValue("seconds") ?? 1.5);
const rounds = Number(optionValue("rounds") ?? 3);

function optionValue(name: string): string | undefined {
  const prefix = `--${name}=`;
  return args.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

// --- the messages ---------------------------------------------------------------------------------------------

/** Body of a NewOrderSingle, in FIX 4.4 dictionary order. */
function nosBody(transactTime: string): FieldList {
  // biome-ignore format: one tag, value pair per line
  return [
    11, "ORD-20240105-000123",
    1, "ACCT-0001",
    21, "1",
    55, "AAPL",
    54, "1",
    60, transactTime,
    38, 1500,
    40, "2",
    44, 123.45,
    59, "0",
  ];
}

/** Body of a partial-fill ExecutionReport, in FIX 4.4 dictionary order. */
function erBody(transactTime: string): FieldList {
  // biome-ignore format: one tag, value pair per line
  return [
    37, "VENUE-ORD-7781234",
    11, "ORD-20240105-000123",
    17, "EXEC-20240105-0000456",
    150, "F",
    39, "1",
    1, "ACCT-0001",
    55, "AAPL",
    54, "1",
    38, 1500,
    40, "2",
    44, 123.45,
    59, "0",
    32, 500,
    31, 123.44,
    30, "XNAS",
    151, 1000,
    14, 500,
    6, 123.44,
    60, transactTime,
    58, "partial fill",
  ];
}

const BODY: Record<MsgName, (t: string) => FieldList> = { NewOrderSingle: nosBody, ExecutionReport: erBody };

// The same content as jspurefix objects (QuickFIX FIX44.xml names; Symbol and OrderQty sit in components).
function nosObject(transactTime: Date): Record<string, unknown> {
  return {
    ClOrdID: "ORD-20240105-000123",
    Account: "ACCT-0001",
    HandlInst: "1",
    Instrument: { Symbol: "AAPL" },
    Side: "1",
    TransactTime: transactTime,
    OrderQtyData: { OrderQty: 1500 },
    OrdType: "2",
    Price: 123.45,
    TimeInForce: "0",
  };
}

function erObject(transactTime: Date): Record<string, unknown> {
  return {
    OrderID: "VENUE-ORD-7781234",
    ClOrdID: "ORD-20240105-000123",
    ExecID: "EXEC-20240105-0000456",
    ExecType: "F",
    OrdStatus: "1",
    Account: "ACCT-0001",
    Instrument: { Symbol: "AAPL" },
    Side: "1",
    OrderQtyData: { OrderQty: 1500 },
    OrdType: "2",
    Price: 123.45,
    TimeInForce: "0",
    LastQty: 500,
    LastPx: 123.44,
    LastMkt: "XNAS",
    LeavesQty: 1000,
    CumQty: 500,
    AvgPx: 123.44,
    TransactTime: transactTime,
    Text: "partial fill",
  };
}

const OBJECT: Record<MsgName, (t: Date) => Record<string, unknown>> = {
  NewOrderSingle: nosObject,
  ExecutionReport: erObject,
};

// --- jspurefix setup, through its own session container as its sessions and its jsfix-bench do ---------------

const require = createRequire(import.meta.url);

function loadJspurefix(): Jspurefix {
  const entry = require.resolve("jspurefix");
  // tsyringe (jspurefix's DI container) needs the Reflect metadata polyfill loaded first; it is jspurefix's
  // dependency, so resolve it from there.
  createRequire(entry)("reflect-metadata");
  return require("jspurefix") as Jspurefix;
}

interface JspurefixSide {
  /** A parser of its own, in its own session scope (fresh receive buffer and state), as its jsfix-bench makes them. */
  newParser(): AsciiParser;
  transmitter: AsciiMsgTransmitter;
}

async function makeJspurefix(jsp: Jspurefix): Promise<JspurefixSide> {
  const sys = new jsp.SessionContainer();
  sys.registerGlobal("error");
  const description: ISessionDescription = {
    application: {
      type: "initiator",
      name: "bench",
      protocol: "ascii",
      dictionary: "qf44", // data/FIX44.xml, the QuickFIX-format dictionary shipped in the package
      reconnectSeconds: 0,
      tcp: { host: "localhost", port: 0 },
    },
    Name: "bench",
    BeginString: "FIX.4.4",
    SenderCompId: SENDER,
    TargetCompID: TARGET,
    SenderSubID: "",
    TargetSubID: "",
    Username: "",
    Password: "",
    ResetSeqNumFlag: true,
    HeartBtInt: 30,
    BodyLengthChars: 4, // its default pads BodyLength to 7 digits; 4 is the least it allows
  } as ISessionDescription;
  const container = await sys.makeSystem(description);
  const config = container.resolve<IJsFixConfig>(jsp.DITokens.IJsFixConfig);
  const { makeSessionScope } =
    require("jspurefix/dist/runtime/session-scope.js") as typeof import("jspurefix/dist/runtime/session-scope.js");
  const newParser = () => {
    const scoped = makeSessionScope(config);
    const scope = scoped.sessionContainer;
    const parser = new jsp.AsciiParser(
      scoped,
      null,
      scope.resolve(jsp.DITokens.ParseBuffer),
      scope.resolve<number>(jsp.DITokens.maxMessageLen),
    );
    parser.on("error", (e: unknown) => {
      throw e;
    });
    return parser;
  };
  const transmitter = container.resolve<AsciiMsgTransmitter>(jsp.DITokens.MsgTransmitter);
  return { newParser, transmitter };
}

// --- cases ---------------------------------------------------------------------------------------------------

/** Runs the operation `n` times and returns a value derived from the results, so none of the work is dead. */
type Op = (n: number) => number;

interface Case {
  kind: "parse" | "encode";
  msg: MsgName;
  side: "fixmesh" | "jspurefix";
  op: Op;
  samples: number[];
}

function fixmeshParse(bytes: Buffer): Op {
  const parser = new Parser();
  return (n) => {
    let acc = 0;
    for (let i = 0; i < n; i++) {
      const m = parser.parse(bytes) as FixMessage | string;
      if (typeof m === "string") throw new Error(`fixmesh parse failed: ${m}`);
      acc += m.get(11)!.length + m.get(55)!.length + m.get(38)!.length;
    }
    return acc;
  };
}

function jspurefixParse(side: JspurefixSide, bytes: Buffer): Op {
  let acc = 0;
  const parser = side.newParser();
  parser.on("msg", (_msgType: string, view: AsciiView) => {
    if (Number(view.getString(10)) !== view.checksum()) throw new Error("jspurefix checksum mismatch");
    acc += view.getString(11)!.length + view.getString(55)!.length + view.getString(38)!.length;
  });
  return (n) => {
    acc = 0;
    for (let i = 0; i < n; i++) parser.parseBuffer(bytes);
    return acc;
  };
}

function fixmeshEncode(msg: MsgName): Op {
  const encoder = new Encoder("FIX.4.4", SENDER, TARGET);
  const msgType = MSG_TYPE[msg];
  const body = BODY[msg];
  let seq = 1;
  return (n) => {
    let acc = 0;
    for (let i = 0; i < n; i++) {
      const now = formatUtcTimestamp(Date.now());
      acc += encoder.encode(msgType, seq++, now, body(now)).length;
    }
    return acc;
  };
}

function jspurefixEncode(side: JspurefixSide, msg: MsgName): Op {
  const tx = side.transmitter;
  const msgType = MSG_TYPE[msg];
  const object = OBJECT[msg];
  return (n) => {
    let acc = 0;
    for (let i = 0; i < n; i++) {
      const encoder = tx.encoder as unknown as { reset(): void; trim(): Buffer };
      encoder.reset();
      if (tx.encodeMessage(msgType, object(new Date())) === null) throw new Error("jspurefix encode failed");
      acc += encoder.trim().length;
    }
    return acc;
  };
}

/**
 * Before anything is timed: both parsers read the same ClOrdID, Symbol and OrderQty from the same bytes, and
 * jspurefix's encoder produces a valid message (our parser checks its BodyLength and CheckSum) carrying them.
 */
function crossCheck(js: JspurefixSide, bytes: Record<MsgName, Buffer>): void {
  const parser = new Parser();
  const read = (get: (tag: number) => string | null | undefined) => [get(11), get(55), get(38)].join("|");
  const expected = "ORD-20240105-000123|AAPL|1500";
  for (const msg of MSG_NAMES) {
    const ours = parser.parse(bytes[msg]);
    if (typeof ours === "string") throw new Error(`fixmesh cannot parse its ${msg}: ${ours}`);
    let theirs = "";
    const theirParser = js.newParser();
    theirParser.on("msg", (_: string, view: AsciiView) => {
      theirs = read((tag) => view.getString(tag));
    });
    theirParser.parseBuffer(bytes[msg]);
    const encoder = js.transmitter.encoder as unknown as { reset(): void; trim(): Buffer };
    encoder.reset();
    js.transmitter.encodeMessage(MSG_TYPE[msg], OBJECT[msg](new Date()));
    const theirBytes = encoder.trim();
    const reparsed = parser.parse(theirBytes);
    if (typeof reparsed === "string") throw new Error(`jspurefix's ${msg} is not a valid message: ${reparsed}`);
    for (const [side, got] of [
      ["fixmesh parse", read((tag) => ours.get(tag))],
      ["jspurefix parse", theirs],
      ["jspurefix encode", read((tag) => reparsed.get(tag))],
    ]) {
      if (got !== expected) throw new Error(`${msg}: ${side} read ${got}, expected ${expected}`);
    }
  }
}

// --- measurement ---------------------------------------------------------------------------------------------

let sink = 0;

/** Runs `op` in batches for about `ms` milliseconds; returns operations per second. */
function measure(op: Op, ms: number): number {
  let batch = 64;
  let ops = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < ms) {
    const t0 = process.hrtime.bigint();
    sink += op(batch);
    const t1 = process.hrtime.bigint();
    ops += batch;
    elapsed = Number(t1 - start) / 1e6;
    // Keep each batch near 10 ms so the clock is read rarely but the deadline is not overshot much.
    const batchMs = Number(t1 - t0) / 1e6;
    if (batchMs < 5) batch *= 2;
  }
  return (ops * 1000) / elapsed;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// --- main ----------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const jsp = loadJspurefix();
  const js = await makeJspurefix(jsp);

  // The bytes both parsers read: encoded once by our encoder.
  const sample = new Encoder("FIX.4.4", SENDER, TARGET);
  const sampleTime = "20240105-14:30:15.123";
  const bytes: Record<MsgName, Buffer> = {
    NewOrderSingle: Buffer.from(sample.encode("D", 1234, sampleTime, nosBody(sampleTime))),
    ExecutionReport: Buffer.from(sample.encode("8", 1234, sampleTime, erBody(sampleTime))),
  };

  const cases: Case[] = [];
  for (const msg of MSG_NAMES) {
    cases.push({ kind: "parse", msg, side: "fixmesh", op: fixmeshParse(bytes[msg]), samples: [] });
    cases.push({ kind: "parse", msg, side: "jspurefix", op: jspurefixParse(js, bytes[msg]), samples: [] });
  }
  for (const msg of MSG_NAMES) {
    cases.push({ kind: "encode", msg, side: "fixmesh", op: fixmeshEncode(msg), samples: [] });
    cases.push({ kind: "encode", msg, side: "jspurefix", op: jspurefixEncode(js, msg), samples: [] });
  }

  for (const c of cases) if (c.op(1) <= 0) throw new Error(`${c.kind} ${c.msg} ${c.side} did no work`);
  crossCheck(js, bytes);

  const ms = seconds * 1000;
  for (const c of cases) measure(c.op, Math.min(500, ms / 3)); // warm-up: let V8 optimise each path
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) c.samples.push(measure(c.op, ms));
  }

  const result = {} as Record<
    "parse" | "encode",
    Record<MsgName, { fixmesh: number; jspurefix: number; ratio: number }>
  >;
  for (const kind of ["parse", "encode"] as const) {
    result[kind] = {} as Record<MsgName, { fixmesh: number; jspurefix: number; ratio: number }>;
    for (const msg of MSG_NAMES) {
      const ours = median(cases.find((c) => c.kind === kind && c.msg === msg && c.side === "fixmesh")!.samples);
      const theirs = median(cases.find((c) => c.kind === kind && c.msg === msg && c.side === "jspurefix")!.samples);
      result[kind][msg] = {
        fixmesh: Math.round(ours),
        jspurefix: Math.round(theirs),
        ratio: Math.round((ours / theirs) * 100) / 100,
      };
    }
  }

  if (sink === 0) throw new Error("benchmark did no work");
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }

  const fmt = (n: number) => n.toLocaleString("en-US");
  const lines: string[] = [];
  lines.push(
    `codec benchmark — Node ${process.version}, ${rounds} rounds × ${seconds} s per case, median msgs/s`,
    "",
    `${"case".padEnd(32)}${"fixmesh".padStart(12)}${"jspurefix".padStart(12)}${"ratio".padStart(9)}`,
  );
  for (const kind of ["parse", "encode"] as const) {
    for (const msg of MSG_NAMES) {
      const r = result[kind][msg];
      const label = `${kind} ${msg} (${bytes[msg].length} B)`;
      lines.push(
        `${label.padEnd(32)}${fmt(r.fixmesh).padStart(12)}${fmt(r.jspurefix).padStart(12)}${`${r.ratio.toFixed(2)}×`.padStart(9)}`,
      );
    }
  }
  const nosParse = result.parse.NewOrderSingle;
  const nosEncode = result.encode.NewOrderSingle;
  const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
  lines.push(
    "",
    `target parse NewOrderSingle ≥ 1,000,000/s and ≥ 5× jspurefix: ${verdict(nosParse.fixmesh >= 1_000_000 && nosParse.ratio >= 5)}`,
    `target encode NewOrderSingle ≥ 700,000/s and ≥ 5× jspurefix: ${verdict(nosEncode.fixmesh >= 700_000 && nosEncode.ratio >= 5)}`,
  );
  process.stdout.write(`${lines.join("\n")}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
