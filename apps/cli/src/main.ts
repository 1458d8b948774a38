#!/usr/bin/env node
/**
 * fixmesh — the command line.
 *   fixmesh start [--orders N] [--chaos gap] [--data DIR]   the embedded demo (venue + client in one process)
 *   fixmesh connector --config FILE [--port N]               a connector, until SIGTERM/SIGINT
 */
import { parseArgs } from "node:util";
import { CONNECTOR_USAGE, runConnector } from "./connector.js";
import { runDemo } from "./demo/demo.js";

const USAGE = `usage: fixmesh <command> [options]

commands:
  start     run the embedded demo: a venue and a client session in one process, on file stores,
            logging on, exchanging orders and executions over loopback FIX 4.4
            --orders N      orders to send (default 5)
            --chaos gap     (default) drop one ExecutionReport on the wire and watch the session recover it
            --chaos none    a clean run
            --data DIR      where the file stores live (default .fixmesh/demo)
${CONNECTOR_USAGE}
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
      if (values.chaos !== "none" && values.chaos !== "gap") {
        console.error(`--chaos: must be "gap" or "none", got "${values.chaos}"`);
        return 2;
      }
      const r = await runDemo({ dataDir: values.data, orders, chaos: values.chaos, print: (l) => console.log(l) });
      return r.fills === r.orders && (values.chaos !== "gap" || r.recovered) ? 0 : 1;
    }
    case "connector":
      return runConnector(rest);
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
