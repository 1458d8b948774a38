/**
 * `fixmesh audit messages|transcript|order|sequence|reconcile` asks a running persistence service's AuditService
 * (a table, or `--json`). The work is in @fixmesh/persistence; this file only wires the command.
 */
export { AUDIT_USAGE, runAuditCli } from "@fixmesh/persistence";
