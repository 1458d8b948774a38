/**
 * `fixmesh persistence --config FILE` runs the persistence service; `fixmesh persistence migrate --config FILE`
 * applies its migrations. The work is in @fixmesh/persistence; this file only wires the command.
 */
export { PERSISTENCE_USAGE, runPersistenceCli } from "@fixmesh/persistence";
