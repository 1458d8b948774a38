/**
 * A child process for crash tests: an initiator on a file store that sends NewOrderSingles as fast as they are
 * persisted and prints `persisted <ClOrdID> <MsgSeqNum>` for each, so the parent knows what the caller was told.
 * Usage: node crash-child.js <port> <storeDir> <prefix> <count>
 */
import { MsgType, Tag } from "@fixmesh/fix";
import { FileStore, resolveSettings } from "@fixmesh/session";
import { tcpConnector } from "../initiator.js";
import { SessionRunner } from "../runner.js";

const [portArg, dir, prefix, countArg] = process.argv.slice(2);
const count = Number(countArg);
const runner = await SessionRunner.start({
  settings: resolveSettings({
    BeginString: "FIX.4.4",
    SenderCompID: "CLIENT",
    TargetCompID: "VENUE",
    ConnectionType: "initiator",
    HeartBtInt: 5,
  }),
  store: new FileStore({ dir, session: "crash-client", fsync: "always" }),
  connect: tcpConnector([{ host: "127.0.0.1", port: Number(portArg) }]),
  schedule: null,
});
runner.onNotice((n) => {
  if (n.kind === "logon") void sendAll();
});
async function sendAll(): Promise<void> {
  for (let i = 1; i <= count; i++) {
    const id = `${prefix}-${i}`;
    const seq = await runner.send(MsgType.NewOrderSingle, [Tag.ClOrdID, id, Tag.Side, "1", Tag.Symbol, "IBM"]);
    process.stdout.write(`persisted ${id} ${seq}\n`);
  }
  process.stdout.write("done\n");
  await runner.stop(2000);
  process.exit(0);
}
