/**
 * @fixmesh/persistence — every FIX message, order, execution and session event in PostgreSQL (PGlite when
 * embedded), and AuditService: queries, transcripts, order histories, sequence checks, reconciliation.
 */
export { type Readable, type ReadableField, readable } from "./audit/readable.js";
export { parseVenueFile, type ReconcileReport, readVenueFile, reconcile, VenueFileError } from "./audit/reconcile.js";
export {
  AuditStore,
  type Fill,
  type MessageFilter,
  type SequenceCheckResult,
  type StoredMessage,
} from "./audit/store.js";
export {
  AUDIT_USAGE,
  PERSISTENCE_USAGE,
  runAuditCli,
  runPersistenceCli,
} from "./cli/cli.js";
export {
  configSchema,
  loadConfig,
  type PersistenceConfig,
  PersistenceConfigError,
  type PersistenceConfigInput,
  persistenceConfig,
} from "./config/config.js";
export { type Db, type DbConfig, openDb, PgliteDb, PostgresDb, type Queryable } from "./db/db.js";
export { MIGRATIONS_DIR, migrate } from "./db/migrate.js";
export { Partitions, utcDay } from "./db/partitions.js";
export { type AuditServerOptions, auditHandlers, startAuditServer } from "./grpc/audit-service.js";
export { DEFAULT_SECRET_TAGS, type Decoded, decodeEvent, Redactor, type StreamKind } from "./ingest/decode.js";
export { IngestMetrics } from "./ingest/metrics.js";
export { databaseOptions, type PersistenceDeps, type PersistenceHandle, startPersistence } from "./service.js";
