/**
 * Private Redis, NATS and PostgreSQL servers for the security tests, each on its own free port (never 6379, 4222 or
 * 5432) with TLS certificates from a throw-away CA and authentication on: Redis with an ACL user and password (the
 * `default` user off), NATS with a user and password and JetStream, PostgreSQL with SCRAM-SHA-256 over TLS only.
 * Each is a child process of the test, stopped by its PID.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer, connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { type GrpcClientOf, SessionHealth, type SessionService } from "@fixmesh/contracts";
import { formatUtcTimestamp, MsgType, Tag } from "@fixmesh/fix";
import { TestPki } from "@fixmesh/security/testing";
import { SESSION } from "./trace-harness.js";

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function waitPort(port: number, ms: number, what: string, child?: ChildProcess): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (child !== undefined && child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = netConnect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`${what} did not listen on ${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise((r) => child.once("exit", r));
  process.kill(child.pid, "SIGTERM");
  const t = setTimeout(
    () => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, "SIGKILL"),
    5000,
  );
  await exited;
  clearTimeout(t);
}

/** The throw-away CA and the servers' certificate (CN localhost, SANs localhost and 127.0.0.1). */
export class InfraPki {
  readonly pki = new TestPki();
  readonly server = this.pki.issue("server", { cn: "localhost", dns: ["localhost"], ips: ["127.0.0.1"] });
  /** Another CA: a client trusting only it must refuse the servers. */
  readonly otherCa = new TestPki();
  get dir(): string {
    return this.pki.dir;
  }
  remove(): void {
    this.pki.remove();
    this.otherCa.remove();
  }
}

export interface RedisServer {
  port: number;
  url: string;
  user: string;
  stop(): Promise<void>;
}

