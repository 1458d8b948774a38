/**
 * The mutual-TLS set-up of `bench:orders`' `stream-mtls` mode: a throw-away CA made in the run (`TestPki`, openssl),
 * a certificate folder per gRPC server (connector, risk, order-entry: `tls.crt`, `tls.key`, `ca.crt`, the server's
 * DNS name in its certificate), a client certificate for order-entry (its identity at risk and the connector) and
 * one for the benchmark's client, and one authorization policy file shared by the three servers (each checks the
 * grants its own methods need). The YAML lines go into the services' configuration files as a user writes them
 * (docs/security.md; the e2e test `security-grpc-orders.test.ts` runs the same set-up).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ClientTls, clientTls } from "@fixmesh/security";
import { TestPki } from "@fixmesh/security/testing";

export const MTLS_NAMES = {
  connector: "connector.fixmesh.bench",
  risk: "risk.fixmesh.bench",
  orderEntry: "order-entry.fixmesh.bench",
} as const;
const OE_ID = "spiffe://fixmesh.bench/sa/order-entry";
const CLIENT_ID = "spiffe://fixmesh.bench/sa/bench-client";

export interface MtlsSetup {
  /** `grpc:` section of a server on mutual TLS with the policy (`server`: its certificate folder). */
  grpcServer(server: keyof typeof MTLS_NAMES): string;
  /** order-entry's `tls:` block when it dials `server` (its own certificate, the server's name checked). */
  dialTls(server: "connector" | "risk"): string;
  /** The benchmark client's channel to order-entry (call `files.close()` after closing the channel). */
  client(): ClientTls;
}

/** Makes the CA, the certificates and the policy under `dir` (removed with it). */
export function makeMtls(dir: string, session: string): MtlsSetup {
  const pki = new TestPki(join(dir, "pki"));
  const folder = (s: keyof typeof MTLS_NAMES) => join(dir, `${s}-tls`);
  for (const s of Object.keys(MTLS_NAMES) as Array<keyof typeof MTLS_NAMES>) {
    pki.folder(folder(s), { dns: [MTLS_NAMES[s]] });
  }
  const oe = pki.issue("order-entry", { uris: [OE_ID] });
  const me = pki.issue("bench-client", { uris: [CLIENT_ID] });
  const policyFile = join(dir, "policy.yaml");
  const grants = [`    trade: [{ sessions: ["${session}"], accounts: ["*"] }]`, `    read: ["*"]`, `    stream: ["*"]`];
  writeFileSync(
    policyFile,
    ["version: 1", "principals:", `  - match: ${OE_ID}`, ...grants, `  - match: ${CLIENT_ID}`, ...grants, ""].join(
      "\n",
    ),
  );
  return {
    grpcServer: (s) => {
      const f = folder(s);
      return [
        "grpc:",
        "  host: 127.0.0.1",
        "  port: 0",
        `  tls: { certFile: ${join(f, "tls.crt")}, keyFile: ${join(f, "tls.key")}, caFile: ${join(f, "ca.crt")} }`,
        `  auth: { policyFile: ${policyFile} }`,
      ].join("\n");
    },
    dialTls: (s) =>
      `tls: { caFile: ${pki.caFile}, certFile: ${oe.certFile}, keyFile: ${oe.keyFile}, serverName: ${MTLS_NAMES[s]} }`,
    client: () => clientTls({ ...me, serverName: MTLS_NAMES.orderEntry }),
  };
}
