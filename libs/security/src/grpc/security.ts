import { randomUUID } from "node:crypto";
import { RpcError } from "@fixmesh/contracts";
import {
  status as Code,
  ServerCredentials as Credentials,
  type Metadata,
  type ServerCredentials,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  type ServerOptions,
} from "@grpc/grpc-js";
import { isLoopbackHost } from "../address.js";
import { deadlineRequired, notAuthorized, SecurityConfigError, throttled, unauthenticated } from "../errors.js";
import { type Grant, grantResource, grantText } from "../grants.js";
import { type JwtOptions, JwtVerifier } from "../jwt.js";
import type { AbuseLimits } from "../limits.js";
import { RateLimiter, StreamCounter } from "../limits.js";
import { PolicyStore } from "../policy/store.js";
import { ANONYMOUS, type Principal, principalFromCertificate } from "../principal.js";
import type { CertificateFiles } from "../tls/certificate-files.js";
import { type ServerTlsOptions, serverTls } from "../tls/credentials.js";
import type { AuditSink } from "./audit.js";
import type { RulesOf, ServiceLike } from "./rules.js";
import { type AdminRule, isAdminRule, type MethodRule } from "./rules.js";

/** The logger calls this library makes (pino's shape). */
export interface SecurityLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface GrpcSecurityOptions {
  /** The service's name in audit events and their subjects (`connector`, `order-entry`, …). */
  service: string;
  /** The address the server binds: plaintext is refused unless it is a loopback address. */
  host: string;
  /** TLS from files (reloaded on rotation). Without it the server is plaintext — only with `plaintext: true`. */
  tls?: ServerTlsOptions;
  /** Serve without TLS. Only on a loopback host (embedded mode, tests); anything else throws at start. */
  plaintext?: boolean;
  /**
   * The policy file (YAML, reloaded when it changes). Required with TLS. Without one (plaintext on loopback
   * only), authorization is off: every caller is `anonymous` and may do anything.
   */
  policyFile?: string;
  policyReloadMs?: number;
  /** Accept bearer JWTs (`authorization: Bearer …`) verified against this JWKS. */
  jwt?: JwtOptions;
  limits?: Partial<GrpcLimits>;
  /** Denials and admin actions go here (and to the log). */
  audit?: AuditSink;
  logger?: SecurityLogger;
  /**
   * Methods anyone may call without a principal or a grant (full paths). Default: the grpc.health.v1 methods,
   * so probes work. Every other method without a rule is refused (fail closed); server reflection needs an
   * authenticated principal and no grant.
   */
  publicMethods?: readonly string[];
  /** Config path of these settings for error messages. Default `grpc`. */
  field?: string;
  now?: () => number;
}

export interface GrpcLimits extends AbuseLimits {
  /** Largest request message, in bytes (grpc-js answers RESOURCE_EXHAUSTED above it). */
  maxMessageBytes: number;
  /** Refuse admin calls that carry no deadline (INVALID_ARGUMENT/DEADLINE_REQUIRED). */
  requireAdminDeadline: boolean;
}

export const DEFAULT_LIMITS: GrpcLimits = {
  maxMessageBytes: 4 * 1024 * 1024,
  // Above what one grpc-js client can do unary (~2.4 k calls/s here, docs PERF-LIMITS): it stops a runaway or
  // abusive caller, not a busy service. Tighter limits go per principal in the policy file.
  requestsPerSecond: 5000,
  maxStreams: 64,
  requireAdminDeadline: true,
};

const HEALTH_METHODS = ["/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"];
const REFLECTION_PREFIX = "/grpc.reflection.";

interface CompiledRule {
  rule: MethodRule<unknown>;
  admin: AdminRule<unknown> | null;
  method: string;
}

/**
 * The security of one gRPC server: its transport credentials, who each caller is (client certificate or bearer
 * JWT), what the policy lets them do, per-principal limits, and the audit of denials and admin actions.
 *
 * ```ts
 * const sec = createGrpcSecurity({ service: "risk", host, tls, policyFile, audit: (e) => bus.audit(e) });
 * const server = new grpc.Server(sec.serverOptions);
 * addGrpcService(server, RiskService, sec.protect(RiskService, rules, impl));
 * server.bindAsync(address, sec.credentials, cb);
 * ```
 */
export class GrpcSecurity {
  readonly credentials: ServerCredentials;
  /** `enforce`: every call authenticated and authorized; `open`: plaintext loopback without a policy. */
  readonly mode: "open" | "enforce";
  /** Pass to `new grpc.Server(…)`: the interceptor and the message size limits. */
  readonly serverOptions: ServerOptions;
  readonly certificates: CertificateFiles | null;
  readonly policy: PolicyStore | null;
  readonly limits: GrpcLimits;

