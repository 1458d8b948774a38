/**
 * Acceptor security: the source-address allow-list and the per-address connection limit at accept, the Logon
 * check (a wrong password or an unknown CompID is answered with a Logout and the connection closed, the password
 * in no log line), client certificates on a TLS port, and the CIDR parser.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { Encoder, Framer, formatUtcTimestamp, MsgType, Tag } from "@fixmesh/fix";
import { Health, MemoryStore, resolveSettings, type SessionSettings } from "@fixmesh/session";
import { Acceptor, type AcceptorOptions, type LogonRequest, type Refusal } from "./acceptor.js";
import { AddressAllowList, AddressListError } from "./address-allow-list.js";
import { SessionRunner } from "./runner.js";
import { waitFor } from "./testing/harness.js";

const PASSWORD = "s3cret-Fix-Pa55word!";

function venueSettings(): SessionSettings {
  return resolveSettings({
    BeginString: "FIX.4.4",
    SenderCompID: "VENUE",
    TargetCompID: "CLIENT",
    ConnectionType: "acceptor",
    HeartBtInt: 30,
  });
}

/** Every log line, as the text a log file would hold. */
class CaptureLog {
  readonly lines: string[] = [];
  info(obj: object, msg?: string) {
    this.lines.push(JSON.stringify({ level: "info", ...obj, msg }));
  }
  warn(obj: object, msg?: string) {
    this.lines.push(JSON.stringify({ level: "warn", ...obj, msg }));
  }
  error(obj: object, msg?: string) {
    this.lines.push(JSON.stringify({ level: "error", ...obj, msg }));
  }
}

interface Received {
  msgType: string;
  seq: number;
  text?: string;
}

/** A raw FIX client: sends a Logon, collects what comes back until the server closes (or `ms` passes). */
async function logonOver(
  socket: Socket,
  opts: {
    sender?: string;
    target?: string;
    username?: string;
    password?: string;
    seq?: number;
    ms?: number;
    /** Stop (and close our side) once this holds. */
    until?: (r: Received[]) => boolean;
  } = {},
): Promise<{ received: Received[]; closed: boolean }> {
  const body: Array<number | string> = [Tag.EncryptMethod, 0, Tag.HeartBtInt, 30];
  if (opts.username !== undefined) body.push(Tag.Username, opts.username);
  if (opts.password !== undefined) body.push(Tag.Password, opts.password);
  const enc = new Encoder("FIX.4.4", opts.sender ?? "CLIENT", opts.target ?? "VENUE");
  const received: Received[] = [];
  const framer = new Framer();
  return new Promise((resolve) => {
    let closed = false;
    const timer = setTimeout(() => finish(), opts.ms ?? 3000);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ received, closed });
    };
    socket.on("data", (chunk: Buffer) =>
      framer.push(
        chunk,
        (m) => {
          const text = m.get(Tag.Text);
          received.push({ msgType: m.msgType, seq: m.getInt(Tag.MsgSeqNum) ?? 0, ...(text !== undefined && { text }) });
          if (opts.until?.(received)) finish();
        },
        () => received.push({ msgType: "garbled", seq: 0 }),
      ),
    );
    socket.on("error", () => undefined);
    socket.on("close", () => {
      closed = true;
      finish();
    });
    const send = () => socket.write(enc.encode(MsgType.Logon, opts.seq ?? 1, formatUtcTimestamp(Date.now()), body));
    if ((socket as { connecting?: boolean }).connecting) socket.once("connect", send);
    else send();
  });
}

