#!/usr/bin/env bash
# Development only: writes a throw-away CA and the connectors' gRPC certificate into grpc-tls/ (git-ignored: no key
# is ever committed), which the dev overlay's secretGenerator `connector-grpc-tls` reads. Run it once before
# `kubectl apply -k k8s/overlays/dev`; it keeps existing files (delete grpc-tls/ to make new ones).
# Production: issue the Secret `connector-grpc-tls` from your own CA (cert-manager or your PKI; see docs/security.md).
set -euo pipefail
dir="$(cd "$(dirname "$0")" && pwd)/grpc-tls"
[ -s "$dir/tls.key" ] && [ -s "$dir/tls.crt" ] && [ -s "$dir/ca.crt" ] && exit 0
mkdir -p "$dir"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
  -subj "/CN=fixmesh dev gRPC CA" -keyout "$tmp/ca.key" -out "$dir/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=fixmesh-connector" \
  -keyout "$dir/tls.key" -out "$tmp/tls.csr" 2>/dev/null
printf 'subjectAltName=DNS:connector-venuea,DNS:connector-client7,DNS:*.fixmesh.svc,DNS:*.fixmesh.svc.cluster.local,DNS:localhost,URI:spiffe://fixmesh.dev/ns/fixmesh/sa/connector\nextendedKeyUsage=serverAuth,clientAuth\n' >"$tmp/ext"
openssl x509 -req -in "$tmp/tls.csr" -CA "$dir/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial -days 3650 \
  -extfile "$tmp/ext" -out "$dir/tls.crt" 2>/dev/null
chmod 600 "$dir/tls.key"
echo "wrote $dir/{ca.crt,tls.crt,tls.key}"
