/**
 * cliChannel: the command-line tools' flags and variables → grpc-js credentials. Real TLS servers on loopback with
 * certificates made by openssl: TLS, mutual TLS and a bearer token arriving as `authorization` metadata; a client
 * without a certificate refused by an mTLS server; each bad setting refused naming the flag (or the variable).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { type CliChannel, CliSecurityError, cliChannel, explainCallFailure } from "./cli-client.js";
import { type Issued, TestPki } from "./testing/pki.js";
import { serverTls } from "./tls/credentials.js";

const T = { timeout: 20_000 };
const SERVER_NAME = "risk.fixmesh.test";

/** One unary method that answers with what the server saw: the client certificate's CN and the authorization. */
const WHO = {
  who: {
    path: "/test.Who/Who",
    requestStream: false,
    responseStream: false,
    requestSerialize: (v: Buffer) => v,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (v: string) => Buffer.from(v),
    responseDeserialize: (b: Buffer) => b.toString(),
  },
} satisfies grpc.ServiceDefinition;

describe("cliChannel", () => {
  const dir = mkdtempSync(join(tmpdir(), "fixmesh-cli-client-"));
  let pki: TestPki;
  let client: Issued;
  let server: grpc.Server;
  let mtlsPort = 0;
  let tlsPort = 0;
  const open: Array<() => void> = [];
  const env = {}; // no FIXMESH_TLS_* from the environment the tests run in

  async function serve(clientCert: "require" | "optional"): Promise<number> {
    const t = serverTls({ ...pki.folder(join(dir, `server-${clientCert}`), { dns: [SERVER_NAME] }), clientCert });
    open.push(() => t.files.close());
    return new Promise((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", t.credentials, (err, p) => (err ? reject(err) : resolve(p))),
    );
  }

  function call(port: number, ch: CliChannel): Promise<string> {
    const Client = grpc.makeGenericClientConstructor(WHO, "Who");
    const c = new Client(`127.0.0.1:${port}`, ch.credentials, ch.options);
    open.push(() => {
      c.close();
      ch.close();
    });
    return new Promise((resolve, reject) =>
      (c as unknown as { who: grpc.requestCallback<string> & ((...a: unknown[]) => void) }).who(
        Buffer.alloc(0),
        { deadline: Date.now() + 5000 },
        (err: grpc.ServiceError | null, v?: string) => (err ? reject(err) : resolve(v as string)),
      ),
    );
  }

  before(async () => {
    pki = new TestPki(join(dir, "pki"));
    client = pki.issue("ops", { cn: "ops" });
    server = new grpc.Server();
    server.addService(WHO, {
      who: (c: grpc.ServerUnaryCall<Buffer, string>, cb: grpc.sendUnaryData<string>) => {
        const cert = c.getAuthContext().sslPeerCertificate;
        cb(
          null,
          JSON.stringify({ cn: cert?.subject?.CN ?? null, authorization: c.metadata.get("authorization")[0] ?? null }),
        );
      },
    });
    mtlsPort = await serve("require");
    tlsPort = await serve("optional");
  });

  after(() => {
    for (const c of open) c();
    server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  it("no flags: plaintext", () => {
    const ch = cliChannel({}, { env });
    assert.equal(ch.mode, "plaintext");
    ch.close();
  });

  it("mutual TLS from the flags: the server sees the client certificate; the server name is checked", T, async () => {
    const flags = {
      "tls-ca": pki.caFile,
      "tls-cert": client.certFile,
      "tls-key": client.keyFile,
      "tls-server-name": SERVER_NAME,
    };
    const ch = cliChannel(flags, { env });
    assert.equal(ch.mode, "mtls");
    assert.deepEqual(JSON.parse(await call(mtlsPort, ch)), { cn: "ops", authorization: null });
    // The same files with a name the server's certificate does not carry: refused by the client.
    await assert.rejects(
      call(mtlsPort, cliChannel({ ...flags, "tls-server-name": "other.test" }, { env })),
      (e) => (e as grpc.ServiceError).code === grpc.status.UNAVAILABLE,
    );
  });

  it(
    "the same from FIXMESH_TLS_* variables, relative paths against cwd; a flag wins over its variable",
    T,
    async () => {
      const ch = cliChannel(
        { "tls-server-name": SERVER_NAME },
        {
          cwd: join(dir, "pki"),
          env: {
            FIXMESH_TLS_CA: "ca.crt",
            FIXMESH_TLS_CERT: "ops.crt",
            FIXMESH_TLS_KEY: "ops.key",
            FIXMESH_TLS_SERVER_NAME: "ignored.test",
          },
        },
      );
      assert.equal(JSON.parse(await call(mtlsPort, ch)).cn, "ops");
    },
  );

  it("a bearer token from --token-file goes as `authorization` over TLS", T, async () => {
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "eyJhbGciOiJFUzI1NiJ9.e30.c2ln\n");
    const ch = cliChannel(
      { "tls-ca": pki.caFile, "tls-server-name": SERVER_NAME, "token-file": tokenFile },
      { env: {} },
    );
    assert.equal(ch.mode, "tls+token");
    assert.deepEqual(JSON.parse(await call(tlsPort, ch)), {
      cn: null,
      authorization: "Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln",
    });
  });

  it("without a client certificate an mTLS server refuses the connection", T, async () => {
    const ch = cliChannel({ "tls-ca": pki.caFile, "tls-server-name": SERVER_NAME }, { env });
    assert.equal(ch.mode, "tls");
    const e = await call(mtlsPort, ch).then(
      () => assert.fail("connected"),
      (err: grpc.ServiceError) => err,
    );
    assert.equal(e.code, grpc.status.UNAVAILABLE);
    // Said in the words of the flags.
    assert.match(explainCallFailure(e, ch.mode) ?? "", /requires a client certificate .*--tls-cert and --tls-key/);
    // And a plaintext client against the TLS port.
    const plain = await call(tlsPort, cliChannel({}, { env })).then(
      () => assert.fail("connected"),
      (err: grpc.ServiceError) => err,
    );
    assert.match(explainCallFailure(plain, "plaintext") ?? "", /give --tls-ca/);
    assert.equal(explainCallFailure({ code: grpc.status.NOT_FOUND, message: "x" }, "tls"), undefined);
  });

  it("bad settings are refused naming the flag, or the variable that set it", () => {
    const refused = (flags: Record<string, string>, e: Record<string, string> = {}) => {
      try {
        cliChannel(flags, { env: e }).close();
      } catch (err) {
        assert.ok(err instanceof CliSecurityError, String(err));
        return err.message;
      }
      return assert.fail("accepted");
    };
    const missing = join(dir, "nope.crt");
    assert.equal(refused({ "tls-ca": missing }), `--tls-ca: no such file ${missing}`);
    assert.equal(
      refused({ "tls-ca": pki.caFile }, { FIXMESH_TLS_CERT: missing, FIXMESH_TLS_KEY: client.keyFile }),
      `--tls-cert (from FIXMESH_TLS_CERT): no such file ${missing}`,
    );
    assert.match(refused({ "tls-ca": pki.caFile, "tls-cert": client.certFile }), /^--tls-key: is required/);
    assert.match(
      refused({ "token-file": client.certFile }),
      /^--tls-ca: is required with --token-file: a bearer token is only sent over TLS/,
    );
    assert.match(
      refused({ "tls-cert": client.certFile, "tls-key": client.keyFile }),
      /^--tls-ca: is required with --tls-cert/,
    );
    assert.match(refused({ "tls-ca": dir }), /^--tls-ca: .* is not a file/);
    // A key that is not the certificate's: the library's check, reported on the flag.
    const other = pki.issue("other", { cn: "other" });
    assert.match(
      refused({ "tls-ca": pki.caFile, "tls-cert": client.certFile, "tls-key": other.keyFile }),
      /^--tls-(cert|key): /,
    );
    const empty = join(dir, "empty-token");
    writeFileSync(empty, "\n");
    assert.equal(refused({ "tls-ca": pki.caFile, "token-file": empty }), `--token-file: ${empty} is empty`);
  });
});
