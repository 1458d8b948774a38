/**
 * The command line:
 *   fixmesh risk-service --config FILE [--port N]    runs the risk service until SIGTERM/SIGINT
 *   fixmesh risk limits|kill-switch|positions …      asks a running risk service
 */
import { parseArgs } from "node:util";
import { create, toJson } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  createGrpcClient,
  type KillSwitch,
  KillSwitchScope,
  LimitSetSchema,
  type Limits,
  PositionSchema,
  RiskService,
  RpcError,
} from "@fixmesh/contracts";
import {
  CLI_TLS_OPTIONS,
  CLI_TLS_USAGE,
  type CliChannel,
  CliSecurityError,
  cliChannel,
  explainCallFailure,
} from "@fixmesh/security";
import { initTelemetry, stopOnSignal, type Telemetry, TelemetryConfigError } from "@fixmesh/telemetry";
import * as grpc from "@grpc/grpc-js";
import { loadRiskConfig, type RiskConfig } from "../config/config.js";
import { RiskConfigError } from "../config/errors.js";
import { readLimitsFile } from "../config/limits-watcher.js";
import { limitSetToMessage } from "../grpc/convert.js";
import { type RiskHandle, riskLogger, startRisk } from "../service.js";
import { table } from "./table.js";

export const RISK_SERVICE_USAGE = `  risk-service --config FILE [--port N]
            run the risk service (apps/risk/README.md): pre-trade checks, limits, kill switches, positions`;

export const RISK_CLI_USAGE = `  risk limits [--json]                              the limit sets in force
  risk limits set --file FILE --reason TEXT [--operator NAME]
                                                    replace the limit sets a limits file lists, one SetLimits each
  risk kill-switch [--json]                         every kill switch and its last change
  risk kill-switch engage|release --scope global|session|account [--target ID] --reason TEXT --operator NAME
                   [--cancel-open-orders]
  risk positions [--account A] [--symbol S] [--json]
            every risk command takes --address HOST:PORT (default $FIXMESH_RISK_ADDRESS or 127.0.0.1:50071)
            --operator is for a risk service without authorization; with TLS and a policy the operator is
            the caller's certificate or token identity
${CLI_TLS_USAGE}`;

