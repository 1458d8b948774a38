/**
 * A client of OrderEntryService (for the `fixmesh order` command, tests and benchmarks), with the JSON forms of its
 * messages, so callers need neither grpc-js nor protobuf-es of their own.
 */
import { toJson } from "@bufbuild/protobuf";
import {
  createGrpcClient,
  type GrpcClientOf,
  type Order,
  OrderEntryService,
  OrderSchema,
  type OrderUpdate,
  OrderUpdateSchema,
} from "@fixmesh/contracts";
import * as grpc from "@grpc/grpc-js";

export interface OrderEntryClient {
  rpc: GrpcClientOf<typeof OrderEntryService>;
  close(): void;
}

/** A client; `credentials`/`options` for a secured server (`cliChannel` or `clientTls` of @fixmesh/security). */
export function orderEntryClient(
  address: string,
  credentials = grpc.credentials.createInsecure(),
  options: grpc.ChannelOptions = {},
): OrderEntryClient {
  const conn = new grpc.Client(address, credentials, options);
  return { rpc: createGrpcClient(OrderEntryService, conn), close: () => conn.close() };
}

export function orderJson(o: Order): unknown {
  return toJson(OrderSchema, o);
}

export function updateJson(u: OrderUpdate): unknown {
  return toJson(OrderUpdateSchema, u);
}

/** gRPC status code names by number (`grpcStatusName(9)` → "FAILED_PRECONDITION"). */
export function grpcStatusName(code: number): string {
  return grpc.status[code] ?? String(code);
}

export const GRPC_CANCELLED = grpc.status.CANCELLED;
