#!/usr/bin/env bash
# The node image: wheels of maildrill and its dependencies made here (this machine's package
# access), then an offline `docker build` on the base image.
#   containers/build-image.sh [BASE] [TAG]   (defaults: maildrill/base:bookworm, maildrill/node:latest)
set -euo pipefail
cd "$(dirname "$0")/.."
BASE="${1:-maildrill/base:bookworm}"
TAG="${2:-maildrill/node:latest}"
CONTEXT=containers/build
rm -rf "$CONTEXT" && mkdir -p "$CONTEXT/wheels"
python3 -m pip wheel -q --disable-pip-version-check -w "$CONTEXT/wheels" . >/dev/null 2>&1 \
  || python3 -m pip wheel --disable-pip-version-check -w "$CONTEXT/wheels" .  # again, to show why
SOURCE="$(python3 -c 'from testbed.runtime.docker_backend import source_hash; print(source_hash())')"
docker build -q --network none --build-arg BASE="$BASE" --label "org.maildrill.source=$SOURCE" \
  -f containers/Dockerfile -t "$TAG" "$CONTEXT" >/dev/null
rm -rf "$CONTEXT"
echo "built $TAG (base $BASE)"
