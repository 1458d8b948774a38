/**
 * order-entry's gRPC server for tests, on a store the test chooses: risk allows everything (unless the test gives its
 * own checker), the connector answers each send with the next MsgSeqNum, one session LIVE. Used by the gRPC tests and
 * by the test that cuts the Redis store off.
 */
import {
  type CheckOrderResponse,
  OrderType,
  type SendResponse,
  SessionHealth,
  Side,
  TimeInForce,
} from "@fixmesh/contracts";
import type { GrpcSecurityConfig } from "@fixmesh/security";
import pino from "pino";
import { orderEntryClient } from "../client.js";
import type { OrderRepository } from "../store/types.js";
import { startGrpcServer } from "./grpc.js";
import { OrderEntry, type RiskChecker } from "./order-entry.js";

export const SESSION = "FIX.4.4:CLIENT->VENUE";

/** A limit order of `quantity` IBM at 1 for ACC1 on the session, under `key`. */
export function orderRequest(key: string, quantity = "1") {
  return {
    idempotencyKey: key,
    sessionId: SESSION,
    account: "ACC1",
    symbol: "IBM",
    side: Side.BUY,
    quantity,
    orderType: OrderType.LIMIT,
    price: "1",
    timeInForce: TimeInForce.DAY,
  };
}

export interface TestServerOptions<R extends OrderRepository> {
  repo: R;
  risk?: RiskChecker;
  maxBuffered?: number;
  security?: GrpcSecurityConfig;
}

export async function serveOrderEntry<R extends OrderRepository>(o: TestServerOptions<R>) {
  let sent = 0;
  const quiet = pino({ level: "silent" });
  const core = new OrderEntry({
    repo: o.repo,
    risk: o.risk ?? { check: async () => ({ allowed: true }) as CheckOrderResponse },
    sender: { send: async () => ({ msgSeqNum: ++sent }) as SendResponse, healthOf: () => SessionHealth.LIVE },
    sessions: new Set([SESSION]),
    onCommitted: () => undefined,
    logger: quiet,
  });
  const server = await startGrpcServer({
    core,
    repo: o.repo,
    host: "127.0.0.1",
    port: 0,
    logger: quiet,
    ...(o.maxBuffered !== undefined && { maxBuffered: o.maxBuffered }),
    ...(o.security !== undefined && { security: o.security }),
  });
  const client = orderEntryClient(`127.0.0.1:${server.port}`);
  /** SubmitOrder of `orderRequest(key)`. */
  const submit = (key: string) => client.rpc.submitOrder(orderRequest(key), { deadline: Date.now() + 10_000 });
  return {
    repo: o.repo,
    client,
    submit,
    /** NewOrderSingles handed to the connector so far. */
    sent: () => sent,
    port: server.port,
    healthPort: server.healthPort,
    /** Stops the server (the client stays open: close it with `close`). */
    stopServer: () => server.close(),
    async close() {
      client.close();
      await server.close();
    },
  };
}
