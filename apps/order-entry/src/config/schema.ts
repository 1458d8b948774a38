/**
 * order-entry's configuration: one zod schema, the single source of defaults and of the messages a user sees.
 * The YAML file and the environment overrides (load.ts) both go through it; a mistake fails the start with the
 * field's path and the reason.
 */
import {
  type GrpcSecurityConfig,
  grpcSecurityFields,
  linkTlsSchema,
  type NatsLink,
  type RedisLink,
} from "@fixmesh/security";
import { z } from "zod";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const text = z.string({ error: "must be text" }).trim().min(1, { error: "must not be empty" });
const port = z.coerce.number({ error: "must be a port number" }).int().min(0).max(65535);
const address = text.regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, { error: "must be host:port" });
/**
 * How order-entry dials a secured gRPC server (risk, a connector): the CA that signs the server's certificate,
 * order-entry's own certificate and key (mutual TLS), and the name the server's certificate must carry when it is
 * not the host dialled. The server name is always checked.
 */
const clientTlsSchema = z
  .object({
    caFile: text,
    certFile: text.optional(),
    keyFile: text.optional(),
    serverName: text.optional(),
  })
  .strict();
export type ClientTlsConfig = z.infer<typeof clientTlsSchema>;

const ms = (min: number, max: number) =>
  z.coerce.number({ error: "must be a number of milliseconds" }).int().min(min).max(max);

export const orderEntrySchema = z
  .object({
    orderEntry: z
      .object({ id: text.default("order-entry") })
      .strict()
      .default({ id: "order-entry" }),
    grpc: z
      .object({
        host: text.default("127.0.0.1"),
        port: port.default(50061),
        // TLS/mTLS, the policy, bearer JWTs, limits, a health-only port (@fixmesh/security; docs/security.md).
        ...grpcSecurityFields,
      })
      .strict()
      .default({ host: "127.0.0.1", port: 50061 }),
    sessions: z
      .array(
        z
          .object({
            /** `FIX.4.4:CLIENT->VENUE`, as the connector names it. */
            id: text.regex(/^FIX[T]?\.\d\.\d:[^-]+->.+$/, {
              error: "must be <BeginString>:<SenderCompID>-><TargetCompID>",
            }),
            /** The connector's SessionService address. */
            connector: address,
          })
          .strict(),
        { error: "must be a list of {id, connector}" },
      )
      .min(1, { error: "at least one session is required" }),
    risk: z
      .object({
        address,
        /** A check not answered within this is refused (fail closed). */
        deadlineMs: ms(10, 10_000).default(250),
        /** How often kill switches are read from RiskService (0: never). */
        killSwitchPollMs: ms(0, 60_000).default(500),
        /** TLS to risk (required when risk serves TLS). */
        tls: clientTlsSchema.optional(),
      })
      .strict(),
    connector: z
      .object({
        /** TLS to every session's connector (SessionService). */
        tls: clientTlsSchema.optional(),
        /**
         * How often session health is read with GetSession. Default: 5000 when the connector's state events reach
         * order-entry (NATS, or the embedded bus): health comes from them and this poll only catches one missed;
         * 500 otherwise.
         */
        healthPollMs: ms(100, 600_000).optional(),
      })
      .strict()
      .optional(),
    store: z
      .discriminatedUnion(
        "kind",
        [
          z.object({ kind: z.literal("memory") }).strict(),
          z
            .object({
              kind: z.literal("redis"),
              redis: z
                .object({
                  url: text.regex(/^rediss?:\/\//, { error: "must be a redis:// or rediss:// URL" }),
                  prefix: text.default("fixmesh:oe"),
                  // The link's credentials and TLS (@fixmesh/security redisLinkSchema): secrets from files or env.
                  username: text.optional(),
                  passwordFile: text.optional(),
                  passwordEnv: text.optional(),
                  tls: linkTlsSchema.optional(),
                })
                .strict(),
            })
            .strict(),
        ],
        { error: 'kind must be "memory" or "redis"' },
      )
      .default({ kind: "memory" }),
    nats: z
      .object({
        url: text.regex(/^(nats|tls):\/\//, { error: "must be a nats:// URL" }),
        // The link's credentials and TLS (@fixmesh/security natsLinkSchema): one way to authenticate, secrets from
        // files or env only.
        user: text.optional(),
        passwordFile: text.optional(),
        passwordEnv: text.optional(),
        tokenFile: text.optional(),
        tokenEnv: text.optional(),
        nkeySeedFile: text.optional(),
        nkeySeedEnv: text.optional(),
        credsFile: text.optional(),
        tls: linkTlsSchema.optional(),
        /** The connector's FIX stream and its subject prefix. */
        fixStream: text.default("FIX"),
        fixSubjectPrefix: text.default("fix"),
        /** Where order events go. */
        ordersStream: text.default("ORDERS"),
        ordersSubjectPrefix: text.default("orders"),
        /** Where MassCancel (and the kill-switch cancels) are audited: `<auditSubjectPrefix>.order-entry.MassCancel`. */
        auditStream: text.default("AUDIT"),
        auditSubjectPrefix: text.default("audit"),
        /** The durable consumer every instance shares. */
        durable: text.regex(/^[A-Za-z0-9_-]+$/, { error: "letters, digits, '_' or '-'" }).default("order-entry"),
        /**
         * Pullers of the durable in this process (each handles one batch at a time). More pullers apply reports
         * faster, but two reports of one order may then apply out of arrival order (the state converges; a client
         * may see a fill before the acknowledgement, which then changes nothing). Default 1: arrival order.
         */
        pullers: z.coerce.number({ error: "must be a whole number" }).int().min(1).max(64).default(1),
      })
      .strict()
      .optional(),
    idempotency: z
      .object({
        ttlHours: z.coerce
          .number()
          .positive()
          .max(24 * 90)
          .default(168),
        takeoverMs: ms(100, 600_000).default(5000),
      })
      .strict()
      .default({ ttlHours: 168, takeoverMs: 5000 }),
    /** Prometheus metrics at /metrics on host:port (port 0: any free port); absent: not served. */
    metrics: z
      .object({ host: text.default("127.0.0.1"), port: port.default(9464) })
      .strict()
      .optional(),
    log: z
      .object({ level: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }).default("info") })
      .strict()
      .default({ level: "info" }),
  })
  .strict();

type ParsedOrderEntryConfig = z.infer<typeof orderEntrySchema>;

/**
 * The checked configuration. `grpc` holds the resolved security section (paths absolute, files read once):
 * without `tls` it is plaintext, which only a loopback host may use. Client TLS paths are absolute; `links` are
 * the Redis and NATS links with their secrets read (`Secret`s print as [REDACTED]).
 */
export type OrderEntryConfig = Omit<ParsedOrderEntryConfig, "grpc"> & {
  grpc: { host: string; port: number } & GrpcSecurityConfig;
  links: { redis?: RedisLink; nats?: NatsLink };
};
export type OrderEntryConfigInput = z.input<typeof orderEntrySchema>;