/** An acceptor with the VENUE side of VENUE↔CLIENT registered; `authenticate` checks the password. */
async function setup(extra: Partial<AcceptorOptions> = {}) {
  const log = new CaptureLog();
  const refusals: Refusal[] = [];
  const requests: LogonRequest[] = [];
  const store = new MemoryStore();
  const venue = await SessionRunner.start({ settings: venueSettings(), store, schedule: null, logger: log });
  const acceptor = new Acceptor({
    port: 0,
    logger: log,
    onRefused: (r) => refusals.push(r),
    authenticate: (req) => {
      requests.push(req);
      if (req.session === undefined) return { ok: false, reason: "unknown_session", text: "Logon refused" };
      return req.password === PASSWORD && req.username === "trader"
        ? { ok: true }
        : { ok: false, reason: "credentials", text: "Logon refused" };
    },
    ...extra,
  });
  acceptor.register(venue);
  const port = await acceptor.listen();
  return {
    log,
    refusals,
    requests,
    store,
    venue,
    acceptor,
    port,
    async close() {
      await venue.stop(0);
      await acceptor.close();
    },
  };
}

describe("Acceptor Logon check", () => {
  it("answers a wrong password with a Logout giving the reason, closes, counts it, and logs no password", async () => {
    const t = await setup();
    try {
      const { received, closed } = await logonOver(netConnect(t.port, "127.0.0.1"), {
        username: "trader",
        password: PASSWORD.replace("!", "?"),
      });
      assert.equal(closed, true, "the acceptor closes the connection");
      assert.deepEqual(received, [{ msgType: MsgType.Logout, seq: 1, text: "Logon refused" }]);
      assert.equal(t.venue.state.health === Health.Live, false);
      assert.deepEqual(
        t.refusals.map((r) => [r.reason, r.session]),
        [["credentials", "FIX.4.4:VENUE->CLIENT"]],
      );
      assert.equal(t.acceptor.refusals.get("credentials"), 1);
      // The Logout took a MsgSeqNum like any message (persisted before sent), and the Logon's was consumed.
      assert.equal(t.venue.state.nextSenderSeq, 2);
      assert.equal(t.venue.state.nextTargetSeq, 2);
      const stored = await t.store.getRange(1, 1);
      assert.equal(stored[0]?.msgType, MsgType.Logout);
      const logText = t.log.lines.join("\n");
      assert.match(logText, /Logon refused/);
      assert.match(logText, /"username":"trader"/);
      assert.equal(logText.includes(PASSWORD.replace("!", "?")), false, "the wrong password is in a log line");
      assert.equal(logText.includes("s3cret"), false);
    } finally {
      await t.close();
    }
  });

  it("logs on with the right password; the next Logon after a refusal carries on the sequence numbers", async () => {
    const t = await setup();
    try {
      await logonOver(netConnect(t.port, "127.0.0.1"), { username: "trader", password: "wrong" });
      await waitFor(() => !t.venue.connected, 3000, "the refused connection to close");
      const sock = netConnect(t.port, "127.0.0.1");
      const result = logonOver(sock, {
        username: "trader",
        password: PASSWORD,
        seq: 2,
        ms: 10_000,
        until: (r) => r.length > 0,
      });
      const { received } = await result;
      assert.equal(t.venue.state.health, Health.Live);
      assert.equal(received[0]?.msgType, MsgType.Logon);
      assert.equal(received[0]?.seq, 2, "our Logon answer follows the Logout of the refusal");
      assert.equal(t.log.lines.join("\n").includes(PASSWORD), false);
    } finally {
      await t.close();
    }
  });

  it("closes a Logon for an unknown CompID without a word (QuickFIX 1c); the checker still ran (same timing)", async () => {
    const t = await setup();
    try {
      const { received, closed } = await logonOver(netConnect(t.port, "127.0.0.1"), {
        sender: "INTRUDER",
        username: "trader",
        password: PASSWORD,
      });
      assert.equal(closed, true);
      assert.deepEqual(received, []);
      assert.deepEqual(
        t.refusals.map((r) => r.reason),
        ["unknown_session"],
      );
      assert.equal(t.requests.length, 1);
      assert.equal(t.requests[0].session, undefined);
      assert.equal(t.venue.state.nextSenderSeq, 1, "no session's numbers were touched");
      assert.match(t.log.lines.join("\n"), /"sender":"INTRUDER"/);
      assert.equal(t.log.lines.join("\n").includes(PASSWORD), false);
    } finally {
      await t.close();
    }
  });
});

