/**
 * `fixmesh risk-service --config FILE [--port N]` runs the risk service; `fixmesh risk limits|kill-switch|positions`
 * asks a running one (table, or `--json`). The work is in @fixmesh/risk; this file only wires the commands.
 */
export { RISK_CLI_USAGE, RISK_SERVICE_USAGE, runRiskCli, runRiskService } from "@fixmesh/risk";
