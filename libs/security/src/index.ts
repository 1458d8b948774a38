/**
 * @fixmesh/security — who may reach a fixmesh gRPC server and what they may do there.
 *
 * - Transport: TLS / mutual TLS from files, reloaded on rotation (`serverTls`, `clientTls`, `mtlsFromFolder`).
 * - Identity: a client certificate's URI SAN or CN, or a bearer JWT verified against a JWKS (`Principal`).
 * - Authorization: one YAML policy file, validated and hot-reloaded (`Policy`, `PolicyStore`).
 * - One object per server that does all of it plus limits and audit: `createGrpcSecurity`.
 */

export { isLoopbackHost } from "./address.js";
// The client side of the command-line tools: --tls-ca/--tls-cert/--tls-key/--tls-server-name/--token-file.
export {
  CLI_TLS_OPTIONS,
  CLI_TLS_USAGE,
  type CliChannel,
  CliSecurityError,
  type CliTlsFlags,
  cliChannel,
  explainCallFailure,
} from "./cli-client.js";
// Configuration: the `grpc` security section every service embeds in its schema.
export {
  EMBEDDED_GRPC_SECURITY,
  type GrpcSecurityConfig,
  grpcSecurityFields,
  resolveGrpcSecurity,
  toSecurityOptions,
} from "./config.js";
export { deadlineRequired, notAuthorized, SecurityConfigError, throttled, unauthenticated } from "./errors.js";
export { ADMIN_ACTIONS, type AdminAction, ANY, type Grant, grant, grantResource, grantText } from "./grants.js";
export type { AuditEvent, AuditSink } from "./grpc/audit.js";
export {
  type AdminRule,
  adminRule,
  isAdminRule,
  type MethodRule,
  type RulesOf,
  type ServiceLike,
} from "./grpc/rules.js";
// The per-server security: credentials, interceptor, rules, principal of a call.
export {
  createGrpcSecurity,
  DEFAULT_LIMITS,
  type GrpcLimits,
  GrpcSecurity,
  type GrpcSecurityOptions,
  type SecurityLogger,
} from "./grpc/security.js";
export {
  type ListeningSecured,
  type ListenSecuredOptions,
  listenSecured,
  type ServeProtectedOptions,
  serveProtected,
} from "./grpc/serve.js";
export {
  accountOf,
  auditServiceRules,
  checkedInHandler,
  orderEntryRules,
  riskRules,
  sessionServiceRules,
} from "./grpc/service-rules.js";
// Infrastructure links (Redis, NATS, PostgreSQL), FIX Logon password hashes, TLS public-key pins (src/infra).
export * from "./infra/index.js";
export { type JwtOptions, JwtVerifier } from "./jwt.js";
// Limits, errors, addresses.
export { type AbuseLimits, RateLimiter, StreamCounter } from "./limits.js";
// Policy.
export { Policy } from "./policy/policy.js";
export { type PolicyDocument, policySchema } from "./policy/schema.js";
export { PolicyStore, type PolicyStoreOptions } from "./policy/store.js";
// Identity.
export { ANONYMOUS, type AuthMethod, type Principal, principalFromCertificate, uriSans } from "./principal.js";
// Transport credentials.
export {
  CertificateFiles,
  type CertificateFilesOptions,
  type CertificatePaths,
  type ReloadEvent,
} from "./tls/certificate-files.js";
export {
  CERT_FOLDER_FILES,
  type ClientCertMode,
  type ClientTls,
  type ClientTlsOptions,
  certFolder,
  clientTls,
  mtlsFromFolder,
  type ServerTls,
  type ServerTlsOptions,
  serverTls,
} from "./tls/credentials.js";
