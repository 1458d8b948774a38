/**
 * An HTTP server that serves the Kubernetes `coordination.k8s.io/v1` Lease API with the API server's semantics,
 * for the Lease backend's tests (no real API server can run on the machines these tests run on):
 *
 * - GET    /apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{name} → 200, or 404 NotFound
 * - POST   /apis/coordination.k8s.io/v1/namespaces/{ns}/leases        → 201, or 409 AlreadyExists
 * - PUT    /apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{name} → 200; 409 Conflict when the body's
 *          `metadata.resourceVersion` is not the current one (no resourceVersion: an unconditional update, as
 *          Kubernetes allows); 404 NotFound when there is no such Lease (Leases are not created by PUT)
 * - DELETE …/leases/{name}                                            → 200 Status Success, or 404
 *
 * Every write gets a new `resourceVersion` (one counter for the server, like etcd's revision); `uid` and
 * `creationTimestamp` are set at create. Errors are `Status` objects. With a token, a request without
 * `Authorization: Bearer <token>` gets 401 Unauthorized. Validation as the API server's for Lease specs
 * (leaseDurationSeconds > 0, leaseTransitions ≥ 0) answers 422 Invalid.
 *
 * Faults for tests: `stall()` holds every request without an answer until `resume()`; `failNext(n, status)`.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Lease, LeaseSpec } from "../lease/lease-api.js";

const PREFIX = "/apis/coordination.k8s.io/v1/namespaces/";

export interface FakeLeaseApiOptions {
  /** Require this bearer token. */
  token?: string;
}

export class FakeLeaseApi {
  private server: Server | null = null;
  private readonly leases = new Map<string, Lease>();
  private revision = 100;
  private stalled: Array<() => void> | null = null;
  private failures: { left: number; status: number } | null = null;
  /** Requests served, by method (`GET`, `POST`, `PUT`, `DELETE`). */
  readonly requests: Record<string, number> = {};
  /** Writes refused with 409, by reason. */
  readonly conflicts: Record<string, number> = {};
  url = "";

  constructor(private readonly opts: FakeLeaseApiOptions = {}) {}

  async start(): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.resume();
    const s = this.server;
    this.server = null;
    if (s === null) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** The stored Lease (a copy), or undefined. */
  lease(namespace: string, name: string): Lease | undefined {
    const l = this.leases.get(`${namespace}/${name}`);
    return l === undefined ? undefined : structuredClone(l);
  }

  /** A write behind the electors' backs (kubectl, another controller): new spec fields, new resourceVersion. */
  patch(namespace: string, name: string, spec: Partial<LeaseSpec>): void {
    const l = this.leases.get(`${namespace}/${name}`);
    if (l === undefined) throw new Error(`no lease ${namespace}/${name}`);
    l.spec = { ...l.spec, ...spec };
    l.metadata.resourceVersion = String(++this.revision);
  }

  delete(namespace: string, name: string): boolean {
    return this.leases.delete(`${namespace}/${name}`);
  }

  /** Holds every request, unanswered, until `resume` (an API server that stopped answering). */
  stall(): void {
    this.stalled ??= [];
  }

  resume(): void {
    const held = this.stalled ?? [];
    this.stalled = null;
    for (const go of held) go();
  }