/** Exit codes: 0 stopped cleanly, 1 failed while running or stopping, 2 bad flags or configuration. */
export async function runRiskService(args: string[]): Promise<number> {
  let values: { config?: string; port?: string };
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: { config: { type: "string", short: "c" }, port: { type: "string" } },
    }));
  } catch (e) {
    console.error(`fixmesh risk-service: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  if (values.config === undefined) {
    console.error("fixmesh risk-service: --config FILE is required");
    return 2;
  }
  let config: RiskConfig;
  try {
    config = loadRiskConfig(values.config, values.port === undefined ? {} : { port: values.port });
  } catch (e) {
    if (!(e instanceof RiskConfigError)) throw e;
    console.error(`fixmesh risk-service: ${e.message}`);
    return 2;
  }
  // Tracing from the standard OTEL_* variables (off unless an exporter endpoint or OTEL_TRACES_EXPORTER says so).
  let telemetry: Telemetry;
  try {
    telemetry = initTelemetry({ serviceName: "fixmesh-risk" });
  } catch (e) {
    if (!(e instanceof TelemetryConfigError)) throw e;
    console.error(`fixmesh risk-service: ${e.message}`);
    return 2;
  }
  const logger = riskLogger(config);
  let risk: RiskHandle;
  try {
    risk = await startRisk(config, { logger });
  } catch (e) {
    logger.fatal({ err: e }, "risk service failed to start");
    console.error(`fixmesh risk-service: ${e instanceof Error ? e.message : String(e)}`);
    await telemetry.shutdown().catch(() => undefined);
    return e instanceof RiskConfigError ? 2 : 1;
  }
  process.stdout.write(
    `${JSON.stringify({ listening: { grpc: risk.port, ...(risk.metricsPort !== null && { metrics: risk.metricsPort }) } })}\n`,
  );
  try {
    return await stopOnSignal(logger, () => risk.close(), "risk service stopped with errors");
  } finally {
    await telemetry.shutdown().catch(() => undefined);
  }
}

class UsageError extends Error {}

function limitsRow(l: Limits | undefined): string {
  if (l === undefined) return "";
  const parts: string[] = [];
  if (l.maxOrderQty) parts.push(`qty≤${l.maxOrderQty}`);
  if (l.maxNotional) parts.push(`notional≤${l.maxNotional}`);
  if (l.priceCollarPct) parts.push(`collar ±${l.priceCollarPct}%`);
  if (l.maxOpenOrders) parts.push(`open≤${l.maxOpenOrders}`);
  if (l.maxPosition) parts.push(`position≤${l.maxPosition}`);
  if (l.maxOrdersPerSec) parts.push(`rate≤${l.maxOrdersPerSec}/s`);
  if (l.duplicateWindowMs) parts.push(`dup ${l.duplicateWindowMs}ms`);
  if (l.restrictedSymbols.length > 0) parts.push(`restricted ${l.restrictedSymbols.join(",")}`);
  return parts.join(" ") || "-";
}

function ksJson(k: KillSwitch) {
  return {
    scope: KillSwitchScope[k.scope],
    target: k.target,
    engaged: k.engaged,
    reason: k.reason,
    operator: k.operator,
    at: k.at ? new Date(timestampMs(k.at)).toISOString() : null,
    cancelOpenOrders: k.cancelOpenOrders,
  };
}

/** `fixmesh risk …`. Exit codes: 0 done, 1 the call failed, 2 bad flags. */
export async function runRiskCli(args: string[], out: (line: string) => void = console.log): Promise<number> {
  const [what, ...rest] = args;
  let parsed: ReturnType<typeof parse>;
  const parse = (a: string[]) =>
    parseArgs({
      args: a,
      strict: true,
      allowPositionals: true,
      options: {
        address: { type: "string" },
        json: { type: "boolean", default: false },
        account: { type: "string" },
        symbol: { type: "string" },
        scope: { type: "string" },
        target: { type: "string" },
        reason: { type: "string" },
        operator: { type: "string" },
        "cancel-open-orders": { type: "boolean", default: false },
        file: { type: "string" },
        deadline: { type: "string", default: "5000" },
        ...CLI_TLS_OPTIONS,
      },
    });
  try {
    parsed = parse(rest);
  } catch (e) {
    console.error(`fixmesh risk: ${e instanceof Error ? e.message : String(e)}\n${RISK_CLI_USAGE}`);
    return 2;
  }
  const v = parsed.values;
  const address = v.address ?? process.env.FIXMESH_RISK_ADDRESS ?? "127.0.0.1:50071";
  // Plaintext, TLS or mutual TLS (and a bearer token) from --tls-* / --token-file or FIXMESH_TLS_* / FIXMESH_TOKEN_FILE.
  let channel: CliChannel;
  try {
    channel = cliChannel(v);
  } catch (e) {
    if (!(e instanceof CliSecurityError)) throw e;
    console.error(`fixmesh risk: ${e.message}`);
    return 2;
  }
  const conn = new grpc.Client(address, channel.credentials, channel.options);
  const client = createGrpcClient(RiskService, conn);
  const callOpts = () => ({ deadline: Date.now() + Number(v.deadline) });
  try {
    switch (what) {
      case "limits": {
        const sub = parsed.positionals[0];
        if (sub === "set") {
          if (!v.file) throw new UsageError("--file FILE is required");
          if (!v.reason) throw new UsageError("--reason TEXT is required");
          const sets = readLimitsFile(v.file);
          const md = new grpc.Metadata();
          if (v.operator) md.set("operator", v.operator);
          for (const s of sets) {
            await client.setLimits(
              { limitSet: create(LimitSetSchema, limitSetToMessage(s)), reason: v.reason },
              { ...callOpts(), metadata: md },
            );
          }
          out(v.json ? JSON.stringify({ set: sets.length }) : `${sets.length} limit set(s) replaced`);
          return 0;
        }
        if (sub !== undefined) throw new UsageError(`unknown limits command "${sub}"`);
        const r = await client.getLimits({}, callOpts());
        if (v.json) {
          out(
            JSON.stringify({
              source: r.source,
              loadedAt: r.loadedAt ? new Date(timestampMs(r.loadedAt)).toISOString() : null,
              limitSets: r.limitSets.map((s) => toJson(LimitSetSchema, s)),
            }),
          );
          return 0;
        }
        out(`source: ${r.source || "(none: SetLimits only)"}`);
        out(
          table(
            ["SESSION", "ACCOUNT", "NORMAL", "DEGRADED", "REFERENCE PRICES"],
            r.limitSets.map((s) => [
              s.scope?.sessionId || "*",
              s.scope?.account || "*",
              limitsRow(s.normal),
              limitsRow(s.degraded),
              Object.entries(s.referencePrices)
                .map(([k, p]) => `${k}=${p}`)
                .join(" "),
            ]),
          ),
        );
        return 0;
      }
      case "kill-switch": {
        const sub = parsed.positionals[0];
        if (sub === "engage" || sub === "release") {
          const scope = {
            global: KillSwitchScope.GLOBAL,
            session: KillSwitchScope.SESSION,
            account: KillSwitchScope.ACCOUNT,
          }[v.scope ?? ""];
          if (scope === undefined) throw new UsageError("--scope must be global, session or account");
          const r = await client.setKillSwitch(
            {
              scope,
              target: v.target ?? "",
              engaged: sub === "engage",
              reason: v.reason ?? "",
              operator: v.operator ?? "",
              cancelOpenOrders: v["cancel-open-orders"],
            },
            callOpts(),
          );
          const k = r.killSwitch;
          if (v.json) out(JSON.stringify(k ? ksJson(k) : null));
          else out(`kill switch ${v.scope}${k?.target ? ` ${k.target}` : ""} ${k?.engaged ? "ENGAGED" : "released"}`);
          return 0;
        }
        if (sub !== undefined) throw new UsageError(`unknown kill-switch command "${sub}"`);
        const r = await client.getKillSwitches({}, callOpts());
        const rows = r.killSwitches.map(ksJson);
        if (v.json) out(JSON.stringify(rows));
        else
          out(
            table(
              ["SCOPE", "TARGET", "STATE", "OPERATOR", "AT", "REASON"],
              rows.map((k) => [
                k.scope,
                k.target || "*",
                k.engaged ? "ENGAGED" : "released",
                k.operator,
                k.at ?? "",
                k.reason,
              ]),
            ),
          );
        return 0;
      }
      case "positions": {
        const r = await client.getPositions({ account: v.account ?? "", symbol: v.symbol ?? "" }, callOpts());
        if (v.json) {
          out(JSON.stringify(r.positions.map((p) => toJson(PositionSchema, p, { alwaysEmitImplicit: true }))));
          return 0;
        }
        out(
          table(
            ["ACCOUNT", "SYMBOL", "NET", "BOUGHT", "SOLD", "OPEN BUY", "OPEN SELL", "OPEN ORDERS"],
            r.positions.map((p) => [
              p.account,
              p.symbol,
              p.netQty,
              p.boughtQty,
              p.soldQty,
              p.openBuyQty,
              p.openSellQty,
              String(p.openOrders),
            ]),
          ),
        );
        return 0;
      }
      default:
        throw new UsageError(what === undefined ? "a command is required" : `unknown command "${what}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`fixmesh risk: ${e.message}\n${RISK_CLI_USAGE}`);
      return 2;
    }
    if (e instanceof RiskConfigError) {
      console.error(`fixmesh risk: ${e.message}`);
      return 2;
    }
    const err = RpcError.from(e);
    // A connection or identity failure gets a line in the words of the flags, then grpc's own message.
    const why = explainCallFailure(err, channel.mode);
    console.error(
      why === undefined
        ? `fixmesh risk: ${err.message}${err.reason ? ` (${err.reason})` : ""}`
        : `fixmesh risk: ${address}: ${why}\n  (${err.message})`,
    );
    return 1;
  } finally {
    conn.close();
    channel.close();
  }
}
