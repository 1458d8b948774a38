import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadConfig, PersistenceConfigError, persistenceConfig } from "./config.js";

describe("persistence configuration", () => {
  it("fills in the defaults: PostgreSQL on localhost, the three streams, batches of 1,000", () => {
    const c = persistenceConfig({ grpc: { plaintext: true } });
    assert.equal(c.database.engine, "postgres");
    assert.deepEqual(
      [c.streams.fix.stream, c.streams.orders.filter, c.streams.audit.durable],
      ["FIX", "orders.>", "persistence-audit"],
    );
    assert.equal(c.ingest.batch, 1000);
    assert.equal(c.retention.days, 0);
  });

  it("names every bad field and the reason", () => {
    assert.throws(
      () =>
        persistenceConfig({
          database: { engine: "pglite", url: "x" },
          ingest: { batch: -1 },
          grpc: { plaintext: true, port: "a" },
        }),
      (e: unknown) => {
        assert.ok(e instanceof PersistenceConfigError);
        const fields = e.issues.map((i) => i.field);
        assert.ok(fields.includes("database"), fields.join(","));
        assert.ok(fields.includes("ingest.batch"));
        assert.ok(fields.includes("grpc.port"));
        return true;
      },
    );
  });

  it("reads the file, resolves dataDir against it, and applies DATABASE_URL and FIXMESH_GRPC_PORT", () => {
    const dir = mkdtempSync(join(tmpdir(), "fixmesh-config-"));
    try {
      const f = join(dir, "p.yaml");
      writeFileSync(f, "database: { engine: pglite, dataDir: audit }\ngrpc: { plaintext: true }\n");
      const pglite = loadConfig(f, { DATABASE_URL: "postgres://x@h/db" }).database;
      assert.deepEqual(pglite, { engine: "pglite", dataDir: join(dir, "audit") });
      writeFileSync(f, "log: { level: warn }\ngrpc: { plaintext: true }\n");
      const c = loadConfig(f, { DATABASE_URL: "postgres://u@db:5432/audit", FIXMESH_GRPC_PORT: "7999" });
      assert.equal(c.database.engine === "postgres" ? c.database.url : "", "postgres://u@db:5432/audit");
      assert.equal(c.grpc.port, 7999);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
