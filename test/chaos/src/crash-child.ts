/**
 * Our side in a process of its own, for the SIGKILL scenarios: an initiator on a FileStore (fsync always) with
 * `events: true`, whose outbox an OutboxPublisher drains to JetStream. It sends `count` NewOrderSingles one after the
 * other once logged on, and reports on stdout, one line each:
 *
 *   persisted <ClOrdID> <MsgSeqNum>   the send promise resolved (the order is in the store)
 *   window <ClOrdID>                  holdAfterCommit: the order is committed and the runner is now stuck before
 *                                     writing it to the socket — kill me here
 *   exec <ExecID> <MsgSeqNum> <Y|N>   an ExecutionReport was delivered (PossDupFlag)
 *   published-window <batch>          hangAfterPublish: JetStream accepted the batch, the outbox is not acked yet
 *   health <HEALTH>, gapFilled <begin> <end>   session notices
 *   done                              every order persisted
 *   state <nextSender> <nextTarget> <health>   answer to `state` on stdin
 *   stats <published> <duplicates>    on `stop`, after the outbox is drained
 *
 * stdin: `state`, `stop` (drain the outbox to the bus, log out, exit 0). The parent kills it with SIGKILL by PID.
 * Usage: node crash-child.js '<json ChildConfig>'
 */
import { createInterface } from "node:readline";
import { type BusEvent, JetStreamBus, OutboxPublisher } from "@fixmesh/bus";
import { SessionRunner, tcpConnector } from "@fixmesh/engine";
import { MsgType, Tag } from "@fixmesh/fix";
import { type CommitBatch, FileStore, resolveSettings } from "@fixmesh/session";
import { newOrderBody } from "./our-side.js";

export interface ChildConfig {
  port: number;
  dir: string;
  sender: string;
  nats: string;
  stream: string;
  /** Subjects go to the stream as `<subjectPrefix>.fix.…` (a prefix no other stream captures). */
  subjectPrefix: string;
  /** ClOrdIDs are `<orderPrefix>-1` … `<orderPrefix>-<count>`. */
  orderPrefix: string;
  count: number;
  /** Stop, committed but unsent, at this order (see `window`). */
  holdAfterCommit?: string;
  /** `run` (default), `paused` (never started: events pile up in the outbox), or hang after publishing batch n. */
  publisher?: "run" | "paused" | { hangAfterPublish: number };
}

const cfg = JSON.parse(process.argv[2] ?? "{}") as ChildConfig;
const out = (line: string) => process.stdout.write(`${line}\n`);

const store = new FileStore({ dir: cfg.dir, session: "chaos-crash-client", fsync: "always" });
if (cfg.holdAfterCommit !== undefined) {
  const needle = Buffer.from(`\x01${Tag.ClOrdID}=${cfg.holdAfterCommit}\x01`, "latin1");
  const commit = store.commit.bind(store);
  store.commit = async (batch: CommitBatch) => {
    await commit(batch);
    if (batch.outbound.some((m) => m.msgType === MsgType.NewOrderSingle && m.bytes.includes(needle))) {
      // Persisted, and the runner writes to the socket only after this promise resolves: it never will.
      out(`window ${cfg.holdAfterCommit}`);
      await new Promise<never>(() => undefined);
    }
  };
}

const bus = await JetStreamBus.connect({ servers: cfg.nats, stream: cfg.stream, subjects: [`${cfg.subjectPrefix}.>`] });
let batches = 0;
const prefixed = {
  kind: "jetstream",
  async publish(events: readonly BusEvent[]) {
    const r = await bus.publish(events.map((e) => ({ ...e, subject: `${cfg.subjectPrefix}.${e.subject}` })));
    batches++;
    const mode = cfg.publisher;
    if (typeof mode === "object" && batches === mode.hangAfterPublish) {
      // Accepted by JetStream; the publisher acks the outbox only after this returns: it never will.
      out(`published-window ${batches}`);
      await new Promise<never>(() => undefined);
    }
    return r;
  },
  subscribe: bus.subscribe.bind(bus),
  close: () => bus.close(),
};

const runner = await SessionRunner.start({
  settings: resolveSettings({
    BeginString: "FIX.4.4",
    SenderCompID: cfg.sender,
    TargetCompID: "VENUE",
    ConnectionType: "initiator",
    HeartBtInt: 5,
    ReconnectInterval: 0.1,
    ReconnectMaxInterval: 0.5,
    ResendRequestChunkSize: 1000,
  }),
  store,
  events: true,
  connect: tcpConnector([{ host: "127.0.0.1", port: cfg.port }]),
  schedule: null,
});
const publisher = new OutboxPublisher(store, prefixed, { batch: 16, idleMs: 50, retryMinMs: 50 });
if (cfg.publisher !== "paused") {
  publisher.start();
  runner.onCommit(() => publisher.notify());
}

runner.onMessage((msg, possDup) => {
  if (msg.msgType === MsgType.ExecutionReport)
    out(`exec ${msg.get(Tag.ExecID)} ${msg.get(Tag.MsgSeqNum)} ${possDup ? "Y" : "N"}`);
});

let sending = false;
runner.onNotice((n) => {
  if (n.kind === "health") out(`health ${n.to}`);
  else if (n.kind === "gapFilled") out(`gapFilled ${n.begin} ${n.end}`);
  if (n.kind === "logon" && !sending) {
    sending = true;
    void sendAll();
  }
});

async function sendAll(): Promise<void> {
  for (let i = 1; i <= cfg.count; i++) {
    const clOrdId = `${cfg.orderPrefix}-${i}`;
    const seq = await runner.send(
      MsgType.NewOrderSingle,
      newOrderBody({ clOrdId, symbol: "IBM", side: i % 2 ? "1" : "2", qty: 100, price: 100 }),
    );
    out(`persisted ${clOrdId} ${seq}`);
  }
  out("done");
}

createInterface({ input: process.stdin }).on("line", (line) => {
  const cmd = line.trim();
  if (cmd === "state") {
    out(`state ${runner.state.nextSenderSeq} ${runner.state.nextTargetSeq} ${runner.state.health}`);
  } else if (cmd === "stop") {
    void (async () => {
      await publisher.stop();
      await publisher.drain();
      out(`stats ${publisher.stats.published} ${publisher.stats.duplicates}`);
      await runner.stop(1000);
      await bus.close();
      process.exit(0);
    })();
  }
});
