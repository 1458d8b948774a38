/** Records for tests: one limit order with every field a test does not care about filled in. */
import { newOrderId } from "../store/ids.js";
import { newRecord, type OrderRecord } from "./record.js";

export const TEST_SESSION = "FIX.4.4:CLIENT->VENUE";

type NewRecordInput = Parameters<typeof newRecord>[0];

/** A new record: buy 100 XYZ limit 10, day, account ACC1 on TEST_SESSION, unless `over` says otherwise. */
export function testRecord(
  over: Partial<NewRecordInput> & Pick<NewRecordInput, "clOrdId">,
  seq: number,
  now: number,
): OrderRecord {
  const r = newRecord(
    {
      orderId: newOrderId(now),
      sessionId: TEST_SESSION,
      account: "ACC1",
      symbol: "XYZ",
      side: "1",
      ordType: "2",
      orderQty: "100",
      price: "10",
      timeInForce: "0",
      ...over,
    },
    seq,
    now,
  );
  if (!("record" in r)) throw new Error(`test order refused: ${r.error}`);
  return r.record;
}
