import type { VenueSim } from "./sim.js";

/**
 * The venue's fault knobs from the command line: one command per line on stdin (`fixmesh venue-sim --control`),
 * one JSON answer per line on stdout. The session is the first trading session unless the last word names one
 * (its id or the counterparty's CompID).
 */
export const CONTROL_HELP = `commands (one per line on stdin with --control; answers are JSON lines on stdout):
  skip-heartbeats N [SESSION]   send no Heartbeat for N heartbeat intervals (the client should TestRequest, then drop)
  jump-seq N [SESSION]          skip N outbound sequence numbers (a gap burst, answered later with a GapFill)
  resend-possdup K [SESSION]    send the last K ExecutionReports again with PossDupFlag=Y (new MsgSeqNums)
  duplicate K [SESSION]         send the last K ExecutionReports again without PossDupFlag
  reset-on-next-logon [SESSION] answer the next Logon from 1 without ResetSeqNumFlag (a daily reset mismatch)
  restart-wiped                 drop every connection, delete the stores, start again on the same port
  cancel CLORDID                cancel an open order on the venue's initiative
  help`;

export async function runControlCommand(sim: VenueSim, line: string): Promise<unknown> {
  const words = line
    .trim()
    .split(/\s+/)
    .filter((w) => w !== "");
  const [cmd, ...args] = words;
  const session = (i: number) => (args[i] !== undefined ? sim.session(args[i]) : sim.sessions[0]);
  const count = (what: string) => {
    const n = Number(args[0]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${cmd}: ${what} must be a whole number of 1 or more`);
    return n;
  };
  switch (cmd) {
    case "skip-heartbeats":
      return session(1).skipHeartbeats(count("N"));
    case "jump-seq":
      return { nextSenderSeq: session(1).jumpOutboundSeq(count("N")) };
    case "resend-possdup":
      return session(1).resendExecutionsAsPossDup(count("K"));
    case "duplicate":
      return session(1).duplicateExecutionsWithoutPossDup(count("K"));
    case "reset-on-next-logon":
      void session(0)
        .resetOnNextLogon()
        .catch(() => undefined);
      return { armed: true };
    case "restart-wiped":
      await sim.restartWithWipedStore();
      return { port: sim.port };
    case "cancel":
      if (args[0] === undefined) throw new Error("cancel: CLORDID is required");
      return { canceled: sim.cancelUnsolicited(args[0]) };
    case "help":
      return { help: CONTROL_HELP };
    default:
      throw new Error(`unknown command ${JSON.stringify(cmd ?? "")}; try help`);
  }
}
