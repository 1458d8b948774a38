import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { DEFAULT_SETTINGS, type SessionSettings } from "@fixmesh/session";
import { ConnectorConfigError, type LoadOptions, loadConfig, parseConfig } from "./load.js";
import type { ConnectorConfig } from "./schema.js";

const REPO = fileURLToPath(new URL("../../../../", import.meta.url));
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "fixmesh-config-"));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const ACCEPTOR = `
acceptors:
  - { host: 127.0.0.1, port: 5001 }
sessions:
  - { BeginString: FIX.4.4, SenderCompID: VENUE, TargetCompID: CLIENT, ConnectionType: acceptor }
`;

/** The tests' files serve gRPC in plaintext on loopback, which a file must say (`grpc.plaintext`); added when absent. */
const plaintextGrpc = (text: string) => (/^grpc:/m.test(text) ? text : `${text}\ngrpc: { plaintext: true }\n`);

function parse(text: string, opts: LoadOptions & { baseDir?: string } = {}): ConnectorConfig {
  return parseConfig(plaintextGrpc(text), { env: {}, cwd: "/work", ...opts });
}

/** The `field: reason` lines of the error a bad configuration raises. */
function problems(text: string, opts: LoadOptions & { baseDir?: string } = {}): string[] {
  try {
    parse(text, opts);
  } catch (e) {
    assert.ok(e instanceof ConnectorConfigError, `expected ConnectorConfigError, got ${String(e)}`);
    return e.issues.map((i) => `${i.field}: ${i.reason}`);
  }
  assert.fail("the configuration was accepted");
}

