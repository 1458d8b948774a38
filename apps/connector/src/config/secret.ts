/**
 * Secrets in the connector's configuration: one implementation for every service, in @fixmesh/security (a value
 * from a file or the environment that prints as `[REDACTED]`; file errors in words).
 */
export { describeFileError, readSecretFile, Secret } from "@fixmesh/security";
