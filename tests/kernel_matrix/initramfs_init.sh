#!/bin/busybox sh
# /init of the kernel matrix's initramfs (busybox from Debian's busybox-static).
# Loads the virtio and virtiofs modules of the kernel under test, mounts the
# host's root file system read-only (virtiofs tag "hostroot") as the new root
# with tmpfs where tests write, the results share (tag "results", the only
# writable host directory) at /run/kmatrix, and hands over to the guest
# script named by kmatrix.init= on the kernel command line.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

die() {
  echo "kmatrix-init: $*"
  echo o >/proc/sysrq-trigger
  sleep 60
}

while read -r m; do
  insmod "/modules/$m" || die "insmod $m failed"
done </modules/order

guest_init=""
for arg in $(cat /proc/cmdline); do
  case "$arg" in kmatrix.init=*) guest_init=${arg#kmatrix.init=} ;; esac
done
[ -n "$guest_init" ] || die "no kmatrix.init= on the kernel command line"

mkdir -p /newroot
mount -t virtiofs -o ro hostroot /newroot || die "cannot mount the host's root (virtiofs tag hostroot)"
for d in tmp run var/tmp; do
  mount -t tmpfs -o mode=1777 tmpfs "/newroot/$d" || die "tmpfs on /$d"
done
mkdir -p /newroot/run/kmatrix
mount -t virtiofs results /newroot/run/kmatrix || die "cannot mount the results share (virtiofs tag results)"
[ -f "/newroot$guest_init" ] || die "$guest_init is missing in the host's root"
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
exec switch_root /newroot /bin/bash "$guest_init"
