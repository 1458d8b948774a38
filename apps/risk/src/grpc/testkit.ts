/** A CheckOrder request for tests: a new limit order of 100 IBM at 100 for ACC1 on the session, LIVE. */
import { OrderType, RiskCheckKind, SessionHealth, Side } from "@fixmesh/contracts";
import { SESSION } from "../engine/testkit.js";

export function checkRequest(over: Record<string, unknown> = {}) {
  return {
    kind: RiskCheckKind.NEW,
    sessionId: SESSION,
    account: "ACC1",
    symbol: "IBM",
    side: Side.BUY,
    quantity: "100",
    orderType: OrderType.LIMIT,
    price: "100",
    sessionHealth: SessionHealth.LIVE,
    ...over,
  };
}
