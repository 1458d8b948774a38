import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sessionKeys } from "./keys.js";
import { keySlot } from "./testkit.js";

describe("session keys", () => {
  it("puts the session id in a hash tag after the prefix", () => {
    const k = sessionKeys("fixmesh", "FIX.4.4:TW44->ISLD");
    assert.equal(k.tag, "{FIX.4.4:TW44->ISLD}");
    assert.equal(k.meta, "fixmesh:{FIX.4.4:TW44->ISLD}:meta");
    assert.equal(
      k.out("20261127T045729123Z-1a2b3c4d"),
      "fixmesh:{FIX.4.4:TW44->ISLD}:out:20261127T045729123Z-1a2b3c4d",
    );
  });

  it("writes braces and percent signs in a session id escaped, so the tag stays whole and ids stay distinct", () => {
    const k = sessionKeys("fixmesh", "a}b{c%7D");
    assert.equal(k.tag, "{a%7Db%7Bc%257D}");
    assert.notEqual(sessionKeys("p", "a}").meta, sessionKeys("p", "a%7D").meta);
    assert.equal(keySlot(k.meta), keySlot(k.out("x")));
  });

  it("refuses a prefix with a brace, and empty names", () => {
    assert.throws(() => sessionKeys("fix{mesh}", "S"), RangeError);
    assert.throws(() => sessionKeys("", "S"), RangeError);
    assert.throws(() => sessionKeys("fixmesh", ""), RangeError);
  });

  it("computes cluster slots as the cluster specification's examples say", () => {
    // From the Redis Cluster specification: "123456789" hashes to 0x31C3 (12739).
    assert.equal(keySlot("123456789"), 12739);
    assert.equal(keySlot("{user1000}.following"), keySlot("{user1000}.followers"));
    assert.equal(keySlot("foo{bar}{zap}"), keySlot("bar"));
    assert.equal(keySlot("foo{{bar}}zap"), keySlot("{bar"));
    assert.notEqual(keySlot("foo{}{bar}"), keySlot("bar"), "an empty first tag hashes the whole key");
  });
});