describe("Acceptor address checks", () => {
  it("closes a connection from an address outside allowFrom before reading a byte", async () => {
    const t = await setup({ allowFrom: AddressAllowList.parse(["10.0.0.0/8", "2001:db8::/32"]) });
    try {
      const { received, closed } = await logonOver(netConnect(t.port, "127.0.0.1"), {
        username: "trader",
        password: PASSWORD,
      });
      assert.equal(closed, true);
      assert.deepEqual(received, []);
      assert.equal(t.requests.length, 0, "no Logon was looked at");
      assert.deepEqual(
        t.refusals.map((r) => r.reason),
        ["address"],
      );
      assert.match(t.log.lines.join("\n"), /address not in allowFrom/);
    } finally {
      await t.close();
    }
  });

  it("accepts an IPv6 client in an IPv6 allow-list and refuses it when only IPv4 is allowed", async () => {
    for (const [allow, ok] of [
      [["::1/128"], true],
      [["127.0.0.0/8"], false],
    ] as const) {
      const t = await setup({ host: "::1", allowFrom: AddressAllowList.parse(allow) });
      try {
        const sock = netConnect(t.port, "::1");
        const result = logonOver(sock, {
          username: "trader",
          password: PASSWORD,
          ms: 10_000,
          until: (r) => r.length > 0,
        });
        if (ok) {
          assert.equal((await result).received[0]?.msgType, MsgType.Logon);
          assert.equal(t.venue.state.health, Health.Live);
        } else {
          const { received, closed } = await result;
          assert.equal(closed, true);
          assert.deepEqual(received, []);
          assert.deepEqual(
            t.refusals.map((r) => r.reason),
            ["address"],
          );
        }
      } finally {
        await t.close();
      }
    }
  });

  it("closes connections beyond maxConnectionsPerAddress, and takes one again once a slot frees", async () => {
    const t = await setup({ maxConnectionsPerAddress: 1 });
    try {
      const first = netConnect(t.port, "127.0.0.1");
      await new Promise((r) => first.once("connect", r));
      const second = await logonOver(netConnect(t.port, "127.0.0.1"), { username: "trader", password: PASSWORD });
      assert.equal(second.closed, true);
      assert.deepEqual(second.received, []);
      assert.deepEqual(
        t.refusals.map((r) => r.reason),
        ["connection_limit"],
      );
      first.destroy();
      await new Promise((r) => setTimeout(r, 100));
      const sock = netConnect(t.port, "127.0.0.1");
      const third = logonOver(sock, { username: "trader", password: PASSWORD, ms: 10_000, until: (r) => r.length > 0 });
      assert.equal((await third).received[0]?.msgType, MsgType.Logon);
    } finally {
      await t.close();
    }
  });
});