/** redis-server with TLS only (`port 0`, `tls-port`), `default` off and one ACL user with `password`. */
export async function startTlsRedis(pki: InfraPki, user: string, password: string): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "fixmesh-redis-tls-"));
  const conf = join(dir, "redis.conf");
  writeFileSync(
    conf,
    [
      "port 0",
      `tls-port ${port}`,
      "bind 127.0.0.1",
      `tls-cert-file ${pki.server.certFile}`,
      `tls-key-file ${pki.server.keyFile}`,
      `tls-ca-cert-file ${pki.server.caFile}`,
      "tls-auth-clients no",
      'save ""',
      "appendonly no",
      `dir ${dir}`,
      "user default off",
      `user ${user} on >${password} ~* &* +@all`,
    ].join("\n"),
    { mode: 0o600 },
  );
  const child = spawn("redis-server", [conf], { stdio: ["ignore", "ignore", "pipe"] });
  await waitPort(port, 10_000, "redis-server", child);
  return {
    port,
    url: `rediss://127.0.0.1:${port}`,
    user,
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface NatsServer {
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** nats-server with TLS required, one user with `password`, and JetStream in a directory of its own. */
export function startTlsNats(pki: InfraPki, user: string, password: string): Promise<NatsServer> {
  return startTlsNatsWith(pki, `authorization { user: "${user}", password: "${password}" }`);
}

/** nats-server with TLS required, this `authorization { … }` block, and JetStream in a directory of its own. */
export async function startTlsNatsWith(pki: InfraPki, authorization: string): Promise<NatsServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "fixmesh-nats-tls-"));
  const conf = join(dir, "nats.conf");
  writeFileSync(
    conf,
    [
      `listen: "127.0.0.1:${port}"`,
      `jetstream { store_dir: "${join(dir, "js")}", max_memory_store: 64MB, max_file_store: 256MB }`,
      `tls { cert_file: "${pki.server.certFile}", key_file: "${pki.server.keyFile}", timeout: 5 }`,
      authorization,
    ].join("\n"),
    { mode: 0o600 },
  );
  const bin = process.env.NATS_SERVER ?? "/usr/sbin/nats-server";
  const child = spawn(bin, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  await waitPort(port, 10_000, "nats-server", child);
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A NATS user nkey pair made with node:crypto (ed25519), encoded as the nkeys library does: base32 of prefix
 * byte(s), key, CRC-16/XMODEM (little-endian). `seed` is what a client keeps (`SU…`), `publicKey` what the server
 * lists (`U…`).
 */
export function userNkey(): { seed: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const rawSeed = privateKey.export({ format: "der", type: "pkcs8" }).subarray(-32);
  const rawPub = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  const USER = 20 << 3;
  const SEED = 18 << 3;
  const encode = (prefix: number[], payload: Buffer) => {
    const body = Buffer.concat([Buffer.from(prefix), payload]);
    const crc = Buffer.alloc(2);
    crc.writeUInt16LE(crc16(body));
    return base32(Buffer.concat([body, crc]));
  };
  return {
    seed: encode([SEED | (USER >> 5), (USER & 31) << 3], rawSeed),
    publicKey: encode([USER], rawPub),
  };
}

function crc16(bytes: Buffer): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

function base32(bytes: Buffer): string {
  const A = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  let out = "";
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += A[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += A[(value << (5 - bits)) & 31];
  return out;
}

export interface PgServer {
  port: number;
  user: string;
  database: string;
  stop(): Promise<void>;
}

/**
 * A private PostgreSQL cluster: initdb as the postgres user in a temporary directory, SCRAM-SHA-256 for every
 * role, TLS on, and pg_hba.conf accepting only `hostssl … scram-sha-256` from 127.0.0.1. Throws (with the reason)
 * where that cannot be done (no initdb, no postgres user).
 */
export async function startTlsPostgres(pki: InfraPki, password: string): Promise<PgServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "fixmesh-pg-tls-"));
  const data = join(dir, "data");
  const pwFile = join(dir, "pw");
  const pgUid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const pgGid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  chownSync(dir, pgUid, pgGid);
  chownSync(pwFile, pgUid, pgGid);
  const asPostgres = (cmd: string, args: string[]) =>
    execFileSync("runuser", ["-u", "postgres", "--", cmd, ...args], { stdio: ["ignore", "pipe", "pipe"], cwd: dir });
  asPostgres("initdb", ["-D", data, "-U", "postgres", "--auth=scram-sha-256", `--pwfile=${pwFile}`, "-E", "UTF8"]);
  rmSync(pwFile);
  // The server's key must be owned by the server's user and not readable by others.
  for (const [from, to] of [
    [pki.server.certFile, "server.crt"],
    [pki.server.keyFile, "server.key"],
  ] as const) {
    copyFileSync(from, join(data, to));
    chownSync(join(data, to), pgUid, pgGid);
    chmodSync(join(data, to), 0o600);
  }
  writeFileSync(
    join(data, "postgresql.conf"),
    `${readFileSync(join(data, "postgresql.conf"), "utf8")}
port = ${port}
listen_addresses = '127.0.0.1'
unix_socket_directories = '${dir}'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
password_encryption = 'scram-sha-256'
fsync = off
`,
  );
  writeFileSync(join(data, "pg_hba.conf"), "hostssl all all 127.0.0.1/32 scram-sha-256\n");
  mkdirSync(join(dir, "log"), { recursive: true });
  chownSync(join(dir, "log"), pgUid, pgGid);
  asPostgres("pg_ctl", ["-D", data, "-l", join(dir, "log", "pg.log"), "-w", "-t", "30", "start"]);
  const pid = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
  return {
    port,
    user: "postgres",
    database: "postgres",
    async stop() {
      try {
        process.kill(pid, "SIGINT"); // fast shutdown of the postmaster we started
        const end = Date.now() + 15_000;
        while (Date.now() < end) {
          try {
            process.kill(pid, 0);
          } catch {
            break;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What the Redis commands below need of an ioredis client. */
interface RedisDumpClient {
  keys(pattern: string): Promise<string[]>;
  type(key: string): Promise<string>;
  getBuffer(key: string): Promise<Buffer | null>;
  hgetallBuffer(key: string): Promise<Record<string, Buffer>>;
  lrangeBuffer(key: string, a: number, b: number): Promise<Buffer[]>;
  zrangeBuffer(key: string, a: number, b: number): Promise<Buffer[]>;
  smembersBuffer(key: string): Promise<Buffer[]>;
  xrangeBuffer(key: string, a: string, b: string): Promise<Array<[Buffer, Buffer[]]>>;
}

/** Every value under `pattern`, whatever its type, as latin1 text (keys too): what a scan for secrets reads. */
export async function dumpRedis(client: RedisDumpClient, pattern: string): Promise<string> {
  const parts: string[] = [];
  const text = (b: Buffer | null | undefined) => (b === null || b === undefined ? "" : b.toString("latin1"));
  for (const k of await client.keys(pattern)) {
    parts.push(k);
    switch (await client.type(k)) {
      case "string":
        parts.push(text(await client.getBuffer(k)));
        break;
      case "hash":
        for (const [f, v] of Object.entries(await client.hgetallBuffer(k))) parts.push(f, text(v));
        break;
      case "list":
        for (const v of await client.lrangeBuffer(k, 0, -1)) parts.push(text(v));
        break;
      case "zset":
        for (const v of await client.zrangeBuffer(k, 0, -1)) parts.push(text(v));
        break;
      case "set":
        for (const v of await client.smembersBuffer(k)) parts.push(text(v));
        break;
      case "stream":
        for (const [id, fields] of await client.xrangeBuffer(k, "-", "+")) parts.push(text(id), ...fields.map(text));
        break;
    }
  }
  return parts.join("\n");
}

/** Log lines, as a log file would hold them. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    for (const l of chunk.toString("utf8").split("\n")) if (l !== "") this.lines.push(l);
    cb();
  }
  get text(): string {
    return this.lines.join("\n");
  }
}

const str = (tag: number, value: string) => ({ tag, value: { case: "stringValue" as const, value } });
export function order(clOrdId: string) {
  return {
    sessionId: SESSION,
    msgType: MsgType.NewOrderSingle,
    fields: [
      str(Tag.ClOrdID, clOrdId),
      str(Tag.Symbol, "IBM"),
      str(Tag.Side, "1"),
      str(Tag.TransactTime, formatUtcTimestamp(Date.now())),
      str(Tag.OrderQty, "100"),
      str(Tag.OrdType, "2"),
      str(Tag.Price, "100"),
    ],
  };
}

export async function waitLive(rpc: GrpcClientOf<typeof SessionService>): Promise<void> {
  const end = Date.now() + 20_000;
  for (;;) {
    const { session } = await rpc.getSession({ sessionId: SESSION }, { deadline: Date.now() + 2000 });
    if (session?.health === SessionHealth.LIVE) return;
    if (Date.now() > end) throw new Error("the connector's session never became LIVE");
    await new Promise((r) => setTimeout(r, 50));
  }
}
