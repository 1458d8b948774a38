/**
 * An OTLP/HTTP trace collector a test runs itself, on loopback: services export to it (set
 * OTEL_EXPORTER_OTLP_ENDPOINT to `collector.url`, or pass `collector.env()` to a child process), and the test
 * reads the spans back by trace id. Accepts JSON (what @opentelemetry/exporter-trace-otlp-http posts) and
 * protobuf, gzip-compressed or not. A body it cannot decode is answered 400 and kept in `errors`, so a test
 * can assert that none were lost to a format problem.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync, inflateSync } from "node:zlib";
import { type CollectedSpan, decodeJsonTraces, decodeProtobufTraces } from "./otlp.js";

const MAX_BODY = 32 * 1024 * 1024;

export interface StartCollectorOptions {
  /** Default 0 (any free port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
}

export interface WaitOptions {
  /** Default 15 000 ms. */
  timeoutMs?: number;
}

export interface OtlpCollector {
  /** Base endpoint, for OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://127.0.0.1:43121). */
  readonly url: string;
  /** The traces endpoint (`${url}/v1/traces`), for OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. */
  readonly tracesUrl: string;
  /** OTEL_* variables that point a child process at this collector and export quickly (100 ms batches). */
  env(serviceName?: string): Record<string, string>;
  /** Every span received so far, in arrival order. */
  spans(): CollectedSpan[];
  /** The spans of one trace. */
  trace(traceId: string): CollectedSpan[];
  /** Distinct trace ids, in arrival order. */
  traceIds(): string[];
  /** Export requests received and decoded. */
  readonly requests: number;
  /** Bodies that could not be decoded (the reason of each). */
  readonly errors: readonly string[];
  /** Resolves with all spans once `predicate(spans)` holds; rejects after the timeout, listing what arrived. */
  waitFor(predicate: (spans: CollectedSpan[]) => boolean, options?: WaitOptions): Promise<CollectedSpan[]>;
  /** Resolves with the trace's spans once it has a span of each name (a name may repeat to ask for several). */
  waitForTrace(traceId: string, names: string[], options?: WaitOptions): Promise<CollectedSpan[]>;
  /** Forgets every span received so far. */
  clear(): void;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error(`body larger than ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function decode(req: IncomingMessage, raw: Buffer): { spans: CollectedSpan[]; json: boolean } {
  const encoding = String(req.headers["content-encoding"] ?? "identity").toLowerCase();
  const body = encoding === "gzip" ? gunzipSync(raw) : encoding === "deflate" ? inflateSync(raw) : raw;
  const type = String(req.headers["content-type"] ?? "").toLowerCase();
  if (type.startsWith("application/json")) return { spans: decodeJsonTraces(body), json: true };
  if (type.startsWith("application/x-protobuf") || type.startsWith("application/protobuf")) {
    return { spans: decodeProtobufTraces(body), json: false };
  }
  throw new Error(`unsupported content-type "${type}"`);
}

/** Counts of span names, for a readable timeout message. */
function summary(spans: CollectedSpan[]): string {
  const byTrace = new Map<string, string[]>();
  for (const s of spans) {
    const l = byTrace.get(s.traceId) ?? [];
    l.push(`${s.serviceName}:${s.name}`);
    byTrace.set(s.traceId, l);
  }
  if (byTrace.size === 0) return "no spans";
  return [...byTrace].map(([t, names]) => `${t}: ${names.join(", ")}`).join("; ");
}

export async function startOtlpCollector(options: StartCollectorOptions = {}): Promise<OtlpCollector> {
  const host = options.host ?? "127.0.0.1";
  let all: CollectedSpan[] = [];
  const errors: string[] = [];
  let requests = 0;
  const waiters = new Set<() => void>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "").split("?")[0];
    if (req.method !== "POST" || path !== "/v1/traces") {
      res.writeHead(404).end();
      return;
    }
    let decoded: { spans: CollectedSpan[]; json: boolean };
    try {
      decoded = decode(req, await readBody(req));
    } catch (err) {
      errors.push(err instanceof Error ? err.message : String(err));
      res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: String(err) }));
      return;
    }
    requests++;
    all.push(...decoded.spans);
    // ExportTraceServiceResponse with no partial_success: empty object / empty message.
    if (decoded.json) res.writeHead(200, { "content-type": "application/json" }).end("{}");
    else res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    for (const w of [...waiters]) w();
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      errors.push(String(err));
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.listen(options.port ?? 0, host);
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const url = `http://${host}:${port}`;

  const waitFor = (predicate: (spans: CollectedSpan[]) => boolean, o: WaitOptions = {}) =>
    new Promise<CollectedSpan[]>((resolve, reject) => {
      const timeoutMs = o.timeoutMs ?? 15_000;
      const check = () => {
        if (!predicate(all)) return false;
        finish();
        resolve(all);
        return true;
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`OTLP collector: condition not met within ${timeoutMs} ms; received ${summary(all)}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  const traceOf = (traceId: string) => all.filter((s) => s.traceId === traceId);

  return {
    url,
    tracesUrl: `${url}/v1/traces`,
    env: (serviceName?: string) => ({
      OTEL_SDK_DISABLED: "false",
      OTEL_EXPORTER_OTLP_ENDPOINT: url,
      OTEL_BSP_SCHEDULE_DELAY: "100",
      OTEL_TRACES_SAMPLER: "parentbased_always_on",
      ...(serviceName ? { OTEL_SERVICE_NAME: serviceName } : {}),
    }),
    spans: () => [...all],
    trace: traceOf,
    traceIds: () => [...new Set(all.map((s) => s.traceId))],
    get requests() {
      return requests;
    },
    errors,
    waitFor,
    async waitForTrace(traceId, names, o) {
      await waitFor(() => {
        const have = traceOf(traceId).map((s) => s.name);
        const need = [...names];
        for (const n of have) {
          const i = need.indexOf(n);
          if (i >= 0) need.splice(i, 1);
        }
        return need.length === 0;
      }, o);
      return traceOf(traceId);
    },
    clear: () => {
      all = [];
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const w of [...waiters]) waiters.delete(w);
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
