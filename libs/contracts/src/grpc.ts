import {
  clone,
  create,
  type DescFile,
  type DescMessage,
  type DescService,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { RpcError } from "./errors.js";

// Serves and calls protobuf-es v2 services with @grpc/grpc-js: the method table grpc-js wants is built from the
// generated service descriptor, and messages go through toBinary/fromBinary. Methods are keyed by their
// TypeScript name (`listSessions`), on the server and on the client alike; the wire path is the proto one
// (`/fixmesh.v1.SessionService/ListSessions`).

type Method = GenServiceMethods[string];
type Req<M extends Method> = MessageShape<M["input"]>;
type ReqInit<M extends Method> = MessageInitShape<M["input"]>;
type Res<M extends Method> = MessageShape<M["output"]>;
type ResInit<M extends Method> = MessageInitShape<M["output"]>;

/** A unary method: answer with the response (or a promise of it); throw an RpcError to fail the call. */
export type UnaryImpl<M extends Method> = (
  request: Req<M>,
  call: grpc.ServerUnaryCall<Req<M>, ResInit<M>>,
) => ResInit<M> | Promise<ResInit<M>>;

/**
 * A service's implementation. Unary methods are plain (async) functions; streaming methods are grpc-js
 * handlers, typed with the service's messages (a handler writes full messages or their init shapes, and fails
 * a stream with `call.destroy(rpcError.toServiceError())`).
 */
export type GrpcServiceImpl<S extends GenServiceMethods> = {
  [K in keyof S]: S[K]["methodKind"] extends "unary"
    ? UnaryImpl<S[K]>
    : S[K]["methodKind"] extends "server_streaming"
      ? grpc.handleServerStreamingCall<Req<S[K]>, ResInit<S[K]>>
      : S[K]["methodKind"] extends "client_streaming"
        ? grpc.handleClientStreamingCall<Req<S[K]>, ResInit<S[K]>>
        : grpc.handleBidiStreamingCall<Req<S[K]>, ResInit<S[K]>>;
};

/** The implementation type of a generated service: `GrpcServiceImplOf<typeof SessionService>`. */
export type GrpcServiceImplOf<T> = T extends GenService<infer S> ? GrpcServiceImpl<S> : never;

/** The client type of a generated service: `GrpcClientOf<typeof SessionService>`. */
export type GrpcClientOf<T> = T extends GenService<infer S> ? GrpcClient<S> : never;

function serializer<D extends DescMessage>(schema: D): (value: MessageInitShape<D>) => Buffer {
  return (value) => {
    // `create` returns a message of the schema as it is, and builds one from a plain init object.
    const bytes = toBinary(schema, create(schema, value));
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer<D extends DescMessage>(schema: D): (bytes: Buffer) => MessageShape<D> {
  return (bytes) => fromBinary(schema, bytes);
}

/** The grpc-js method table of a service, for `server.addService` or `grpc.makeClientConstructor`. */
export function grpcServiceDefinition(service: DescService): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const m of service.methods) {
    def[m.localName] = {
      path: `/${service.typeName}/${m.name}`,
      requestStream: m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming",
      responseStream: m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming",
      requestSerialize: serializer(m.input) as (v: unknown) => Buffer,
      requestDeserialize: deserializer(m.input),
      responseSerialize: serializer(m.output) as (v: unknown) => Buffer,
      responseDeserialize: deserializer(m.output),
      originalName: m.name,
    };
  }
  return def;
}

export interface GrpcImplementationOptions {
  /** Called with a unary method's failure that was not an RpcError (answered INTERNAL): a bug to log. */
  onInternalError?(err: unknown, method: string): void;
}

/** The grpc-js handlers of an implementation: unary functions are adapted, errors normalised to RpcError. */
export function grpcImplementation<S extends GenServiceMethods>(
  service: GenService<S>,
  impl: GrpcServiceImpl<S>,
  opts: GrpcImplementationOptions = {},
): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  const handlers = impl as unknown as Record<string, unknown>;
  for (const m of service.methods) {
    const fn = handlers[m.localName];
    if (typeof fn !== "function") throw new TypeError(`${service.typeName}: no implementation of ${m.name}`);
    if (m.methodKind !== "unary") {
      out[m.localName] = fn as grpc.UntypedHandleCall;
      continue;
    }
    const unary = fn as (req: unknown, call: grpc.ServerUnaryCall<unknown, unknown>) => unknown;
    out[m.localName] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      let result: Promise<unknown>;
      try {
        result = Promise.resolve(unary(call.request, call));
      } catch (err) {
        result = Promise.reject(err);
      }
      result.then(
        (res) => callback(null, res),
        (err: unknown) => {
          const e = RpcError.from(err);
          if (!(err instanceof RpcError) && e.code === grpc.status.INTERNAL) opts.onInternalError?.(err, m.name);
          callback(e.toServiceError());
        },
      );
    }) as grpc.handleUnaryCall<unknown, unknown>;
  }
  return out;
}

