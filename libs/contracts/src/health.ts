/**
 * The standard `grpc.health.v1.Health` service (Check and Watch), for Kubernetes probes and `grpc_health_probe`.
 * Its two messages are one field each, so they are encoded here by hand rather than pulling in another package.
 */
import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import * as grpc from "@grpc/grpc-js";

export type ServingStatus = "SERVING" | "NOT_SERVING";
const STATUS_CODE: Record<ServingStatus | "SERVICE_UNKNOWN", number> = {
  SERVING: 1,
  NOT_SERVING: 2,
  SERVICE_UNKNOWN: 3,
};

/** The request is an object, not a bare string: grpc-js would send no message at all for an empty string. */
interface HealthCheckRequest {
  service: string;
}

function encodeRequest(v: HealthCheckRequest): Buffer {
  return Buffer.from(new BinaryWriter().tag(1, 2).string(v.service).finish());
}

function decodeRequest(buf: Buffer): HealthCheckRequest {
  const r = new BinaryReader(buf);
  let service = "";
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === 2) service = r.string();
    else r.skip(wire);
  }
  return { service };
}

function encodeResponse(status: number): Buffer {
  return Buffer.from(new BinaryWriter().tag(1, 0).int32(status).finish());
}

const definition: grpc.ServiceDefinition = {
  check: {
    path: "/grpc.health.v1.Health/Check",
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeRequest,
    requestDeserialize: decodeRequest,
    responseSerialize: encodeResponse,
    responseDeserialize: () => 0,
  },
  watch: {
    path: "/grpc.health.v1.Health/Watch",
    requestStream: false,
    responseStream: true,
    requestSerialize: encodeRequest,
    requestDeserialize: decodeRequest,
    responseSerialize: encodeResponse,
    responseDeserialize: () => 0,
  },
};

export class HealthService {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Set<{
    service: string;
    call: grpc.ServerWritableStream<HealthCheckRequest, number>;
  }>();

  constructor(initial: Record<string, ServingStatus>) {
    for (const [k, v] of Object.entries(initial)) this.statuses.set(k, v);
  }

  set(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    for (const w of this.watchers) if (w.service === service) w.call.write(STATUS_CODE[status]);
  }

  setAll(status: ServingStatus): void {
    for (const k of this.statuses.keys()) this.set(k, status);
  }

  addTo(server: grpc.Server): void {
    server.addService(definition, {
      check: (call: grpc.ServerUnaryCall<HealthCheckRequest, number>, cb: grpc.sendUnaryData<number>) => {
        const s = this.statuses.get(call.request.service);
        if (s === undefined) cb({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` });
        else cb(null, STATUS_CODE[s]);
      },
      watch: (call: grpc.ServerWritableStream<HealthCheckRequest, number>) => {
        const w = { service: call.request.service, call };
        this.watchers.add(w);
        const s = this.statuses.get(call.request.service);
        call.write(s === undefined ? STATUS_CODE.SERVICE_UNKNOWN : STATUS_CODE[s]);
        call.on("cancelled", () => this.watchers.delete(w));
        call.on("close", () => this.watchers.delete(w));
      },
    });
  }

  close(): void {
    for (const w of this.watchers) w.call.end();
    this.watchers.clear();
  }
}

/** A client-side Check, for tests and the CLI: the status name of `service` ("" = the whole server). */
export async function checkHealth(address: string, service = "", deadlineMs = 2000): Promise<string> {
  const Client = grpc.makeGenericClientConstructor(
    {
      check: {
        ...definition.check,
        responseDeserialize: (b: Buffer) => {
          const r = new BinaryReader(b);
          let status = 0;
          while (r.pos < r.len) {
            const [field, wire] = r.tag();
            if (field === 1 && wire === 0) status = r.int32();
            else r.skip(wire);
          }
          return status;
        },
      },
    },
    "Health",
  );
  const client = new Client(address, grpc.credentials.createInsecure());
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const call = client as unknown as {
        check(
          req: HealthCheckRequest,
          opts: grpc.CallOptions,
          cb: (err: grpc.ServiceError | null, res: number) => void,
        ): void;
      };
      call.check({ service }, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res: number) =>
        err ? reject(err) : resolve(res),
      );
    });
    return ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"][status] ?? String(status);
  } finally {
    client.close();
  }
}
