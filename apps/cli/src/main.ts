#!/usr/bin/env node
/**
 * fixmesh — the command line.
 *   fixmesh start [--orders N] [--chaos gap|dup|cut|none] [--data DIR]   venue simulator + connector in one process
 *   fixmesh connector --config FILE [--port N]               a connector, until SIGTERM/SIGINT
 */
import { parseArgs } from "node:util";
import { runChaosCli } from "@fixmesh/chaos";
import { runVenueSimCli } from "@fixmesh/venue-sim";
import { CONNECTOR_USAGE, runConnector } from "./connector.js";
import { type DemoChaos, runDemo } from "./demo/demo.js";

const USAGE = `usage: fixmesh <command> [options]

commands:
  start     run the embedded stack: the venue simulator and a connector in one process (file stores,
            in-process bus), orders and executions over loopback FIX 4.4 through the chaos proxy
            --orders N      orders to send (default 5)
            --chaos gap     (default) drop one ExecutionReport on the wire and watch the session recover it
            --chaos dup     the venue repeats an execution, with and without PossDupFlag: applied once
            --chaos cut     cut the connection mid-flow: reconnect, same sequence numbers, nothing lost
            --chaos none    a clean run
            --data DIR      where the file stores live (default .fixmesh/demo)
${CONNECTOR_USAGE}
  venue-sim --config FILE [--port N]   the venue simulator (apps/venue-sim/examples/venue.yaml)
  chaos-proxy --listen H:P --target H:P   the fault-injection proxy, driven by commands on stdin
  help      this text`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "start": {
      const { values } = parseArgs({
        args: rest,
        options: {
          orders: { type: "string", default: "5" },
          chaos: { type: "string", default: "gap" },
          data: { type: "string", default: ".fixmesh/demo" },
        },
      });
      const orders = Number(values.orders);
      if (!Number.isInteger(orders) || orders < 1 || orders > 10_000) {
        console.error("--orders: must be a whole number from 1 to 10000");
        return 2;
      }
      const chaos = values.chaos as DemoChaos;
      if (!["none", "gap", "dup", "cut"].includes(chaos)) {
        console.error(`--chaos: must be gap, dup, cut or none, got "${values.chaos}"`);
        return 2;
      }
      const r = await runDemo({ dataDir: values.data, orders, chaos, print: (l) => console.log(l) });
      return r.fills === r.orders && r.converged && (chaos === "none" || chaos === "dup" || r.recovered) ? 0 : 1;
    }
    case "connector":
      return runConnector(rest);
    case "venue-sim":
      return runVenueSimCli(rest);
    case "chaos-proxy":
      return runChaosCli(rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      console.error(`unknown command "${cmd}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? `fixmesh: ${err.message}` : err);
    process.exit(1);
  },
);
