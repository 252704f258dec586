#!/usr/bin/env bash
# The kernel matrix: every test labelled `every-kernel` (each netns test:
# BPF load/attach and BPF_PROG_TEST_RUN, tcx and its clsact fallback, AF_XDP
# and TPACKET_V3 on veth; and the agent-on-CNI-pods scenario), run on
#   running    the kernel this machine runs
#   debian12   Debian 12's own kernel (linux-image-cloud-amd64, 6.1), booted
#              under qemu with the host's root file system shared read-only
#              (virtiofs) and the built tree on it; TCG where there is no KVM
# followed by a summary per kernel that names every test a kernel skipped,
# and why. Fails if a test failed, timed out or did not run on any kernel, or
# skipped where tests/testing/skip_policy.cpp says it must run.
#
# Usage (as root): scripts/kernel-matrix.sh [--kernels running,debian12] [-R REGEX] [--no-build]
#   -R REGEX             only the every-kernel tests whose ctest name matches
#   NETRING_BUILD_DIR    the build to test (default build/test; built here unless --no-build)
#   NETRING_KERNEL_CACHE downloaded and unpacked packages (default /var/cache/netring/kernel-matrix)
#   NETRING_KERNEL_MATRIX_TIMEOUT  seconds the guest may run (default 2400)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${NETRING_BUILD_DIR:-$src/build/test}
kernels=running,debian12
do_build=1
only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --kernels) kernels=$2; shift 2 ;;
    --kernels=*) kernels=${1#*=}; shift ;;
    --no-build) do_build=0; shift ;;
    -R) only=(-R "$2"); shift 2 ;;
    *) echo "usage: $0 [--kernels running,debian12] [-R REGEX] [--no-build]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "kernel-matrix: run as root (namespaces, BPF, a VM)" >&2; exit 1; }
here=$src/tests/kernel_matrix
# shellcheck source=../tests/kernel_matrix/debian_kernel.sh
. "$here/debian_kernel.sh"

if [ "$do_build" = 1 ]; then
  "$src/scripts/deps.sh"
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNETRING_WERROR=ON >/dev/null
  cmake --build "$build" -j"$(nproc)"
fi
build=$(cd "$build" && pwd)

run=$(mktemp -d /tmp/netring-kmatrix.XXXXXX)
chmod 755 "$run"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# The plan: what ctest selects with the label, as one script per test.
ctest --test-dir "$build" --show-only=json-v1 -L '^every-kernel$' "${only[@]}" >"$run/ctest.json"
/usr/bin/python3 "$here/plan.py" "$run/ctest.json" "$run/plan"
echo "kernel-matrix: $(find "$run/plan" -name '*.sh' | wc -l) tests labelled every-kernel; results in $run"

summary_args=()
status=0

run_running() {
  echo "== running kernel $(uname -r)"
  bash "$here/run_plan.sh" "$run/plan" "$run/running" || true
  summary_args+=("running=$run/running")
}

run_debian12() {
  kmatrix_kernel linux-image-cloud-amd64
  echo "== Debian 12: $KM_KERNEL_PKG $KM_KERNEL_VERSION ($KM_KERNEL_RELEASE) under qemu"
  local share=$run/debian12 rootview=$run/rootfs accel cpu mem=3G
  mkdir -p "$share/results" "$rootview"
  cp -r "$run/plan" "$share/plan"
  echo "$KM_KERNEL_ROOT" >"$share/modules-root"
  # The host's environment, for the tests in the guest.
  for v in PATH HOME LANG LC_ALL PYENV_ROOT; do
    [ -n "${!v:-}" ] && printf '%s=%q\n' "$v" "${!v}"
  done >"$share/env"
  kmatrix_initramfs "$run/initramfs.gz"

  # The host's root, read-only: a read-only bind of / in a mount namespace
  # of virtiofsd's own (only the root file system: not /proc, /sys, /dev).
  unshare -m --propagation private bash -c \
    'mount --bind / "$1" && mount -o remount,bind,ro "$1" && exec /usr/lib/qemu/virtiofsd \
       --socket-path="$2" -o source="$1" -o cache=always -o sandbox=chroot' \
    _ "$rootview" "$run/root.sock" >"$run/virtiofsd-root.log" 2>&1 &
  pids+=($!)
  /usr/lib/qemu/virtiofsd --socket-path="$run/share.sock" -o source="$share" -o cache=none -o sandbox=chroot \
    >"$run/virtiofsd-share.log" 2>&1 &
  pids+=($!)
  local i
  for i in $(seq 100); do
    [ -S "$run/root.sock" ] && [ -S "$run/share.sock" ] && break
    sleep 0.1
  done

  if [ -w /dev/kvm ] && qemu-system-x86_64 -accel help 2>/dev/null | grep -q kvm; then
    accel=kvm cpu=host
  else
    accel=tcg,thread=multi cpu=max
  fi
  : >"$run/console.log"
  local start_s=$SECONDS
  timeout "${NETRING_KERNEL_MATRIX_TIMEOUT:-2400}" qemu-system-x86_64 \
    -machine q35 -accel "$accel" -cpu "$cpu" -smp 2 -m "$mem" \
    -object memory-backend-memfd,id=mem,size="$mem",share=on -numa node,memdev=mem \
    -chardev socket,id=root,path="$run/root.sock" -device vhost-user-fs-pci,chardev=root,tag=hostroot \
    -chardev socket,id=share,path="$run/share.sock" -device vhost-user-fs-pci,chardev=share,tag=results \
    -kernel "$KM_VMLINUZ" -initrd "$run/initramfs.gz" \
    -append "console=ttyS0 quiet loglevel=4 panic=-1 kmatrix.init=$here/guest_init.sh" \
    -display none -monitor none -chardev file,id=con,path="$run/console.log" -serial chardev:con \
    -nic none -no-reboot </dev/null &
  local qemu=$!
  tail -n +1 -f --pid="$qemu" "$run/console.log" | grep --line-buffered -v '^\s*$' &
  local follower=$!
  local rc=0 cpu_ticks
  # qemu's own CPU time, read while it runs: on a busy machine the guest's
  # wall time says more about the neighbours than about the suite.
  while kill -0 "$qemu" 2>/dev/null; do
    cpu_ticks=$(awk '{print $14 + $15}' "/proc/$(pgrep -P "$qemu" -x qemu-system-x86 || echo "$qemu")/stat" 2>/dev/null ||
      echo "${cpu_ticks:-0}")
    sleep 5
  done
  wait "$qemu" || rc=$?
  wait "$follower" || true
  echo "kernel-matrix: qemu used $((${cpu_ticks:-0} / $(getconf CLK_TCK))) CPU-seconds in $((SECONDS - start_s)) s"
  if [ ! -f "$share/guest-exit" ]; then
    echo "kernel-matrix: the guest did not finish its plan (qemu exit $rc; console: $run/console.log)"
    status=1
  fi
  echo "$KM_KERNEL_PKG $KM_KERNEL_VERSION" >"$share/results/package"
  summary_args+=("debian12=$share/results")
}

IFS=, read -ra wanted <<<"$kernels"
for k in "${wanted[@]}"; do
  case "$k" in
    running) run_running ;;
    debian12) run_debian12 ;;
    *) echo "kernel-matrix: unknown kernel '$k' (running, debian12)" >&2; exit 2 ;;
  esac
done

/usr/bin/python3 "$here/summary.py" "$run/plan" "${summary_args[@]}" || status=1
if [ "$status" = 0 ]; then
  rm -rf "$run"
else
  echo "kernel-matrix: logs kept in $run"
fi
exit "$status"
