import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatEndpoint, isLoopbackAddress, parseEndpoint, resolveChecked } from "./address.js";
import { InvalidOptionError, NonLoopbackAddressError } from "./errors.js";

describe("loopback addresses", () => {
  it("are 127.0.0.0/8 and ::1, in any spelling", () => {
    for (const a of ["127.0.0.1", "127.255.0.9", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"]) {
      assert.equal(isLoopbackAddress(a), true, a);
    }
    for (const a of ["128.0.0.1", "10.0.0.1", "0.0.0.0", "::", "::2", "::ffff:10.0.0.1", "localhost", ""]) {
      assert.equal(isLoopbackAddress(a), false, a);
    }
  });

  it("a non-loopback literal is refused unless allowed", async () => {
    await assert.rejects(resolveChecked("target", "10.1.2.3", false), NonLoopbackAddressError);
    assert.equal(await resolveChecked("target", "10.1.2.3", true), "10.1.2.3");
  });
});

describe("endpoints", () => {
  it("parse host:port, [v6]:port and a bare port", () => {
    assert.deepEqual(parseEndpoint("--x", "127.0.0.1:9000"), { host: "127.0.0.1", port: 9000 });
    assert.deepEqual(parseEndpoint("--x", "[::1]:9001"), { host: "::1", port: 9001 });
    assert.deepEqual(parseEndpoint("--x", "localhost:7"), { host: "localhost", port: 7 });
    assert.deepEqual(parseEndpoint("--x", "9002"), { host: "127.0.0.1", port: 9002 });
  });

  it("refuse anything else, naming the option", () => {
    for (const bad of ["127.0.0.1:", ":9000", "127.0.0.1:port", "127.0.0.1:70000"]) {
      assert.throws(
        () => parseEndpoint("--listen", bad),
        (e: unknown) => {
          assert.ok(e instanceof InvalidOptionError);
          assert.equal(e.option, "--listen");
          return true;
        },
      );
    }
  });

  it("format IPv6 hosts in brackets", () => {
    assert.equal(formatEndpoint({ host: "::1", port: 5 }), "[::1]:5");
    assert.equal(formatEndpoint({ host: "127.0.0.1", port: 5 }), "127.0.0.1:5");
  });
});
