import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigError } from "@fixmesh/session";
import { loadVenueSimConfig, parseVenueSimConfig, policyFor } from "./config.js";

const EXAMPLE = fileURLToPath(new URL("../examples/venue.yaml", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "venue-sim-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const SESSION = { BeginString: "FIX.4.4", SenderCompID: "VENUE", TargetCompID: "CLIENT" };

/** The ConfigError a configuration fails with. */
function failure(input: unknown): ConfigError {
  try {
    parseVenueSimConfig(input);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `a ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail("the configuration was accepted");
}

describe("configuration", () => {
  it("loads the shipped example: sessions, drop copy, per-symbol policies over the defaults", () => {
    const c = loadVenueSimConfig(EXAMPLE);
    assert.deepEqual(
      c.sessions.map((s) => [s.BeginString, s.TargetCompID]),
      [
        ["FIX.4.4", "CLIENT44"],
        ["FIX.4.2", "CLIENT42"],
      ],
    );
    assert.equal(c.dropCopy?.TargetCompID, "DROPCOPY");
    assert.equal(
      c.store.kind === "file" && c.store.dir,
      fileURLToPath(new URL("../../../.fixmesh/venue-sim", import.meta.url)),
    );
    assert.deepEqual(policyFor(c, "MSFT").fill, { partial: 4 });
    assert.deepEqual(policyFor(c, "MSFT").latency, { min: 5, max: 50 });
    assert.equal(policyFor(c, "IBM").pendingStates, true);
    assert.equal(policyFor(c, "GME").restricted, true);
    assert.deepEqual(policyFor(c, "ZZZ").latency, { min: 2, max: 2 }, "an unlisted symbol gets `policy`");
  });

  it("fills defaults, and parsing its own output gives the same configuration", () => {
    const c = parseVenueSimConfig({ sessions: [SESSION] });
    assert.deepEqual(c.listen, { host: "127.0.0.1", port: 9878, logonTimeout: 10 });
    assert.deepEqual(c.store, { kind: "memory" });
    assert.equal(c.policy.fill, "immediate");
    assert.equal(c.unknownSymbols, "accept");
    assert.deepEqual(parseVenueSimConfig(c), c);
  });

  it("names the field of a bad fill policy", () => {
    const e = failure({ sessions: [SESSION], symbols: { IBM: { fill: "partial(1)" } } });
    assert.equal(e.field, "symbols.IBM.fill");
    assert.match(e.reason, /immediate, book, or partial\(N\)/);
  });

  it("names a session setting that resolveSettings refuses, under the session's path", () => {
    const e = failure({ sessions: [SESSION, { ...SESSION, TargetCompID: "B", HeartBtInt: -5 }] });
    assert.equal(e.field, "sessions[1].HeartBtInt");
  });

  it("names an unknown key, suggesting the one that was meant", () => {
    const e = failure({ sessions: [SESSION], policy: { pendingState: true } });
    assert.equal(e.field, "policy.pendingState");
    assert.match(e.reason, /did you mean pendingStates\?/);
  });

  it("names the field of a bad latency, a bad port, a missing file store dir and a band without reference", () => {
    assert.equal(failure({ sessions: [SESSION], policy: { latency: { min: 5, max: 1 } } }).field, "policy.latency");
    assert.equal(failure({ sessions: [SESSION], listen: { port: 70000 } }).field, "listen.port");
    assert.equal(failure({ sessions: [SESSION], store: { kind: "file" } }).field, "store.dir");
    assert.equal(
      failure({ sessions: [SESSION], symbols: { X: { priceBandPercent: 5 } } }).field,
      "symbols.X.priceBandPercent",
    );
    assert.equal(failure({ sessions: [] }).field, "sessions");
    assert.equal(failure({ sessions: [{ ...SESSION, BeginString: "FIX.5.0" }] }).field, "sessions[0].BeginString");
    assert.equal(failure({ sessions: [SESSION, SESSION] }).field, "sessions[1]");
  });

  it("a file that is not YAML fails naming the file; a bad value in a file names the field", () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "sessions: [\n");
    assert.throws(
      () => loadVenueSimConfig(bad),
      (e: unknown) => e instanceof ConfigError && e.field === bad,
    );
    const wrong = join(dir, "wrong.yaml");
    writeFileSync(
      wrong,
      "sessions:\n  - BeginString: FIX.4.2\n    SenderCompID: V\n    TargetCompID: C\nsymbols:\n  IBM:\n    maxQuantity: lots\n",
    );
    assert.throws(
      () => loadVenueSimConfig(wrong),
      (e: unknown) => e instanceof ConfigError && e.field === "symbols.IBM.maxQuantity" && /got "lots"/.test(e.message),
    );
  });
});
