/**
 * The three calls the Lease backend makes to the Kubernetes API (`coordination.k8s.io/v1` Leases: get, create,
 * replace), over `node:https` (or `node:http`, for the in-test server), with a bearer token and the cluster's CA.
 *
 * Why not @kubernetes/client-node: its current release (2.x) needs undici 8, which requires Node ≥ 22.19 (we
 * run on Node 20); the 1.x line brings about fifteen packages (openid-client, ws, tar-fs, node-fetch, …) for these
 * three REST calls. This file is the whole of what the backend needs.
 */
import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";

export const LEASE_API_VERSION = "coordination.k8s.io/v1";

/** A Lease as the API serves it (the fields this backend reads and writes; others pass through untouched). */
export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [field: string]: unknown;
  };
  spec?: LeaseSpec;
}

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number | null;
  /** RFC 3339 with microseconds (`MicroTime`). */
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number | null;
  [field: string]: unknown;
}

/**
 * The API answered with an error: `status` is the HTTP status, `reason` the Status object's reason
 * (`Conflict`, `AlreadyExists`, `NotFound`, `Unauthorized`, `Forbidden`, …).
 */
export class LeaseApiError extends Error {
  override readonly name = "LeaseApiError";
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** Where a pod finds its service account (`automountServiceAccountToken`). */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface LeaseApiOptions {
  /** `https://host:port` (or `http://…` for a test server). */
  server: string;
  /** A bearer token, or the file that holds it (re-read every `tokenReloadMs`: bound tokens rotate). */
  token?: string;
  tokenFile?: string;
  /** PEM CA bundle that signs the API server's certificate, or its file. */
  ca?: string | Buffer;
  caFile?: string;
  /** Default 60 s, as client-go. */
  tokenReloadMs?: number;
}

/** The API server, token and CA a pod uses (`KUBERNETES_SERVICE_HOST`/`_PORT` and the service account files). */
export function inClusterOptions(env: Readonly<Record<string, string | undefined>> = process.env): LeaseApiOptions {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (host === undefined || host === "" || port === undefined || port === "") {
    throw new Error(
      "not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT unset): give the API server",
    );
  }
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    tokenFile: `${SERVICE_ACCOUNT_DIR}/token`,
    caFile: `${SERVICE_ACCOUNT_DIR}/ca.crt`,
  };
}

export class LeaseApi {
  readonly server: URL;
  private readonly agent: http.Agent;
  private readonly tokenFile: string | undefined;
  private token: string | undefined;
  private tokenReadAt = Number.NEGATIVE_INFINITY;
  private readonly tokenReloadMs: number;

  constructor(opts: LeaseApiOptions) {
    this.server = new URL(opts.server);
    if (this.server.protocol !== "https:" && this.server.protocol !== "http:") {
      throw new RangeError(`server must be an https:// (or http://) URL, got ${JSON.stringify(opts.server)}`);
    }
    this.token = opts.token;
    this.tokenFile = opts.token === undefined ? opts.tokenFile : undefined;
    this.tokenReloadMs = opts.tokenReloadMs ?? 60_000;
    const ca = opts.ca ?? (opts.caFile === undefined ? undefined : readFileSync(opts.caFile));
    // Keep-alive: a renewal every retry period should not pay a TCP and TLS handshake each time.
    this.agent =
      this.server.protocol === "https:"
        ? new https.Agent({ keepAlive: true, maxSockets: 4, ...(ca !== undefined && { ca }) })
        : new http.Agent({ keepAlive: true, maxSockets: 4 });
  }

  /** The Lease, or null when there is none (404). */
  async get(namespace: string, name: string, signal?: AbortSignal): Promise<Lease | null> {
    try {
      return (await this.request("GET", leasePath(namespace, name), undefined, signal)) as Lease;
    } catch (e) {
      if (e instanceof LeaseApiError && e.status === 404) return null;
      throw e;
    }
  }

  /** Creates the Lease; `LeaseApiError` 409 `AlreadyExists` when one of that name exists. */
  async create(namespace: string, lease: Lease, signal?: AbortSignal): Promise<Lease> {
    return (await this.request("POST", leasesPath(namespace), lease, signal)) as Lease;
  }

  /**
   * Replaces the Lease. With `metadata.resourceVersion`, only if it is still that version: otherwise
   * `LeaseApiError` 409 `Conflict` (optimistic concurrency).
   */
  async replace(namespace: string, name: string, lease: Lease, signal?: AbortSignal): Promise<Lease> {
    return (await this.request("PUT", leasePath(namespace, name), lease, signal)) as Lease;
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  private bearer(): string | undefined {
    if (this.tokenFile !== undefined && performance.now() - this.tokenReadAt >= this.tokenReloadMs) {
      this.token = readFileSync(this.tokenFile, "utf8").trim();
      this.tokenReadAt = performance.now();
    }
    return this.token;
  }

  private request(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    const url = new URL(path, this.server);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const token = this.bearer();
    const headers: http.OutgoingHttpHeaders = {
      Accept: "application/json",
      "User-Agent": "fixmesh-election",
      ...(token !== undefined && { Authorization: `Bearer ${token}` }),
      ...(payload !== undefined && { "Content-Type": "application/json", "Content-Length": payload.length }),
    };
    const send = url.protocol === "https:" ? https.request : http.request;
    return new Promise<unknown>((resolve, reject) => {
      const req = send(url, { method, headers, agent: this.agent, ...(signal && { signal }) }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown;
          try {
            parsed = text === "" ? {} : JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          if (status >= 200 && status < 300 && parsed !== undefined) resolve(parsed);
          else reject(apiError(method, path, status, parsed, text));
        });
      });
      req.on("error", reject);
      req.end(payload);
    });
  }
}

function leasesPath(namespace: string): string {
  return `/apis/${LEASE_API_VERSION}/namespaces/${encodeURIComponent(namespace)}/leases`;
}

function leasePath(namespace: string, name: string): string {
  return `${leasesPath(namespace)}/${encodeURIComponent(name)}`;
}

/** A Kubernetes `Status` answer (or anything else) as a LeaseApiError. */
function apiError(method: string, path: string, status: number, parsed: unknown, text: string): LeaseApiError {
  const s = (typeof parsed === "object" && parsed !== null ? parsed : {}) as { reason?: unknown; message?: unknown };
  const reason = typeof s.reason === "string" ? s.reason : `HTTP${status}`;
  const message = typeof s.message === "string" ? s.message : text.slice(0, 200);
  return new LeaseApiError(status, reason, `${method} ${path}: ${status} ${reason}: ${message}`);
}

/** `MicroTime`: RFC 3339 with six fractional digits, as the Lease's times are written. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
