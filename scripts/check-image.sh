#!/usr/bin/env bash
# Builds the image and checks what production relies on: it runs as a non-root uid, with a read-only root
# filesystem, every capability dropped and no privilege escalation, and the platform works inside it (the
# embedded stack starts, an order placed with the CLI fills, its transcript is stored). Needs a Docker daemon.
#
#   scripts/check-image.sh                 # base: node:20-bookworm-slim from Docker Hub
#   scripts/check-image.sh --base IMAGE    # another Node 20 base, e.g. from scripts/image-base-offline.sh
#   scripts/check-image.sh --no-build      # check the image already tagged (--tag, default fixmesh:check)
#
# Not part of `.ci/run`: building the image takes minutes and needs a daemon.
set -euo pipefail
cd "$(dirname "$0")/.."
base=""
tag="fixmesh:check"
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v docker >/dev/null && docker info >/dev/null 2>&1 || { echo "no Docker daemon" >&2; exit 2; }

args=(--network host -t "$tag")
[ -n "$base" ] && args+=(--build-arg "NODE_IMAGE=$base")
if [ "$build" = 1 ]; then
  echo "== docker build ${args[*]} ."
  DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}" docker build "${args[@]}" . >/tmp/fixmesh-image-build.log 2>&1 ||
    { tail -30 /tmp/fixmesh-image-build.log; exit 1; }
fi

name="fixmesh-image-check-$$"
cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; docker logs "$name" 2>&1 | tail -20 >&2 || true; exit 1; }
run=(--read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges)

uid="$(docker run --rm "${run[@]}" --entrypoint id "$tag" -u)"
[ "$uid" != "0" ] || fail "the image runs as root"
echo "ok  runs as uid $uid"
if docker run --rm "${run[@]}" --entrypoint sh "$tag" -c 'touch /app/x' 2>/dev/null; then fail "the root filesystem is writable"; fi
echo "ok  root filesystem read-only"
docker run --rm "${run[@]}" "$tag" help >/dev/null || fail "fixmesh help"
echo "ok  fixmesh help"

docker run -d --name "$name" "${run[@]}" "$tag" start --data /tmp/fixmesh --quiet >/dev/null
cli() { docker exec "$name" node apps/cli/dist/main.js "$@"; }
# shows PATTERN: the CLI's output (all of it read first: grep -q would cut the pipe, and pipefail fail it) holds it
shows() { local pattern="$1" out; shift; out="$(cli "$@" 2>/dev/null)" || return 1; grep -q -- "$pattern" <<<"$out"; }
for _ in $(seq 1 90); do
  if cli order list --json >/dev/null 2>&1; then break; fi
  [ "$(docker inspect -f "{{.State.Running}}" "$name")" = true ] || fail "fixmesh start exited"
  sleep 1
done
cli order list --json >/dev/null || fail "order-entry did not answer within 90 s"
echo "ok  fixmesh start serves"
cli order submit --session 'FIX.4.4:CLIENT->VENUE' --account ACC1 --symbol IBM --side buy --qty 100 --price 100.5 --json \
  >/tmp/fixmesh-image-order.json || fail "order submit"
for _ in $(seq 1 30); do
  if shows ORDER_STATUS_FILLED order list --json; then break; fi
  sleep 1
done
shows ORDER_STATUS_FILLED order list --json || fail "the order did not fill"
echo "ok  an order filled"
for _ in $(seq 1 30); do
  if shows "|35=8|" audit transcript --raw --session 'FIX.4.4:CLIENT->VENUE'; then break; fi
  sleep 1
done
shows "|35=8|" audit transcript --raw --session 'FIX.4.4:CLIENT->VENUE' || fail "the transcript holds no ExecutionReport"
echo "ok  the transcript holds the fill"
docker stop -t 20 "$name" >/dev/null
code="$(docker inspect -f '{{.State.ExitCode}}' "$name")"
[ "$code" = "0" ] || fail "fixmesh start exited $code on SIGTERM"
echo "ok  stopped cleanly on SIGTERM"
echo "image $tag: all checks passed"
