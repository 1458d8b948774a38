import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { CheckOrderStreamRequestSchema, OrderRequestFrameSchema } from "@fixmesh/contracts";
import { type Grant, grant } from "../grants.js";
import { isAdminRule, type MethodRule } from "./rules.js";
import { orderEntryRules, riskRules } from "./service-rules.js";

function grantsOf<Req>(rule: MethodRule<Req>, req: Req): Grant | readonly Grant[] {
  assert.ok(!isAdminRule(rule), "a trade rule, not an admin action");
  return rule(req);
}

const submit = (sessionId: string, account: string) =>
  create(OrderRequestFrameSchema, { request: { case: "submit", value: { sessionId, account } } });

describe("the grants a stream frame needs", () => {
  it("SubmitOrderStream: trade on the frame's own submit and on every submit of its batch; cancels in the handler", () => {
    assert.deepEqual(grantsOf(orderEntryRules.submitOrderStream, submit("S1", "A1")), [grant.trade("S1", "A1")]);
    const frame = create(OrderRequestFrameSchema, {
      batch: [
        submit("S1", "A1"),
        create(OrderRequestFrameSchema, { request: { case: "cancel", value: { orderId: "o-1" } } }),
        submit("S2", "B7"),
      ],
    });
    // An item for another account is named, so a caller without it is refused the whole frame.
    assert.deepEqual(grantsOf(orderEntryRules.submitOrderStream, frame), [
      grant.trade("S1", "A1"),
      grant.trade("S2", "B7"),
    ]);
    const cancel = create(OrderRequestFrameSchema, { request: { case: "cancel", value: { orderId: "o-1" } } });
    assert.deepEqual(grantsOf(orderEntryRules.submitOrderStream, cancel), []);
  });

  it("CheckOrderStream: trade on the single check, or on every item of the batch", () => {
    const one = create(CheckOrderStreamRequestSchema, { check: { sessionId: "S1", account: "A1" } });
    assert.deepEqual(grantsOf(riskRules.checkOrderStream, one), grant.trade("S1", "A1"));
    const batch = create(CheckOrderStreamRequestSchema, {
      batch: [{ check: { sessionId: "S1", account: "A1" } }, { check: { sessionId: "S1", account: "Z9" } }],
    });
    assert.deepEqual(grantsOf(riskRules.checkOrderStream, batch), [grant.trade("S1", "A1"), grant.trade("S1", "Z9")]);
  });
});
