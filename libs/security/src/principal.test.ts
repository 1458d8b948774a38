import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PeerCertificate } from "node:tls";
import { isLoopbackHost } from "./address.js";
import { principalFromCertificate, uriSans } from "./principal.js";

const cert = (subjectaltname: string | undefined, CN?: string) =>
  ({ subjectaltname, subject: CN === undefined ? {} : { CN } }) as unknown as PeerCertificate;

describe("principals from certificates", () => {
  it("prefers a SPIFFE URI SAN, then any URI SAN, then cn:<CN>", () => {
    assert.equal(
      principalFromCertificate(cert("DNS:a, URI:https://x, URI:spiffe://t/ns/n/sa/s", "c"))?.id,
      "spiffe://t/ns/n/sa/s",
    );
    assert.equal(principalFromCertificate(cert("DNS:a, URI:https://x", "c"))?.id, "https://x");
    assert.equal(principalFromCertificate(cert("DNS:a", "ops"))?.id, "cn:ops");
    assert.equal(principalFromCertificate(cert(undefined)), undefined);
  });

  it("reads quoted URI values", () => {
    assert.deepEqual(uriSans('URI:"spiffe://t/a,b", DNS:x'), ["spiffe://t/a,b"]);
  });
});

describe("isLoopbackHost", () => {
  it("accepts loopback addresses only", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"]) {
      assert.equal(isLoopbackHost(h), true, h);
    }
    for (const h of ["0.0.0.0", "::", "10.0.0.1", "192.168.1.1", "example.com", ""]) {
      assert.equal(isLoopbackHost(h), false, h);
    }
  });
});