/** Adds a protobuf-es service and its implementation to a grpc-js server. */
export function addGrpcService<S extends GenServiceMethods>(
  server: grpc.Server,
  service: GenService<S>,
  impl: GrpcServiceImpl<S>,
  opts?: GrpcImplementationOptions,
): void {
  server.addService(grpcServiceDefinition(service), grpcImplementation(service, impl, opts));
}

// ---------------------------------------------------------------------------------------------------------------
// Clients

/** grpc-js call options (`deadline`, …) plus the request metadata and an abort signal that cancels the call. */
export interface GrpcCallOptions extends Partial<grpc.CallOptions> {
  metadata?: grpc.Metadata;
  signal?: AbortSignal;
}

/** A client-streaming call: write requests to `call`, end it, and await `response`. */
export interface ClientStreamingCall<I, O> {
  call: grpc.ClientWritableStream<I>;
  response: Promise<O>;
}

/**
 * A typed client. Unary methods return a promise that rejects with an RpcError (reason decoded); streaming
 * methods return the grpc-js stream, whose 'error' event carries a grpc-js ServiceError (`RpcError.from(err)`
 * decodes it). Requests may be messages or plain init objects.
 */
export type GrpcClient<S extends GenServiceMethods> = {
  [K in keyof S]: S[K]["methodKind"] extends "unary"
    ? (request: ReqInit<S[K]>, options?: GrpcCallOptions) => Promise<Res<S[K]>>
    : S[K]["methodKind"] extends "server_streaming"
      ? (request: ReqInit<S[K]>, options?: GrpcCallOptions) => grpc.ClientReadableStream<Res<S[K]>>
      : S[K]["methodKind"] extends "client_streaming"
        ? (options?: GrpcCallOptions) => ClientStreamingCall<ReqInit<S[K]>, Res<S[K]>>
        : (options?: GrpcCallOptions) => grpc.ClientDuplexStream<ReqInit<S[K]>, Res<S[K]>>;
};

function split(options: GrpcCallOptions | undefined): [grpc.Metadata, grpc.CallOptions, AbortSignal | undefined] {
  if (options === undefined) return [new grpc.Metadata(), {}, undefined];
  const { metadata, signal, ...callOptions } = options;
  return [metadata ?? new grpc.Metadata(), callOptions, signal];
}

function onAbort(signal: AbortSignal | undefined, call: { cancel(): void }): void {
  if (signal === undefined) return;
  if (signal.aborted) call.cancel();
  else signal.addEventListener("abort", () => call.cancel(), { once: true });
}

/**
 * A typed client of `service` over a grpc-js client (its channel). One `grpc.Client` can carry several
 * services to the same address: `createGrpcClient(SessionService, conn)`, then `conn.close()` when done.
 */
