/**
 * The Logon check of acceptor sessions (`sessions[i].auth`): each refusal reason, the same Logout text for all of
 * them, and an unknown CompID costing a hash like a wrong password.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PeerCertificate } from "node:tls";
import { AddressAllowList, type LogonRequest } from "@fixmesh/engine";
import { hashPassword, parsePasswordHash } from "@fixmesh/security";
import { certificateNames, logonChecker } from "./acceptor-access.js";
import type { LogonAuthConfig } from "./config/schema.js";

const ID = "FIX.4.4:GW->FUND1";
const base: LogonRequest = {
  session: ID,
  beginString: "FIX.4.4",
  senderCompID: "FUND1",
  targetCompID: "GW",
  address: "10.20.4.7",
  username: "fund1",
  password: "right-password",
};
const cert = (cn: string, san = "") => ({ subject: { CN: cn }, subjectaltname: san }) as unknown as PeerCertificate;

async function checker(auth: LogonAuthConfig | undefined) {
  return logonChecker(new Map([[ID, auth]]));
}

describe("acceptor Logon check", () => {
  it("accepts the right Username and Password and refuses a wrong one of either, with one text", async () => {
    const passwordHash = parsePasswordHash(await hashPassword("right-password", { ln: 10, r: 8, p: 1 }));
    const check = await checker({ username: "fund1", passwordHash });
    assert.deepEqual(await check(base), { ok: true });
    const wrongPw = await check({ ...base, password: "wrong-password" });
    const wrongUser = await check({ ...base, username: "fund2" });
    const noPw = await check({ ...base, password: undefined });
    for (const v of [wrongPw, wrongUser, noPw]) {
      assert.deepEqual(v, { ok: false, reason: "credentials", text: "Logon refused" });
    }
  });

  it("refuses a Logon from outside the session's allowFrom, and a missing or wrong client certificate", async () => {
    const check = await checker({
      allowFrom: AddressAllowList.parse(["10.20.4.0/24"]),
      certificateSubject: "fund1.example",
    });
    assert.deepEqual(await check({ ...base, address: "10.20.5.1" }), {
      ok: false,
      reason: "session_address",
      text: "Logon refused",
    });
    assert.equal(((await check(base)) as { reason?: string }).reason, "client_certificate");
    assert.equal(
      ((await check({ ...base, certificate: cert("other"), certificateAuthorized: true })) as { reason?: string })
        .reason,
      "client_certificate",
    );
    assert.equal(
      (
        (await check({ ...base, certificate: cert("fund1.example"), certificateAuthorized: false })) as {
          reason?: string;
        }
      ).reason,
      "client_certificate",
      "a certificate not chained to the CA does not count",
    );
    assert.deepEqual(
      await check({ ...base, certificate: cert("x", "DNS:a.example, URI:fund1.example"), certificateAuthorized: true }),
      {
        ok: true,
      },
    );
  });

  it("refuses an unknown session after hashing the password it sent (no timing difference)", async () => {
    const passwordHash = parsePasswordHash(await hashPassword("right-password", { ln: 10, r: 8, p: 1 }));
    const check = await checker({ passwordHash });
    const t0 = performance.now();
    const v = await check({ ...base, session: undefined });
    const spent = performance.now() - t0;
    assert.deepEqual(v, { ok: false, reason: "unknown_session", text: "Logon refused" });
    // The decoy hash has the default cost (N = 2^15): far more than the microseconds of a map lookup.
    assert.ok(spent > 5, `the decoy hash ran (${spent.toFixed(1)} ms)`);
  });

  it("a session without auth is not checked", async () => {
    assert.deepEqual(await (await checker(undefined))({ ...base, password: undefined }), { ok: true });
  });

  it("reads a certificate's CN and URI/DNS SANs", () => {
    assert.deepEqual(certificateNames(cert("cn1", "URI:spiffe://x/ns/a/sa/b, DNS:h.example, IP Address:10.0.0.1")), [
      "cn1",
      "spiffe://x/ns/a/sa/b",
      "h.example",
    ]);
    assert.deepEqual(certificateNames(undefined), []);
  });
});
