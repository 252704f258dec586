#!/usr/bin/env bash
# Makes the Debian 12 base image the Dockerfile builds FROM, locally: this
# machine cannot pull from a registry, so the image is bootstrapped from the
# Debian mirror apt already uses here and imported into podman's storage.
#
#   scripts/base-image.sh [NAME]     (default localhost/netring/debian:bookworm)
#
# Idempotent: an existing image of that name is kept. Prints the name.
# Environment: NETRING_DEBIAN_MIRROR overrides the mirror read from /etc/apt.
set -euo pipefail

name="${1:-localhost/netring/debian:bookworm}"

if podman image exists "$name"; then
  echo "$name"
  exit 0
fi

for tool in debootstrap podman; do
  command -v "$tool" >/dev/null || {
    echo "base-image.sh: $tool missing (scripts/deps.sh installs it)" >&2
    exit 1
  }
done

# The mirror: the first Debian URI of the host's apt sources (deb822 or
# one-line format), so the image reaches exactly what the host's apt reaches.
mirror="${NETRING_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}')"
fi
if [ -z "$mirror" ]; then
  mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}')"
fi
if [ -z "$mirror" ]; then
  echo "base-image.sh: no bookworm mirror found in /etc/apt; set NETRING_DEBIAN_MIRROR" >&2
  exit 1
fi

work="$(mktemp -d /var/tmp/netring-rootfs.XXXXXX)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"

echo "base-image.sh: debootstrap bookworm from $mirror" >&2
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -20 "$work/debootstrap.log" >&2
  exit 1
}

# Same suites as the host (updates and security too), so packages inside the
# build match the versions the host builds and tests with.
if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
  rm -f "$root/etc/apt/sources.list"
  for f in /etc/apt/sources.list.d/*.sources; do
    grep -q 'bookworm' "$f" && cp "$f" "$root/etc/apt/sources.list.d/"
  done
fi
# A frozen mirror snapshot serves Release files past their Valid-Until.
if [ "$(apt-config dump Acquire::Check-Valid-Until)" = 'Acquire::Check-Valid-Until "false";' ]; then
  echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/99netring-snapshot"
fi
# What the slim images do: no docs, no man pages, no caches left in layers.
cat >"$root/etc/dpkg/dpkg.cfg.d/99netring-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
# debootstrap unpacked before that rule existed: apply it to what is there.
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/*

tar --numeric-owner -C "$root" -c . |
  podman import --change 'CMD ["/bin/bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$name" >/dev/null
echo "$name"
