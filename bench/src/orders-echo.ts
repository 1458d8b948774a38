/**
 * The bare grpc-js echo server of `bench:orders` (a child process): a unary method and a bidirectional stream that
 * send back what they get, with identity serialisers (no protobuf, no fixmesh code). What one gRPC hop between two
 * processes can do on this machine, measured in the same run as the order path. Prints `{"listening":PORT}` once
 * it serves and runs until SIGTERM/SIGINT. `--tls DIR`: mutual TLS from a certificate folder (tls.crt, tls.key,
 * ca.crt; @fixmesh/security's `mtlsFromFolder`), client certificates required.
 */
import { mtlsFromFolder } from "@fixmesh/security";
import * as grpc from "@grpc/grpc-js";

const ECHO_UNARY = "/bench.Echo/Unary";
const ECHO_STREAM = "/bench.Echo/Stream";

const identity = (b: Buffer) => b;
const method = (path: string, requestStream: boolean, responseStream: boolean) => ({
  path,
  requestStream,
  responseStream,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});

async function main(): Promise<void> {
  const i = process.argv.indexOf("--tls");
  const credentials =
    i >= 0
      ? mtlsFromFolder(process.argv[i + 1] as string).server("require").credentials
      : grpc.ServerCredentials.createInsecure();
  const server = new grpc.Server();
  server.addService(
    { Unary: method(ECHO_UNARY, false, false), Stream: method(ECHO_STREAM, true, true) },
    {
      Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request),
      Stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        call.on("data", (b: Buffer) => call.write(b));
        call.on("end", () => call.end());
        call.on("error", () => undefined);
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  process.stdout.write(`${JSON.stringify({ listening: port })}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  server.forceShutdown();
}

void main();
