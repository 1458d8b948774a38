import { resolve } from "node:path";
import { z } from "zod";
import { isLoopbackHost } from "./address.js";
import type { AuditSink } from "./grpc/audit.js";
import type { GrpcLimits, GrpcSecurityOptions, SecurityLogger } from "./grpc/security.js";
import type { JwtOptions } from "./jwt.js";
import { Policy } from "./policy/policy.js";
import { CertificateFiles } from "./tls/certificate-files.js";
import type { ClientCertMode } from "./tls/credentials.js";

const text = z.string({ error: "must be text" }).min(1, { error: "must not be empty" });
const seconds = z.number({ error: "must be a number of seconds" }).positive({ error: "must be more than 0" });
const count = z.number({ error: "must be a whole number" }).int().min(0, { error: "must be 0 or more" });

/**
 * The security keys of a service's `grpc` section, to spread into its schema next to host and port:
 * `grpc: z.strictObject({ host, port, ...grpcSecurityFields })`. See docs/security.md.
 */
export const grpcSecurityFields = {
  /**
   * A second, plaintext listener on the same host that serves grpc.health.v1 and nothing else: kubelet grpc
   * probes speak plaintext only, and the status (SERVING / NOT_SERVING) is all it reveals.
   */
  healthPort: z.number({ error: "must be a port number" }).int().min(0).max(65535).optional(),
  /**
   * Serve without TLS. Must be said: a section with neither tls nor `plaintext: true` is refused, and plaintext is
   * allowed only on a loopback host (embedded mode, tests).
   */
  plaintext: z.boolean({ error: "must be true or false" }).optional(),
  tls: z
    .strictObject({
      certFile: text,
      keyFile: text,
      /** The CA bundle that signs client certificates. */
      caFile: text,
      clientCert: z.enum(["require", "optional"]).default("require"),
      /** How often the files are read again to pick up a rotation. */
      reloadSeconds: seconds.default(10),
    })
    .optional(),
  auth: z
    .strictObject({
      policyFile: text.optional(),
      reloadSeconds: seconds.default(5),
      jwt: z
        .strictObject({
          jwksFile: text.optional(),
          jwksUrl: text.optional(),
          issuer: text.optional(),
          audience: z.union([text, z.array(text).min(1)]).optional(),
          algorithms: z.array(text).min(1).optional(),
          clockToleranceSeconds: z.number().min(0).optional(),
          cacheSeconds: seconds.optional(),
        })
        .optional(),
    })
    .optional(),
  limits: z
    .strictObject({
      maxMessageBytes: count.min(1024, { error: "must be at least 1024" }).optional(),
      requestsPerSecond: z.number({ error: "must be a number" }).min(0).optional(),
      burst: count.min(1).optional(),
      maxStreamsPerPrincipal: count.optional(),
      requireAdminDeadline: z.boolean().optional(),
    })
    .optional(),
};

type RawFields = { [K in keyof typeof grpcSecurityFields]?: z.output<(typeof grpcSecurityFields)[K]> };

/** The resolved security of a gRPC server (paths absolute). Keys are present only when configured. */
export interface GrpcSecurityConfig {
  /** A plaintext health-only listener (kubelet probes) next to a TLS port. */
  healthPort?: number;
  plaintext?: boolean;
  tls?: {
    certFile: string;
    keyFile: string;
    caFile: string;
    clientCert: ClientCertMode;
    reloadSeconds: number;
  };
  auth?: { policyFile?: string; reloadSeconds: number; jwt?: JwtOptions };
  limits?: Partial<GrpcLimits>;
}

export interface ResolveContext {
  /** The grpc host the section goes with. */
  host: string;
  /** Relative paths resolve against this (the config file's directory). */
  baseDir: string;
  /** Path of the section, e.g. ["grpc"]. */
  at: Array<string | number>;
  /** Reports a problem at a path (the schema's issue reporter). */
  issue: (path: Array<string | number>, message: string) => void;
  /** Read the certificate and policy files now, to report a bad one with the config. Default true. */
  checkFiles?: boolean;
}

/**
 * Resolves the section: paths made absolute, the plaintext/loopback and TLS/policy rules checked, and (by
 * default) the files read once so a bad certificate or policy is reported with the rest of the config.
 */
