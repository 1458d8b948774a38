/**
 * The OTLP trace export request (ExportTraceServiceRequest) decoded into flat spans, from either encoding an
 * OTLP/HTTP exporter may post: JSON (ids as hex, as the OTLP/JSON spec says; base64 tolerated) or protobuf
 * (a minimal wire-format reader for the fields a test asserts on).
 */

export const OtlpSpanKind = {
  Unspecified: 0,
  Internal: 1,
  Server: 2,
  Client: 3,
  Producer: 4,
  Consumer: 5,
} as const;

export type AttributeValue = string | number | boolean | null | AttributeValue[];

export interface CollectedSpan {
  traceId: string;
  spanId: string;
  /** Undefined for a root span. */
  parentSpanId: string | undefined;
  name: string;
  /** OTLP kind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Record<string, AttributeValue>;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  statusMessage: string;
  /** service.name of the resource that sent it. */
  serviceName: string;
  resource: Record<string, AttributeValue>;
  scope: string;
  events: { name: string; attributes: Record<string, AttributeValue> }[];
}

// ---------- JSON ----------

function idFromJson(v: unknown, hexLen: number): string | undefined {
  if (typeof v !== "string" || v === "") return undefined;
  if (v.length === hexLen && /^[0-9a-fA-F]+$/.test(v)) return v.toLowerCase();
  const b = Buffer.from(v, "base64");
  return b.length * 2 === hexLen ? b.toString("hex") : v;
}

interface JsonAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: JsonAnyValue[] };
  bytesValue?: string;
}
interface JsonKeyValue {
  key: string;
  value?: JsonAnyValue;
}

function anyFromJson(v: JsonAnyValue | undefined): AttributeValue {
  if (v === undefined) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(anyFromJson);
  if (v.bytesValue !== undefined) return v.bytesValue;
  return null;
}

function attrsFromJson(kvs: JsonKeyValue[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of kvs ?? []) out[kv.key] = anyFromJson(kv.value);
  return out;
}

function nanos(v: unknown): bigint {
  if (typeof v === "string" || typeof v === "number") return BigInt(v);
  return 0n;
}

/** Decodes an OTLP/JSON ExportTraceServiceRequest. Throws on a body that is not one. */
export function decodeJsonTraces(body: Buffer): CollectedSpan[] {
  const req = JSON.parse(body.toString("utf8")) as {
    // biome-ignore lint/suspicious/noExplicitAny: decoded from an external JSON document, checked field by field
    resourceSpans?: any[];
  };
  if (typeof req !== "object" || req === null || !Array.isArray(req.resourceSpans)) {
    throw new Error("not an ExportTraceServiceRequest: no resourceSpans array");
  }
  const out: CollectedSpan[] = [];
  for (const rs of req.resourceSpans) {
    const resource = attrsFromJson(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: idFromJson(s.traceId, 32) ?? "",
          spanId: idFromJson(s.spanId, 16) ?? "",
          parentSpanId: idFromJson(s.parentSpanId, 16),
          name: String(s.name ?? ""),
          kind: Number(s.kind ?? 0),
          startTimeUnixNano: nanos(s.startTimeUnixNano),
          endTimeUnixNano: nanos(s.endTimeUnixNano),
          attributes: attrsFromJson(s.attributes),
          statusCode: Number(s.status?.code ?? 0),
          statusMessage: String(s.status?.message ?? ""),
          serviceName: String(resource["service.name"] ?? ""),
          resource,
          scope: String(ss.scope?.name ?? ""),
          events: (s.events ?? []).map((e: { name?: string; attributes?: JsonKeyValue[] }) => ({
            name: String(e.name ?? ""),
            attributes: attrsFromJson(e.attributes),
          })),
        });
      }
    }
  }
  return out;
}

// ---------- protobuf ----------

/** One protobuf field: its number, and its value (a varint/fixed as bigint, or the bytes of a length-delimited). */
type Field = { no: number; int: bigint; bytes: Buffer | undefined };

function* fields(buf: Buffer): Generator<Field> {
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new Error("protobuf: truncated varint");
      const b = buf[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 70n) throw new Error("protobuf: varint too long");
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === 0) yield { no, int: varint(), bytes: undefined };
    else if (wire === 1) {
      if (pos + 8 > buf.length) throw new Error("protobuf: truncated fixed64");
      yield { no, int: buf.readBigUInt64LE(pos), bytes: buf.subarray(pos, pos + 8) };
      pos += 8;
    } else if (wire === 2) {
      const len = Number(varint());
      if (pos + len > buf.length) throw new Error("protobuf: truncated length-delimited field");
      yield { no, int: 0n, bytes: buf.subarray(pos, pos + len) };
      pos += len;
    } else if (wire === 5) {
      if (pos + 4 > buf.length) throw new Error("protobuf: truncated fixed32");
      yield { no, int: BigInt(buf.readUInt32LE(pos)), bytes: buf.subarray(pos, pos + 4) };
      pos += 4;
    } else throw new Error(`protobuf: unsupported wire type ${wire}`);
  }
}

