import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fixMessage } from "../testing/support.js";
import { messageDay, scanMessage } from "./scan.js";

const SECRETS = new Set([554, 925]);
const DAY = 86_400_000;
const NOV27 = Date.UTC(2026, 10, 27);

const msg = (fields: Array<[number, string | number]>) => fixMessage("FIX.4.4", [[35, "8"], [34, 5], ...fields]);

describe("scanMessage / messageDay", () => {
  it("reads an ExecutionReport's fill fields and the header times in one pass", () => {
    const s = scanMessage(
      msg([
        [52, "20261127-23:59:59.900"],
        [43, "Y"],
        [122, "20261127-23:59:58.000"],
        [55, "EUR/USD"],
        [54, 2],
        [150, "F"],
        [39, "1"],
        [32, "100"],
        [31, "1.08"],
        [60, "20261127-23:59:59.800"],
      ]),
      SECRETS,
    );
    assert.deepEqual(s, {
      sendingTime: "20261127-23:59:59.900",
      origSendingTime: "20261127-23:59:58.000",
      possDup: true,
      symbol: "EUR/USD",
      side: "2",
      execType: "F",
      ordStatus: "1",
      lastQty: "100",
      lastPx: "1.08",
      transactTime: "20261127-23:59:59.800",
      secret: false,
    });
  });

  it("finds a secret tag anywhere, and survives garbage", () => {
    assert.equal(
      scanMessage(
        msg([
          [553, "u"],
          [554, "pw"],
        ]),
        SECRETS,
      ).secret,
      true,
    );
    // A configured secret that is also a field the scan reads.
    assert.equal(scanMessage(msg([[55, "SECRET-DEAL"]]), new Set([554, 55])).secret, true);
    assert.equal(scanMessage(Buffer.from("\x01\x01=x\x01abc=1\x0155\x01554", "latin1"), SECRETS).secret, false);
    assert.equal(scanMessage(Buffer.from("55=AB", "latin1"), SECRETS).symbol, "AB");
  });

  it("puts a message in the day it was sent, whatever time it was recorded at", () => {
    const s = scanMessage(msg([[52, "20261127-23:59:59.900"]]), SECRETS);
    assert.equal(messageDay(s, NOV27 + DAY - 100), "2026-11-27");
    assert.equal(messageDay(s, NOV27 + DAY + 300_000), "2026-11-27");
  });

  it("puts a resent copy (PossDupFlag=Y) in the day of its OrigSendingTime", () => {
    const s = scanMessage(
      msg([
        [43, "Y"],
        [52, "20261128-00:10:00"],
        [122, "20261127-23:59:59"],
      ]),
      SECRETS,
    );
    assert.equal(messageDay(s, NOV27 + DAY + 600_000), "2026-11-27");
    // Not a PossDup: OrigSendingTime is not the message's own time.
    const n = scanMessage(
      msg([
        [52, "20261128-00:10:00"],
        [122, "20261127-23:59:59"],
      ]),
      SECRETS,
    );
    assert.equal(messageDay(n, NOV27 + DAY + 600_000), "2026-11-28");
  });

  it("uses the recording day when the message has no usable date or one a week away", () => {
    const at = NOV27 + 3_600_000;
    for (const st of [
      "",
      "garbage",
      "20261340-10:00:00",
      "20260230-10:00:00",
      "2026112-10:00:00",
      "20261105-10:00:00",
    ]) {
      assert.equal(messageDay(scanMessage(msg([[52, st]]), SECRETS), at), "2026-11-27", st);
    }
    assert.equal(messageDay(scanMessage(msg([]), SECRETS), at), "2026-11-27");
    assert.equal(messageDay(scanMessage(msg([[52, "20261121-10:00:00"]]), SECRETS), at), "2026-11-21");
  });
});
