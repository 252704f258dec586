#!/bin/bash
# PID 1 of the kernel matrix's guest, on the host's root file system
# (read-only) after the initramfs handed over. Prepares what the tests expect
# of a node (bpffs, loopback, module autoloading from the kernel package's
# own modules), runs the plan the host wrote into /run/kmatrix/plan with
# run_plan.sh, and powers the guest off whatever happens.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
share=/run/kmatrix

poweroff_now() {
  sync
  echo o >/proc/sysrq-trigger
  sleep 60
}
trap poweroff_now EXIT

say() { echo "kmatrix-guest: $*" >/dev/console; }

mkdir -p /dev/shm && mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null || true
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
ip link set lo up
# The kernel's default "(none)" is not a valid node name for the agent.
echo netring-kmatrix >/proc/sys/kernel/hostname

# Modules of the kernel under test live in the host's cache of the unpacked
# package, not in /lib/modules: the kernel's module loader runs this wrapper.
modules_root=$(cat "$share/modules-root")
cat >/run/modprobe <<EOF
#!/bin/sh
exec /sbin/modprobe -d "$modules_root" "\$@"
EOF
chmod +x /run/modprobe
echo /run/modprobe >/proc/sys/kernel/modprobe
# Loaded up front: autoloading covers most, but a failed request_module would
# show up as a confusing test failure rather than as a missing module here.
for m in veth sch_ingress cls_bpf act_bpf bridge br_netfilter nf_conntrack nf_conntrack_netlink xt_conntrack \
  dummy tun; do
  /run/modprobe -q "$m" || say "module $m not loaded"
done

# The host's environment for the tests (PATH, HOME and the like).
set -a
# shellcheck disable=SC1091
. "$share/env"
set +a
cd /tmp || exit 1

say "kernel $(uname -r): running $(find "$share/plan" -name '*.sh' | wc -l) tests"
bash "$(dirname "$0")/run_plan.sh" "$share/plan" "$share/results" >/dev/console 2>&1
echo $? >"$share/guest-exit"
say "done"
