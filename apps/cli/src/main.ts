#!/usr/bin/env node
/**
 * fixmesh — the command line.
 *   fixmesh start [--data DIR] [--…-port N]                 the whole platform in one process, until Ctrl-C
 *   fixmesh demo [--orders N] [--chaos gap|dup|cut|none] [--data DIR]   scripted: venue simulator + connector, N orders
 *   fixmesh connector --config FILE [--port N]               a connector, until SIGTERM/SIGINT
 *   fixmesh risk-service --config FILE [--port N]            the risk service, until SIGTERM/SIGINT
 *   fixmesh risk limits|kill-switch|positions                 ask a running risk service
 *   fixmesh persistence [migrate] --config FILE              the persistence service (JetStream → PostgreSQL)
 *   fixmesh audit messages|transcript|order|sequence|reconcile  ask a running persistence service
 */
import { parseArgs } from "node:util";
import { runChaosCli } from "@fixmesh/chaos";
import { ORDER_ENTRY_USAGE, runOrderEntryCli } from "@fixmesh/order-entry";
import { runVenueSimCli } from "@fixmesh/venue-sim";
import { AUDIT_USAGE, runAuditCli } from "./audit.js";
import { CONNECTOR_USAGE, runConnector } from "./connector.js";
import { type DemoChaos, runDemo } from "./demo/demo.js";
import { ORDER_USAGE, runOrder } from "./order.js";
import { PERSISTENCE_USAGE, runPersistenceCli } from "./persistence.js";
import { RISK_CLI_USAGE, RISK_SERVICE_USAGE, runRiskCli, runRiskService } from "./risk.js";
import { runCertPin, runHashPassword, SECURITY_USAGE } from "./security.js";
import { runStart, START_USAGE } from "./start.js";

const USAGE = `usage: fixmesh <command> [options]

commands:
${START_USAGE}
  demo      scripted: the venue simulator and a connector in one process (file stores, in-process bus), N orders
            and their executions over loopback FIX 4.4 through the chaos proxy, then exit
            --orders N      orders to send (default 5)
            --chaos gap     (default) drop one ExecutionReport on the wire and watch the session recover it
            --chaos dup     the venue repeats an execution, with and without PossDupFlag: applied once
            --chaos cut     cut the connection mid-flow: reconnect, same sequence numbers, nothing lost
            --chaos none    a clean run
            --data DIR      where the file stores live (default .fixmesh/demo)
${CONNECTOR_USAGE}
${ORDER_ENTRY_USAGE}
${ORDER_USAGE}
${RISK_SERVICE_USAGE}
${RISK_CLI_USAGE}
${PERSISTENCE_USAGE}
${AUDIT_USAGE}
  venue-sim --config FILE [--port N]   the venue simulator (apps/venue-sim/examples/venue.yaml)
  chaos-proxy --listen H:P --target H:P   the fault-injection proxy, driven by commands on stdin
${SECURITY_USAGE}
  help      this text`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "start":
      return runStart(rest);
    case "demo": {
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
    case "risk-service":
      return runRiskService(rest);
    case "risk":
      return runRiskCli(rest);
    case "persistence":
      return runPersistenceCli(rest);
    case "audit":
      return runAuditCli(rest);
    case "order-entry":
      return runOrderEntryCli(rest);
    case "order":
      return runOrder(rest);
    case "venue-sim":
      return runVenueSimCli(rest);
    case "chaos-proxy":
      return runChaosCli(rest);
    case "hash-password":
      return runHashPassword(rest);
    case "cert-pin":
      return runCertPin(rest);
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
