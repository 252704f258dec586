# Sourced by scripts/kernel-matrix.sh: Debian packages for the guest, fetched
# with `apt-get download` from the configured mirror and unpacked with
# `dpkg-deb -x` into a cache directory. Nothing is installed on the host.
#   kmatrix_unpack PACKAGE        -> prints the unpacked tree's directory
#   kmatrix_kernel META_PACKAGE   -> sets KM_KERNEL_PKG, KM_KERNEL_VERSION,
#                                    KM_KERNEL_RELEASE, KM_KERNEL_ROOT, KM_VMLINUZ
KM_CACHE=${NETRING_KERNEL_CACHE:-/var/cache/netring/kernel-matrix}

_km_candidate() {  # PACKAGE -> the version apt would install
  apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}'
}

kmatrix_unpack() {
  local pkg=$1 ver dir deb
  ver=$(_km_candidate "$pkg")
  if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
    echo "kernel-matrix: apt knows no candidate for $pkg (run apt-get update)" >&2
    return 1
  fi
  dir=$KM_CACHE/$pkg/${ver//:/_}
  if [ ! -f "$dir/.unpacked" ]; then
    mkdir -p "$KM_CACHE/deb" "$dir"
    # apt's sandbox user cannot write into root's cache directory.
    # A stale package list may name a version the mirror no longer has.
    (cd "$KM_CACHE/deb" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver") >&2 ||
      { apt-get update -qq >&2 && ver=$(_km_candidate "$pkg") && dir=$KM_CACHE/$pkg/${ver//:/_} && mkdir -p "$dir" &&
        (cd "$KM_CACHE/deb" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver") >&2; } || return 1
    deb=$(ls "$KM_CACHE/deb/${pkg}_"*"${ver##*:}"_*.deb | head -n1)
    rm -rf "$dir/root"
    dpkg-deb -x "$deb" "$dir/root" || return 1
    touch "$dir/.unpacked"
  fi
  echo "$dir"
}

kmatrix_kernel() {
  local meta=$1 dir
  KM_KERNEL_PKG=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
  [ -n "$KM_KERNEL_PKG" ] || {
    echo "kernel-matrix: cannot resolve $meta to a kernel image package (run apt-get update)" >&2
    return 1
  }
  KM_KERNEL_VERSION=$(_km_candidate "$KM_KERNEL_PKG")
  dir=$(kmatrix_unpack "$KM_KERNEL_PKG") || return 1
  KM_KERNEL_ROOT=$dir/root
  KM_KERNEL_RELEASE=$(basename "$(ls -d "$KM_KERNEL_ROOT"/lib/modules/*/ | head -n1)")
  KM_VMLINUZ=$KM_KERNEL_ROOT/boot/vmlinuz-$KM_KERNEL_RELEASE
  [ -f "$KM_VMLINUZ" ] || {
    echo "kernel-matrix: $KM_KERNEL_PKG has no $KM_VMLINUZ" >&2
    return 1
  }
  # The package ships no modules.dep (its postinst makes it).
  [ -f "$KM_KERNEL_ROOT/lib/modules/$KM_KERNEL_RELEASE/modules.dep" ] ||
    depmod -b "$KM_KERNEL_ROOT" "$KM_KERNEL_RELEASE"
}

# kmatrix_initramfs OUT_FILE: busybox, the virtio/virtiofs modules of the
# kernel set up by kmatrix_kernel (in dependency order), and initramfs_init.sh
# as /init.
kmatrix_initramfs() {
  local out=$1 bb tree m
  bb=$(kmatrix_unpack busybox-static) || return 1
  tree=$(mktemp -d /tmp/netring-kmatrix-initramfs.XXXXXX)
  mkdir -p "$tree"/{bin,dev,proc,sys,modules}
  cp "$bb/root/bin/busybox" "$tree/bin/busybox"
  cp "$(dirname "${BASH_SOURCE[0]}")/initramfs_init.sh" "$tree/init"
  chmod +x "$tree/init"
  for m in virtio_pci virtiofs; do
    modprobe -d "$KM_KERNEL_ROOT" -S "$KM_KERNEL_RELEASE" --show-depends "$m" || return 1
  done | awk '$1 == "insmod" && !seen[$2]++ {print $2}' | while read -r m; do
    cp "$m" "$tree/modules/"
    basename "$m"
  done >"$tree/modules/order"
  [ -s "$tree/modules/order" ] || {
    echo "kernel-matrix: no virtio modules found in $KM_KERNEL_PKG" >&2
    return 1
  }
  (cd "$tree" && find . | "$bb/root/bin/busybox" cpio -o -H newc 2>/dev/null) | gzip -1 >"$out"
  rm -rf "$tree"
}
