#!/usr/bin/env bash
# Builds a stand-in for node:20-bookworm-slim where no container registry is reachable (as on the machines this
# project is developed on, which reach only the npm registry and Debian's mirrors): Debian bookworm (minbase,
# from deb.debian.org with debootstrap) plus this machine's own Node 20 and npm, with the `node` user as uid
# 1000 like the official image. Then: scripts/check-image.sh --base fixmesh-local/node:20-bookworm-slim
#
# Needs root, debootstrap and a running Docker daemon. Where Docker Hub is reachable, do not use this: the
# Dockerfile's default base is the official image.
set -euo pipefail
tag="${1:-fixmesh-local/node:20-bookworm-slim}"
node_bin="$(command -v node)"
npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
case "$("$node_bin" --version)" in v20.* | v22.* | v24.*) ;; *) echo "node 20 or newer needed, found $("$node_bin" --version)" >&2; exit 2 ;; esac
command -v debootstrap >/dev/null || { echo "debootstrap is not installed (apt-get install -y debootstrap)" >&2; exit 2; }
root="$(mktemp -d /tmp/fixmesh-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*
install -m 0755 "$node_bin" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules"
cp -R "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
# This machine's trust store (its egress proxy signs TLS with its own CA), so npm in the build stage reaches
# the registry as it does here. Only in this stand-in: the official base keeps Debian's own.
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt" 2>/dev/null ||
  { mkdir -p "$root/etc/ssl/certs" && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"; }
chroot "$root" groupadd --gid 1000 node
chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["node"]' - "$tag" >/dev/null
docker run --rm "$tag" node --version
echo "built $tag"
