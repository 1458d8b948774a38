import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A throw-away PKI for tests and benchmarks, made with the openssl command line (P-256 keys): a CA, and leaf
 * certificates with URI/DNS/IP SANs, including already expired ones (`days: -1` gives a not-after in the past).
 */
export interface LeafOptions {
  cn?: string;
  /** URI SANs, e.g. `spiffe://fixmesh.test/ns/trading/sa/order-entry`. */
  uris?: string[];
  dns?: string[];
  ips?: string[];
  /** Validity in days from now; negative: expired that many days ago. Default 2. */
  days?: number;
}

export interface Issued {
  certFile: string;
  keyFile: string;
  caFile: string;
}

export class TestPki {
  readonly caFile: string;
  private readonly caKey: string;
  private seq = 0;

  /** A new CA in `dir` (default: a fresh temporary directory). */
  constructor(
    readonly dir: string = mkdtempSync(join(tmpdir(), "fixmesh-pki-")),
    readonly name = "fixmesh test CA",
  ) {
    mkdirSync(dir, { recursive: true });
    this.caFile = join(dir, "ca.crt");
    this.caKey = join(dir, "ca.key");
    openssl([
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      this.caKey,
      "-out",
      this.caFile,
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
    ]);
  }

  /** A leaf certificate signed by this CA, written as `<name>.crt` / `<name>.key` in `dir` (default: the CA's). */
  issue(name: string, o: LeafOptions = {}, dir = this.dir): Issued {
    mkdirSync(dir, { recursive: true });
    const n = ++this.seq;
    const key = join(dir, `${name}.key`);
    const cert = join(dir, `${name}.crt`);
    const csr = join(this.dir, `.${name}-${n}.csr`);
    const ext = join(this.dir, `.${name}-${n}.ext`);
    const sans = [
      ...(o.uris ?? []).map((u) => `URI:${u}`),
      ...(o.dns ?? []).map((d) => `DNS:${d}`),
      ...(o.ips ?? []).map((i) => `IP:${i}`),
    ];
    writeFileSync(
      ext,
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth,clientAuth",
        ...(sans.length > 0 ? [`subjectAltName=${sans.join(",")}`] : []),
      ].join("\n"),
    );
    // Written next to the target and renamed, so a watcher never reads half a file.
    const tmpKey = `${key}.tmp${n}`;
    const tmpCert = `${cert}.tmp${n}`;
    openssl([
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      tmpKey,
      "-out",
      csr,
      "-subj",
      o.cn === undefined ? "/O=fixmesh" : `/CN=${o.cn}`,
    ]);
    openssl([
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      this.caFile,
      "-CAkey",
      this.caKey,
      "-CAcreateserial",
      "-days",
      String(o.days ?? 2),
      "-extfile",
      ext,
      "-out",
      tmpCert,
    ]);
    rmSync(csr, { force: true });
    rmSync(ext, { force: true });
    renameSync(tmpKey, key);
    renameSync(tmpCert, cert);
    return { certFile: cert, keyFile: key, caFile: this.caFile };
  }

  /**
   * A certificate folder as Kubernetes mounts a TLS Secret (`tls.crt`, `tls.key`, `ca.crt`) for `name`; call
   * again with the same folder to rotate it in place.
   */
  folder(dir: string, o: LeafOptions = {}): Issued {
    mkdirSync(dir, { recursive: true });
    const i = this.issue("tls", o, dir);
    writeFileSync(join(dir, "ca.crt.tmp"), execFileSync("cat", [this.caFile]));
    renameSync(join(dir, "ca.crt.tmp"), join(dir, "ca.crt"));
    return { ...i, caFile: join(dir, "ca.crt") };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function openssl(args: string[]): void {
  try {
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString() ?? "";
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || String(e)}`);
  }
}
