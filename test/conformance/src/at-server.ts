/**
 * The acceptor the acceptance scripts run against: our engine configured like QuickFIX's `at` server
 * (../README.md, "The acceptor under test"): one port for every session, SenderCompID ISLD, ResetOnLogon,
 * dictionaries with validation on, QuickFIX C++'s timer multipliers (TestRequest at 1.2 × HeartBtInt, dead
 * at 2.4 ×), file stores, and the connector's built-in acceptance application (`acceptanceApp` of
 * @fixmesh/connector: echo NewOrderSingle, SecurityDefinition and Email; reject any other application message
 * as unsupported). ../at-server.yaml is the same acceptor as a connector configuration.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { acceptanceApp } from "@fixmesh/connector";
import { Acceptor, SessionRunner } from "@fixmesh/engine";
import { loadDictionary, validate } from "@fixmesh/fix";
import { FileStore, resolveSettings, type SessionSettings } from "@fixmesh/session";

export interface AtServer {
  port: number;
  close(): Promise<void>;
}

/** BeginString, TargetCompID and (FIXT) the application version of each session the scripts use. */
export const AT_SESSIONS: ReadonlyArray<{ beginString: string; target: string; applVer?: string; applVerId?: string }> =
  [
    { beginString: "FIX.4.0", target: "TW40" },
    { beginString: "FIX.4.1", target: "TW41" },
    { beginString: "FIX.4.2", target: "TW42" },
    { beginString: "FIX.4.3", target: "TW43" },
    { beginString: "FIX.4.4", target: "TW44" },
    { beginString: "FIXT.1.1", target: "TW50", applVer: "FIX.5.0", applVerId: "7" },
    { beginString: "FIXT.1.1", target: "TW50SP1", applVer: "FIX.5.0SP1", applVerId: "8" },
    { beginString: "FIXT.1.1", target: "TW50SP2", applVer: "FIX.5.0SP2", applVerId: "9" },
  ];

/** Settings of one acceptance-test session (QuickFIX defaults where `at` sets nothing). */
export function atSettings(beginString: string, target: string, applVerId?: string): SessionSettings {
  return resolveSettings({
    BeginString: beginString,
    SenderCompID: "ISLD",
    TargetCompID: target,
    ConnectionType: "acceptor",
    DefaultApplVerID: applVerId,
    ResetOnLogon: true,
    TestRequestThreshold: 1.2,
    HeartbeatTimeoutThreshold: 2.4,
    CheckLatency: true,
    MaxLatency: 120,
    LogonTimeout: 10,
    LogoutTimeout: 2,
    StartTime: "00:00:00",
    EndTime: "00:00:00",
  });
}

const consoleLogger = {
  info: (o: object, m?: string) => console.error("INFO", m, JSON.stringify(o)),
  warn: (o: object, m?: string) => console.error("WARN", m, JSON.stringify(o)),
  error: (o: object, m?: string) => console.error("ERROR", m, o),
};

export async function startAtServer(opts: { host?: string; port?: number; storeDir?: string } = {}): Promise<AtServer> {
  const ownDir = opts.storeDir === undefined;
  const dir = opts.storeDir ?? mkdtempSync(join(tmpdir(), "fixmesh-at-"));
  const acceptor = new Acceptor({ host: opts.host ?? "127.0.0.1", port: opts.port ?? 0 });
  const runners: SessionRunner[] = [];
  for (const s of AT_SESSIONS) {
    const settings = atSettings(s.beginString, s.target, s.applVerId);
    const dict = loadDictionary(s.beginString, s.applVer);
    const runner = await SessionRunner.start({
      settings,
      store: new FileStore({ dir, session: `${s.beginString}-ISLD-${s.target}`, fsync: "never" }),
      app: acceptanceApp(dict, process.env.FIXMESH_AT_DEBUG ? consoleLogger : undefined),
      validate: (m) => validate(m, dict),
      logger: process.env.FIXMESH_AT_DEBUG ? consoleLogger : undefined,
    });
    acceptor.register(runner);
    runners.push(runner);
  }
  const port = await acceptor.listen();
  return {
    port,
    async close() {
      await acceptor.close();
      await Promise.all(runners.map((r) => r.stop(0)));
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