export function createGrpcClient<S extends GenServiceMethods>(
  service: GenService<S>,
  client: grpc.Client,
): GrpcClient<S> {
  const out: Record<string, unknown> = {};
  for (const m of service.methods) {
    const path = `/${service.typeName}/${m.name}`;
    const ser = serializer(m.input) as (v: unknown) => Buffer;
    const de = deserializer(m.output) as (b: Buffer) => unknown;
    switch (m.methodKind) {
      case "unary":
        out[m.localName] = (request: unknown, options?: GrpcCallOptions) =>
          new Promise((resolve, reject) => {
            const [md, co, signal] = split(options);
            const call = client.makeUnaryRequest(path, ser, de, request, md, co, (err, res) => {
              if (err) reject(RpcError.from(err));
              else resolve(res);
            });
            onAbort(signal, call);
          });
        break;
      case "server_streaming":
        out[m.localName] = (request: unknown, options?: GrpcCallOptions) => {
          const [md, co, signal] = split(options);
          const call = client.makeServerStreamRequest(path, ser, de, request, md, co);
          onAbort(signal, call);
          return call;
        };
        break;
      case "client_streaming":
        out[m.localName] = (options?: GrpcCallOptions) => {
          const [md, co, signal] = split(options);
          let call: grpc.ClientWritableStream<unknown> | undefined;
          const response = new Promise((resolve, reject) => {
            call = client.makeClientStreamRequest(path, ser, de, md, co, (err, res) => {
              if (err) reject(RpcError.from(err));
              else resolve(res);
            });
          });
          onAbort(signal, call as grpc.ClientWritableStream<unknown>);
          return { call, response };
        };
        break;
      case "bidi_streaming":
        out[m.localName] = (options?: GrpcCallOptions) => {
          const [md, co, signal] = split(options);
          const call = client.makeBidiStreamRequest(path, ser, de, md, co);
          onAbort(signal, call);
          return call;
        };
        break;
    }
  }
  return out as GrpcClient<S>;
}

export type GrpcClientConstructor<S extends GenServiceMethods> = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
) => grpc.Client & GrpcClient<S>;

/**
 * A client class for `service`, like grpc-js's `makeClientConstructor` but typed and promise-based:
 * `const c = new (grpcClientConstructor(SessionService))("127.0.0.1:50051", grpc.credentials.createInsecure())`.
 */
export function grpcClientConstructor<S extends GenServiceMethods>(service: GenService<S>): GrpcClientConstructor<S> {
  for (const m of service.methods) {
    if (m.localName in grpc.Client.prototype) {
      throw new TypeError(`${service.typeName}.${m.name}: its name clashes with grpc.Client; use createGrpcClient`);
    }
  }
  class ServiceClient extends grpc.Client {
    constructor(address: string, credentials: grpc.ChannelCredentials, options?: grpc.ClientOptions) {
      super(address, credentials, options);
      Object.assign(this, createGrpcClient(service, this));
    }
  }
  return ServiceClient as unknown as GrpcClientConstructor<S>;
}

// ---------------------------------------------------------------------------------------------------------------
// Reflection

/** What @grpc/reflection reads of a proto-loader package definition. */
interface ReflectionPackageDefinition {
  [name: string]: { format: string; type: object; fileDescriptorProtos: Buffer[] };
}

/**
 * The services' proto files (and every file they import) in the shape @grpc/reflection's `ReflectionService`
 * takes, so a server built on protobuf-es can offer server reflection without proto-loader.
 */
function reflectionPackageDefinition(...services: DescService[]): ReflectionPackageDefinition {
  const files = new Map<string, DescFile>();
  const visit = (f: DescFile): void => {
    if (files.has(f.name)) return;
    files.set(f.name, f);
    for (const d of f.dependencies) visit(d);
  };
  for (const s of services) visit(s.file);
  // Only the services served: an imported file (risk.proto imports orders.proto) must not make reflection list a
  // service this server does not implement.
  const served = new Set(services.map((s) => s.typeName));
  const protos = [...files.values()].map((f) => {
    const pkg = f.proto.package ? `${f.proto.package}.` : "";
    const keep = f.proto.service.filter((sv) => served.has(`${pkg}${sv.name}`));
    if (keep.length === f.proto.service.length) return Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto));
    const only = clone(FileDescriptorProtoSchema, f.proto);
    only.service = keep;
    return Buffer.from(toBinary(FileDescriptorProtoSchema, only));
  });
  const out: ReflectionPackageDefinition = {};
  for (const s of services) {
    out[s.typeName] = { format: "Protocol Buffer 3 FileDescriptorProto", type: {}, fileDescriptorProtos: protos };
  }
  return out;
}

/**
 * Adds grpc.reflection (v1 and v1alpha) to `server`, describing exactly `services` (the contracts the server was
 * built with), so `grpcurl` and other tools can list and call them without the .proto files.
 */
export function addReflection(server: grpc.Server, ...services: DescService[]): void {
  new ReflectionService(reflectionPackageDefinition(...services) as never).addToServer(server);
}
