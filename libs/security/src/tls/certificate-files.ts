import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import type { experimental } from "@grpc/grpc-js";
import { SecurityConfigError } from "../errors.js";

type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** Where a TLS identity and its trust anchors are read from. */
export interface CertificatePaths {
  /** PEM certificate chain (leaf first). With `keyFile`: this side's identity. */
  certFile?: string;
  /** PEM private key of `certFile` (unencrypted: Kubernetes Secrets and cert-manager write them so). */
  keyFile?: string;
  /** PEM bundle of the CA certificates that sign the peers' certificates. */
  caFile?: string;
}

export interface CertificateFilesOptions extends CertificatePaths {
  /** How often the files are read again to pick up a rotation. Default 10 s. */
  reloadMs?: number;
  /** Config path of these settings (`grpc.tls`) for error messages. */
  field?: string;
  /** Told about every reload that was applied or refused. */
  onReload?: (event: ReloadEvent) => void;
  now?: () => number;
}

export type ReloadEvent =
  | { ok: true; subject: string; notAfter: string; fingerprint: string }
  | { ok: false; reason: string };

interface Loaded {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
  /** Hash of the three files' bytes: a reload that reads the same bytes changes nothing. */
  digest: string;
  subject: string;
  notAfter: string;
  fingerprint: string;
}

/**
 * A grpc-js CertificateProvider over PEM files, for servers and clients alike. The files are read once at
 * construction (a missing, unreadable, expired or mismatched certificate/key throws SecurityConfigError naming the
 * field), then every `reloadMs` while a server or channel uses them. A rotation is applied only when the new set is
 * whole and consistent: Kubernetes updates a Secret's files one symlink swap at a time and cert-manager may write
 * the certificate before the key, so a half-rotated read (key not matching the certificate, an expired
 * certificate, an empty file) keeps the previous identity and reports why; the next read retries.
 * New TLS handshakes use the new identity; connections already open keep theirs until they close.
 */
export class CertificateFiles implements CertificateProvider {
  private current: Loaded;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private timer: NodeJS.Timeout | null = null;
  private lastRefusal = "";
  private readonly reloadMs: number;
  private readonly field: string;
  private readonly now: () => number;

  constructor(private readonly opts: CertificateFilesOptions) {
    this.field = opts.field ?? "tls";
    this.reloadMs = opts.reloadMs ?? 10_000;
    this.now = opts.now ?? Date.now;
    if ((opts.certFile === undefined) !== (opts.keyFile === undefined)) {
      throw new SecurityConfigError(
        `${this.field}.${opts.certFile === undefined ? "certFile" : "keyFile"}`,
        "certFile and keyFile go together",
      );
    }
    if (opts.certFile === undefined && opts.caFile === undefined) {
      throw new SecurityConfigError(this.field, "give certFile and keyFile, or caFile, or all three");
    }
    const r = this.read();
    if (!("digest" in r)) throw r.error;
    this.current = r;
  }

  get hasIdentity(): boolean {
    return this.current.cert !== undefined;
  }

  get hasCa(): boolean {
    return this.current.ca !== undefined;
  }

  /** The PEM bytes in use now (for node:tls users such as a FIX acceptor or a plain HTTPS client). */
  get pem(): { cert?: Buffer; key?: Buffer; ca?: Buffer } {
    return { cert: this.current.cert, key: this.current.key, ca: this.current.ca };
  }

  /** What the identity in use is: subject, expiry and SHA-256 fingerprint. */
  get identity(): { subject: string; notAfter: string; fingerprint: string } {
    return { subject: this.current.subject, notAfter: this.current.notAfter, fingerprint: this.current.fingerprint };
  }

