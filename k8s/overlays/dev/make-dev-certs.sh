#!/usr/bin/env bash
# Development only: writes a throw-away CA and the gRPC certificates into grpc-tls/ (git-ignored: no key is ever
# committed), which the dev overlay's secretGenerators read: `connector-grpc-tls` (tls.crt, tls.key, ca.crt) and
# `<app>-grpc-tls` for order-entry, risk and persistence (<app>/tls.crt, <app>/tls.key, ca.crt). Run it once before
# `kubectl apply -k k8s/overlays/dev`; it keeps existing files when all are there, else makes them all anew with a
# new CA (the CA's key is never kept).
# Production: issue these Secrets from your own CA (cert-manager or your PKI; see k8s/README.md, docs/security.md).
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)/grpc-tls"
apps=(order-entry risk persistence)
complete=1
for f in tls.key tls.crt ca.crt; do [ -s "$dir/$f" ] || complete=0; done
for a in "${apps[@]}"; do for f in tls.key tls.crt; do [ -s "$dir/$a/$f" ] || complete=0; done; done
[ "$complete" = 1 ] && exit 0
mkdir -p "$dir"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
  -subj "/CN=fixmesh dev gRPC CA" -keyout "$tmp/ca.key" -out "$dir/ca.crt" 2>/dev/null
# issue <out dir> <CN> <subjectAltName>: a server and client certificate signed by the CA above.
issue() {
  mkdir -p "$1"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
    -keyout "$1/tls.key" -out "$tmp/tls.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$3" >"$tmp/ext"
  openssl x509 -req -in "$tmp/tls.csr" -CA "$dir/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial -days 3650 \
    -extfile "$tmp/ext" -out "$1/tls.crt" 2>/dev/null
  chmod 600 "$1/tls.key"
}
issue "$dir" fixmesh-connector \
  "DNS:connector-venuea,DNS:connector-client7,DNS:*.fixmesh.svc,DNS:*.fixmesh.svc.cluster.local,DNS:localhost,URI:spiffe://fixmesh.dev/ns/fixmesh/sa/connector"
# SANs: the app's Service name (short and in-cluster DNS); the URI names its ServiceAccount for the policy.
for a in "${apps[@]}"; do
  issue "$dir/$a" "fixmesh-$a" \
    "DNS:$a,DNS:$a.fixmesh.svc,DNS:$a.fixmesh.svc.cluster.local,DNS:localhost,URI:spiffe://fixmesh/ns/fixmesh/sa/$a"
done
rm -f "$dir/ca.srl"
echo "wrote $dir/{ca.crt,tls.crt,tls.key} and $dir/{$(IFS=,; echo "${apps[*]}")}/{tls.crt,tls.key}"
