/**
 * The names a server lists over grpc.reflection.v1 (what `grpcurl <host:port> list` shows): for tests and
 * diagnostics. The request is tiny (ServerReflectionRequest { list_services = 7: "*" }) and the answer is read with
 * protobuf-es's BinaryReader (ServerReflectionResponse.list_services_response = 6 → service = 1 → name = 1).
 */
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import * as grpc from "@grpc/grpc-js";

const ServerReflection = grpc.makeGenericClientConstructor(
  {
    info: {
      path: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
      requestStream: true,
      responseStream: true,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    },
  },
  "ServerReflection",
);

/** Fields `field` (length-delimited) of a message, as sub-readers' bytes. */
function fieldsOf(bytes: Uint8Array, field: number): Uint8Array[] {
  const r = new BinaryReader(bytes);
  const out: Uint8Array[] = [];
  while (r.pos < r.len) {
    const [no, type] = r.tag();
    if (no === field && type === WireType.LengthDelimited) out.push(r.bytes());
    else r.skip(type, no);
  }
  return out;
}

export async function reflectedServiceNames(
  address: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  timeoutMs = 5000,
): Promise<string[]> {
  const client = new ServerReflection(address, credentials);
  try {
    const call = client.info({ deadline: Date.now() + timeoutMs }) as grpc.ClientDuplexStream<Buffer, Buffer>;
    const answer = new Promise<Buffer>((resolve, reject) => {
      call.on("data", resolve);
      call.on("error", reject);
    });
    call.write(Buffer.from([0x3a, 0x01, 0x2a]));
    call.end();
    const res = await answer;
    const names: string[] = [];
    for (const list of fieldsOf(res, 6)) {
      for (const service of fieldsOf(list, 1)) {
        for (const name of fieldsOf(service, 1)) names.push(Buffer.from(name).toString("utf8"));
      }
    }
    return names;
  } finally {
    client.close();
  }
}