function anyFromProto(buf: Buffer): AttributeValue {
  for (const f of fields(buf)) {
    switch (f.no) {
      case 1:
        return f.bytes?.toString("utf8") ?? "";
      case 2:
        return f.int !== 0n;
      case 3:
        return Number(BigInt.asIntN(64, f.int));
      case 4:
        return f.bytes?.readDoubleLE(0) ?? 0;
      case 5: {
        const values: AttributeValue[] = [];
        for (const g of fields(f.bytes ?? Buffer.alloc(0)))
          if (g.no === 1 && g.bytes) values.push(anyFromProto(g.bytes));
        return values;
      }
      case 7:
        return f.bytes?.toString("base64") ?? "";
    }
  }
  return null;
}

function keyValue(buf: Buffer, into: Record<string, AttributeValue>): void {
  let key = "";
  let value: AttributeValue = null;
  for (const f of fields(buf)) {
    if (f.no === 1 && f.bytes) key = f.bytes.toString("utf8");
    else if (f.no === 2 && f.bytes) value = anyFromProto(f.bytes);
  }
  into[key] = value;
}

function spanFromProto(buf: Buffer, resource: Record<string, AttributeValue>, scope: string): CollectedSpan {
  const s: CollectedSpan = {
    traceId: "",
    spanId: "",
    parentSpanId: undefined,
    name: "",
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: {},
    statusCode: 0,
    statusMessage: "",
    serviceName: String(resource["service.name"] ?? ""),
    resource,
    scope,
    events: [],
  };
  for (const f of fields(buf)) {
    const b = f.bytes;
    switch (f.no) {
      case 1:
        s.traceId = b?.toString("hex") ?? "";
        break;
      case 2:
        s.spanId = b?.toString("hex") ?? "";
        break;
      case 4:
        if (b && b.length > 0) s.parentSpanId = b.toString("hex");
        break;
      case 5:
        s.name = b?.toString("utf8") ?? "";
        break;
      case 6:
        s.kind = Number(f.int);
        break;
      case 7:
        s.startTimeUnixNano = f.int;
        break;
      case 8:
        s.endTimeUnixNano = f.int;
        break;
      case 9:
        if (b) keyValue(b, s.attributes);
        break;
      case 11:
        if (b) {
          const ev = { name: "", attributes: {} as Record<string, AttributeValue> };
          for (const g of fields(b)) {
            if (g.no === 2 && g.bytes) ev.name = g.bytes.toString("utf8");
            else if (g.no === 3 && g.bytes) keyValue(g.bytes, ev.attributes);
          }
          s.events.push(ev);
        }
        break;
      case 15:
        if (b) {
          for (const g of fields(b)) {
            if (g.no === 2 && g.bytes) s.statusMessage = g.bytes.toString("utf8");
            else if (g.no === 3) s.statusCode = Number(g.int);
          }
        }
        break;
    }
  }
  return s;
}

/** Decodes a protobuf ExportTraceServiceRequest (opentelemetry/proto/collector/trace/v1). */
export function decodeProtobufTraces(body: Buffer): CollectedSpan[] {
  const out: CollectedSpan[] = [];
  for (const rs of fields(body)) {
    if (rs.no !== 1 || !rs.bytes) continue;
    const resource: Record<string, AttributeValue> = {};
    const scopeSpans: Buffer[] = [];
    for (const f of fields(rs.bytes)) {
      if (f.no === 1 && f.bytes) {
        for (const g of fields(f.bytes)) if (g.no === 1 && g.bytes) keyValue(g.bytes, resource);
      } else if (f.no === 2 && f.bytes) scopeSpans.push(f.bytes);
    }
    for (const ss of scopeSpans) {
      let scope = "";
      const spans: Buffer[] = [];
      for (const f of fields(ss)) {
        if (f.no === 1 && f.bytes) {
          for (const g of fields(f.bytes)) if (g.no === 1 && g.bytes) scope = g.bytes.toString("utf8");
        } else if (f.no === 2 && f.bytes) spans.push(f.bytes);
      }
      for (const sp of spans) out.push(spanFromProto(sp, resource, scope));
    }
  }
  return out;
}