export function resolveGrpcSecurity(raw: RawFields, ctx: ResolveContext): GrpcSecurityConfig {
  const at = ctx.at;
  const path = (p: string) => resolve(ctx.baseDir, p);
  const out: GrpcSecurityConfig = {};
  if (raw.healthPort !== undefined) out.healthPort = raw.healthPort;
  if (raw.tls !== undefined && raw.plaintext === true) {
    ctx.issue([...at, "plaintext"], "cannot be true together with tls");
  }
  if (raw.tls === undefined && !isLoopbackHost(ctx.host)) {
    ctx.issue(
      [...at, "tls"],
      `is required: gRPC binds ${ctx.host}, which is reachable from the network; plaintext is allowed only on a loopback address (127.0.0.1, ::1, localhost)`,
    );
  }
  if (raw.tls === undefined && raw.plaintext === false) {
    ctx.issue([...at, "tls"], "is required with plaintext: false");
  }
  if (raw.tls === undefined && raw.plaintext === undefined && isLoopbackHost(ctx.host)) {
    ctx.issue(
      [...at, "plaintext"],
      `give tls, or plaintext: true to serve gRPC without TLS on ${ctx.host} (allowed on a loopback address only)`,
    );
  }
  if (raw.tls !== undefined) {
    out.tls = {
      certFile: path(raw.tls.certFile),
      keyFile: path(raw.tls.keyFile),
      caFile: path(raw.tls.caFile),
      clientCert: raw.tls.clientCert,
      reloadSeconds: raw.tls.reloadSeconds,
    };
    if (raw.auth?.policyFile === undefined) {
      ctx.issue(
        [...at, "auth", "policyFile"],
        "is required when gRPC serves TLS: the policy says which principal may do what",
      );
    }
    if (ctx.checkFiles !== false) {
      try {
        new CertificateFiles({ ...out.tls, field: [...at, "tls"].join(".") });
      } catch (e) {
        const f = (e as { field?: string }).field;
        ctx.issue(f !== undefined ? f.split(".") : [...at, "tls"], (e as { reason?: string }).reason ?? String(e));
      }
    }
  } else if (raw.plaintext !== undefined) {
    out.plaintext = raw.plaintext;
  }
  if (raw.auth !== undefined) {
    const jwt = raw.auth.jwt;
    if (jwt !== undefined && (jwt.jwksFile === undefined) === (jwt.jwksUrl === undefined)) {
      ctx.issue([...at, "auth", "jwt"], "give jwksFile or jwksUrl (one of them)");
    }
    if (jwt !== undefined && raw.auth.policyFile === undefined) {
      ctx.issue([...at, "auth", "policyFile"], "is required with auth.jwt");
    }
    out.auth = {
      reloadSeconds: raw.auth.reloadSeconds,
      ...(raw.auth.policyFile !== undefined && { policyFile: path(raw.auth.policyFile) }),
      ...(jwt !== undefined && {
        jwt: {
          ...jwt,
          ...(jwt.jwksFile !== undefined && { jwksFile: path(jwt.jwksFile) }),
          field: [...at, "auth", "jwt"].join("."),
        },
      }),
    };
    if (out.auth.policyFile !== undefined && ctx.checkFiles !== false) {
      try {
        Policy.load(out.auth.policyFile);
      } catch (e) {
        ctx.issue([...at, "auth", "policyFile"], e instanceof Error ? e.message : String(e));
      }
    }
  }
  if (raw.limits !== undefined) {
    const l = raw.limits;
    out.limits = {
      ...(l.maxMessageBytes !== undefined && { maxMessageBytes: l.maxMessageBytes }),
      ...(l.requestsPerSecond !== undefined && { requestsPerSecond: l.requestsPerSecond }),
      ...(l.burst !== undefined && { burst: l.burst }),
      ...(l.maxStreamsPerPrincipal !== undefined && { maxStreams: l.maxStreamsPerPrincipal }),
      ...(l.requireAdminDeadline !== undefined && { requireAdminDeadline: l.requireAdminDeadline }),
    };
  }
  return out;
}

/**
 * What a service started from code without a `security` section gets (tests, `fixmesh start`'s pieces, library
 * users): plaintext, which the server still allows on a loopback host only. A configuration file must say
 * `plaintext: true` itself; only code may leave it out.
 */
export const EMBEDDED_GRPC_SECURITY: GrpcSecurityConfig = Object.freeze({ plaintext: true });

/** The options of `createGrpcSecurity` for a resolved section. */
export function toSecurityOptions(
  cfg: GrpcSecurityConfig,
  svc: { service: string; host: string; audit?: AuditSink; logger?: SecurityLogger; field?: string },
): GrpcSecurityOptions {
  return {
    service: svc.service,
    host: svc.host,
    field: svc.field ?? "grpc",
    ...(svc.audit !== undefined && { audit: svc.audit }),
    ...(svc.logger !== undefined && { logger: svc.logger }),
    plaintext: cfg.tls === undefined && cfg.plaintext === true,
    ...(cfg.tls !== undefined && {
      tls: {
        certFile: cfg.tls.certFile,
        keyFile: cfg.tls.keyFile,
        caFile: cfg.tls.caFile,
        clientCert: cfg.tls.clientCert,
        reloadMs: cfg.tls.reloadSeconds * 1000,
      },
    }),
    ...(cfg.auth?.policyFile !== undefined && {
      policyFile: cfg.auth.policyFile,
      policyReloadMs: cfg.auth.reloadSeconds * 1000,
    }),
    ...(cfg.auth?.jwt !== undefined && { jwt: cfg.auth.jwt }),
    ...(cfg.limits !== undefined && { limits: cfg.limits }),
  };
}