describe("Acceptor client certificates (TLS)", () => {
  let dir: string;
  const pem = (name: string) => readFileSync(join(dir, name), "utf8");
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "fixmesh-acceptor-tls-"));
    const sh = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    for (const ca of ["ca", "other-ca"]) {
      sh(
        ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"].concat([
          "-subj",
          `/CN=${ca}`,
          "-keyout",
          `${ca}.key`,
          "-out",
          `${ca}.crt`,
        ]),
      );
    }
    const leaf = (name: string, ca: string, ext: string) => {
      sh(
        ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${name}`].concat([
          "-keyout",
          `${name}.key`,
          "-out",
          `${name}.csr`,
        ]),
      );
      execFileSync("sh", ["-c", `printf '%s' '${ext}' > ${name}.ext`], { cwd: dir });
      sh(
        ["x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial"].concat([
          "-days",
          "2",
          "-out",
          `${name}.crt`,
          "-extfile",
          `${name}.ext`,
        ]),
      );
    };
    leaf("server", "ca", "subjectAltName=DNS:localhost,IP:127.0.0.1");
    leaf("client", "ca", "extendedKeyUsage=clientAuth");
    leaf("stranger", "other-ca", "extendedKeyUsage=clientAuth");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const tlsOpts = () => ({
    cert: pem("server.crt"),
    key: pem("server.key"),
    ca: pem("ca.crt"),
    requestCert: true,
    rejectUnauthorized: true,
  });

  it("refuses a client without a certificate and one from another CA; takes one signed by the CA", async () => {
    const t = await setup({ tls: tlsOpts() });
    try {
      for (const who of [undefined, "stranger"]) {
        const sock = tlsConnect({
          port: t.port,
          host: "127.0.0.1",
          ca: pem("ca.crt"),
          servername: "localhost",
          ...(who !== undefined && { cert: pem(`${who}.crt`), key: pem(`${who}.key`) }),
        });
        const { received, closed } = await logonOver(sock, { username: "trader", password: PASSWORD });
        assert.equal(closed, true, `${who ?? "no certificate"}: closed`);
        assert.deepEqual(received, [], `${who ?? "no certificate"}: no answer`);
      }
      assert.equal(t.requests.length, 0, "no Logon got through the handshake");
      await waitFor(() => (t.acceptor.refusals.get("tls_handshake") ?? 0) >= 2, 3000, "two refused handshakes");
      const sock = tlsConnect({
        port: t.port,
        host: "127.0.0.1",
        ca: pem("ca.crt"),
        servername: "localhost",
        cert: pem("client.crt"),
        key: pem("client.key"),
      });
      const ok = logonOver(sock, { username: "trader", password: PASSWORD, ms: 10_000, until: (r) => r.length > 0 });
      assert.equal((await ok).received[0]?.msgType, MsgType.Logon);
      assert.equal(t.requests[0]?.certificateAuthorized, true);
      assert.equal(t.requests[0]?.certificate?.subject?.CN, "client");
    } finally {
      await t.close();
    }
  });
});

describe("AddressAllowList", () => {
  it("matches IPv4 and IPv6 networks, single addresses and IPv4-mapped IPv6 addresses", () => {
    const l = AddressAllowList.parse(["10.0.0.0/8", "192.168.1.7", "2001:db8::/32", "::1"]);
    assert.equal(l.allows("10.200.3.4"), true);
    assert.equal(l.allows("11.0.0.1"), false);
    assert.equal(l.allows("192.168.1.7"), true);
    assert.equal(l.allows("192.168.1.8"), false);
    assert.equal(l.allows("::ffff:10.1.1.1"), true);
    assert.equal(l.allows("2001:db8:ffff::1"), true);
    assert.equal(l.allows("2001:db9::1"), false);
    assert.equal(l.allows("::1"), true);
    assert.equal(l.allows(undefined), false);
  });

  it("refuses entries that are not addresses, prefixes out of range and networks with host bits set", () => {
    const reason = (cidrs: string[]) => {
      try {
        AddressAllowList.parse(cidrs);
        return "parsed";
      } catch (e) {
        assert.ok(e instanceof AddressListError);
        return e.message;
      }
    };
    assert.match(reason(["10.0.0.0/8", "example.com"]), /^\[1\]: is not an IPv4 or IPv6 address/);
    assert.match(reason(["10.0.0.0/33"]), /prefix length out of 0\.\.32/);
    assert.match(reason(["10.1.2.3/8"]), /host bits set: did you mean 10\.0\.0\.0\/8\?/);
    assert.match(reason(["2001:db8::1/32"]), /did you mean 2001:db8:0:0:0:0:0:0\/32\?/);
    assert.equal(reason(["0.0.0.0/0", "::/0"]), "parsed");
  });
});
