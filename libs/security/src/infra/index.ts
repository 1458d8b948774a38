/**
 * Infrastructure links and FIX credentials: Redis, NATS and PostgreSQL with authentication and verified TLS,
 * secrets only from files or the environment; scrypt password hashes for acceptor Logons; TLS public-key pins.
 */
export { describeLinkError, LinkError, LinkFailure, type LinkKind, linkSecrets } from "./errors.js";
export {
  type NatsAuthenticators,
  type NatsAuthOptions,
  type NatsLink,
  type NatsLinkInput,
  type NatsTlsOptions,
  natsConnectOptions,
  natsLinkOf,
  natsLinkSchema,
  resolveNatsLink,
} from "./nats.js";
export {
  DECOY_HASH,
  DEFAULT_SCRYPT,
  hashPassword,
  type ParsedHash,
  PasswordHashError,
  parsePasswordHash,
  type ScryptParams,
  verifyPassword,
} from "./password-hash.js";
export {
  type PgClientConfig,
  type PostgresLink,
  type PostgresLinkInput,
  pgClientConfig,
  postgresLinkSchema,
  resolvePostgresLink,
} from "./postgres.js";
export {
  probeRedis,
  type RedisClientAuthOptions,
  type RedisLink,
  type RedisLinkInput,
  redisClientOptions,
  redisLinkSchema,
  resolveRedisLink,
} from "./redis.js";
export {
  describeFileError,
  InfraConfigError,
  readSecret,
  readSecretFile,
  Secret,
  type SecretContext,
  type SecretLike,
} from "./secret.js";
export {
  type LinkTls,
  type LinkTlsInput,
  linkTlsSchema,
  pinnedIdentityCheck,
  publicKeyPin,
  resolveLinkTls,
  tlsConnectOptions,
} from "./tls.js";
