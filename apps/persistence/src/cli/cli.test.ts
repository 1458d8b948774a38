/**
 * The commands as a user runs them: `fixmesh persistence migrate`, a bad config file, and `fixmesh audit …`
 * against a running service (PostgreSQL, in-process bus) — tables and `--json`.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { InProcessBus } from "@fixmesh/bus";
import { pino } from "pino";
import { startPersistence } from "../service.js";
import { createTestDatabase, fixEvent, waitFor } from "../testing/support.js";
import { type CliIo, runAuditCli, runPersistenceCli } from "./cli.js";

function capture(): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l) };
}

describe("fixmesh persistence / fixmesh audit", { timeout: 100_000 }, () => {
  it("migrate applies the schema once; a bad config names the field", async () => {
    const db = await createTestDatabase("postgres");
    const dir = mkdtempSync(join(tmpdir(), "fixmesh-cli-"));
    try {
      const file = join(dir, "p.yaml");
      writeFileSync(file, `database:\n  engine: postgres\n  url: ${db.url}\ngrpc: { plaintext: true }\n`);
      const io = capture();
      assert.equal(await runPersistenceCli(["migrate", "--config", file], io), 0);
      assert.match(io.lines[0], /^applied: /);
      const again = capture();
      assert.equal(await runPersistenceCli(["migrate", "--config", file], again), 0);
      assert.deepEqual(again.lines, ["schema is current"]);
      writeFileSync(file, "database:\n  engine: postgres\n  url: mysql://x\ningest:\n  batch: 0\n");
      const bad = capture();
      assert.equal(await runPersistenceCli(["--config", file], bad), 2);
      assert.match(bad.errors[0], /database\.url: must be a postgres:\/\/ URL/);
      assert.match(bad.errors[0], /ingest\.batch: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await db.drop();
    }
  });

  it("audit messages, transcript, sequence and reconcile print tables and JSON", async () => {
    const db = await createTestDatabase("postgres");
    const dir = mkdtempSync(join(tmpdir(), "fixmesh-cli-"));
    const bus = new InProcessBus();
    const p = await startPersistence(
      { database: db.config, grpc: { plaintext: true, port: 0 }, log: { level: "silent" } },
      { bus, logger: pino({ level: "silent" }) },
    );
    try {
      await p.ready();
      const session = "FIX.4.4:ME->VENUE";
      await bus.publish([
        fixEvent({
          session,
          dir: "out",
          seq: 1,
          msgType: "D",
          body: [
            [11, "K1"],
            [55, "IBM"],
            [54, 2],
            [38, 5],
            [40, 1],
          ],
        }).event,
        fixEvent({
          session,
          dir: "in",
          seq: 1,
          msgType: "8",
          body: [
            [37, "V1"],
            [11, "K1"],
            [17, "EX1"],
            [150, "F"],
            [39, 2],
            [55, "IBM"],
            [54, 2],
            [32, 5],
            [31, "99.5"],
          ],
        }).event,
      ]);
      await waitFor(
        async () => (await p.lag()) === 0 && (await p.store.messages({ session }, 10)).length === 2,
        "stored",
      );
      const server = ["--server", `127.0.0.1:${p.grpcPort}`];

      const table = capture();
      assert.equal(await runAuditCli(["messages", "--session", session, ...server], table), 0);
      assert.match(table.lines[0], /^TIME\s+SESSION\s+DIR\s+SEQ\s+TYPE/);
      assert.equal(table.lines.length, 3);
      assert.match(table.lines[2], /in\s+1\s+8\s+K1\s+EX1\s+8=FIX\.4\.4\|/);

      const json = capture();
      assert.equal(await runAuditCli(["messages", "--session", session, "--type", "D", "--json", ...server], json), 0);
      assert.equal(json.lines.length, 1);
      assert.equal(JSON.parse(json.lines[0]).clOrdId, "K1");

      const transcript = capture();
      assert.equal(await runAuditCli(["transcript", "--session", session, ...server], transcript), 0);
      assert.match(transcript.lines[0], /-> 1 D NewOrderSingle/);
      assert.match(transcript.lines[1], /Side\(54\)=2 \(SELL\)/);

      const seq = capture();
      assert.equal(await runAuditCli(["sequence", "--session", session, ...server], seq), 0);
      assert.equal(seq.lines[seq.lines.length - 1], "sequence OK");

      const venueFile = join(dir, "venue.csv");
      writeFileSync(venueFile, "execId,symbol,side,lastQty,lastPx\nEX1,IBM,2,5,99.50\nEX2,IBM,2,1,99\n");
      const rec = capture();
      assert.equal(await runAuditCli(["reconcile", "--session", session, "--file", venueFile, ...server], rec), 1);
      assert.match(rec.lines.join("\n"), /missing\s+EX2/);
      assert.equal(rec.lines[rec.lines.length - 1], "reconciled: differences found");

      const usage = capture();
      assert.equal(await runAuditCli(["transcript", ...server], usage), 2);
      assert.match(usage.errors[0], /--session: required/);
    } finally {
      await p.close();
      rmSync(dir, { recursive: true, force: true });
      await db.drop();
    }
  });
});
