/**
 * `fixmesh hash-password` and `fixmesh cert-pin`, run as the user runs them: the password on stdin, the hash on
 * stdout (and verifying); the pin of a certificate equal to openssl's.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { verifyPassword } from "@fixmesh/security";

const MAIN = fileURLToPath(new URL("./main.js", import.meta.url));

describe("fixmesh hash-password / cert-pin", () => {
  it("hashes the password read on stdin; the hash verifies it and no other; the password is not printed", async () => {
    const r = spawnSync(process.execPath, [MAIN, "hash-password", "--cost", "11"], {
      input: "Sesame-0pen!\n",
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const hash = r.stdout.trim();
    assert.match(hash, /^\$scrypt\$ln=11,r=8,p=1\$/);
    assert.equal(r.stdout.includes("Sesame"), false);
    assert.equal(await verifyPassword("Sesame-0pen!", hash), true);
    assert.equal(await verifyPassword("Sesame-0pen", hash), false);
  });

  it("refuses an empty password and a cost out of range", () => {
    const empty = spawnSync(process.execPath, [MAIN, "hash-password"], {
      input: "\n",
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(empty.status, 2);
    assert.match(empty.stderr, /no password on stdin/);
    const cost = spawnSync(process.execPath, [MAIN, "hash-password", "--cost", "40"], {
      input: "x\n",
      encoding: "utf8",
    });
    assert.equal(cost.status, 2);
    assert.match(cost.stderr, /--cost: must be a whole number from 10 to 22/);
  });

  it("prints a certificate's public-key pin, as openssl computes it", () => {
    const dir = mkdtempSync(join(tmpdir(), "fixmesh-certpin-"));
    try {
      const crt = join(dir, "c.crt");
      execFileSync(
        "openssl",
        ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"].concat([
          "-subj",
          "/CN=venue",
          "-days",
          "1",
          "-keyout",
          join(dir, "c.key"),
          "-out",
          crt,
        ]),
        { stdio: "pipe" },
      );
      const expected = execFileSync("sh", [
        "-c",
        `openssl x509 -in ${crt} -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`,
      ])
        .toString()
        .trim();
      const r = spawnSync(process.execPath, [MAIN, "cert-pin", crt], { encoding: "utf8", timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