  /** Answers the next `n` requests with `status` (default 500 InternalError). */
  failNext(n: number, status = 500): void {
    this.failures = { left: n, status };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<Answered | undefined> {
    const body = await readBody(req);
    if (this.stalled !== null) await new Promise<void>((r) => this.stalled?.push(r));
    if (this.server === null) {
      res.destroy();
      return;
    }
    const method = req.method ?? "GET";
    this.requests[method] = (this.requests[method] ?? 0) + 1;
    if (this.opts.token !== undefined && req.headers.authorization !== `Bearer ${this.opts.token}`) {
      return send(res, 401, status(401, "Unauthorized", "Unauthorized"));
    }
    if (this.failures !== null && this.failures.left > 0) {
      this.failures.left--;
      const s = this.failures.status;
      return send(res, s, status(s, s === 429 ? "TooManyRequests" : "InternalError", "injected failure"));
    }
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (!path.startsWith(PREFIX)) return send(res, 404, status(404, "NotFound", "the server could not find the URL"));
    const parts = path.slice(PREFIX.length).split("/").map(decodeURIComponent);
    if (parts.length < 2 || parts[1] !== "leases" || parts.length > 3) {
      return send(res, 404, status(404, "NotFound", "the server could not find the requested resource"));
    }
    const [namespace, , name] = parts;
    if (name === undefined) {
      if (method !== "POST") return send(res, 405, status(405, "MethodNotAllowed", `${method} is not allowed`));
      return this.create(res, namespace, body);
    }
    const key = `${namespace}/${name}`;
    const cur = this.leases.get(key);
    switch (method) {
      case "GET":
        return cur === undefined ? send(res, 404, notFound(name)) : send(res, 200, cur);
      case "PUT":
        return this.replace(res, namespace, name, cur, body);
      case "DELETE":
        if (cur === undefined) return send(res, 404, notFound(name));
        this.leases.delete(key);
        return send(res, 200, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success" });
      default:
        return send(res, 405, status(405, "MethodNotAllowed", `${method} is not allowed`));
    }
  }

  private create(res: ServerResponse, namespace: string, body: unknown): Answered {
    const lease = asLease(body);
    if (lease === null) return send(res, 400, status(400, "BadRequest", "the body is not a Lease"));
    const name = lease.metadata.name;
    if (typeof name !== "string" || name === "") {
      return send(res, 422, status(422, "Invalid", "metadata.name: Required value"));
    }
    if (lease.metadata.namespace !== undefined && lease.metadata.namespace !== namespace) {
      return send(res, 400, status(400, "BadRequest", "the namespace of the object does not match the request"));
    }
    const invalid = validate(lease.spec);
    if (invalid !== null) return send(res, 422, status(422, "Invalid", invalid));
    const key = `${namespace}/${name}`;
    if (this.leases.has(key)) {
      this.conflicts.AlreadyExists = (this.conflicts.AlreadyExists ?? 0) + 1;
      return send(res, 409, status(409, "AlreadyExists", `leases.coordination.k8s.io "${name}" already exists`, name));
    }
    const stored: Lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        ...lease.metadata,
        namespace,
        uid: randomUUID(),
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        resourceVersion: String(++this.revision),
      },
      spec: { ...lease.spec },
    };
    this.leases.set(key, stored);
    return send(res, 201, stored);
  }

  private replace(
    res: ServerResponse,
    namespace: string,
    name: string,
    cur: Lease | undefined,
    body: unknown,
  ): Answered {
    const lease = asLease(body);
    if (lease === null) return send(res, 400, status(400, "BadRequest", "the body is not a Lease"));
    if (lease.metadata.name !== name) {
      return send(res, 400, status(400, "BadRequest", "the name of the object does not match the name on the URL"));
    }
    if (cur === undefined) return send(res, 404, notFound(name));
    const rv = lease.metadata.resourceVersion;
    if (rv !== undefined && rv !== "" && rv !== cur.metadata.resourceVersion) {
      this.conflicts.Conflict = (this.conflicts.Conflict ?? 0) + 1;
      return send(
        res,
        409,
        status(
          409,
          "Conflict",
          `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          name,
        ),
      );
    }
    const invalid = validate(lease.spec);
    if (invalid !== null) return send(res, 422, status(422, "Invalid", invalid));
    const stored: Lease = {
      ...cur,
      metadata: {
        ...cur.metadata,
        labels: lease.metadata.labels ?? cur.metadata.labels,
        annotations: lease.metadata.annotations ?? cur.metadata.annotations,
        namespace,
        resourceVersion: String(++this.revision),
      },
      spec: { ...lease.spec },
    };
    this.leases.set(`${namespace}/${name}`, stored);
    return send(res, 200, stored);
  }
}

function validate(spec: LeaseSpec | undefined): string | null {
  if (spec === undefined) return null;
  const d = spec.leaseDurationSeconds;
  if (d !== undefined && d !== null && (!Number.isInteger(d) || d <= 0)) {
    return "spec.leaseDurationSeconds: Invalid value: must be greater than 0";
  }
  const t = spec.leaseTransitions;
  if (t !== undefined && t !== null && (!Number.isInteger(t) || t < 0)) {
    return "spec.leaseTransitions: Invalid value: must be greater than or equal to 0";
  }
  return null;
}

function asLease(body: unknown): Lease | null {
  if (typeof body !== "object" || body === null) return null;
  const l = body as Lease;
  if (typeof l.metadata !== "object" || l.metadata === null) return null;
  if (l.kind !== undefined && l.kind !== "Lease") return null;
  return l;
}

function notFound(name: string): object {
  return status(404, "NotFound", `leases.coordination.k8s.io "${name}" not found`, name);
}

function status(code: number, reason: string, message: string, name?: string): object {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(name !== undefined && { details: { name, group: "coordination.k8s.io", kind: "leases" } }),
    code,
  };
}

/** What every path of a handler returns: it answered (the type makes a path that forgets to answer an error). */
type Answered = true;

function send(res: ServerResponse, code: number, body: object): Answered {
  const text = JSON.stringify(body);
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
  return true;
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      if (text === "") {
        resolve(undefined);
        return;
      }
      try {
        resolve(JSON.parse(text));
      } catch {
        resolve(null);
      }
    });
  });
}