  /** Reads the files now; applies them when they changed and are consistent. Resolves with what happened. */
  reload(): ReloadEvent | null {
    const r = this.read();
    if (!("digest" in r)) {
      const reason = r.error.message;
      // A refusal repeats every period until the files are fixed: report it once per distinct reason.
      if (reason !== this.lastRefusal) {
        this.lastRefusal = reason;
        const ev: ReloadEvent = { ok: false, reason };
        this.opts.onReload?.(ev);
        return ev;
      }
      return null;
    }
    this.lastRefusal = "";
    if (r.digest === this.current.digest) return null;
    this.current = r;
    for (const l of this.identityListeners) l(this.identityUpdate());
    for (const l of this.caListeners) l(this.caUpdate());
    const ev: ReloadEvent = { ok: true, subject: r.subject, notAfter: r.notAfter, fingerprint: r.fingerprint };
    this.opts.onReload?.(ev);
    return ev;
  }

  /** Stops the periodic reads (they also stop by themselves when no server or channel listens). */
  close(): void {
    this.caListeners.clear();
    this.identityListeners.clear();
    this.stopTimer();
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    this.startTimer();
    process.nextTick(listener, this.caUpdate());
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
    this.maybeStopTimer();
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    this.startTimer();
    process.nextTick(listener, this.identityUpdate());
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
    this.maybeStopTimer();
  }

  private caUpdate(): experimental.CaCertificateUpdate | null {
    return this.current.ca === undefined ? null : { caCertificate: this.current.ca };
  }

  private identityUpdate(): experimental.IdentityCertificateUpdate | null {
    const { cert, key } = this.current;
    return cert === undefined || key === undefined ? null : { certificate: cert, privateKey: key };
  }

  private startTimer(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.reload(), this.reloadMs);
    this.timer.unref();
  }

  private maybeStopTimer(): void {
    if (this.caListeners.size === 0 && this.identityListeners.size === 0) this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private read(): Loaded | { error: SecurityConfigError } {
    try {
      return this.load();
    } catch (e) {
      if (e instanceof SecurityConfigError) return { error: e };
      throw e;
    }
  }

  private load(): Loaded {
    const { certFile, keyFile, caFile } = this.opts;
    const cert = certFile === undefined ? undefined : readPem(certFile, `${this.field}.certFile`);
    const key = keyFile === undefined ? undefined : readPem(keyFile, `${this.field}.keyFile`);
    const ca = caFile === undefined ? undefined : readPem(caFile, `${this.field}.caFile`);
    let subject = "";
    let notAfter = "";
    let fingerprint = "";
    if (cert !== undefined && key !== undefined) {
      const x = parseCert(cert, `${this.field}.certFile`, certFile as string);
      let k: ReturnType<typeof createPrivateKey>;
      try {
        k = createPrivateKey(key);
      } catch (e) {
        throw new SecurityConfigError(`${this.field}.keyFile`, `${keyFile} is not a PEM private key (${errText(e)})`);
      }
      if (!x.checkPrivateKey(k)) {
        throw new SecurityConfigError(
          `${this.field}.keyFile`,
          `${keyFile} is not the private key of the certificate in ${certFile}`,
        );
      }
      const now = this.now();
      if (Date.parse(x.validTo) <= now) {
        throw new SecurityConfigError(`${this.field}.certFile`, `the certificate in ${certFile} expired ${x.validTo}`);
      }
      if (Date.parse(x.validFrom) > now) {
        throw new SecurityConfigError(
          `${this.field}.certFile`,
          `the certificate in ${certFile} is not valid before ${x.validFrom}`,
        );
      }
      subject = x.subject.replaceAll("\n", ", ");
      notAfter = new Date(x.validTo).toISOString();
      fingerprint = x.fingerprint256;
    }
    if (ca !== undefined) parseCert(ca, `${this.field}.caFile`, caFile as string);
    const h = createHash("sha256");
    for (const b of [cert, key, ca]) h.update(b ?? "-").update("\0");
    return { cert, key, ca, digest: h.digest("hex"), subject, notAfter, fingerprint };
  }
}

function readPem(path: string, field: string): Buffer {
  let b: Buffer;
  try {
    b = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : code === "EACCES" ? "is not readable" : errText(e);
    throw new SecurityConfigError(field, `${path} ${why}`);
  }
  if (b.length === 0) throw new SecurityConfigError(field, `${path} is empty`);
  return b;
}

function parseCert(pem: Buffer, field: string, path: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (e) {
    throw new SecurityConfigError(field, `${path} is not a PEM certificate (${errText(e)})`);
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
