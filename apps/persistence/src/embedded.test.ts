/** Embedded mode: the in-process bus and PGlite in a folder, as `fixmesh start` runs persistence. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { InProcessBus } from "@fixmesh/bus";
import { reflectedServiceNames } from "@fixmesh/contracts";
import { pino } from "pino";
import { startPersistence } from "./service.js";
import { createTestDatabase, fixEvent, type TestDatabase, waitFor } from "./testing/support.js";

const quiet = pino({ level: "silent" });

describe("embedded: InProcessBus + PGlite in a folder", () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase("pglite");
  });
  after(async () => {
    await db.drop();
  });

  it("stores what the in-process bus carries and keeps it across a restart", async () => {
    const bus = new InProcessBus();
    const config = {
      database: db.config,
      grpc: { plaintext: true, port: 0 },
      metrics: { port: 0 },
      log: { level: "silent" as const },
    };
    let p = await startPersistence(config, { bus, logger: quiet });
    await p.ready();
    // grpcurl can list the AuditService (server reflection).
    assert.deepEqual(await reflectedServiceNames(`127.0.0.1:${p.grpcPort}`), ["fixmesh.v1.AuditService"]);
    await bus.publish(
      Array.from({ length: 50 }, (_, i) => fixEvent({ session: "EMB", dir: "out", seq: i + 1, msgType: "0" }).event),
    );
    await waitFor(
      async () => (await p.lag()) === 0 && (await p.store.messages({ session: "EMB" }, 100)).length === 50,
      "stored",
    );
    const metrics = await (await fetch(`http://127.0.0.1:${p.metricsPort}/metrics`)).text();
    assert.match(metrics, /fixmesh_persistence_events_total\{stream="fix"\} 50\n/);
    assert.match(metrics, /fixmesh_persistence_consumer_lag\{stream="fix"\} 0\n/);
    assert.match(metrics, /fixmesh_persistence_commit_seconds_count\{stream="fix"\} [1-9]/);
    await p.close();
    p = await startPersistence(config, { bus: new InProcessBus(), logger: quiet });
    try {
      const rows = await p.store.messages({ session: "EMB" }, 100);
      assert.deepEqual(
        rows.map((r) => r.seq),
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
    } finally {
      await p.close();
    }
  });
});