describe("config: a bad file names the field and the reason", () => {
  it("HeartBtInt out of range, reported by resolveSettings under the session's path", () => {
    const p = problems(`${ACCEPTOR}
  - { BeginString: FIX.4.2, SenderCompID: VENUE, TargetCompID: C2, ConnectionType: acceptor, HeartBtInt: 5000 }
`);
    assert.deepEqual(p, ["sessions[1].HeartBtInt: must be a whole number of seconds from 0 to 3600"]);
  });

  it("a bad value inherited from defaults is reported at defaults, naming the session", () => {
    const p = problems(`${ACCEPTOR}
defaults: { HeartBtInt: 2.5 }
`);
    assert.deepEqual(p, ["defaults.HeartBtInt: must be a whole number of seconds from 0 to 3600 (in sessions[0])"]);
  });

  it("a value of the wrong type says what was expected and what was given", () => {
    const p = problems(
      `${ACCEPTOR.replace("ConnectionType: acceptor", "ConnectionType: acceptor, ResetOnLogon: maybe")}`,
    );
    assert.deepEqual(p, ['sessions[0].ResetOnLogon: must be Y or N (or true/false), got "maybe"']);
  });

  it("unknown keys are errors, with the nearest known key", () => {
    const p = problems(`${ACCEPTOR.replace("ConnectionType: acceptor", "ConnectionType: acceptor, HeartbeatInt: 30")}
sesions: []
store: { knd: file }
`);
    assert.deepEqual(p.sort(), [
      "sesions: unknown setting; did you mean sessions?",
      "sessions[0].HeartbeatInt: unknown setting; did you mean HeartBtInt?",
      "store.knd: unknown setting; did you mean kind?",
    ]);
  });

  it("a literal FIX password is refused, naming the field and the two ways to give it", () => {
    const p = problems(ACCEPTOR.replace("ConnectionType: acceptor", "ConnectionType: acceptor, Password: hunter2"));
    assert.equal(p.length, 1);
    assert.match(
      p[0],
      /^sessions\[0\]\.Password: a literal password is not allowed in the config file: give PasswordFile .* or PasswordEnv /,
    );
  });

  it("literal TLS keys and Redis passwords are refused too, and so is a password inside a URL written in the file", () => {
    const p = problems(`
acceptors:
  - { port: 5001, tls: { certFile: c.pem, key: "-----BEGIN PRIVATE KEY-----" } }
sessions:
  - { BeginString: FIX.4.4, SenderCompID: V, TargetCompID: C, ConnectionType: acceptor }
store: { redis: { url: "redis://:pw@cache:6379", password: pw } }
`);
    assert.deepEqual(p.sort(), [
      "acceptors[0].tls.key: a literal private key is not allowed in the config file: give keyFile (a file holding it, such as a mounted Kubernetes Secret)",
      "acceptors[0].tls.keyFile: is required",
      "store.redis.password: a literal secret is not allowed in the config file: give passwordFile (a file holding it) or passwordEnv (an environment variable)",
    ]);
    // With the literals gone, the URL's password is refused as well.
    const q = problems(`
acceptors: [{ port: 5001 }]
sessions:
  - { BeginString: FIX.4.4, SenderCompID: V, TargetCompID: C, ConnectionType: acceptor }
store: { redis: { url: "redis://:pw@cache:6379" } }
`);
    assert.deepEqual(q, [
      "store.redis.url: a password in the URL is not allowed in the config file: give passwordFile or passwordEnv, or set the URL in the environment",
    ]);
  });

  it("a missing configuration file is reported as --config", () => {
    assert.throws(
      () => loadConfig("/nonexistent/connector.yaml"),
      (e: unknown) =>
        e instanceof ConnectorConfigError &&
        e.issues[0].field === "--config" &&
        e.issues[0].reason === "cannot read /nonexistent/connector.yaml: no such file",
    );
  });

  it("a missing secret file, TLS file or dictionary extension is reported at the field that names it", () => {
    const dir = tempDir();
    const p = problems(
      `
acceptors:
  - { port: 5001, tls: { certFile: cert.pem, keyFile: key.pem } }
sessions:
  - { BeginString: FIX.4.4, SenderCompID: V, TargetCompID: C, ConnectionType: acceptor, PasswordFile: pw.txt,
      dictionary: { extension: venue.yaml } }
`,
      { baseDir: dir },
    );
    assert.deepEqual(p.sort(), [
      `acceptors[0].tls.certFile: cannot read ${join(dir, "cert.pem")}: no such file`,
      `acceptors[0].tls.keyFile: cannot read ${join(dir, "key.pem")}: no such file`,
      `sessions[0].PasswordFile: cannot read ${join(dir, "pw.txt")}: no such file`,
      `sessions[0].dictionary.extension: cannot read ${join(dir, "venue.yaml")}`,
    ]);
  });

  it("PasswordEnv naming an unset variable, or both PasswordFile and PasswordEnv, is an error", () => {
    assert.deepEqual(problems(ACCEPTOR.replace("acceptor }", "acceptor, PasswordEnv: FIX_PW }")), [
      "sessions[0].PasswordEnv: environment variable FIX_PW is not set",
    ]);
    assert.deepEqual(problems(ACCEPTOR.replace("acceptor }", "acceptor, PasswordEnv: FIX_PW, PasswordFile: x }")), [
      "sessions[0].PasswordEnv: give PasswordFile or PasswordEnv, not both",
    ]);
  });

  it("a bad port, from the file or from --port", () => {
    assert.deepEqual(problems(ACCEPTOR.replace("5001", "70000")), [
      "acceptors[0].port: must be a whole number from 0 to 65535 (0 picks a free port), got 70000",
    ]);
    assert.deepEqual(problems(ACCEPTOR, { port: "fix" }), [
      'acceptors[0].port: must be a whole number from 0 to 65535 (0 picks a free port), got "fix" (set by --port)',
    ]);
    assert.deepEqual(problems(ACCEPTOR, { env: { FIXMESH_GRPC_PORT: "-1" } }), [
      "grpc.port: must be a whole number from 0 to 65535 (0 picks a free port), got -1 (set by FIXMESH_GRPC_PORT)",
    ]);
  });

  it("an unknown store kind, from the file or the environment", () => {
    assert.deepEqual(problems(`${ACCEPTOR}store: { kind: mongo }`), [
      'store.kind: must be one of memory, file, redis, got "mongo"',
    ]);
    assert.deepEqual(problems(ACCEPTOR, { env: { FIXMESH_STORE_KIND: "mongo" } }), [
      'store.kind: must be one of memory, file, redis, got "mongo" (set by FIXMESH_STORE_KIND)',
    ]);
  });

  it("every problem of the file is reported at once", () => {
    const p = problems(`
acceptors: [{ port: 5001 }, { port: 5002 }]
sessions:
  - { BeginString: FIX.9.9, SenderCompID: V, TargetCompID: C, ConnectionType: acceptor, acceptor: 0 }
  - { BeginString: FIX.4.4, SenderCompID: V, TargetCompID: C, ConnectionType: acceptor }
  - { BeginString: FIX.4.4, SenderCompID: V, TargetCompID: D, ConnectionType: initiator }
  - { BeginString: FIXT.1.1, SenderCompID: V, TargetCompID: E, ConnectionType: acceptor, acceptor: b }
log: { level: loud }
`);
    assert.deepEqual(p.sort(), [
      'log.level: must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    ]);
    // Type errors stop the parse before the cross-field checks; with the level fixed the rest shows.
    const q = problems(`
acceptors: [{ port: 5001 }, { port: 5002 }]
sessions:
  - { BeginString: FIX.9.9, SenderCompID: V, TargetCompID: C, ConnectionType: acceptor, acceptor: 0 }
  - { BeginString: FIX.4.4, SenderCompID: V, TargetCompID: C, ConnectionType: acceptor }
  - { BeginString: FIX.4.4, SenderCompID: V, TargetCompID: D, ConnectionType: initiator }
  - { BeginString: FIXT.1.1, SenderCompID: V, TargetCompID: E, ConnectionType: acceptor, acceptor: b }
`);
    assert.deepEqual(q.sort(), [
      'sessions[0].BeginString: must be one of FIX.4.0, FIX.4.1, FIX.4.2, FIX.4.3, FIX.4.4, FIXT.1.1, got "FIX.9.9"',
      "sessions[1].acceptor: is required when there are 2 acceptors: give the name or the index of one",
      "sessions[2].initiator: is required for an initiator session: the hosts to connect to",
      "sessions[3].DefaultApplVerID: is required for FIXT.1.1 sessions (the application version: FIX.5.0SP2, or 9)",
      'sessions[3].acceptor: no acceptor is named "b"',
    ]);
  });

  it("the same session twice is an error", () => {
    assert.deepEqual(problems(`${ACCEPTOR}${ACCEPTOR.split("sessions:\n")[1]}`), [
      "sessions[1]: is the same session as sessions[0] (FIX.4.4:VENUE->CLIENT)",
    ]);
  });

  it("YAML syntax errors and duplicate keys are reported with their line", () => {
    const [dup] = problems(`${ACCEPTOR}log: { level: info }\nlog: { level: debug }\n`);
    assert.match(dup, /^\(yaml\): Map keys must be unique at line 7/);
    const [bad] = problems("sessions: [ { BeginString: FIX.4.4 \n");
    assert.match(bad, /^\(yaml\): .*line/);
  });
});

describe("config: gRPC without TLS must be said", () => {
  it("a file with neither grpc.tls nor grpc.plaintext: true is refused naming grpc.plaintext", () => {
    const refused = () => parseConfig(ACCEPTOR, { env: {}, cwd: "/work" });
    assert.throws(refused, (e: unknown) => {
      assert.ok(e instanceof ConnectorConfigError);
      assert.deepEqual(
        e.issues.map((i) => `${i.field}: ${i.reason}`),
        [
          "grpc.plaintext: give tls, or plaintext: true to serve gRPC without TLS on 127.0.0.1 (allowed on a loopback address only)",
        ],
      );
      return true;
    });
    assert.equal(parse(`${ACCEPTOR}grpc: { plaintext: true }\n`).grpc.plaintext, true);
  });
});

describe("config: defaults", () => {
  it("a minimal file gets the documented defaults", () => {
    const c = parse(ACCEPTOR);
    assert.equal(c.store.kind, "file");
    assert.equal(c.store.fsync, "always");
    assert.equal(c.store.retainMessages, undefined);
    assert.equal(c.connector.dataDir, "/work/.fixmesh/connector");
    assert.deepEqual(c.grpc, { host: "127.0.0.1", port: 50051, plaintext: true });
    assert.deepEqual(c.metrics, { host: "127.0.0.1", port: 9464 });
    assert.deepEqual(c.nats, { stream: "FIX", subjectPrefix: "fix" });
    assert.equal(c.log.level, "info");
    assert.deepEqual(c.acceptors, [{ host: "127.0.0.1", port: 5001, logonTimeout: 10 }]);
    const s = c.sessions[0];
    assert.equal(s.id, "FIX.4.4:VENUE->CLIENT");
    assert.equal(s.acceptor, 0, "the only acceptor serves the session");
    assert.equal(s.application, "none");
    assert.equal(s.useDataDictionary, true);
    assert.equal(s.settings.HeartBtInt, DEFAULT_SETTINGS.HeartBtInt);
    assert.equal(s.settings.ResetOnLogon, false);
    assert.deepEqual(c.secrets, []);
  });

  it("QuickFIX's Y/N and quoted numbers are accepted; FIXT's DefaultApplVerID is sent as its code", () => {
    const c = parse(`
acceptors: [{ port: "5001" }]
sessions:
  - { BeginString: FIXT.1.1, SenderCompID: V, TargetCompID: C, ConnectionType: acceptor, DefaultApplVerID: FIX.5.0SP2,
      ResetOnLogon: Y, HeartBtInt: "20", Weekdays: "Mon,Tue" }
`);
    const s = c.sessions[0].settings;
    assert.equal(s.ResetOnLogon, true);
    assert.equal(s.HeartBtInt, 20);
    assert.deepEqual(s.Weekdays, ["Mon", "Tue"]);
    assert.equal(s.DefaultApplVerID, "9");
    assert.equal(c.acceptors[0].port, 5001);
  });

  it("test/conformance/at-server.yaml describes the same sessions as at-server.ts", async () => {
    const at = (await import(join(REPO, "test/conformance/dist/at-server.js"))) as {
      AT_SESSIONS: ReadonlyArray<{ beginString: string; target: string; applVerId?: string }>;
      atSettings(beginString: string, target: string, applVerId?: string): SessionSettings;
    };
    const c = loadConfig(join(REPO, "test/conformance/at-server.yaml"), { env: {} });
    assert.equal(c.sessions.length, at.AT_SESSIONS.length);
    for (const [i, s] of at.AT_SESSIONS.entries()) {
      assert.deepEqual(c.sessions[i].settings, at.atSettings(s.beginString, s.target, s.applVerId));
      assert.equal(c.sessions[i].application, "acceptance-test");
      assert.equal(c.sessions[i].useDataDictionary, true);
    }
    assert.equal(c.store.kind, "file");
    assert.deepEqual(
      c.acceptors.map((a) => a.port),
      [5001],
    );
  });
});

describe("config: environment overrides and flags", () => {
  it("apply over the file, through the same schema", () => {
    const c = parse(`${ACCEPTOR}store: { kind: file }\ngrpc: { plaintext: true, port: 7000 }\n`, {
      env: {
        FIXMESH_GRPC_PORT: "6000",
        FIXMESH_STORE_KIND: "redis",
        REDIS_URL: "rediss://cache.internal:6380",
        NATS_URL: "nats://bus:4222",
        FIXMESH_DATA_DIR: "state",
        FIXMESH_LOG_LEVEL: "debug",
        FIXMESH_CONNECTOR_ID: "fx-a",
        FIXMESH_METRICS_PORT: "0",
        FIXMESH_ACCEPTOR_PORT: "5005",
        FIXMESH_STORE_FSYNC: "",
      },
      cwd: "/srv",
      port: 0,
    });
    assert.equal(c.grpc.port, 6000);
    assert.equal(c.store.kind, "redis");
    assert.equal(c.store.redis.url, "rediss://cache.internal:6380");
    assert.equal(c.nats.url, "nats://bus:4222");
    assert.equal(c.connector.dataDir, "/srv/state", "a path from the environment is relative to the working directory");
    assert.equal(c.log.level, "debug");
    assert.equal(c.connector.id, "fx-a");
    assert.equal(c.metrics.port, 0);
    assert.equal(c.acceptors[0].port, 0, "--port wins over FIXMESH_ACCEPTOR_PORT");
    assert.equal(c.store.fsync, "always", "an empty variable counts as unset");
  });

  it("a password in REDIS_URL is taken out of the URL and kept as a secret", () => {
    const c = parse(ACCEPTOR, { env: { REDIS_URL: "redis://fixmesh:s3cret%21@cache:6379/0" } });
    assert.equal(c.store.redis.url, "redis://cache:6379/0");
    assert.equal(c.store.redis.username, "fixmesh");
    assert.equal(c.store.redis.password?.reveal(), "s3cret!");
    assert.ok(c.secrets.includes(c.store.redis.password!));
  });

  it("--port needs an acceptor in the file", () => {
    const p = problems(
      "sessions: [{ BeginString: FIX.4.4, SenderCompID: A, TargetCompID: B, ConnectionType: initiator, initiator: { hosts: [{ host: h, port: 1 }] } }]",
      { port: 5001 },
    );
    assert.deepEqual(p, [
      "--port: sets the port of the first acceptor (acceptors[0]), and this configuration has no acceptors: its " +
        "sessions are initiators, which connect out and listen on nothing. Remove --port, or add an acceptor",
    ]);
  });
});

describe("config: secrets", () => {
  it("come from a file (trailing newline dropped) or the environment, and print as [REDACTED]", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "fix.pw"), "pl4nted-fix-pw\n");
    const c = parse(
      `
acceptors: [{ port: 5001 }]
sessions:
  - { BeginString: FIX.4.4, SenderCompID: V, TargetCompID: C, ConnectionType: acceptor, PasswordFile: fix.pw }
  - { BeginString: FIX.4.2, SenderCompID: V, TargetCompID: C, ConnectionType: acceptor, PasswordEnv: FIX42_PW }
store: { redis: { passwordEnv: REDIS_PW } }
`,
      { baseDir: dir, env: { FIX42_PW: "env-pw", REDIS_PW: "redis-pw" } },
    );
    assert.equal(c.sessions[0].password?.reveal(), "pl4nted-fix-pw");
    assert.equal(c.sessions[1].password?.reveal(), "env-pw");
    assert.equal(c.store.redis.password?.reveal(), "redis-pw");
    assert.equal(c.sessions[0].settings.Password, undefined, "the password is not in the settings object");
    assert.equal(c.secrets.length, 3);
    const printed = JSON.stringify(c) + String(c.sessions[0].password);
    for (const v of ["pl4nted-fix-pw", "env-pw", "redis-pw"]) assert.ok(!printed.includes(v), `${v} printed`);
    assert.equal(c.sessions[0].password?.source, `file ${join(dir, "fix.pw")}`);
  });

  it("an empty secret file is an error", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "empty"), "\n");
    assert.deepEqual(problems(ACCEPTOR.replace("acceptor }", "acceptor, PasswordFile: empty }"), { baseDir: dir }), [
      `sessions[0].PasswordFile: ${join(dir, "empty")} is empty`,
    ]);
  });
});
