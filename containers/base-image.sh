#!/usr/bin/env bash
# Build the base image offline from any registry: a minimal Debian bookworm root file system made
# with debootstrap (from the machine's own Debian mirror), imported with `docker import`. Its
# python3 is 3.11, like python:3.11-slim, which the Dockerfile uses where a registry exists.
#   containers/base-image.sh [TAG]     (default maildrill/base:bookworm; FORCE=1 rebuilds)
set -euo pipefail
TAG="${1:-maildrill/base:bookworm}"
# the mirror apt uses here: deb822 (*.sources) first, then one-line "deb [opts] URI bookworm ..." lists
# (cat, not awk FILES: mawk stops at the first file that does not exist)
MIRROR="${MIRROR:-$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ && /debian\/?$/ {print $2; exit}' || true)}"
MIRROR="${MIRROR:-$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
  | awk '$1 == "deb" { sub(/\[[^]]*\] */, ""); if ($2 ~ /debian\/?$/) { print $2; exit } }' || true)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$TAG" >/dev/null 2>&1 && [ "${FORCE:-0}" != 1 ]; then
  echo "base image $TAG exists (FORCE=1 to rebuild)"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "base-image: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }

ROOT="$(mktemp -d /tmp/maildrill-rootfs.XXXXXX)"
trap 'rm -rf "$ROOT"' EXIT
echo "debootstrap bookworm from $MIRROR ..."
debootstrap --variant=minbase \
  --include=python3,python3-venv,iproute2,iputils-arping,procps,ca-certificates \
  bookworm "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 || { tail -20 "$ROOT.log" >&2; rm -f "$ROOT.log"; exit 1; }
rm -f "$ROOT.log"
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
tar -C "$ROOT" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' - "$TAG" >/dev/null
echo "built $TAG"