  private readonly rules = new Map<string, CompiledRule>();
  private readonly principals = new WeakMap<Metadata, Principal>();
  private readonly jwt: JwtVerifier | null;
  private readonly rate: RateLimiter;
  private readonly streams = new StreamCounter();
  private readonly publicMethods: Set<string>;
  private readonly log: SecurityLogger | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: GrpcSecurityOptions) {
    const field = opts.field ?? "grpc";
    this.log = opts.logger;
    this.now = opts.now ?? Date.now;
    this.rate = new RateLimiter(this.now);
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.publicMethods = new Set(opts.publicMethods ?? HEALTH_METHODS);

    if (opts.tls !== undefined && opts.plaintext === true) {
      throw new SecurityConfigError(`${field}.plaintext`, "cannot be true together with tls");
    }
    if (opts.tls === undefined) {
      if (!isLoopbackHost(opts.host)) {
        throw new SecurityConfigError(
          `${field}.tls`,
          `is required: gRPC binds ${opts.host}, which is reachable from the network; plaintext is allowed only on a loopback address (127.0.0.1, ::1, localhost)`,
        );
      }
      if (opts.plaintext !== true) {
        throw new SecurityConfigError(
          `${field}.plaintext`,
          "must be true to serve gRPC without TLS (even on loopback); or configure tls",
        );
      }
      if (opts.policyFile === undefined && opts.jwt !== undefined) {
        throw new SecurityConfigError(`${field}.auth.policyFile`, "is required with auth.jwt");
      }
    } else if (opts.policyFile === undefined) {
      throw new SecurityConfigError(
        `${field}.auth.policyFile`,
        "is required when gRPC serves TLS: the policy says which principal may do what",
      );
    }

    this.jwt = opts.jwt === undefined ? null : new JwtVerifier({ field: `${field}.auth.jwt`, ...opts.jwt });
    if (opts.tls !== undefined) {
      const t = serverTls({
        field: `${field}.tls`,
        onReload: (e) =>
          e.ok
            ? this.log?.info(
                { subject: e.subject, notAfter: e.notAfter, fingerprint: e.fingerprint },
                "gRPC certificate reloaded",
              )
            : this.log?.warn({ reason: e.reason }, "gRPC certificate rotation refused; the previous one stays in use"),
        ...opts.tls,
      });
      this.credentials = t.credentials;
      this.certificates = t.files;
    } else {
      this.credentials = Credentials.createInsecure();
      this.certificates = null;
    }
    this.policy =
      opts.policyFile === undefined
        ? null
        : new PolicyStore({
            path: opts.policyFile,
            reloadMs: opts.policyReloadMs,
            onReload: (e) =>
              e.ok
                ? this.log?.info({ digest: e.digest }, "authorization policy reloaded")
                : this.log?.warn({ reason: e.reason }, "authorization policy change refused; the previous one stays"),
          });
    this.mode = this.policy === null ? "open" : "enforce";
    this.serverOptions = {
      // Requests only: a response's size is the server's own doing (a page of stored messages can be large).
      "grpc.max_receive_message_length": this.limits.maxMessageBytes,
      interceptors: [this.interceptor],
    };
  }

  /**
   * Declares what each method of `service` needs (see rules.ts). Every method must have a rule (the type says
   * so): a method without one is refused at run time. Returns `impl` unchanged, so it reads inline:
   * `addGrpcService(server, S, sec.protect(S, rules, impl))`.
   */
  protect<S extends ServiceLike, I>(service: S, rules: RulesOf<S>, impl: I): I;
  protect<S extends ServiceLike>(service: S, rules: RulesOf<S>): void;
  protect<S extends ServiceLike, I>(service: S, rules: RulesOf<S>, impl?: I): I | undefined {
    const table = rules as Record<string, MethodRule<unknown> | undefined>;
    for (const m of service.methods) {
      const rule = table[m.localName];
      if (rule === undefined) throw new TypeError(`${service.typeName}: no security rule for ${m.name}`);
      this.rules.set(`/${service.typeName}/${m.name}`, {
        rule,
        admin: isAdminRule(rule) ? rule : null,
        method: m.name,
      });
    }
    return impl;
  }

  /** The authenticated caller of a call a handler serves (`anonymous` when authorization is off). */
  principalOf(call: { metadata: Metadata }): Principal {
    return this.principals.get(call.metadata) ?? ANONYMOUS;
  }

  /**
   * A check a rule cannot make from the request alone (the account of an order found by its id): throws
   * PERMISSION_DENIED/NOT_AUTHORIZED naming the first missing grant, after auditing the denial. A no-op when
   * authorization is off. `call` is the handler's call (unary or stream).
   */
  authorize(call: { metadata: Metadata; getPath(): string }, ...grants: Grant[]): void {
    if (this.policy === null) return;
    const p = this.principalOf(call);
    const path = call.getPath();
    const method = path.slice(path.lastIndexOf("/") + 1);
    const policy = this.policy.current;
    for (const g of grants) {
      if (policy.allows(p.id, g)) continue;
      this.audit({
        principal: p.id,
        action: this.rules.get(path)?.admin?.admin ?? method,
        outcome: "denied",
        detail: grantText(g),
        ...(grantResource(g) !== undefined && { resource: grantResource(g) }),
      });
      throw notAuthorized(p.id, grantText(g), method);
    }
  }

  /** Whether the caller holds `g` (no audit, no error): to filter what a list or a stream shows. */
  allows(call: { metadata: Metadata }, g: Grant): boolean {
    return this.policy === null || this.policy.current.allows(this.principalOf(call).id, g);
  }

  close(): void {
    this.certificates?.close();
    this.policy?.close();
  }

  /** Who the caller is: a bearer JWT when one is sent (it must verify), else the client certificate. */
  private async authenticate(md: Metadata, call: ServerInterceptingCallInterface): Promise<Principal> {
    const auth = md.get("authorization");
    if (auth.length > 0) {
      // Handlers never see the token (it would end up in a log line sooner or later).
      md.remove("authorization");
      const v = String(auth[0]);
      const m = /^Bearer\s+(\S+)$/i.exec(v);
      if (m === null) throw unauthenticated("the authorization header is not `Bearer <token>`");
      if (this.jwt === null) throw unauthenticated("bearer tokens are not accepted by this server (no auth.jwt)");
      try {
        return await this.jwt.verify(m[1], this.now());
      } catch (e) {
        throw unauthenticated(e instanceof Error ? e.message : String(e));
      }
    }
    const cert = call.getAuthContext().sslPeerCertificate;
    if (cert === undefined) throw unauthenticated("no client certificate and no bearer token");
    const p = principalFromCertificate(cert);
    if (p === undefined) throw unauthenticated("the client certificate has neither a URI SAN nor a CN");
    return p;
  }

  private audit(e: {
    principal: string;
    action: string;
    resource?: string;
    reason?: string;
    outcome: "ok" | "denied" | "failed";
    detail?: string;
  }): void {
    const ev = { id: randomUUID(), at: this.now(), service: this.opts.service, ...e };
    this.log?.warn({ audit: ev }, e.outcome === "denied" ? "gRPC call denied" : "gRPC admin action");
    try {
      this.opts.audit?.(ev);
    } catch (err) {
      this.log?.error({ err, auditId: ev.id }, "audit sink failed");
    }
  }

  /** Records an admin call's request and audits its outcome, checking nothing (authorization off). */
  private auditOnly(call: ServerInterceptingCallInterface, rule: AdminRule<unknown>): ServerInterceptingCall {
    let admin: { resource: string; reason?: string } | null = null;
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMessage: (msg, nextMsg) => {
            try {
              const reason = rule.reason?.(msg);
              admin = { resource: rule.resource(msg), ...(reason !== undefined && { reason }) };
            } catch {
              // The handler validates the request and answers for it; the audit gets what it can.
            }
            nextMsg(msg);
          },
        }),
      sendStatus: (st, next) => {
        if (admin !== null) {
          this.audit({
            principal: ANONYMOUS.id,
            action: rule.admin,
            resource: admin.resource,
            ...(admin.reason !== undefined && admin.reason !== "" && { reason: admin.reason }),
            outcome: st.code === Code.OK ? "ok" : "failed",
            ...(st.code !== Code.OK && { detail: `${Code[st.code]}: ${st.details}` }),
          });
          admin = null;
        }
        next(st);
      },
    });
  }

  private readonly interceptor: ServerInterceptor = (descriptor, call) => {
    const path = descriptor.path;
    const compiled = this.rules.get(path);
    if (this.mode === "open") {
      // Authorization off (plaintext on loopback): admin actions are still audited, as `anonymous`.
      return compiled?.admin ? this.auditOnly(call, compiled.admin) : new ServerInterceptingCall(call);
    }
    const method = path.slice(path.lastIndexOf("/") + 1);
    const isPublic = this.publicMethods.has(path);
    const streaming = descriptor.requestStream || descriptor.responseStream;
    let principal: Principal | null = null;
    let release: (() => void) | null = null;
    let ended = false;
    let admin: { action: string; resource: string; reason?: string } | null = null;

    const fail = (err: RpcError, audit?: { grant?: Grant; resource?: string; reason?: string }) => {
      if (ended) return;
      // Refused before it ran: audited as a denial below, not as an admin action that failed.
      admin = null;
      if (audit !== undefined || err.code === Code.UNAUTHENTICATED) {
        this.audit({
          principal: principal?.id ?? "unauthenticated",
          action: compiled?.admin?.admin ?? method,
          outcome: "denied",
          detail: audit?.grant !== undefined ? grantText(audit.grant) : err.message,
          ...(audit?.resource !== undefined && { resource: audit.resource }),
          ...(audit?.reason !== undefined && audit.reason !== "" && { reason: audit.reason }),
        });
      } else {
        this.log?.warn({ principal: principal?.id, method, code: err.code, reason: err.reason }, err.message);
      }
      const se = err.toServiceError();
      ic.sendStatus({ code: err.code, details: err.message, metadata: se.metadata ?? null });
    };

    const ic: ServerInterceptingCall = new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (md, nextMd) => {
            if (isPublic) {
              nextMd(md);
              return;
            }
            this.authenticate(md, call).then(
              (p) => {
                principal = p;
                this.principals.set(md, p);
                const policy = (this.policy as PolicyStore).current;
                if (compiled === undefined && !path.startsWith(REFLECTION_PREFIX)) {
                  fail(notAuthorized(p.id, `a rule for ${path}`, method), {});
                  return;
                }
                const own = policy.limitsOf(p.id);
                const rps = own?.requestsPerSecond ?? this.limits.requestsPerSecond;
                const burst = own?.burst ?? this.limits.burst ?? Math.max(1, Math.ceil(rps * 2));
                if (!this.rate.take(p.id, rps, burst)) {
                  fail(throttled(p.id, "requestsPerSecond", rps));
                  return;
                }
                if (streaming) {
                  const max = own?.maxStreams ?? this.limits.maxStreams;
                  release = this.streams.acquire(p.id, max);
                  if (release === null) {
                    fail(throttled(p.id, "maxStreams", max));
                    return;
                  }
                }
                if (compiled?.admin != null && this.limits.requireAdminDeadline) {
                  const d = call.getDeadline();
                  if (d === Infinity || (typeof d === "number" && !Number.isFinite(d))) {
                    fail(deadlineRequired(method));
                    return;
                  }
                }
                nextMd(md);
              },
              (err: unknown) => fail(RpcError.from(err)),
            );
          },
          onReceiveMessage: (msg, nextMsg) => {
            if (ended) return;
            if (compiled === undefined || principal === null) {
              nextMsg(msg);
              return;
            }
            const p = principal;
            const policy = (this.policy as PolicyStore).current;
            let grants: Grant[];
            let reason: string | undefined;
            try {
              if (compiled.admin !== null) {
                const a = compiled.admin;
                const resource = a.resource(msg);
                reason = a.reason?.(msg);
                grants = [{ kind: "admin", action: a.admin, resource }];
                admin = { action: a.admin, resource, ...(reason !== undefined && { reason }) };
              } else {
                const g = (compiled.rule as (req: unknown) => Grant | Grant[])(msg);
                grants = Array.isArray(g) ? g : [g];
              }
            } catch (e) {
              // A rule that throws is a request it cannot read (e.g. a missing field): say so, refuse.
              fail(e instanceof RpcError ? e : RpcError.from(e));
              return;
            }
            for (const g of grants) {
              if (!policy.allows(p.id, g)) {
                fail(notAuthorized(p.id, grantText(g), method), {
                  grant: g,
                  resource: grantResource(g),
                  ...(reason !== undefined && { reason }),
                });
                return;
              }
            }
            nextMsg(msg);
          },
          onCancel: () => {
            ended = true;
            release?.();
          },
        });
      },
      sendStatus: (st, next) => {
        if (!ended) {
          ended = true;
          release?.();
          if (admin !== null && principal !== null) {
            this.audit({
              principal: principal.id,
              action: admin.action,
              resource: admin.resource,
              ...(admin.reason !== undefined && admin.reason !== "" && { reason: admin.reason }),
              outcome: st.code === Code.OK ? "ok" : "failed",
              ...(st.code !== Code.OK && { detail: `${Code[st.code]}: ${st.details}` }),
            });
          }
        }
        next(st);
      },
    });
    return ic;
  };
}

/** Builds a server's security from its options; throws SecurityConfigError naming the field that cannot work. */
export function createGrpcSecurity(opts: GrpcSecurityOptions): GrpcSecurity {
  return new GrpcSecurity(opts);
}
