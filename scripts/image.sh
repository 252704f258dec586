#!/usr/bin/env bash
# Builds the netring-agent image from the Dockerfile with podman, on a base
# image made locally (scripts/base-image.sh): nothing is pulled.
#
#   scripts/image.sh [TAG]        (default localhost/netring-agent:<version>)
#
# Prints the tag. Run it with e.g.
#   podman --runtime runc --cgroup-manager cgroupfs run --rm TAG --version
# Environment: http_proxy/https_proxy, if set, reach apt inside the build
# (podman passes them through by default).
set -euo pipefail
cd "$(dirname "$0")/.."

version="$(sed -n 's/^project(netring VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
tag="${1:-localhost/netring-agent:${version}}"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
base="$(scripts/base-image.sh)"

# chroot isolation and cgroupfs: this machine (and CI's) runs no systemd user
# session and no nested user namespaces, which podman's defaults expect.
podman --cgroup-manager cgroupfs build --isolation=chroot --pull=never \
  --build-arg BASE_IMAGE="$base" \
  --build-arg VERSION="$version" \
  --build-arg REVISION="$revision" \
  --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -t "$tag" -f Dockerfile . >&2
echo "$tag"
